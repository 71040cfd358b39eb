"""``/metrics`` in the Prometheus text exposition format (version 0.0.4).

Everything is read from the store at scrape time, so any dashboard of the same store gives
the same numbers. Attempt totals, the run-time histogram and the CPU seconds count the
attempts kept in the store: `purge` lowers them, which Prometheus reads as a counter reset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from queuectl import service
from queuectl.model import STATES

if TYPE_CHECKING:
    from queuectl.store.base import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: from quick shell one-liners to hour-long batch jobs. Every bound is one more
# comparison per attempt at each scrape, so there are few.
RUN_TIME_BOUNDS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 10800.0)
WORKER_STATES = ("idle", "busy", "stopping", "lost")
OUTCOMES = ("completed", "failed", "dead", "canceled")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, **labels: str) -> None:
        inner = ",".join(f'{key}="{_label(text)}"' for key, text in labels.items())
        self.lines.append(
            f"{name}{{{inner}}} {_number(value)}" if inner else f"{name} {_number(value)}"
        )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render(store: Store) -> str:
    out = _Writer()
    snapshot = service.metrics(store, RUN_TIME_BOUNDS)
    counts = snapshot["jobs"]
    out.family("queuectl_jobs", "gauge", "Jobs in the store, by queue and state.")
    for queue in sorted(counts):
        for state in STATES:
            out.sample("queuectl_jobs", counts[queue].get(state, 0), queue=queue, state=state)

    gates = service.queue_gates(store)
    out.family("queuectl_queue_paused", "gauge", "1 while the queue is paused, else 0.")
    for queue in sorted(set(counts) | set(gates)):
        out.sample(
            "queuectl_queue_paused", int(queue in gates and gates[queue].paused), queue=queue
        )
    out.family(
        "queuectl_queue_limit", "gauge", "At most this many of the queue's jobs run at once."
    )
    for queue, gate in sorted(gates.items()):
        if gate.max_running is not None:
            out.sample("queuectl_queue_limit", gate.max_running, queue=queue)

    _schedules(out, store)

    attempts = snapshot["attempts"]
    out.family(
        "queuectl_attempts_total", "counter", "Finished attempts kept in the store, by outcome."
    )
    for outcome in (*OUTCOMES, *sorted(set(attempts) - set(OUTCOMES))):
        out.sample("queuectl_attempts_total", attempts.get(outcome, 0), outcome=outcome)

    times = snapshot["run_times"]
    name = "queuectl_attempt_duration_seconds"
    out.family(name, "histogram", "Run time of finished attempts, in seconds.")
    for bound, count in zip(RUN_TIME_BOUNDS, times.buckets):
        out.sample(f"{name}_bucket", count, le=_number(bound))
    out.sample(f"{name}_bucket", times.count, le="+Inf")
    out.sample(f"{name}_sum", round(times.total_seconds, 3))
    out.sample(f"{name}_count", times.count)

    name = "queuectl_attempt_cpu_seconds_total"
    out.family(name, "counter", "CPU seconds used by finished attempts' commands, by mode.")
    out.sample(name, round(times.cpu_user, 3), mode="user")
    out.sample(name, round(times.cpu_system, 3), mode="system")

    workers = snapshot["workers"]
    out.family("queuectl_workers", "gauge", "Registered workers, by state.")
    for state in WORKER_STATES:
        out.sample("queuectl_workers", sum(w["state"] == state for w in workers), state=state)
    return out.text()


def _schedules(out: _Writer, store: Store) -> None:
    schedules = store.schedules()
    out.family("queuectl_schedule_paused", "gauge", "1 while the schedule is paused, else 0.")
    for schedule in schedules:
        out.sample("queuectl_schedule_paused", int(schedule.paused), schedule=schedule.name)
    name = "queuectl_schedule_next_run_timestamp_seconds"
    out.family(
        name, "gauge", "When the schedule's next tick is due (Unix time); none while paused."
    )
    for schedule in schedules:
        if schedule.next_fire_at is not None:
            out.sample(name, schedule.next_fire_at, schedule=schedule.name)
