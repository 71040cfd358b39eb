"""Huey with its SQLite storage (workload 7). The consumer loads ``bench.peer_huey.huey``;
the database file comes from $BENCH_HUEY_DB."""

from __future__ import annotations

import os

from huey import SqliteHuey

from bench.peer_jobs import body

huey = SqliteHuey("bench", filename=os.environ["BENCH_HUEY_DB"])


@huey.task()
def job(done_path: str) -> None:
    body(done_path)


def enqueue(done_path: str) -> None:
    job(done_path)
