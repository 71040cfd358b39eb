"""One worker: claim a job, run it, record the outcome; repeat. No SQL here: the worker
talks to the store only through the `Store` interface."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import sys
import time
from typing import Callable

from queuectl import lifecycle, platform, policy
from queuectl.config import Config
from queuectl.errors import StoreError, StoreUnavailable
from queuectl.logs import log_to
from queuectl.model import Attempt, Job, Lease, WorkerInfo
from queuectl.records import record
from queuectl.store.base import STOP_ANNOUNCEMENT, Store
from queuectl.worker import logfile, runner
from queuectl.worker.outage import Outage

log = logging.getLogger("queuectl.worker")

CHECK_INTERVAL = 0.5  # seconds between reads of cancel / stop requests and output flushes
CONFIG_INTERVAL = 1.0  # seconds a worker going from job to job keeps its settings
RECORD_START_AFTER = 0.05  # a command running this long gets its process group recorded
COLD_STOP_ERROR = "interrupted by a cold stop"
# A worker's exit status when its store is no longer usable (not a passing outage): its
# supervisor then stops the pool instead of starting a successor.
STORE_UNUSABLE_EXIT = 3


@record(frozen=True)
class WorkerSpec:
    """Everything a worker process needs to start (picklable for spawn)."""

    location: str
    worker_id: str
    pool: str
    queues: list[str] | None
    log: logfile.PoolLog | None = None  # None: log to stderr


class Controls:
    """How a worker's supervisor talks to it: warm and cold stop flags, and a slot where the
    worker publishes the process group of its running command. Anything with
    ``is_set()`` works as a flag (multiprocessing or threading events)."""

    def __init__(
        self, stop, cold, pgid_slot=None, parent_alive: Callable[[], bool] | None = None
    ) -> None:
        self.stop = stop
        self.cold = cold
        self.pgid_slot = pgid_slot
        self.parent_alive = parent_alive or (lambda: True)
        self.terminated = False  # set by SIGTERM sent to this worker alone

    def publish_pgid(self, pgid: int) -> None:
        if self.pgid_slot is not None:
            self.pgid_slot.value = pgid


class Worker:
    def __init__(self, store: Store, spec: WorkerSpec, controls: Controls) -> None:
        self.store = store
        self.spec = spec
        self.controls = controls
        self.host = platform.hostname()
        self.config = Config.from_stored({})  # until run() reads the stored settings
        self._config_read = time.monotonic()
        self._stop_requested = False
        # A claim failed in an outage: it may have committed unheard, and this worker may
        # hold a job it does not know of.
        self._claims_unknown = False
        self._next_stop_check = 0.0
        self._next_heartbeat = 0.0
        self._woken = False  # the last wait ended early: there may be work, or new settings
        self._env = dict(os.environ)
        self._waiter = store.waiter()
        self.outage = Outage(f"worker {spec.worker_id}")

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        try:
            if self._patiently(self._start, unless_stopping=True):
                self._serve()
        finally:
            self._waiter.close()

    def _serve(self) -> None:
        """Claim and run jobs until told to stop, then deregister."""
        log.info(
            "worker %s started (pid %d, queues %s)",
            self.spec.worker_id,
            os.getpid(),
            ",".join(self.spec.queues) if self.spec.queues else "all",
        )
        job = None
        try:
            while True:
                try:
                    if self._stopping():
                        break
                    job = self._step(job)
                    self.outage.over()
                except StoreUnavailable as exc:  # claim nothing until the store is back
                    self._pause(self.outage.failed(exc))
            if job is not None or self._claims_unknown:
                # Claimed just as the stop came (or maybe claimed): hand it back untouched.
                self._patiently(self._release_unknown_claims)
        finally:
            with contextlib.suppress(StoreError):  # unusable: the supervisor forgets it
                self._patiently(lambda: self.store.deregister_worker(self.spec.worker_id))
            log.info("worker %s stopped", self.spec.worker_id)

    def _step(self, job: Job | None) -> Job | None:
        """Claim a job if it has none and run it, or wait for work; returns the job to run
        next (claimed together with the last one's outcome). A wake-up's claim comes before
        the settings are read again: the job it was rung for does not wait for that read
        (a round trip to a server), and it runs with the settings read after its claim."""
        woken, self._woken = self._woken, False
        if not woken:
            self._refresh_config()
        self._maintain()
        if job is None:
            job = self._claim()
        if woken:
            # A store away now must not lose the job just claimed: it runs with the settings
            # read before, and its next store call meets the outage.
            with contextlib.suppress(StoreUnavailable):
                self._refresh_config(force=True)
        if job is not None:
            return self._execute(job)
        self._woken = self._waiter.wait(self._idle_timeout(), self._interrupted)
        return None

    def _claim(self) -> Job | None:
        """Claim a job; first hand back any that an outage may have claimed unheard, before
        their leases run out and they count as lost (a retry spent)."""
        try:
            job = self.store.claim(
                self.spec.worker_id, self.spec.queues, self.store.clock(), self.config.lease_seconds
            )
        except StoreUnavailable:
            self._claims_unknown = True  # the claim may have committed, its answer lost
            raise
        if self._claims_unknown:
            self._release_unknown_claims(keep=job)
        return job

    def _patiently(self, action: Callable[[], object], unless_stopping: bool = False) -> bool:
        """Run a store action, trying again through an outage until it works (True), or
        until a cold stop or a dead supervisor leaves no one to wait for (False); with
        `unless_stopping`, a warm stop ends the wait too."""
        while True:
            try:
                action()
                self.outage.over()
                return True
            except StoreUnavailable as exc:
                pause = self.outage.failed(exc)
            if self._hurried() or (unless_stopping and self._interrupted()):
                log.warning("worker %s: gave up waiting for the store", self.spec.worker_id)
                return False
            self._pause(pause)

    def _hurried(self) -> bool:
        """A cold stop, a SIGTERM to this worker alone, or a dead supervisor: no time to
        wait for the store."""
        return (
            self.controls.cold.is_set()
            or self.controls.terminated
            or not self.controls.parent_alive()
        )

    def _pause(self, seconds: float) -> None:
        """Sleep through an outage. Only a hurried stop cuts it short: a warm stop is seen
        after the pause (at most outage.LONGEST_PAUSE), and a result waiting to be written
        must wait for the store anyway."""
        deadline = time.monotonic() + seconds
        while not self._hurried() and time.monotonic() < deadline:
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0)))

    def _start(self) -> None:
        self._refresh_config(force=True)
        self._register()

    def _register(self) -> None:
        now = self.store.clock()
        self.store.register_worker(
            WorkerInfo(
                id=self.spec.worker_id,
                host=self.host,
                pid=os.getpid(),
                pool=self.spec.pool,
                queues=self.spec.queues,
                started_at=now,
                heartbeat_at=now,
                doorbell=self._waiter.port,
            )
        )

    def _interrupted(self) -> bool:
        return (
            self.controls.stop.is_set() or self.controls.cold.is_set() or self.controls.terminated
        )

    def _stopping(self) -> bool:
        if self._interrupted() or self._stop_requested:
            return True
        # A stop request rings as one: its flag is read at once. Rung for work alone, the
        # worker claims first (the job does not wait for that read) and reads it after.
        rung_for = self._waiter.reasons if self._woken else frozenset()
        due = time.monotonic() >= self._next_stop_check and not rung_for
        if STOP_ANNOUNCEMENT in rung_for or due:
            self._next_stop_check = time.monotonic() + CHECK_INTERVAL
            self._stop_requested = self.store.stop_requested(self.spec.worker_id)
            if not self.controls.parent_alive():
                log.warning("worker %s: supervisor is gone, stopping", self.spec.worker_id)
                return True
        return self._stop_requested

    def _idle_timeout(self) -> float:
        """Sleep until the next poll, or less if a delayed job comes due sooner."""
        timeout = min(self.config.poll_interval, self._next_heartbeat - time.monotonic())
        due = self.store.next_run_at(self.spec.queues)
        if due is not None:
            timeout = min(timeout, due - self.store.clock())
        return max(timeout, 0.0)

    def _refresh_config(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._config_read >= CONFIG_INTERVAL:
            self.config = Config.from_stored(self.store.config_values())
            self._config_read = now
            # A lease just shortened must not outrun the heartbeat planned for the old one.
            self._next_heartbeat = min(self._next_heartbeat, now + self.config.lease_seconds / 3)

    def _maintain(self, lease: Lease | None = None) -> str | None:
        """Heartbeat, when due. Returns a reason to stop the running command, if the
        heartbeat brought one. (Recovering other workers' lost jobs is the pool
        supervisor's task: it is idle, so recovery does not wait for a free worker.)"""
        now = time.monotonic()
        reason = None
        if now >= self._next_heartbeat:
            beat = self.store.heartbeat(
                self.spec.worker_id, lease, self.store.clock(), self.config.lease_seconds
            )
            self._next_heartbeat = now + self.config.lease_seconds / 3  # after an outage: soon
            if not beat.registered:
                self._register()
            self._stop_requested = self._stop_requested or beat.stop_requested
            if lease is not None:
                reason = _reason(beat.lease_held, beat.cancel_requested)
        return reason

    # --- one job -----------------------------------------------------------------------

    def _execute(self, job: Job) -> Job | None:
        """Run the job and record its outcome; returns the next job, claimed in the same
        transaction unless the worker is stopping."""
        assert job.started_at is not None  # the claim sets it
        lease = Lease(job.id, self.spec.worker_id, job.attempt_number)
        config = self.config
        running = _RunningAttempt(self, lease, job.started_at, config)
        tags = platform.attempt_tags(job.id, job.attempt_number, self.spec.worker_id)
        timeout = job.timeout if job.timeout is not None else (config.job_timeout or None)
        result = runner.run_command(
            job.command,
            job.cwd,
            {**self._env, **job.env},
            tags,
            timeout,
            config.output_limit,
            config.kill_grace,
            running.spawned,
            running.tick,
            running.keep_alive,
        )
        self.controls.publish_pgid(0)
        now = self.store.clock()
        if result.stopped == runner.LEASE_LOST:
            log.warning("job %s: lease lost, its command was stopped", job.id)
            if running.recorded:
                self._patiently(lambda: self.store.forget_pgid(job.id, job.attempt_number))
            return None
        transition = self._transition(job, lease, result, now)
        attempt = Attempt(
            job_id=job.id,
            number=job.attempt_number,
            worker_id=self.spec.worker_id,
            started_at=job.started_at,
            finished_at=now,
            exit_code=result.exit_code,
            error=result.error,
            output=result.output,
            output_total=result.output_total,
            signal=result.signal,
            host=self.host,
        )
        if result.usage is not None:
            attempt.cpu_user = result.usage.cpu_user
            attempt.cpu_system = result.usage.cpu_system
            attempt.max_rss = result.usage.max_rss
        applied, next_job = self._record(lease, transition, attempt, now)
        if not applied:
            log.warning(
                "job %s: attempt %d was taken over; its result is dropped",
                job.id,
                job.attempt_number,
            )
        else:
            timed_out = result.stopped == runner.TIMEOUT
            outcome = lifecycle.attempt_outcome(transition, result.error, timed_out, now)
            log.info("%s", lifecycle.attempt_line(attempt, outcome))
        return next_job

    def _transition(
        self, job: Job, lease: Lease, result: runner.RunResult, now: float
    ) -> lifecycle.Transition:
        config = self.config
        if result.stopped != runner.COLD_STOP:
            return lifecycle.after_attempt(
                job,
                result.exit_code,
                result.error,
                now,
                config,
                result.stopped == runner.CANCEL,
                _stopped_by(result),
                random.uniform(-1.0, 1.0),
            )
        try:
            canceled = self.store.job_flags(lease)[1]
        except StoreUnavailable:
            canceled = False  # no time to wait at a cold stop: the job goes back
        if canceled:  # a cancel came first: honour it
            result.error = lifecycle.CANCELED_ERROR
            return lifecycle.after_attempt(
                job, result.exit_code, None, now, config, cancel_requested=True
            )
        result.error = COLD_STOP_ERROR
        return lifecycle.after_release(job, now)

    def _record(
        self, lease: Lease, transition: lifecycle.Transition, attempt: Attempt, now: float
    ) -> tuple[bool, Job | None]:
        """Write the attempt's outcome and, unless stopping, claim the next job: (written,
        next job). Through an outage the result waits here and is written once the store
        is back, while heartbeats keep the lease; only a cold stop gives up on it (the
        job's lease then runs out and it is recovered)."""
        through_outage = False
        while True:
            try:
                if through_outage or self._stopping():
                    applied, next_job = self.store.finish(lease, transition, attempt, now), None
                else:
                    applied, next_job = self.store.finish_and_claim(
                        lease, transition, attempt, now, self.spec.queues, self.config.lease_seconds
                    )
                break
            except StoreUnavailable as exc:
                self._claims_unknown = True  # its claim too may have committed unheard
                pause = self.outage.failed(exc)
            except StoreError as exc:
                log.error(
                    "job %s: attempt %d could not be recorded: %s",
                    lease.job_id,
                    lease.attempt_number,
                    exc,
                )
                raise
            through_outage = True
            if self._hurried():
                log.warning(
                    "job %s: attempt %d not recorded before the cold stop",
                    lease.job_id,
                    lease.attempt_number,
                )
                return False, None
            self._pause(pause)
            with contextlib.suppress(StoreUnavailable):
                self._maintain(lease)
        if through_outage:
            self.outage.over()
            # A commit whose answer the outage swallowed may have gone through, with the
            # claim of a job this worker then never heard of.
            applied = applied or self._written_before(attempt)
            self._patiently(self._release_unknown_claims)
        return applied, next_job

    def _written_before(self, attempt: Attempt) -> bool:
        for stored in self.store.attempts(attempt.job_id):
            if (
                stored.number == attempt.number
                and stored.error == attempt.error
                and stored.finished_at is not None
                and abs(stored.finished_at - (attempt.finished_at or 0)) < 0.001
            ):
                return True
        return False

    def _release_unknown_claims(self, keep: Job | None = None) -> None:
        """Hand back the jobs this worker holds but `keep`: claims that committed though
        an outage swallowed the answer."""
        for held in self.store.held_jobs(self.spec.worker_id):
            if keep is None or held.id != keep.id:
                self._release(held)
        self._claims_unknown = False

    def _release(self, job: Job) -> None:
        now = self.store.clock()
        attempt = Attempt(
            job_id=job.id,
            number=job.attempt_number,
            worker_id=self.spec.worker_id,
            started_at=job.started_at,
            finished_at=now,
            error="not started: the worker was stopping",
        )
        self.store.finish(
            Lease(job.id, self.spec.worker_id, job.attempt_number),
            lifecycle.after_release(job, now),
            attempt,
            now,
        )


def _stopped_by(result: runner.RunResult) -> str | None:
    """How the failure policy words the way a command was stopped (SPEC §9)."""
    if result.stopped == runner.TIMEOUT:
        return policy.TIMEOUT
    return policy.SIGNAL if result.signal is not None else None


def _reason(lease_held: bool, cancel_requested: bool) -> str | None:
    if not lease_held:
        return runner.LEASE_LOST
    return runner.CANCEL if cancel_requested else None


class _RunningAttempt:
    """What a worker does while its command runs: heartbeats, cancel checks, the live
    output, and the record of the command's process group."""

    def __init__(self, worker: Worker, lease: Lease, started_at: float, config: Config) -> None:
        self.worker = worker
        self.lease = lease
        self.started_at = started_at
        self.config = config
        self.recorded = False
        self.started = time.monotonic()
        self.next_check = self.started + CHECK_INTERVAL
        self.flushed = 0
        self.pgid = 0

    def spawned(self, pgid: int) -> None:
        self.pgid = pgid
        self.worker.controls.publish_pgid(pgid)

    def keep_alive(self) -> None:
        # Heartbeats while a stop waits out its grace; an outage just skips them.
        if self.worker.outage.may_try():
            try:
                self.worker._maintain(self.lease)
            except StoreError as exc:
                self.worker.outage.failed(exc)

    def tick(self, output: runner.OutputTail) -> str | None:
        if self.worker.controls.cold.is_set():
            return runner.COLD_STOP
        if not self.worker.outage.may_try():
            return None  # the command runs on; the store is tried again after a pause
        if self.worker.outage.ongoing:
            self.worker._next_heartbeat = 0.0  # the heartbeat tells whether it is back
        try:
            reason = self._check(output)
        except StoreError as exc:
            # Away for now, or for good: the command runs on either way; its outcome is
            # written when the store is back, and a store gone for good stops the pool.
            self.worker.outage.failed(exc)
            return None
        self.worker.outage.over()
        return reason

    def _check(self, output: runner.OutputTail) -> str | None:
        worker, store = self.worker, self.worker.store
        now = time.monotonic()
        if not self.recorded and now - self.started >= RECORD_START_AFTER:
            store.record_start(self.lease, worker.host, self.pgid, self.started_at)
            self.recorded = True
        reason = worker._maintain(self.lease)
        if reason is None and now >= self.next_check:
            self.next_check = now + CHECK_INTERVAL
            reason = _reason(*store.job_flags(self.lease))
            self._flush(output)
        return reason

    def _flush(self, output: runner.OutputTail) -> None:
        start, data = output.since(self.flushed)
        if data:
            keep_from = max(output.total - self.config.output_limit, 0)
            self.worker.store.append_output(self.lease, start, data, keep_from)
            self.flushed = output.total


def worker_main(spec: WorkerSpec, stop, cold, pgid_slot) -> None:
    """Entry point of a worker process (started with multiprocessing's spawn method)."""
    import multiprocessing

    if spec.log is not None:
        logfile.log_to(spec.log)
    else:
        log_to()
    platform.ignore_interrupts()
    parent = multiprocessing.parent_process()
    controls = Controls(
        stop, cold, pgid_slot, parent_alive=parent.is_alive if parent is not None else None
    )

    def on_term(signum, frame) -> None:  # only set a flag: the loop does the rest
        controls.terminated = True

    signal.signal(signal.SIGTERM, on_term)
    # Linux: what a command starts outside its group stays in this worker's tree, to be
    # stopped when the attempt ends (runner.run_command).
    platform.become_subreaper()
    try:
        store = _open_when_reachable(spec, controls)
        if store is None:
            return
        try:
            Worker(store, spec, controls).run()
        finally:
            store.close()
    except StoreError as exc:  # the store is no longer usable: its supervisor stops the pool
        log.error("worker %s stops: %s", spec.worker_id, exc)
        sys.exit(STORE_UNUSABLE_EXIT)


def _open_when_reachable(spec: WorkerSpec, controls: Controls) -> Store | None:
    """The worker's store, once it can be opened (a server may be restarting); None if
    the worker is told to stop first."""
    from queuectl.store import open_store

    outage = Outage(f"worker {spec.worker_id}")
    while True:
        try:
            store = open_store(spec.location, durable=False)
            outage.over()
            return store
        except StoreUnavailable as exc:
            deadline = time.monotonic() + outage.failed(exc)
        while time.monotonic() < deadline:
            if (
                controls.stop.is_set()
                or controls.cold.is_set()
                or controls.terminated
                or not controls.parent_alive()
            ):
                return None
            time.sleep(0.05)
