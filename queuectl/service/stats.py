"""Statistics: run times, throughput per minute, the numbers behind /metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from queuectl.durations import iso_utc
from queuectl.model import (
    CANCELED,
    COMPLETED,
    DEAD,
    FAILED,
)
from queuectl.service.workers import workers
from queuectl.store.base import Store

BUCKET_SECONDS = 60  # `throughput` counts attempts per minute


def stats(store: Store, since: float = 3600.0) -> dict[str, Any]:
    """Finished attempts in the last `since` seconds, overall and per queue."""
    now = store.clock()
    start = now - since
    groups: dict[str, list[Any]] = {}
    for item in store.finished_attempts(start):
        groups.setdefault(item.queue, []).append(item)
    everything = [item for items in groups.values() for item in items]
    return {
        "since": iso_utc(start),
        "until": iso_utc(now),
        "window_seconds": since,
        "total": _summary(everything, since),
        "queues": {queue: _summary(groups[queue], since) for queue in sorted(groups)},
    }


def _summary(items: Sequence[Any], window: float) -> dict[str, Any]:
    outcomes = [item.outcome for item in items]
    durations = sorted(
        item.finished_at - item.started_at
        for item in items
        if item.started_at is not None and item.outcome != "pending"
    )
    finished = sum(outcomes.count(s) for s in (COMPLETED, DEAD, CANCELED))
    # Accounting (SPEC §9), over the attempts the OS told about.
    rss = sorted(item.max_rss for item in items if item.max_rss is not None)
    return {
        "completed": outcomes.count(COMPLETED),
        "failed_attempts": outcomes.count(FAILED) + outcomes.count(DEAD),
        "dead": outcomes.count(DEAD),
        "canceled": outcomes.count(CANCELED),
        "jobs_per_minute": round(finished / (window / 60.0), 3) if window > 0 else None,
        "mean_seconds": round(sum(durations) / len(durations), 3) if durations else None,
        "p95_seconds": round(_percentile(durations, 0.95), 3) if durations else None,
        "cpu_seconds": round(sum((item.cpu_seconds or 0.0 for item in items), 0.0), 3),
        "p95_max_rss": _percentile(rss, 0.95) if rss else None,
    }


def _percentile(ordered: Sequence[Any], fraction: float) -> Any:
    """Nearest-rank percentile of sorted values."""
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


def throughput(store: Store, minutes: int = 60) -> dict[str, Any]:
    """Attempts finished per minute, completed, failed and canceled, oldest minute first;
    the last bucket is the current, partial minute. Failed counts every failed attempt,
    including the one that made a job dead."""
    now = store.clock()
    first = (math.floor(now / BUCKET_SECONDS) - minutes + 1) * BUCKET_SECONDS
    counts = [{COMPLETED: 0, FAILED: 0, CANCELED: 0} for _ in range(minutes)]
    for start, outcome, count in store.throughput(first, BUCKET_SECONDS):
        index = int(round((start - first) / BUCKET_SECONDS))
        key = FAILED if outcome == DEAD else outcome
        if 0 <= index < minutes and key in counts[index]:
            counts[index][key] += count
    buckets = [
        {"start": iso_utc(first + i * BUCKET_SECONDS), **bucket} for i, bucket in enumerate(counts)
    ]
    return {"bucket_seconds": BUCKET_SECONDS, "until": iso_utc(now), "buckets": buckets}


def metrics(store: Store, run_time_bounds: Sequence[float]) -> dict[str, Any]:
    """What the Prometheus metrics report: "jobs" {queue: {state: n}}, finished "attempts"
    {outcome: n}, their "run_times" counted against `run_time_bounds`, and "workers"."""
    return {
        "jobs": store.counts(),
        "attempts": store.attempt_counts(),
        "run_times": store.run_times(run_time_bounds),
        "workers": workers(store),
    }
