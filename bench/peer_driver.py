"""Enqueues into a peer from a process of its own, with the peer's environment:
``python -m bench.peer_driver MODULE enqueue N DONE`` enqueues N jobs;
``python -m bench.peer_driver MODULE latency N DONE GAP SETTLE`` runs a warm-up job, waits
SETTLE seconds, then enqueues N jobs one at a time, each waited for, and prints their pickup
latencies (start of the job body - the moment just before the enqueue call) as JSON."""

from __future__ import annotations

import importlib
import json
import sys
import time

from bench.peer_jobs import done_count, started_at

POLL = 0.002


def _wait(done_path: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while done_count(done_path) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {count} was not done within {timeout} s")
        time.sleep(POLL)


def main(argv: list[str]) -> int:
    module = importlib.import_module(argv[0])
    action, count, done_path = argv[1], int(argv[2]), argv[3]
    if action == "enqueue":
        for _ in range(count):
            module.enqueue(done_path)
        return 0
    gap, settle = float(argv[4]), float(argv[5])
    module.enqueue(done_path)  # warm-up: also waits until the workers are up
    _wait(done_path, 1, 120)
    time.sleep(settle)
    latencies = []
    for index in range(1, count + 1):
        before = time.time()
        module.enqueue(done_path)
        _wait(done_path, index + 1, 60)
        latencies.append(started_at(done_path, index) - before)
        time.sleep(gap)
    print(json.dumps(latencies))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
