"""Huey with its SQLite storage (workload 7). The consumer loads ``bench.peer_huey.huey``;
the database file comes from $BENCH_HUEY_DB. With $BENCH_HUEY_SYNC_OFF set, every connection
runs with ``pragma synchronous=OFF`` (SqliteStorage's ``fsync=False``), Huey's tuned row."""

from __future__ import annotations

import os

from huey import SqliteHuey

from bench.peer_jobs import body

huey = SqliteHuey(
    "bench",
    filename=os.environ["BENCH_HUEY_DB"],
    fsync=False if os.environ.get("BENCH_HUEY_SYNC_OFF") else None,
)


@huey.task()
def job(done_path: str) -> None:
    body(done_path)


def enqueue(done_path: str) -> None:
    job(done_path)
