"""The storage contract: the domain operations every backend implements.

This is the one place where the contract is written down. Backends (``sqlite.py``,
``postgres.py``) persist decisions; they never make them: retries, backoff and the next
state come from ``lifecycle.py`` as a `Transition`.

Rules every implementation follows:

* Time is passed in as ``now`` (epoch seconds, float) and stored with millisecond precision.
  ``clock()`` says what ``now`` is for this store (PostgreSQL: the database server's clock,
  so that leases mean the same thing on every host).
* A claim is atomic: one job is never handed to two workers. Order: ``priority`` descending,
  then ``run_at``, then enqueue order.
* Every change a worker makes to a job it claimed is fenced by a `Lease` (job id, worker id,
  attempt number): it applies only while the job is still ``processing``, held by that
  worker, at that attempt, and reports whether it applied. A job row and its attempt record
  change in one transaction.
* Commands that accept user input (enqueue, config, dlq retry, cancel, purge) are fully
  durable when they return if the store was opened with ``durable=True``.
* A failed command changes nothing (all or nothing).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence

from queuectl.hooks import HookDuty
from queuectl.lifecycle import Transition
from queuectl.model import Attempt, Firing, Gate, Job, Lease, NewJob, Schedule, Tick, WorkerInfo
from queuectl.records import record


@record(frozen=True)
class Heartbeat:
    """What a worker learns when it reports in."""

    registered: bool  # False if its worker row is gone (pruned as dead): register again
    stop_requested: bool
    lease_held: bool  # False if the job it runs was taken from it: stop the command
    cancel_requested: bool


@record(frozen=True)
class StrayAttempt:
    """An attempt whose process group was started on some host and not yet seen to end."""

    job_id: str
    number: int
    worker_id: str | None
    pgid: int  # 0 if never recorded: its processes are found by the attempt's tags


@record(frozen=True)
class FinishedAttempt:
    """One finished attempt, for statistics."""

    queue: str
    outcome: str
    started_at: float | None
    finished_at: float
    cpu_seconds: float | None = None  # user + system; None where the OS could not tell
    max_rss: int | None = None  # bytes


@record(frozen=True)
class LoggedAttempt:
    """One line of the job log: a finished attempt (without its output) and its job's
    queue and group."""

    attempt: Attempt
    queue: str
    group: str | None


@record(frozen=True)
class RunTimes:
    """Run times of every finished attempt, for a Prometheus histogram, and the CPU time
    they used (read in the same pass over the attempts)."""

    count: int
    total_seconds: float
    buckets: list[int]  # attempts with a run time <= each bound (cumulative)
    cpu_user: float = 0.0  # seconds of CPU the attempts used, where the OS told
    cpu_system: float = 0.0


@record(frozen=True)
class ServerFacts:
    """What `queuectl doctor` reads of a store's database server."""

    clock_offset: float  # the server's clock minus this host's, seconds
    uncertainty: float  # half the round trip of that reading: the offset's error bound
    max_connections: int  # those clients may open: max_connections less the reserved ones
    connections: int  # client connections open now, of any application


@record(frozen=True)
class JobExport:
    """A job as `export` reads it and `import_parts` writes it back: its row, its attempts
    (oldest first), its dependency conditions not met yet and its hooks not yet run."""

    job: Job
    attempts: list[Attempt]
    waits: list[tuple[str, str]]  # (the job it waits for, the condition)
    hook_duties: list[HookDuty]


@record(frozen=True)
class StoreSettings:
    """What a store holds besides its jobs, as `export` reads it: the stored config, the
    gates (queue pauses and limits, group limits, locks) and the schedules with their
    ticks."""

    config: dict[str, object]
    gates: list[Gate]
    schedules: list[tuple[Schedule, list[Tick]]]


# What a stop request announces (`_announce`): an idle worker woken by anything else may
# claim before it reads its stop flag.
STOP_ANNOUNCEMENT = "stop"


class Waiter(abc.ABC):
    """How an idle worker sleeps until there may be work."""

    port: int | None = None  # the local doorbell port to advertise, if any
    # What the announcements that ended the last wait said; empty if it ended otherwise
    # (time ran out, an interruption, a change of unknown kind).
    reasons: frozenset[str] = frozenset()

    @abc.abstractmethod
    def wait(self, timeout: float, interrupted) -> bool:
        """Sleep up to `timeout` seconds; return True early when the store signals a change
        (an enqueue rang the doorbell, another connection committed, a NOTIFY arrived) or
        when ``interrupted()`` becomes true. A False return means only that time ran out:
        the caller checks the store either way, because a wake-up can be missed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the socket or connection."""


class Store(abc.ABC):
    """A queue store. One instance is used by one thread at a time, though not always the
    same one (the dashboard hands its stores from one request's thread to the next:
    dashboard/stores.py); every process opens its own."""

    location: str  # for display; a password in a URL is masked

    # --- lifecycle ---------------------------------------------------------------------

    @abc.abstractmethod
    def close(self) -> None:
        """Close connections. The store must not be used afterwards."""

    @abc.abstractmethod
    def clock(self) -> float:
        """Now, by the clock this store's leases are measured with (epoch seconds)."""

    def vanished(self) -> str | None:
        """Why the location no longer names the store this instance opened (its file was
        deleted, replaced or overwritten), or None. A running pool asks every few seconds:
        it must not go on serving a store that nobody else can see."""
        return None

    @abc.abstractmethod
    def housekeeping(self) -> None:
        """Upkeep that should not slow the workers down (SQLite: WAL checkpoints). The
        pool supervisor, which is otherwise idle, calls it about once a second."""

    # --- health (queuectl doctor) ------------------------------------------------------

    @abc.abstractmethod
    def schema_versions(self) -> tuple[int, int]:
        """(the schema version the store has now, the newest this release knows)."""

    def journal_mode(self) -> str | None:
        """The journal mode of a SQLite file (``wal``); None for a store without one."""
        return None

    def server_facts(self) -> ServerFacts | None:
        """The clock and connection figures of the store's database server, read now;
        None for a store without a server."""
        return None

    def notify_delay(self, timeout: float) -> float | None:
        """Seconds a notification took from this store's connection to another one that
        listens, on a channel of its own (no worker wakes); None if it did not arrive
        within `timeout`. Only for a store with a server (`server_facts`): the way its
        idle workers are woken."""
        raise NotImplementedError

    # --- producers ---------------------------------------------------------------------

    @abc.abstractmethod
    def enqueue(
        self, jobs: Sequence[NewJob], now: float, limits: Mapping[str, int] | None = None
    ) -> dict[str, str]:
        """Insert the jobs as ``pending`` in one transaction, then wake idle workers.

        A job whose ``unique_key`` a pending, failed or processing job holds is not
        inserted: the answer maps its id to the holder's (SPEC §8), atomically under
        concurrent enqueues.

        `limits` sets, first, how many jobs of a group may be processing at once (an
        array's %N) for every job of that group (Conflict for a group that has unfinished
        jobs without a limit yet).

        A job's ``after`` entries (``group:NAME`` expanded to that group's jobs, the
        batch's included) are stored as it waits for them: it is claimed once each has
        ended as its condition asks; one that ends otherwise cancels it (and what waits for
        it) in the same transaction as that end (SPEC §7).

        Raises `Conflict` naming the id if an id exists already (or twice in `jobs`), and
        `NotFound`/`Conflict` for an unknown dependency, a cycle, or a condition that can
        already never be met; then nothing is inserted."""

    # --- claiming and running ----------------------------------------------------------

    @abc.abstractmethod
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, now: float, lease_seconds: float
    ) -> Job | None:
        """Atomically take the first claimable job (``pending`` or ``failed``, ``run_at``
        <= now, in one of `queues` or any queue if None) and return it as ``processing``:
        ``attempts`` and the attempt number ``attempt_number`` incremented, ``started_at`` = now,
        held by `worker_id` until now + lease_seconds, ``host`` = that worker's registered
        host (so that the attempt's host is known before its command starts). None if
        nothing is due."""

    @abc.abstractmethod
    def next_run_at(self, queues: Sequence[str] | None) -> float | None:
        """The earliest ``run_at`` among claimable jobs in `queues`, so an idle worker
        sleeps no longer than that; None if there are none."""

    @abc.abstractmethod
    def record_start(self, lease: Lease, host: str, pgid: int, started_at: float) -> None:
        """Record the running attempt (started at claim time) and the process group of its
        command, so that a later pool can stop the tree if this worker dies."""

    @abc.abstractmethod
    def heartbeat(
        self, worker_id: str, lease: Lease | None, now: float, lease_seconds: float
    ) -> Heartbeat:
        """Refresh the worker's heartbeat and, if it holds a job, extend that job's lease
        to now + lease_seconds (fenced)."""

    @abc.abstractmethod
    def job_flags(self, lease: Lease) -> tuple[bool, bool]:
        """(lease still held, cancel requested) for a running job; a cheap read."""

    @abc.abstractmethod
    def stop_requested(self, worker_id: str) -> bool:
        """Whether `worker stop` asked this worker to stop (a cheap read)."""

    @abc.abstractmethod
    def append_output(self, lease: Lease, offset: int, data: bytes, keep_from: int) -> None:
        """Store a chunk of a running attempt's output that starts at byte `offset` of
        its stream, and drop chunks that end before `keep_from` (the output limit)."""

    @abc.abstractmethod
    def finish(
        self,
        lease: Lease,
        transition: Transition,
        attempt: Attempt,
        now: float,
        keep_pgid: bool = False,
    ) -> bool:
        """Apply `transition` to the job and write its attempt record, in one
        transaction, only if the lease still holds. Live output chunks of the attempt are
        replaced by ``attempt.output``. The attempt's process group is forgotten unless
        `keep_pgid` (the tree may still run on a host we cannot reach): then it stays a
        stray attempt of its host, ``attempt.host`` if none was recorded, with pgid 0 if
        none was recorded. Returns whether it applied."""

    def finish_and_claim(
        self,
        lease: Lease,
        transition: Transition,
        attempt: Attempt,
        now: float,
        queues: Sequence[str] | None,
        lease_seconds: float,
    ) -> tuple[bool, Job | None]:
        """`finish`, then `claim` the worker's next job: (finish applied, next job or None).
        A backend may do both in one transaction, saving a commit per job."""
        applied = self.finish(lease, transition, attempt, now)
        return applied, self.claim(lease.worker_id, queues, now, lease_seconds)

    # --- recovery ----------------------------------------------------------------------

    @abc.abstractmethod
    def expired_jobs(self, now: float, limit: int = 100) -> list[Job]:
        """``processing`` jobs whose lease ran out before `now`."""

    @abc.abstractmethod
    def held_jobs(self, worker_id: str) -> list[Job]:
        """``processing`` jobs held by `worker_id`."""

    @abc.abstractmethod
    def stray_attempts(self, host: str) -> list[StrayAttempt]:
        """Attempts started on `host` whose process group was not seen to end."""

    @abc.abstractmethod
    def forget_pgid(self, job_id: str, number: int) -> None:
        """The process group of that attempt is gone."""

    @abc.abstractmethod
    def live_output(self, job_id: str, number: int) -> tuple[bytes, int]:
        """(tail, total bytes) of a running attempt's output, from its chunks."""

    # --- admin -------------------------------------------------------------------------

    @abc.abstractmethod
    def cancel(self, job_ids: Sequence[str], now: float) -> dict[str, str]:
        """Cancel jobs: ``pending``/``failed`` become ``canceled`` at once (value
        ``"canceled"``); a ``processing`` job gets a cancel request that its worker acts
        on (value ``"requested"``). `NotFound` or `Conflict` (a terminal job) changes
        nothing."""

    @abc.abstractmethod
    def retry_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        """`requeue` the ``dead`` jobs named (all if None). `NotFound` or `Conflict` (a
        job that is not dead) changes nothing. Returns the ids moved."""

    @abc.abstractmethod
    def requeue(self, job_ids: Sequence[str], now: float) -> list[str]:
        """Move finished jobs (completed, dead, canceled) to ``pending`` with ``attempts`` =
        0 and ``run_at`` = now; wake workers. Their dependencies are waited for again (those
        requeued with them first); one whose condition can no longer be met, like an
        unfinished job, is a `Conflict` that changes nothing."""

    @abc.abstractmethod
    def edit(self, job: NewJob, now: float) -> None:
        """Replace what a ``pending`` or ``failed`` job runs and how (command, queue,
        priority, max_retries, run_at, timeout, cwd, env, group) with `job`'s; its
        dependencies, index and history stay. `NotFound` or `Conflict` (another state)."""

    @abc.abstractmethod
    def hold(self, job_ids: Sequence[str], held: bool, now: float) -> None:
        """Hold (or release) ``pending``/``failed`` jobs: a held job is not claimed.
        `NotFound` or `Conflict` (another state) changes nothing."""

    @abc.abstractmethod
    def purge(self, states: Sequence[str], finished_before: float | None) -> int:
        """Delete jobs in `states` (terminal ones only) that finished before the given
        moment (any time if None), with their attempts. Returns how many."""

    # --- reads -------------------------------------------------------------------------

    @abc.abstractmethod
    def get_job(self, job_id: str) -> Job:
        """The job, or `NotFound`."""

    @abc.abstractmethod
    def list_jobs(
        self,
        state: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        offset: int = 0,
        group: str | None = None,
        schedule: str | None = None,
    ) -> list[Job]:
        """Jobs, newest first."""

    @abc.abstractmethod
    def group_members(self, group: str) -> list[tuple[str, str]]:
        """(id, state) of each job of the group, in index (then enqueue) order."""

    @abc.abstractmethod
    def group_limit(self, group: str) -> tuple[int, int] | None:
        """(most that may run at once, how many run) of a limited group, or None."""

    @abc.abstractmethod
    def gates(self) -> list[Gate]:
        """Every gate, by name: the queues paused or limited, the limited groups, the locks
        taken (until `prune_lock_gates`)."""

    @abc.abstractmethod
    def prune_lock_gates(self) -> int:
        """Delete the gates of locks that no pending, failed or processing job takes, and
        return how many: an end leaves its lock's gate behind, and every claim looks into
        each open gate, so that those of old locks would slow every claim. In one
        transaction that waits for the enqueues in flight and keeps new ones out until it
        commits, so that a lock being taken keeps its gate."""

    @abc.abstractmethod
    def gate(self, name: str) -> Gate | None:
        """The gate `queue:Q`, `group:G` or `lock:L`, or None if there is none."""

    @abc.abstractmethod
    def gate_holders(self, name: str) -> list[str]:
        """The ids of the processing jobs that pass through the gate, longest running first."""

    @abc.abstractmethod
    def pause_queues(self, queues: Sequence[str]) -> list[str]:
        """From now on no job of these queues is claimed, on every worker at once, until
        they are resumed; a queue's limit stays as it is. In one transaction, under a lock
        that waits for claims in flight: each queue's running jobs are counted, its waiting
        jobs move to the gated claim index. Returns those that were paused already."""

    @abc.abstractmethod
    def resume_queues(self, queues: Sequence[str]) -> list[str]:
        """The paused ones among these queues are claimed from again (within their limits),
        in one transaction as `pause_queues`; idle workers are woken. Returns those that
        were not paused, as that transaction saw them."""

    @abc.abstractmethod
    def limit_queue(self, queue: str, max_running: int | None) -> None:
        """From now on at most `max_running` (None: any number) of the queue's jobs are
        processing at once, on every worker at once; whether it is paused stays as it is.
        In one transaction as `pause_queues`; a queue neither paused nor limited has no
        gate (its waiting jobs move back to the plain claim index). Idle workers are
        woken."""

    @abc.abstractmethod
    def group_counts(self, group: str) -> dict[str, int]:
        """How many jobs of the group are in each state (states with none left out)."""

    @abc.abstractmethod
    def groups(self) -> dict[str, dict[str, int]]:
        """{group: {state: n}} for every group and the states its jobs are in, by name."""

    @abc.abstractmethod
    def dependents(self, job_id: str, limit: int) -> list[str]:
        """The ids of up to `limit` jobs whose ``after`` names the job (its condition met
        or not), in enqueue order."""

    @abc.abstractmethod
    def job_states(self, job_ids: Sequence[str]) -> dict[str, str]:
        """The state of each of those jobs that exists."""

    @abc.abstractmethod
    def attempts(self, job_id: str) -> list[Attempt]:
        """The job's attempts, oldest first; a running one carries its live output."""

    @abc.abstractmethod
    def output_chunks(self, job_id: str, number: int, offset: int) -> list[tuple[int, bytes]]:
        """(offset, data) chunks of a running attempt's output that end after `offset`."""

    @abc.abstractmethod
    def counts(self) -> dict[str, dict[str, int]]:
        """{queue: {state: n}} for the states present."""

    @abc.abstractmethod
    def finished_attempts(self, since: float) -> list[FinishedAttempt]:
        """Attempts that finished at or after `since`."""

    @abc.abstractmethod
    def attempt_log(
        self,
        limit: int,
        since: float | None = None,
        queue: str | None = None,
        group: str | None = None,
        outcome: str | None = None,
    ) -> list[LoggedAttempt]:
        """Up to `limit` finished attempts, newest first (by when they finished), those
        that finished at or after `since`, of jobs of that `queue` and `group`, that led
        to that `outcome` (a job state), where given."""

    @abc.abstractmethod
    def throughput(self, since: float, bucket_seconds: int) -> list[tuple[float, str, int]]:
        """(bucket start, outcome, attempts) for attempts finished at or after `since`,
        grouped into buckets of `bucket_seconds` aligned on the epoch; oldest first."""

    @abc.abstractmethod
    def attempt_counts(self) -> dict[str, int]:
        """{outcome: attempts} over all finished attempts in the store."""

    @abc.abstractmethod
    def run_times(self, bounds: Sequence[float]) -> RunTimes:
        """Run times of all finished attempts, counted against ascending `bounds`."""

    # --- schedules (SPEC §8) ------------------------------------------------------------

    @abc.abstractmethod
    def add_schedule(self, schedule: Schedule) -> None:
        """Store a new schedule; its fired_through is its created_at. `Conflict` if the
        name is taken."""

    @abc.abstractmethod
    def schedules(self) -> list[Schedule]:
        """Every schedule, by name."""

    @abc.abstractmethod
    def get_schedule(self, name: str) -> Schedule:
        """The schedule, or `NotFound`."""

    @abc.abstractmethod
    def due_schedules(self, now: float) -> list[Schedule]:
        """The schedules not paused whose next_fire_at is at or before `now`: one read of
        an index, cheap when none is due (every pool asks twice a second)."""

    @abc.abstractmethod
    def fire_schedule(self, firing: Firing, now: float) -> list[Tick]:
        """Apply a pool's `firing` in one transaction, holding the schedule's row: nothing
        (an empty answer) if the schedule is gone or paused or its fired_through is no
        longer `firing.seen_through` (another pool handled those ticks). Else each tick is
        recorded once (its row is the idempotency key) and only a newly recorded run's job
        is inserted, as `enqueue` inserts; under `skip_if_running` the runs are skipped
        (reason overlap) while the schedule's last job is pending, failed or processing.
        fired_through, next_fire_at and last_job move on. Returns the ticks recorded."""

    @abc.abstractmethod
    def run_schedule(self, name: str, job: NewJob, now: float) -> None:
        """Insert `job` (a run of the schedule now) and make it the schedule's last job, in
        one transaction; `NotFound` if there is no such schedule."""

    @abc.abstractmethod
    def pause_schedule(
        self, name: str, paused: bool, now: float, next_fire_at: float | None
    ) -> bool:
        """Pause (next_fire_at None) or resume (fired_through = now: the ticks of the pause
        are not made up for; next_fire_at as given) a schedule. Returns whether it was
        paused before; `NotFound` if there is no such schedule."""

    @abc.abstractmethod
    def remove_schedule(self, name: str) -> None:
        """Delete the schedule and its ticks (its jobs stay); `NotFound` if none."""

    @abc.abstractmethod
    def schedule_ticks(self, name: str, outcome: str, limit: int) -> list[Tick]:
        """The newest `limit` ticks of the schedule with that outcome, newest first."""

    # --- hooks (SPEC §9) ----------------------------------------------------------------

    @abc.abstractmethod
    def take_hook_duties(self, limit: int) -> list[HookDuty]:
        """Take (delete) up to `limit` of the oldest hook duties, which the transaction
        that ended each job recorded; a duty taken is never given out again, so each hook
        is run at most once. Two callers at once take different duties; with none waiting
        it only reads."""

    # --- moving a store (SPEC §10) ------------------------------------------------------

    @abc.abstractmethod
    def export(
        self, states: Sequence[str] | None, group: str | None, with_output: bool
    ) -> Iterator[JobExport | StoreSettings]:
        """The jobs in `states` (all if None) of `group` (any if None), in enqueue order,
        their attempts' output only if `with_output`; then the store's settings, once. All
        as of one moment (a read that does not hold writers up), while it is iterated."""

    @abc.abstractmethod
    def import_parts(
        self, parts: Iterable[Sequence[JobExport] | StoreSettings], now: float
    ) -> None:
        """Write batches of jobs as they are given (states, attempt numbers, times and
        outcomes kept; none may be processing) and the settings, in one transaction: the
        settings' config and queue gates replace the store's. A job's gate, conditions
        waited on and its slot counts are worked out afresh. `Taken` for an id, a schedule
        name or a unique key of a live job that the store holds already; `Taken` too for a
        condition on a job that is neither imported nor in the store, or that has ended
        (naming the waiting job). Any error leaves the store as it was."""

    # --- workers -----------------------------------------------------------------------

    @abc.abstractmethod
    def register_worker(self, worker: WorkerInfo) -> None:
        """Insert (or replace) the worker's row."""

    @abc.abstractmethod
    def deregister_worker(self, worker_id: str) -> None:
        """Remove the worker's row (a clean exit, or after its death was handled)."""

    @abc.abstractmethod
    def list_workers(self) -> list[WorkerInfo]:
        """Every registered worker, with the job it holds."""

    @abc.abstractmethod
    def request_stop(self, worker_ids: Sequence[str]) -> None:
        """Ask these workers to stop (warm), then wake them."""

    @abc.abstractmethod
    def request_pool_stop(self, pool: str | None, now: float) -> None:
        """Ask a pool (None: every pool) started before `now` to stop, for a pool that is
        still starting: it may have no registered worker yet for `request_stop` to ask."""

    @abc.abstractmethod
    def pool_stop_requested(self, pool: str, since: float) -> bool:
        """Whether a stop was asked of this pool, or of every pool, at or after `since`."""

    # --- config ------------------------------------------------------------------------

    @abc.abstractmethod
    def config_values(self) -> dict[str, object]:
        """The stored settings (raw values; validation is config.py's)."""

    @abc.abstractmethod
    def config_set(self, key: str, value: object) -> None:
        """Store one setting."""

    @abc.abstractmethod
    def config_unset(self, key: str) -> None:
        """Forget one setting (its default applies again)."""

    # --- wake-up -----------------------------------------------------------------------

    @abc.abstractmethod
    def wake_workers(self) -> None:
        """Tell idle workers that there may be work (best effort: doorbell or NOTIFY)."""

    @abc.abstractmethod
    def waiter(self) -> Waiter:
        """A `Waiter` for one idle worker of this process."""
