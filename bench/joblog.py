"""Workload 12, the job log: the wall time of `queuectl attempts --limit 50`, with and
without filters, on a store of 1,000,000 finished attempts (SPEC §9, issue 14)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from bench.common import (
    Section,
    Settings,
    clean_env,
    fmt_ms,
    fmt_s,
    folder,
    median,
    open_store,
    queuectl,
    runs_table,
    timed,
)

NUMBER = 12
KEY = "joblog"
TITLE = "The job log: `queuectl attempts` at 1,000,000 attempts"
ATTEMPTS_PER_JOB = 4
BATCH = 50_000
STEP_MS = 50  # between one attempt's end and the next's
EMPTY = "on an empty store (the floor: start-up)"

# Each filter, and what share of the attempts it keeps: the log walks attempts_finished
# newest first until it has its 50 rows, so the rarer the match, the longer the walk.
FILTERS = {
    "no filter": (),
    "--since 1h": ("--since", "1h"),
    "--queue default (95 %)": ("--queue", "default"),
    "--queue rare (1 %)": ("--queue", "rare"),
    "--group g (1 %)": ("--group", "g"),
    "--outcome dead (0.25 %)": ("--outcome", "dead"),
    "--queue nosuch (none: the whole index)": ("--queue", "nosuch"),
}

JOB_SQL = """
INSERT INTO jobs (id, command, state, queue, priority, attempts, max_retries, run_at, cwd,
                  attempt_number, created_at, updated_at, started_at, finished_at, "group")
VALUES (?, 'true', ?, ?, 0, ?, 3, ?, ?, ?, ?, ?, ?, ?, ?)
"""
ATTEMPT_SQL = """
INSERT INTO attempts (job_id, number, worker_id, host, started_at, finished_at, exit_code,
                      error, outcome, output, output_total, cpu_user, cpu_system, max_rss)
VALUES (?, ?, 'w-bench', 'bench', ?, ?, ?, ?, ?, X'', 0, 0.001, 0.0, 4194304)
"""


def _job(index: int, now_ms: int, cwd: str) -> tuple:
    queue = "rare" if index % 100 == 0 else ("other" if index % 25 == 1 else "default")
    dead = index % 100 == 7
    first = now_ms - (index + 1) * ATTEMPTS_PER_JOB * STEP_MS  # newest jobs first
    last = first + ATTEMPTS_PER_JOB * STEP_MS
    group = "g" if index % 100 == 3 else None
    state = "dead" if dead else "completed"
    return (
        *(f"j{index:07d}", state, queue, ATTEMPTS_PER_JOB, first, cwd, ATTEMPTS_PER_JOB),
        *(first, last, first, last, group),
    )


def _attempts(index: int, now_ms: int) -> list[tuple]:
    dead = index % 100 == 7
    first = now_ms - (index + 1) * ATTEMPTS_PER_JOB * STEP_MS
    rows = []
    for number in range(1, ATTEMPTS_PER_JOB + 1):
        end = first + number * STEP_MS
        last = number == ATTEMPTS_PER_JOB
        outcome = ("dead" if dead else "completed") if last else "failed"
        code = 0 if last and not dead else 1
        rows.append(
            (f"j{index:07d}", number, end - 20, end, code, None if code == 0 else "exit code 1")
            + (outcome,)
        )
    return rows


def build(path: str, attempts: int, cwd: str) -> float:
    """A store of `attempts` finished attempts (ATTEMPTS_PER_JOB a job: three failed, then
    completed, or dead for 1 % of the jobs), inserted with executemany; returns seconds."""
    start = time.perf_counter()
    open_store(path, durable=False).close()  # the schema, at its newest version
    now_ms = int(time.time() * 1000)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        jobs = attempts // ATTEMPTS_PER_JOB
        for low in range(0, jobs, BATCH):
            batch = range(low, min(low + BATCH, jobs))
            conn.execute("BEGIN")
            conn.executemany(JOB_SQL, (_job(i, now_ms, cwd) for i in batch))
            conn.executemany(ATTEMPT_SQL, (row for i in batch for row in _attempts(i, now_ms)))
            conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - start


def run(settings: Settings) -> Section:
    count = settings.pick(20_000, 1_000_000)
    repeats = settings.pick(3, 5)
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        f"One SQLite store of {count:,} finished attempts, built before anything is timed: "
        f"{count // ATTEMPTS_PER_JOB:,} jobs of {ATTEMPTS_PER_JOB} attempts each (three "
        "failed, then completed, or dead for 1 % of the jobs), one attempt ending every "
        f"{STEP_MS} ms back from now, inserted with `executemany` in transactions of "
        f"{BATCH:,} jobs, then `ANALYZE` and a WAL checkpoint. 95 % of the jobs are in "
        "queue `default`, 1 % in `rare`, 1 % in group `g`.",
        f"Per run, each filter in turn: `queuectl --db STORE attempts --limit 50 FILTER`, "
        f"the median of {repeats} timings from spawn to exit (output discarded). One untimed "
        "run first (warm page cache). The same command on an empty store, timed in the same "
        "run, is the floor: the process's start-up and imports. For diagnosis, the store's "
        f"query (`Store.attempt_log`) is also timed in-process, median of {repeats}. No "
        "target: issue 14 asks to measure.",
    ]
    with folder(settings, "joblog") as where:
        home = where / "home"
        home.mkdir()
        path = str(where / "queuectl.db")
        seconds = build(path, count, str(where))
        megabytes = os.path.getsize(path) / 1e6
        settings.log(
            f"  built the {count:,}-attempt store in {seconds:.1f} s ({megabytes:,.0f} MB)"
        )
        section.notes.append(
            f"The store was built in {seconds:.1f} s; its file is {megabytes:,.1f} MB."
        )
        env = clean_env(XDG_DATA_HOME=str(home))
        timed(queuectl("--db", path, "attempts", "--limit", "50"), env, cwd=home)
        empty = str(where / "empty.db")
        open_store(empty, durable=False).close()
        results: dict[str, list[float]] = {EMPTY: [], **{name: [] for name in FILTERS}}
        inside: dict[str, list[float]] = {name: [] for name in FILTERS}
        for number in range(settings.runs):
            results[EMPTY].append(_median_of(empty, (), env, home, repeats))
            for name, args in FILTERS.items():
                results[name].append(_median_of(path, args, env, home, repeats))
                inside[name].append(_in_process(path, args, repeats))
            settings.log(
                f"  run {number + 1}/{settings.runs}: "
                + "; ".join(f"{name} {fmt_s(values[-1])}" for name, values in results.items())
            )
    rows = [(f"`attempts --limit 50` {name}", values, fmt_s) for name, values in results.items()]
    rows += [(f"`Store.attempt_log(50)` {name}", values, fmt_ms) for name, values in inside.items()]
    section.tables.append(runs_table(f"{count:,} attempts", rows))
    return section


def _median_of(path: str, args: tuple[str, ...], env: dict[str, str], home: Path, n: int) -> float:
    argv = queuectl("--db", path, "attempts", "--limit", "50", *args)
    return median([timed(argv, env, cwd=home) for _ in range(n)])


def _in_process(path: str, args: tuple[str, ...], n: int) -> float:
    """Median seconds of the store's query for these CLI filters, in this process."""
    given = dict(zip(args[::2], args[1::2]))
    since = 3600.0 if "--since" in given else None
    store = open_store(path)
    try:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            moment = None if since is None else store.clock() - since
            store.attempt_log(
                50, moment, given.get("--queue"), given.get("--group"), given.get("--outcome")
            )
            times.append(time.perf_counter() - start)
    finally:
        store.close()
    return median(times)
