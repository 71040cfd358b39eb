"""Workload 1, throughput: N jobs of `true` enqueued beforehand in one `enqueue --file`,
timed from `worker start --count W` to the last job completed, against the raw floor (a plain
Python pool of W processes running the same N commands) timed in the same run, alternating."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from bench.common import (
    ROOT,
    SQLITE,
    TRUE_JOB,
    Backend,
    QueuectlPool,
    Section,
    Settings,
    Target,
    alternate,
    clean_env,
    fmt_rate,
    fmt_ratio,
    fmt_s,
    folder,
    median,
    open_store,
    queuectl,
    runs_table,
    timed,
    wait_completed,
)

NUMBER = 1
KEY = "throughput"
TITLE = "Throughput: `true` jobs through 2 workers vs the raw floor"
TARGET_RATIO = 0.85
TARGET_SCALING = 0.95  # 4 and 8 workers on 2 cores vs 2 workers: no collapse from contention


def jobs_file(where: Path, count: int) -> Path:
    path = where / f"jobs-{count}.jsonl"
    if not path.exists():
        path.write_text(TRUE_JOB * count)
    return path


def queuectl_run(
    settings: Settings,
    backend: Backend,
    count: int,
    workers: int,
    on_done: Callable[[QueuectlPool], None] | None = None,
) -> float:
    """Seconds from starting the pool to `count` jobs completed (enqueued beforehand)."""
    with folder(settings, "throughput") as where, backend.location(where) as location:
        home = where / "home"
        home.mkdir()
        jobs = jobs_file(where, count)
        timed(
            queuectl("--db", location, "enqueue", "--file", str(jobs)),
            clean_env(XDG_DATA_HOME=str(home)),
            cwd=home,
        )
        store = open_store(location)
        try:
            start = time.perf_counter()
            pool = QueuectlPool(location, home, workers)
            try:
                end = wait_completed(store, count, pool, timeout=600)
                if on_done is not None:
                    on_done(pool)
            finally:
                pool.stop()
        finally:
            store.close()
    return end - start


def floor_run(count: int, processes: int) -> float:
    """Seconds a plain pool of `processes` takes for `count` runs of `true`, start-up
    included."""
    return timed(
        [sys.executable, "-m", "bench.rawfloor", str(count), str(processes)], clean_env(), cwd=ROOT
    )


def measure(
    settings: Settings, backend: Backend, count: int, workers: int, label: str
) -> tuple[list[float], list[float]]:
    """(queuectl seconds, floor seconds), one of each per run, alternating."""
    ours: list[float] = []
    floor: list[float] = []
    for run in range(settings.runs):
        alternate(
            run,
            lambda: ours.append(queuectl_run(settings, backend, count, workers)),
            lambda: floor.append(floor_run(count, workers)),
        )
        settings.log(
            f"  {label} run {run + 1}/{settings.runs}: queuectl {ours[-1]:.3f} s "
            f"({count / ours[-1]:,.0f} jobs/s), raw floor {floor[-1]:.3f} s "
            f"({count / floor[-1]:,.0f} jobs/s)"
        )
    return ours, floor


def fill(
    section: Section,
    settings: Settings,
    backend: Backend,
    count: int,
    workers: int,
    target: float | None,
    what: str,
) -> float:
    """Measure, then add the table (and the target) to `section`; returns the ratio."""
    label = f"{backend.name}, {workers} workers"
    ours, floor = measure(settings, backend, count, workers, label)
    ratio = median(floor) / median(ours)
    rows = [
        (f"queuectl ({backend.name}), seconds", ours, fmt_s),
        ("queuectl, jobs/s", [count / s for s in ours], fmt_rate),
        (f"raw floor ({workers} processes), seconds", floor, fmt_s),
        ("raw floor, jobs/s", [count / s for s in floor], fmt_rate),
        ("ratio (floor time / queuectl time)", [f / o for f, o in zip(floor, ours)], fmt_ratio),
    ]
    table = runs_table(f"{count:,} jobs, {label}", rows)
    table.rows.append(
        ["**ratio of the medians**", *[""] * settings.runs, f"**{fmt_ratio(ratio)}**"]
    )
    section.tables.append(table)
    if target is not None:
        section.targets.append(Target(what, ratio, ">=", target))
    return ratio


def side_by_side(
    settings: Settings, pools: Sequence[tuple[str, Backend, int]], count: int
) -> dict[str, list[float]]:
    """Seconds for `count` jobs through each (label, backend, workers) pool, one of each
    per run, in rotation."""
    seconds: dict[str, list[float]] = {label: [] for label, _, _ in pools}
    for run in range(settings.runs):
        alternate(
            run,
            *[
                lambda label=label, backend=backend, workers=workers: seconds[label].append(
                    queuectl_run(settings, backend, count, workers)
                )
                for label, backend, workers in pools
            ],
        )
        settings.log(
            f"  run {run + 1}/{settings.runs}: "
            + ", ".join(
                f"{label} {count / times[-1]:,.0f} jobs/s" for label, times in seconds.items()
            )
        )
    return seconds


def compare_pools(
    section: Section,
    settings: Settings,
    pools: Sequence[tuple[str, Backend, int]],
    count: int,
    limit: float,
    what: Callable[[str], str],
) -> None:
    """A table of jobs/s for each pool, and a target for each pool after the first: its
    jobs/s over the first's (medians), at least `limit`."""
    seconds = side_by_side(settings, pools, count)
    (base, base_times), *others = seconds.items()
    rows = [
        (f"{label}, jobs/s", [count / s for s in times], fmt_rate)
        for label, times in seconds.items()
    ]
    rows += [
        (f"{label} / {base} (run by run)", [b / t for b, t in zip(base_times, times)], fmt_ratio)
        for label, times in others
    ]
    section.tables.append(runs_table(f"{count:,} jobs through each pool, in rotation", rows))
    for label, times in others:
        section.targets.append(Target(what(label), median(base_times) / median(times), ">=", limit))


def run(settings: Settings) -> Section:
    count = settings.pick(200, 2000)
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        f'{count:,} jobs `{{"command":"true"}}` enqueued beforehand with one '
        "`queuectl enqueue --file` (not timed), into a fresh store per run.",
        "queuectl: the clock starts right before `queuectl worker start --foreground "
        "--count 2` is spawned (so it includes interpreter and worker start-up) and stops "
        f"when `Store.counts()`, polled every 5 ms by the benchmark, shows {count:,} jobs "
        "completed. The pool logs to a file, as a background pool does.",
        "Raw floor: `python -m bench.rawfloor N 2`, a `multiprocessing.Pool(2)` (the default "
        'start method, fork) mapping `subprocess.run("true", shell=True)` over N items '
        "(`Pool.map`, its default chunk size); "
        "timed from spawn to exit, start-up included.",
        "The two alternate (order swapped every other run); the ratio is the floor's median "
        "time over queuectl's median time (= queuectl jobs/s over floor jobs/s).",
        "Contention: the same jobs through pools of 2, 4 and 8 workers on this machine's "
        f"{os.cpu_count()} cores, in rotation; more workers than cores must not lose more "
        "than 5 % (they take turns at SQLite's one write lock).",
    ]
    fill(
        section,
        settings,
        SQLITE,
        count,
        2,
        TARGET_RATIO,
        "throughput vs raw floor, SQLite, 2 workers (workload 1)",
    )
    compare_pools(
        section,
        settings,
        [(f"{workers} workers", SQLITE, workers) for workers in (2, 4, 8)],
        count,
        TARGET_SCALING,
        lambda label: f"throughput with {label} vs 2 workers, SQLite, 2 cores (workload 1)",
    )
    return section
