"""Dramatiq with the local Redis as broker (workload 7); the Redis URL comes from
$BENCH_REDIS_URL. No result backend (Dramatiq's default)."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.peer_jobs import body

dramatiq.set_broker(RedisBroker(url=os.environ["BENCH_REDIS_URL"]))


@dramatiq.actor(queue_name="bench")
def job(done_path: str) -> None:
    body(done_path)


def enqueue(done_path: str) -> None:
    job.send(done_path)
