"""Workload 13, moving a store: `queuectl export --with-output` and `queuectl import` of a
store of 100,000 finished jobs, SQLite to SQLite and through PostgreSQL (SPEC §10,
issue 14)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from bench import joblog
from bench.common import (
    SQLITE,
    BenchError,
    PostgresBackend,
    Section,
    Settings,
    clean_env,
    fmt_rate,
    fmt_s,
    folder,
    queuectl,
    runs_table,
)

NUMBER = 13
KEY = "porting"
TITLE = "Moving a store: `export` and `import` at 100,000 jobs"


def run(settings: Settings) -> Section:
    jobs = settings.pick(2_000, 100_000)
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        f"One SQLite store of {jobs:,} finished jobs with {joblog.ATTEMPTS_PER_JOB} attempts "
        f"each ({jobs * joblog.ATTEMPTS_PER_JOB:,} attempts: workload 12's store, built the "
        "same way before anything is timed).",
        "Per run, each timed from spawn to exit as one process: `queuectl --db STORE export "
        "--with-output > FILE`; `queuectl --db NEW import FILE` into a new SQLite store; "
        "with `--pg`, the same import into a new PostgreSQL schema and the export back out "
        "of it. Rates are jobs per second (each job with its attempts). No target: issue 14 "
        "asks to measure.",
    ]
    backends = [SQLITE] + ([PostgresBackend(settings.pg_url)] if settings.pg_url else [])
    with folder(settings, KEY) as where:
        home = where / "home"
        home.mkdir()
        source = str(where / "source.db")
        joblog.build(source, jobs * joblog.ATTEMPTS_PER_JOB, str(where))
        env = clean_env(XDG_DATA_HOME=str(home))
        rows: dict[str, list[float]] = {"export from SQLite": []}
        for backend in backends:
            rows[f"import into {backend.name}"] = []
            if backend is not SQLITE:
                rows[f"export from {backend.name}"] = []
        file = where / "export.jsonl"
        for number in range(settings.runs):
            rows["export from SQLite"].append(_to_file(source, file, env, home))
            for backend in backends:
                with backend.location(where) as target:
                    argv = queuectl("--db", target, "import", str(file))
                    rows[f"import into {backend.name}"].append(_seconds(argv, env, home))
                    if backend is not SQLITE:
                        back = where / "back.jsonl"
                        rows[f"export from {backend.name}"].append(
                            _to_file(target, back, env, home)
                        )
            settings.log(
                f"  run {number + 1}/{settings.runs}: "
                + "; ".join(f"{name} {fmt_s(values[-1])}" for name, values in rows.items())
            )
        section.notes.append(f"The export file is {os.path.getsize(file) / 1e6:,.1f} MB.")
    section.tables.append(
        runs_table(f"{jobs:,} jobs: seconds", [(name, v, fmt_s) for name, v in rows.items()])
    )
    section.tables.append(
        runs_table(
            f"{jobs:,} jobs: jobs per second",
            [(name, [jobs / s for s in values], fmt_rate) for name, values in rows.items()],
        )
    )
    return section


def _seconds(argv: list[str], env: dict[str, str], home: Path, out: Path | None = None) -> float:
    start = time.perf_counter()
    with open(out or os.devnull, "wb") as stdout:
        result = subprocess.run(
            argv, env=env, cwd=home, stdout=stdout, stderr=subprocess.PIPE, timeout=1800
        )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise BenchError(f"{' '.join(argv[3:6])} ... exited {result.returncode}: {result.stderr!r}")
    return elapsed


def _to_file(location: str, file: Path, env: dict[str, str], home: Path) -> float:
    return _seconds(queuectl("--db", location, "export", "--with-output"), env, home, file)
