"""The job model: the six states, jobs, attempts and workers.

States (SPEC §2):

* ``pending``    waiting to be claimed (its ``run_at`` may be in the future: delayed job).
* ``processing`` claimed by a worker, which holds a lease on it and runs its command.
* ``completed``  the command exited 0.
* ``failed``     the last attempt failed and a retry is scheduled at ``run_at``; claimable
                 like ``pending`` once that moment is reached.
* ``dead``       the retry budget is used up: the dead letter queue.
* ``canceled``   canceled by a user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from queuectl.durations import iso_utc

PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
DEAD = "dead"
CANCELED = "canceled"

STATES = (PENDING, PROCESSING, COMPLETED, FAILED, DEAD, CANCELED)
TERMINAL = (COMPLETED, DEAD, CANCELED)
DEFAULT_QUEUE = "default"


@dataclass
class NewJob:
    """A validated job, ready to be stored."""

    id: str
    command: str
    max_retries: int
    queue: str = DEFAULT_QUEUE
    priority: int = 0
    run_at: float = 0.0
    timeout: float | None = None
    cwd: str = ""
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Job:
    id: str
    command: str
    state: str
    attempts: int
    max_retries: int
    queue: str
    priority: int
    run_at: float
    timeout: float | None
    cwd: str
    env: dict[str, str]
    exit_code: int | None
    last_error: str | None
    worker_id: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    # Bookkeeping that is not part of the public job object:
    run_no: int = 0  # number of the latest attempt (attempt numbers are never reused)
    lease_until: float | None = None
    cancel_requested: bool = False
    host: str | None = None  # of the worker that claimed the latest attempt

    def to_dict(self) -> dict[str, Any]:
        """The public job object: exactly the fields of SPEC §2."""
        return {
            "id": self.id, "command": self.command, "state": self.state,
            "attempts": self.attempts, "max_retries": self.max_retries, "queue": self.queue,
            "priority": self.priority, "run_at": iso_utc(self.run_at), "timeout": self.timeout,
            "cwd": self.cwd, "env": self.env, "exit_code": self.exit_code,
            "last_error": self.last_error, "worker_id": self.worker_id,
            "created_at": iso_utc(self.created_at), "updated_at": iso_utc(self.updated_at),
            "started_at": iso_utc(self.started_at), "finished_at": iso_utc(self.finished_at),
        }


@dataclass(frozen=True)
class Lease:
    """What fences every change a worker makes to a job it claimed."""

    job_id: str
    worker_id: str
    run_no: int


@dataclass
class Attempt:
    """One run of a job's command (or the record of one that could not start)."""

    job_id: str
    number: int
    worker_id: str | None
    started_at: float | None
    finished_at: float | None = None
    exit_code: int | None = None
    error: str | None = None
    outcome: str | None = None  # the job state this attempt led to; None while running
    output: bytes = b""
    output_total: int = 0  # bytes the command wrote in all; output keeps the tail
    # Where the command's process group runs while it may be alive (not shown to users):
    host: str | None = None
    pgid: int | None = None

    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")

    def to_dict(self, with_output: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.number, "worker_id": self.worker_id,
            "started_at": iso_utc(self.started_at), "finished_at": iso_utc(self.finished_at),
            "exit_code": self.exit_code, "error": self.error, "outcome": self.outcome,
            "output_bytes": self.output_total,
        }
        if with_output:
            out["output"] = self.text()
        return out


@dataclass
class WorkerInfo:
    id: str
    host: str
    pid: int
    pool: str
    queues: list[str] | None
    started_at: float
    heartbeat_at: float
    stop_requested: bool = False
    doorbell: int | None = None  # local UDP port that wakes this worker (SQLite)
    job_id: str | None = None  # derived: the job it holds, if any

    def state(self, now: float, lease_seconds: float) -> str:
        """idle, busy, stopping, or lost (no heartbeat for a whole lease)."""
        if now - self.heartbeat_at > lease_seconds:
            return "lost"
        if self.stop_requested:
            return "stopping"
        return "busy" if self.job_id else "idle"

    def to_dict(self, now: float, lease_seconds: float) -> dict[str, Any]:
        return {
            "id": self.id, "host": self.host, "pid": self.pid,
            "state": self.state(now, lease_seconds), "job_id": self.job_id,
            "queues": self.queues, "started_at": iso_utc(self.started_at),
            "last_heartbeat": iso_utc(self.heartbeat_at),
            "heartbeat_age": round(max(now - self.heartbeat_at, 0.0), 3),
        }
