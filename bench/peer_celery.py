"""Celery with the local Redis as broker (workload 7); the Redis URL comes from
$BENCH_REDIS_URL. Results are not stored (Celery's default without a result backend)."""

from __future__ import annotations

import os

from celery import Celery

from bench.peer_jobs import body

app = Celery("bench_peer", broker=os.environ["BENCH_REDIS_URL"])
app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True)


@app.task(name="bench.job")
def job(done_path: str) -> None:
    body(done_path)


def enqueue(done_path: str) -> None:
    job.delay(done_path)
