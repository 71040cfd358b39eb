"""Workload 5, scale: the claim + finish rate (Store API, 1 process) and the wall time of
`queuectl status` and `queuectl list --limit 50` with a small and a large store (1,000 and
1,000,000 finished jobs), measured side by side."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from bench.common import (
    Section,
    Settings,
    Target,
    bulk_enqueue,
    clean_env,
    fmt_ms,
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
from bench.storeapi import cycles

NUMBER = 5
KEY = "scale"
TITLE = "Scale: a store of 1,000 vs 1,000,000 jobs"
TARGET_CLAIM_RATIO = 0.67
TARGET_STATUS = 0.200
BATCH = 50_000

FINISH_SQL = """
UPDATE jobs SET state = 'completed', attempts = 1, attempt_number = 1, exit_code = 0,
       started_at = created_at, finished_at = created_at + 10, updated_at = created_at + 10
"""
ATTEMPTS_SQL = """
INSERT INTO attempts (job_id, number, worker_id, started_at, finished_at, exit_code, outcome,
                      output, output_total)
SELECT id, 1, 'w-bench', started_at, finished_at, 0, 'completed', X'', 0 FROM jobs
"""


def build(path: str, finished: int, pending: int, cwd: str) -> float:
    """A store with `finished` completed jobs (each with its attempt record), then `pending`
    pending ones; returns the seconds it took."""
    start = time.perf_counter()
    store = open_store(path, durable=False)
    try:
        bulk_enqueue(store, finished, cwd, prefix="f", batch=BATCH)
    finally:
        store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(FINISH_SQL)  # every row so far: the pending ones come next
        conn.execute(ATTEMPTS_SQL)
        conn.execute("COMMIT")
    finally:
        conn.close()
    store = open_store(path, durable=False)
    try:
        bulk_enqueue(store, pending, cwd, prefix="p", batch=BATCH)
    finally:
        store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - start


def in_process(path: str, repeats: int = 5) -> tuple[float, float]:
    """Median seconds of Store.counts() and Store.list_jobs(limit=50), in this process."""
    store = open_store(path)
    try:
        counts, listing = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            store.counts()
            counts.append(time.perf_counter() - start)
            start = time.perf_counter()
            store.list_jobs(limit=50)
            listing.append(time.perf_counter() - start)
    finally:
        store.close()
    return median(counts), median(listing)


class Measured:
    def __init__(self) -> None:
        self.rate: list[float] = []
        self.status: list[float] = []
        self.listing: list[float] = []
        self.counts: list[float] = []
        self.list_jobs: list[float] = []


def measure(path: str, home: Path, cycle_count: int, repeats: int, into: Measured) -> None:
    from queuectl.config import Config

    store = open_store(path, durable=False)
    try:
        config = Config.from_stored(store.config_values())
        done, elapsed, _ = cycles(store, "w-scale", config, limit=cycle_count)
    finally:
        store.close()
    into.rate.append(done / elapsed)
    env = clean_env(XDG_DATA_HOME=str(home))
    into.status.append(
        median([timed(queuectl("--db", path, "status"), env, cwd=home) for _ in range(repeats)])
    )
    into.listing.append(
        median(
            [
                timed(queuectl("--db", path, "list", "--limit", "50"), env, cwd=home)
                for _ in range(repeats)
            ]
        )
    )
    counts, listing = in_process(path)
    into.counts.append(counts)
    into.list_jobs.append(listing)


def run(settings: Settings) -> Section:
    small = 1_000
    large = settings.pick(20_000, 1_000_000)
    cycle_count = settings.pick(300, 2_000)
    repeats = settings.pick(3, 5)
    pending = cycle_count * settings.runs + 10
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        f"Two stores, built before anything is timed: {small:,} and {large:,} completed jobs, "
        f"each followed by {pending:,} pending jobs for the claim cycles to take. Built in "
        f"bulk: the jobs are inserted through `Store.enqueue` in batches of {BATCH:,} "
        "(one transaction each); then one direct SQL `UPDATE` on the SQLite file marks every "
        "job inserted so far `completed` (attempts 1, exit code 0, finished 10 ms after "
        "creation) and one `INSERT ... SELECT` writes the matching attempt record of each, so "
        "the attempts table is as large as it would be; then the pending jobs are enqueued "
        "the same way and the WAL is checkpointed (`PRAGMA wal_checkpoint(TRUNCATE)`).",
        f"Per run, for each store in turn (order swapped every other run): {cycle_count:,} "
        "claim + finish cycles through the Store API in this process (default durability, "
        "`finish_and_claim` as in workload 2), then `queuectl --db STORE status` and "
        f"`queuectl --db STORE list --limit 50`, each the median of {repeats} timings from "
        "spawn to exit (output discarded). For diagnosis, `Store.counts()` and "
        "`Store.list_jobs(limit=50)` are also timed in-process (median of 5).",
        "Before the first run each store gets one untimed `status` (warm page cache).",
    ]
    with folder(settings, "scale") as where:
        home = where / "home"
        home.mkdir()
        stores = {}
        for size in (small, large):
            path = str(where / f"store-{size}" / "queuectl.db")
            seconds = build(path, size, pending, str(where))
            megabytes = os.path.getsize(path) / 1e6
            settings.log(f"  built the {size:,}-job store in {seconds:.1f} s ({megabytes:,.0f} MB)")
            section.notes.append(
                f"The {size:,}-job store was built in {seconds:.1f} s; its "
                f"file is {megabytes:,.1f} MB."
            )
            timed(queuectl("--db", path, "status"), clean_env(XDG_DATA_HOME=str(home)), cwd=home)
            stores[size] = path
        results = {small: Measured(), large: Measured()}
        for attempt_number in range(settings.runs):
            order = (small, large) if attempt_number % 2 == 0 else (large, small)
            for size in order:
                measure(stores[size], home, cycle_count, repeats, results[size])
            settings.log(
                f"  run {attempt_number + 1}/{settings.runs}: "
                + "; ".join(
                    f"{size:,} jobs: {results[size].rate[-1]:,.0f} cycles/s, status "
                    f"{fmt_ms(results[size].status[-1])}, list {fmt_ms(results[size].listing[-1])}"
                    for size in (small, large)
                )
            )
    rows = []
    for size in (small, large):
        m = results[size]
        rows += [
            (f"{size:,} jobs: claim + finish cycles/s", m.rate, fmt_rate),
            (f"{size:,} jobs: `queuectl status`", m.status, fmt_s),
            (f"{size:,} jobs: `queuectl list --limit 50`", m.listing, fmt_s),
            (f"{size:,} jobs: `Store.counts()` in-process", m.counts, fmt_ms),
            (f"{size:,} jobs: `Store.list_jobs(limit=50)` in-process", m.list_jobs, fmt_ms),
        ]
    ratios = [b / a for a, b in zip(results[small].rate, results[large].rate)]
    rows.append((f"claim rate at {large:,} / at {small:,}", ratios, fmt_ratio))
    table = runs_table("side by side", rows)
    ratio = median(results[large].rate) / median(results[small].rate)
    table.rows.append(
        ["**claim rate ratio of the medians**", *[""] * settings.runs, f"**{fmt_ratio(ratio)}**"]
    )
    section.tables.append(table)
    section.targets.append(
        Target(f"claim rate at {large:,} jobs vs {small:,}", ratio, ">=", TARGET_CLAIM_RATIO)
    )
    section.targets.append(
        Target(
            f"`status` at {large:,} jobs",
            median(results[large].status),
            "<=",
            TARGET_STATUS,
            fmt_ms,
        )
    )
    return section
