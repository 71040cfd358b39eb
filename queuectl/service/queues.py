"""Queues' flow control (SPEC §8): pause, resume, limit, the list of queues and the locks
held."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from queuectl.errors import UserError, quote
from queuectl.inputs import integer
from queuectl.model import STATES, Gate
from queuectl.names import check_queue
from queuectl.service.workers import workers
from queuectl.store.base import Store

QUEUE_GATE = "queue:"
LOCK_GATE = "lock:"


def pause(store: Store, queues: Sequence[str]) -> list[str]:
    """No job of these queues is claimed until they are resumed; running ones finish.
    Returns those that were paused already."""
    for queue in queues:
        check_queue(queue)
    return store.pause_queues(queues)


def resume(store: Store, queues: Sequence[str]) -> list[str]:
    """Resume the paused queues among these; returns those that were not paused."""
    for queue in queues:
        check_queue(queue)
    return store.resume_queues(queues)


def parse_limit(text: str) -> int | None:
    """`N` (at least 1) or `none`."""
    if text == "none":
        return None
    value = integer(text)
    if value is None or value < 1:
        raise UserError(f"invalid limit {quote(text)}: give a whole number of at least 1, or none")
    return value


def limit(store: Store, queue: str, max_running: int | None) -> None:
    """At most `max_running` (None: any number) of the queue's jobs processing at once."""
    check_queue(queue)
    store.limit_queue(queue, max_running)


def queue_gates(store: Store) -> dict[str, Gate]:
    """The gate of each queue that has one (it is paused or limited), by queue name."""
    return {
        gate.name[len(QUEUE_GATE) :]: gate
        for gate in store.gates()
        if gate.name.startswith(QUEUE_GATE)
    }


def queue_list(store: Store) -> list[dict[str, Any]]:
    """Each known queue (one with jobs, or paused or limited): its counts per state, paused
    or not, its limit and running jobs (those its limit counts), the live workers that
    serve it."""
    counts = store.counts()
    gates = queue_gates(store)
    live = [w for w in workers(store) if w["state"] != "lost"]
    listed = []
    for queue in sorted(set(counts) | set(gates)):
        gate = gates.get(queue)
        states = {state: counts.get(queue, {}).get(state, 0) for state in STATES}
        listed.append(
            {
                "queue": queue,
                "counts": states,
                "paused": gate is not None and gate.paused,
                "limit": None if gate is None else gate.max_running,
                "running": states["processing"] if gate is None else gate.running,
                "workers": [w["id"] for w in live if w["queues"] is None or queue in w["queues"]],
            }
        )
    return listed


def held_locks(store: Store) -> list[dict[str, Any]]:
    """Each lock a processing job holds now, by name: ``{"lock": L, "jobs": [ID]}``, the
    holder (a lost worker's job holds it until that job is recovered)."""
    return [
        {"lock": gate.name[len(LOCK_GATE) :], "jobs": store.gate_holders(gate.name)}
        for gate in store.gates()
        if gate.name.startswith(LOCK_GATE) and gate.running > 0
    ]
