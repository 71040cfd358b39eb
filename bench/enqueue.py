"""Workload 3, enqueue: a batch of N jobs from a JSON-lines file through `queuectl enqueue
--file` (jobs/s), and the wall and CPU time of one `queuectl run "true"` of an installed
queuectl against `python -c pass` of the same interpreter, alternating in the same run."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

from bench.common import (
    SQLITE,
    Section,
    Settings,
    Table,
    Target,
    alternate,
    clean_env,
    fmt_ms,
    fmt_rate,
    fmt_ratio,
    fmt_s,
    folder,
    installed_queuectl,
    median,
    open_store,
    queuectl,
    runs_table,
    timed,
    timed_with_cpu,
)
from bench.throughput import jobs_file

NUMBER = 3
KEY = "enqueue"
TITLE = "Enqueue: a JSON-lines batch, and one `queuectl run`"
TARGET_BATCH = 50_000
TARGET_RUN_RATIO = 1.5  # issue 15, for wall and CPU time alike
RUN_TIMINGS = 15  # of each command per run
RUN = '`queuectl run "true"`'
PASS = "`python -c pass`"
# What any `queuectl run` costs, whatever queuectl does: `re` (the console script pip writes
# imports it), sqlite3, and argparse with one parser (which imports gettext, locale and
# shutil). It shows how much of the gap is left to cut.
FLOOR_CODE = "import re, sqlite3, argparse; argparse.ArgumentParser().parse_args([])"
FLOOR = "a bare argparse and sqlite3 program (`python -c`)"
# The commands timed, by label: argv from the venv's bin folder and the store.
COMMANDS: dict[str, Callable[[Path, str], list[str]]] = {
    RUN: lambda bin_dir, db: [str(bin_dir / "queuectl"), "--db", db, "run", "true"],
    PASS: lambda bin_dir, db: [str(bin_dir / "python"), "-c", "pass"],
    FLOOR: lambda bin_dir, db: [str(bin_dir / "python"), "-c", FLOOR_CODE],
}


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
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        f'Batch: a file of {count:,} lines `{{"command":"true"}}`; '
        f"`queuectl --db STORE enqueue --file FILE` (stdout to /dev/null) timed from spawn to "
        "exit (interpreter start-up, parsing, validation and the one fully synced "
        "transaction), into an existing empty store, a fresh one per run.",
        "Single job: queuectl is installed from this checkout into a throwaway venv as a "
        "user installs it (a wheel built by pip, not editable, bytecode compiled); its "
        '`queuectl --db STORE run "true"` console script is timed against the same venv\'s '
        f"`python -c pass` and `python -c '{FLOOR_CODE}'` (what any `queuectl run` costs "
        f"at least), {RUN_TIMINGS} of each per run, alternating, into an existing store with "
        "no worker running, without PYTHONPATH. Wall time from spawn to exit; CPU time "
        "(user + system) from getrusage(RUSAGE_CHILDREN). The ratios are of the medians "
        "over all runs. (The dev venv's editable install imports pathlib, re and urllib "
        "from a .pth file in every interpreter, `python -c pass` included, which made the "
        "baseline slower and the ratio smaller.)",
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

    tables, ratios = single_job(settings)
    section.tables += tables
    for what, ratio in zip(("wall", "CPU"), ratios):
        section.targets.append(
            Target(f"`queuectl run` {what} time / `python -c pass`", ratio, "<=", TARGET_RUN_RATIO)
        )
    return section


def single_job(settings: Settings) -> tuple[list[Table], tuple[float, float]]:
    """`queuectl run "true"` of an installed queuectl, `python -c pass` and the floor,
    alternating: a table of wall and one of CPU times, and the two ratios of the
    medians of all timings."""
    timings: dict[str, list[list[tuple[float, float]]]] = {label: [] for label in COMMANDS}
    with installed_queuectl(settings) as bin_dir, folder(settings, "run") as where:
        home = where / "home"
        home.mkdir()
        env = clean_env(XDG_DATA_HOME=str(home))
        del env["PYTHONPATH"]  # the installed queuectl, not the checkout's
        with SQLITE.location(where) as location:
            open_store(location).close()
            argvs = {label: make(bin_dir, location) for label, make in COMMANDS.items()}
            for attempt_number in range(settings.runs):
                for values in timings.values():
                    values.append([])
                for i in range(RUN_TIMINGS):
                    alternate(
                        i,
                        *[
                            partial(_time_into, timings[label][-1], argv, env, home)
                            for label, argv in argvs.items()
                        ],
                    )
                settings.log(
                    f"  run/pass run {attempt_number + 1}/{settings.runs}: "
                    + ", ".join(
                        f"{label} {median([w for w, _ in values[-1]]) * 1000:.1f} ms"
                        for label, values in timings.items()
                    )
                )
    tables, ratios = [], []
    for index, what in enumerate(("wall", "CPU")):
        runs = {
            label: [[t[index] for t in run] for run in values] for label, values in timings.items()
        }
        table, ratio = _times_table(settings, what, runs)
        tables.append(table)
        ratios.append(ratio)
    return tables, (ratios[0], ratios[1])


def _time_into(into: list, argv: list[str], env: dict[str, str], cwd: Path) -> None:
    into.append(timed_with_cpu(argv, env, cwd=cwd))


def _times_table(
    settings: Settings, what: str, runs: dict[str, list[list[float]]]
) -> tuple[Table, float]:
    ours, python = runs[RUN], runs[PASS]
    ratio = median([v for r in ours for v in r]) / median([v for r in python for v in r])
    table = runs_table(
        f"one job, {what} time: medians of {RUN_TIMINGS} alternating timings per run",
        [
            *[(label, [median(r) for r in values], fmt_ms) for label, values in runs.items()],
            *[
                (
                    f"ratio of {label} to {PASS}",
                    [median(o) / median(p) for o, p in zip(values, python)],
                    fmt_ratio,
                )
                for label, values in runs.items()
                if label != PASS
            ],
        ],
        summary="median of the runs",
    )
    table.rows.append(
        [
            f"**{what} ratio of the medians of all {RUN_TIMINGS * settings.runs} timings**",
            *[""] * settings.runs,
            f"**{fmt_ratio(ratio)}**",
        ]
    )
    return table, ratio
