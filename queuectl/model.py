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

import _thread
import os
import time

from queuectl.durations import iso_utc
from queuectl.records import MISSING, Field, field, fields, record

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any

PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
DEAD = "dead"
CANCELED = "canceled"

STATES = (PENDING, PROCESSING, COMPLETED, FAILED, DEAD, CANCELED)
TERMINAL = (COMPLETED, DEAD, CANCELED)
LIVE = (PENDING, FAILED, PROCESSING)  # the states that hold a unique key (SPEC §8)
WAITING = (PENDING, FAILED)  # not yet claimed: what hold, edit and dependencies act on

# A dependency's condition (SPEC §7), by what it accepts of the ended job's state.
ON_SUCCESS, ON_ANY, ON_FAILURE = "success", "any", "failure"
ACCEPTS = {
    ON_SUCCESS: (COMPLETED,),
    ON_ANY: TERMINAL,
    ON_FAILURE: (DEAD, CANCELED),
}
DEFAULT_QUEUE = "default"


@record
class NewJob:
    """A validated job, ready to be stored: the fields of `Job` given at enqueue (each is
    declared there too, which says how it is stored)."""

    id: str
    command: str
    max_retries: int
    queue: str = DEFAULT_QUEUE
    priority: int = 0
    run_at: float = 0.0
    timeout: float | None = None
    cwd: str = ""
    env: dict[str, str] = field(default_factory=dict)
    after: list[dict[str, str]] = field(default_factory=list)
    group: str | None = None
    index: int | None = None
    lock: str | None = None
    unique_key: str | None = None
    schedule: str | None = None
    retry_on: list[str] | None = None
    no_retry_on: list[str] | None = None
    on_success: str | None = None
    on_failure: str | None = None


def job_field(
    description: str,
    *,
    moment: bool = False,
    public: bool = True,
    minimum: int | None = None,
    choices: tuple[str, ...] | None = None,
    default: Any = MISSING,
    default_factory: Any = MISSING,
) -> Any:
    """A field of `Job`, declared with what is derived from it: its place in the job object
    (`public`), the column that holds it (store/rows.py), its enqueue parameter (if `NewJob`
    has it too) and its OpenAPI schema (dashboard/openapi.py). Its type and whether it may
    be None come from its annotation; a `moment` is a point in time, in epoch seconds: ISO
    8601 in the job object, integer milliseconds in its column."""
    return field(
        default=default,
        default_factory=default_factory,
        metadata={
            "description": description,
            "moment": moment,
            "public": public,
            "minimum": minimum,
            "choices": choices,
        },
    )


@record
class Job:
    id: str = job_field(
        "unique: given at enqueue (A-Z a-z 0-9 . _ : -, up to 128) or "
        "generated (then sorting by creation time)"
    )
    command: str = job_field("a shell command line, run by /bin/sh -c (cmd /c on Windows)")
    state: str = job_field(
        "failed: a retry is due at run_at; dead: out of retries (the DLQ)", choices=STATES
    )
    attempts: int = job_field(
        "attempts used from the retry budget: +1 at every claim, reset to 0 by dlq retry", minimum=0
    )
    max_retries: int = job_field(
        "retries after the first run: at most 1 + max_retries attempts", minimum=0
    )
    queue: str = job_field("the named queue")
    priority: int = job_field("higher runs first")
    run_at: float = job_field(
        "not claimed before this moment (a delay, or a retry's backoff)", moment=True
    )
    timeout: float | None = job_field(
        "seconds an attempt may run; null: config job_timeout as it is when the job is claimed"
    )
    cwd: str = job_field("the absolute working directory of the command")
    env: dict[str, str] = job_field(
        "variables added to the worker's environment; the value of a name with TOKEN, "
        "SECRET, PASSWORD or KEY in it is shown as ***"
    )
    exit_code: int | None = job_field("of the last finished attempt; killed by signal N: 128 + N")
    last_error: str | None = job_field("why the last attempt failed")
    worker_id: str | None = job_field("the worker holding it while processing")
    created_at: float = job_field("when it was enqueued", moment=True)
    updated_at: float = job_field("when it last changed", moment=True)
    started_at: float | None = job_field("the start of the latest attempt", moment=True)
    finished_at: float | None = job_field("when it reached a final state", moment=True)
    after: list[dict[str, str]] = job_field(
        "dependencies: each {id, on}; on success (completed), failure (dead or canceled) "
        "or any (ended)",
        default_factory=list,
    )
    group: str | None = job_field("the group it belongs to (an array's, or --group)", default=None)
    index: int | None = job_field("its index in an array", default=None)
    held: bool = job_field("held by hold until release: not claimed", default=False)
    lock: str | None = job_field(
        "a mutex: at most one job holding it processing at a time, across every queue",
        default=None,
    )
    unique_key: str | None = job_field(
        "at most one pending, failed or processing job has it; an enqueue with a held key "
        "creates nothing",
        default=None,
    )
    schedule: str | None = job_field(
        "the schedule that enqueued it (a tick's run, or schedule run)", default=None
    )
    retry_on: list[str] | None = job_field(
        "failure policy: a failed attempt that matches none of these exit codes, ranges "
        "and words (timeout, signal) goes dead at once",
        default=None,
    )
    no_retry_on: list[str] | None = job_field(
        "failure policy: a failed attempt that matches one of these exit codes, ranges and "
        "words (timeout, signal) goes dead at once; config no_retry_on, copied at enqueue, "
        "for a job that sets neither",
        default=None,
    )
    on_success: str | None = job_field(
        "hook: a shell command a pool runs once after the job completed; config "
        "on_success, copied at enqueue, for a job that sets none",
        default=None,
    )
    on_failure: str | None = job_field(
        "hook: a shell command a pool runs once after the job ended dead or canceled; "
        "config on_failure, copied at enqueue, for a job that sets none",
        default=None,
    )
    # Bookkeeping that is not part of the public job object:
    attempt_number: int = job_field(
        "the number of the latest attempt (attempt numbers are never reused)",
        public=False,
        default=0,
    )
    lease_until: float | None = job_field(
        "when the worker's lease on it ends", moment=True, public=False, default=None
    )
    cancel_requested: bool = job_field(
        "a cancel that its worker is to act on", public=False, default=False
    )
    host: str | None = job_field(
        "of the worker that claimed the latest attempt", public=False, default=None
    )
    waiting_on: int = job_field(
        "dependency conditions not yet met: claimed only at 0", public=False, default=0
    )
    awaited: bool = job_field(
        "some job waits (or waited) for it: its end settles its dependents",
        public=False,
        default=False,
    )
    gate: str | None = job_field(
        "the gate (queue:Q, group:G or lock:L) whose claim index holds it; null: it has none",
        public=False,
        default=None,
    )

    def to_dict(self) -> dict[str, Any]:
        """The public job object: exactly the fields of SPEC §2, as every output shows it
        (`show`, `list`, `dlq list`, the dashboard and its API): secrets in `env` masked."""
        shown = {name: getattr(self, name) for name in _PUBLIC_NAMES}
        for name in _PUBLIC_MOMENTS:
            shown[name] = iso_utc(shown[name])
        shown["env"] = masked_env(self.env)
        return shown


SECRET_NAME_PARTS = ("TOKEN", "SECRET", "PASSWORD", "KEY")
MASK = "***"


def masked_env(env: dict[str, str]) -> dict[str, str]:
    """`env` as it may be shown: the value of a variable whose name looks secret (has
    TOKEN, SECRET, PASSWORD or KEY in it, in any case: `github_token` too) is `***`. The
    job's command gets the real values."""
    return {
        name: MASK if any(part in name.upper() for part in SECRET_NAME_PARTS) else value
        for name, value in env.items()
    }


@record(frozen=True)
class JobField:
    """One field of `Job`, as its declaration says."""

    name: str
    type: str  # its annotation, without "| None": str, int, float, bool, dict[str, str]
    nullable: bool
    moment: bool  # epoch seconds (type float), shown as ISO 8601 and stored as milliseconds
    public: bool  # in the job object (SPEC §2); the rest is bookkeeping
    description: str
    minimum: int | None
    choices: tuple[str, ...] | None


def _job_field(declared: Field) -> JobField:
    # The annotation is text (`from __future__ import annotations`), and stays text: Python
    # 3.9 cannot evaluate "float | None".
    base, _, none = declared.type.partition(" | ")
    if none not in ("", "None"):
        raise TypeError(f"Job.{declared.name}: write its annotation as T or T | None")
    return JobField(declared.name, base, none == "None", **declared.metadata)


JOB_FIELDS: dict[str, JobField] = {item.name: _job_field(item) for item in fields(Job)}
PUBLIC_JOB_FIELDS = [item for item in JOB_FIELDS.values() if item.public]  # in their order
NEW_JOB_FIELDS = [JOB_FIELDS[item.name] for item in fields(NewJob)]
_PUBLIC_NAMES = [item.name for item in PUBLIC_JOB_FIELDS]
_PUBLIC_MOMENTS = [item.name for item in PUBLIC_JOB_FIELDS if item.moment]


@record(frozen=True)
class Lease:
    """What fences every change a worker makes to a job it claimed."""

    job_id: str
    worker_id: str
    attempt_number: int


@record
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
    # What its command used (SPEC §9); None where the OS could not tell:
    cpu_user: float | None = None  # seconds
    cpu_system: float | None = None
    max_rss: int | None = None  # bytes
    signal: int | None = None  # the signal that ended it
    # Where the command's process group runs while it may be alive (not shown to users):
    host: str | None = None
    pgid: int | None = None

    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")

    def to_dict(self, with_output: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.number,
            "worker_id": self.worker_id,
            "started_at": iso_utc(self.started_at),
            "finished_at": iso_utc(self.finished_at),
            "exit_code": self.exit_code,
            "error": self.error,
            "outcome": self.outcome,
            "output_bytes": self.output_total,
            "cpu_user": self.cpu_user,
            "cpu_system": self.cpu_system,
            "max_rss": self.max_rss,
            "signal": self.signal,
        }
        if with_output:
            out["output"] = self.text()
        return out


@record
class Gate:
    """What admits jobs to processing (SPEC §8): a queue's pause and limit (`queue:Q`), a
    group's %N (`group:G`), a lock (`lock:L`, at most 1). Open while not paused and
    `running` < `max_running` (None: no limit)."""

    name: str
    paused: bool
    max_running: int | None
    running: int

    @property
    def open(self) -> bool:
        return not self.paused and (self.max_running is None or self.running < self.max_running)


@record
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
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "pool": self.pool,
            "state": self.state(now, lease_seconds),
            "job_id": self.job_id,
            "queues": self.queues,
            "started_at": iso_utc(self.started_at),
            "last_heartbeat": iso_utc(self.heartbeat_at),
            "heartbeat_age": round(max(now - self.heartbeat_at, 0.0), 3),
        }


# --- schedules (SPEC §8) ----------------------------------------------------------------

OVERLAPS = ("skip", "allow")
CATCH_UPS = ("latest", "none", "all")
ENQUEUED, SKIPPED = "enqueued", "skipped"


@record
class Schedule:
    name: str
    expression: str  # cron, as given
    zone: str  # IANA name
    spec: dict[str, Any]  # its jobs' job object (the keys of enqueue), validated at add
    overlap: str = "skip"
    catch_up: str = "latest"
    paused: bool = False
    created_at: float = 0.0
    fired_through: float = 0.0  # every tick up to this moment has been handled
    next_fire_at: float | None = None  # None while paused
    last_job: str | None = None  # the latest run's job: a tick's or `schedule run`'s

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expression": self.expression,
            "zone": self.zone,
            "command": self.spec["command"],
            "job": {
                key: masked_env(value) if key == "env" else value
                for key, value in self.spec.items()
                if key != "command"
            },
            "overlap": self.overlap,
            "catch_up": self.catch_up,
            "paused": self.paused,
            "created_at": iso_utc(self.created_at),
            "next_run": iso_utc(self.next_fire_at),
            "last_job": self.last_job,
        }


@record(frozen=True)
class Tick:
    """One tick of a schedule as recorded: enqueued as `job`, or skipped for `reason`
    (overlap: its previous run had not finished; missed: no pool ran at its time)."""

    schedule: str
    tick: float
    job: str | None
    outcome: str  # enqueued | skipped
    reason: str | None
    at: float  # when it was handled

    def to_dict(self) -> dict[str, Any]:
        return {
            "tick": iso_utc(self.tick),
            "job": self.job,
            "outcome": self.outcome,
            "reason": self.reason,
            "at": iso_utc(self.at),
        }


@record
class Firing:
    """What a pool decided for a schedule's ticks in (seen_through, through]: the jobs of
    the ticks to run and the ticks to skip. The store applies it only if no other pool
    has moved fired_through meanwhile."""

    schedule: str
    seen_through: float
    through: float
    next_fire_at: float | None
    runs: list[tuple[float, NewJob]]  # (tick, its job), oldest first
    skipped: list[tuple[float, str]]  # (tick, reason)
    skip_if_running: bool  # overlap skip: runs become skipped while the last job is live


# --- job ids ------------------------------------------------------------------------------

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase
# Ids may be made on several threads at once (the dashboard serves each request on its
# own): two calls that begin a millisecond together would each pick a counter start, and
# their runs of ids could meet.
_id_lock = _thread.allocate_lock()  # threading's Lock, without importing threading
_last_ms = 0
_prefix = ""
_counter = 0


def new_job_id() -> str:
    """13 characters: milliseconds since the epoch then a counter that starts at a random
    point each millisecond, so ids sort roughly by time and do not collide in a batch."""
    global _last_ms, _prefix, _counter
    with _id_lock:
        ms = int(time.time() * 1000)
        if ms <= _last_ms:
            _counter += 1
        else:
            start = int.from_bytes(os.urandom(3), "big") % (32**4 // 2)
            _last_ms, _prefix, _counter = ms, _base32(ms, 9), start
        return _prefix + _base32(_counter, 4)


def _base32(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))
