"""RQ on the local Redis (workload 7); the Redis URL comes from $BENCH_REDIS_URL."""

from __future__ import annotations

import os

from redis import Redis
from rq import Queue

from bench.peer_jobs import body

QUEUE = "bench"
_queue = Queue(QUEUE, connection=Redis.from_url(os.environ["BENCH_REDIS_URL"]))


def enqueue(done_path: str) -> None:
    _queue.enqueue(body, done_path)
