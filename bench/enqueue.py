"""Workload 3, enqueue: a batch of N jobs from a JSON-lines file through `queuectl enqueue
--file` (jobs/s), and the wall time of one `queuectl run "true"` against `python -c pass`,
alternating in the same run."""

from __future__ import annotations

import sys

from bench.common import (
    SQLITE,
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
)
from bench.throughput import jobs_file

NUMBER = 3
KEY = "enqueue"
TITLE = "Enqueue: a JSON-lines batch, and one `queuectl run`"
TARGET_BATCH = 50_000
TARGET_RUN_RATIO = 2.5


def batch_once(settings: Settings, count: int) -> float:
    with folder(settings, "enqueue") as where:
        home = where / "home"
        home.mkdir()
        jobs = jobs_file(where, count)
        with SQLITE.location(where) as location:
            open_store(location).close()  # an existing, empty store: creation is not timed
            return timed(
                queuectl("--db", location, "enqueue", "--file", str(jobs)),
                clean_env(XDG_DATA_HOME=str(home)),
                cwd=home,
            )


def run(settings: Settings) -> Section:
    count = settings.pick(5_000, 100_000)
    repeats = settings.pick(3, 5)  # `run` and `pass` timings per run
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        f'Batch: a file of {count:,} lines `{{"command":"true"}}`; '
        f"`queuectl --db STORE enqueue --file FILE` (stdout to /dev/null) timed from spawn to "
        "exit (interpreter start-up, parsing, validation and the one fully synced "
        "transaction), into an existing empty store, a fresh one per run.",
        f'Single job: `queuectl --db STORE run "true"` against `{sys.executable} -c pass` '
        f"(the interpreter itself, not the pyenv `python3` shim), {repeats} of each per run, "
        "alternating, into an existing store with no worker running. The ratio is of the "
        "medians over all runs.",
    ]
    batch: list[float] = []
    for attempt_number in range(settings.runs):
        batch.append(batch_once(settings, count))
        settings.log(
            f"  batch run {attempt_number + 1}/{settings.runs}: {batch[-1]:.3f} s "
            f"({count / batch[-1]:,.0f} jobs/s)"
        )
    section.tables.append(
        runs_table(
            f"`enqueue --file` with {count:,} jobs",
            [("seconds", batch, fmt_s), ("jobs/s", [count / s for s in batch], fmt_rate)],
        )
    )
    rate = median([count / s for s in batch])
    section.targets.append(
        Target(f"batch enqueue jobs/s ({count:,} jobs)", rate, ">=", TARGET_BATCH, fmt_rate)
    )

    ours: list[list[float]] = []
    python: list[list[float]] = []
    with folder(settings, "run") as where:
        home = where / "home"
        home.mkdir()
        env = clean_env(XDG_DATA_HOME=str(home))
        with SQLITE.location(where) as location:
            open_store(location).close()
            for attempt_number in range(settings.runs):
                ours.append([])
                python.append([])
                for i in range(repeats):
                    alternate(
                        i,
                        lambda: ours[-1].append(
                            timed(queuectl("--db", location, "run", "true"), env, cwd=home)
                        ),
                        lambda: python[-1].append(
                            timed([sys.executable, "-c", "pass"], env, cwd=home)
                        ),
                    )
                settings.log(
                    f"  run/pass run {attempt_number + 1}/{settings.runs}: queuectl run "
                    f"{median(ours[-1]) * 1000:.1f} ms, python -c pass "
                    f"{median(python[-1]) * 1000:.1f} ms"
                )
    flat_ours = [v for values in ours for v in values]
    flat_python = [v for values in python for v in values]
    ratio = median(flat_ours) / median(flat_python)
    table = runs_table(
        f"one job: medians of {repeats} alternating timings per run",
        [
            ('`queuectl run "true"`', [median(v) for v in ours], fmt_s),
            ("`python -c pass`", [median(v) for v in python], fmt_s),
            ("ratio", [median(o) / median(p) for o, p in zip(ours, python)], fmt_ratio),
        ],
        summary="median of the runs",
    )
    table.rows.append(
        [
            f"**ratio of the medians of all {len(flat_ours)} timings**",
            *[""] * settings.runs,
            f"**{fmt_ratio(ratio)}**",
        ]
    )
    section.tables.append(table)
    section.targets.append(
        Target("`queuectl run` wall time / `python -c pass`", ratio, "<=", TARGET_RUN_RATIO)
    )
    return section
