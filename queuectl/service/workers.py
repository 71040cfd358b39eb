"""Stopping workers and waiting for them to go."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from queuectl.names import check_queue
from queuectl.service.stores import load_config
from queuectl.store.base import Store


def workers(store: Store) -> list[dict[str, Any]]:
    config = load_config(store)
    now = store.clock()
    return [w.to_dict(now, config.lease_seconds) for w in store.list_workers()]


def stop_workers(store: Store, pool: str | None = None, queue: str | None = None) -> list[str]:
    """Ask every worker of this store, on every host, to stop after its job (those shown
    `lost` too: a heartbeat may only be late); or only the workers of one pool, or those
    started to serve `queue` (`worker start --queue`). Pools still starting are asked too,
    before the workers are listed: a pool that registers its last worker meanwhile has
    either seen the request or has every worker in the list."""
    if queue is not None:
        check_queue(queue)
    else:
        store.request_pool_stop(pool, store.clock())
    ids = [
        w["id"]
        for w in workers(store)
        if (pool is None or w["pool"] == pool) and (queue is None or queue in (w["queues"] or []))
    ]
    if ids:
        store.request_stop(ids)
    return ids


def await_workers_gone(store: Store, worker_ids: Sequence[str], timeout: float | None) -> list[str]:
    """Wait until those workers have exited; returns the ones still running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    remaining = list(worker_ids)
    while remaining:
        alive = {w["id"] for w in workers(store) if w["state"] != "lost"}
        remaining = [i for i in remaining if i in alive]
        if not remaining or (deadline is not None and time.monotonic() >= deadline):
            break
        time.sleep(0.1)
    return remaining
