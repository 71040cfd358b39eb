"""One worker: claim a job, run it, record the outcome; repeat. No SQL here: the worker
talks to the store only through the `Store` interface."""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Callable

from queuectl import lifecycle, platform
from queuectl.config import Config
from queuectl.model import PENDING, Attempt, Job, Lease, WorkerInfo
from queuectl.store.base import Store
from queuectl.worker import runner

log = logging.getLogger("queuectl.worker")

CHECK_INTERVAL = 0.5  # seconds between reads of cancel / stop requests and output flushes
CONFIG_INTERVAL = 1.0  # seconds a busy worker keeps its settings before reading them again
RECORD_START_AFTER = 0.05  # a command running this long gets its process group recorded
COLD_STOP_ERROR = "interrupted by a cold stop"


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs to start (picklable for spawn)."""

    location: str
    worker_id: str
    pool: str
    queues: list[str] | None


class Controls:
    """How a worker's supervisor talks to it: warm and cold stop flags, and a slot where the
    worker publishes the process group of its running command. Anything with
    ``is_set()`` works as a flag (multiprocessing or threading events)."""

    def __init__(self, stop, cold, pgid_slot=None, parent_alive: Callable[[], bool] = None):
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
        self.config = Config.from_stored(store.config_values())
        self._config_read = time.monotonic()
        self._stop_requested = False
        self._next_stop_check = 0.0
        self._next_heartbeat = 0.0
        self._env = dict(os.environ)
        self._waiter = store.waiter()

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        self._register()
        log.info("worker %s started (pid %d, queues %s)", self.spec.worker_id, os.getpid(),
                 ",".join(self.spec.queues) if self.spec.queues else "all")
        job = None
        try:
            while not self._stopping():
                self._maintain()
                if job is None:
                    job = self.store.claim(self.spec.worker_id, self.spec.queues,
                                           self.store.clock(), self.config.lease_seconds)
                if job is not None:
                    job = self._execute(job)
                elif self._waiter.wait(self._idle_timeout(), self._interrupted):
                    self._refresh_config(force=True)
            if job is not None:  # claimed just as the stop came: hand it back untouched
                self._release(job)
        finally:
            self._waiter.close()
            self.store.deregister_worker(self.spec.worker_id)
            log.info("worker %s stopped", self.spec.worker_id)

    def _register(self) -> None:
        now = self.store.clock()
        self.store.register_worker(WorkerInfo(
            id=self.spec.worker_id, host=self.host, pid=os.getpid(), pool=self.spec.pool,
            queues=self.spec.queues, started_at=now, heartbeat_at=now,
            doorbell=self._waiter.port))

    def _interrupted(self) -> bool:
        return self.controls.stop.is_set() or self.controls.cold.is_set() \
            or self.controls.terminated

    def _stopping(self) -> bool:
        if self._interrupted() or self._stop_requested:
            return True
        if time.monotonic() >= self._next_stop_check:
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
        """Refresh the settings and heartbeat, when due. Returns a reason to stop the running
        command, if the heartbeat brought one. (Recovering other workers' lost jobs is the
        pool supervisor's task: it is idle, so recovery does not wait for a free worker.)"""
        self._refresh_config()
        now = time.monotonic()
        reason = None
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.config.lease_seconds / 3
            beat = self.store.heartbeat(self.spec.worker_id, lease, self.store.clock(),
                                        self.config.lease_seconds)
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
        lease = Lease(job.id, self.spec.worker_id, job.run_no)
        config = self.config
        watch = _Watch(self, lease, job.started_at, config)
        tags = platform.attempt_tags(job.id, job.run_no, self.spec.worker_id)
        timeout = job.timeout if job.timeout is not None else (config.job_timeout or None)
        result = runner.run_command(job.command, job.cwd, {**self._env, **job.env}, tags,
                                    timeout, config.output_limit, config.kill_grace,
                                    watch.spawned, watch.tick, watch.keep_alive)
        self.controls.publish_pgid(0)
        now = self.store.clock()
        if result.stopped == runner.LEASE_LOST:
            log.warning("job %s: lease lost, its command was stopped", job.id)
            if watch.recorded:
                self.store.forget_pgid(job.id, job.run_no)
            return None
        if result.stopped == runner.COLD_STOP and not self.store.job_flags(lease)[1]:
            transition = lifecycle.after_release(job, now)
            result.error = COLD_STOP_ERROR
        elif result.stopped == runner.COLD_STOP:  # a cancel came first: honour it
            transition = lifecycle.after_attempt(job, result.exit_code, None, now, config,
                                                 cancel_requested=True)
            result.error = lifecycle.CANCELED_ERROR
        else:
            transition = lifecycle.after_attempt(job, result.exit_code, result.error, now,
                                                 config, result.stopped == runner.CANCEL)
        attempt = Attempt(
            job_id=job.id, number=job.run_no, worker_id=self.spec.worker_id,
            started_at=job.started_at, finished_at=now, exit_code=result.exit_code,
            error=result.error, output=result.output, output_total=result.output_total,
            host=self.host)
        if self._stopping():
            applied, next_job = self.store.finish(lease, transition, attempt, now), None
        else:
            applied, next_job = self.store.finish_and_claim(
                lease, transition, attempt, now, self.spec.queues, config.lease_seconds)
        if not applied:
            log.warning("job %s: attempt %d was taken over; its result is dropped", job.id,
                        job.run_no)
        elif transition.state != PENDING:
            # One line per failure; successes only at debug level, to keep a busy log small.
            log.log(logging.DEBUG if result.error is None else logging.INFO,
                    "job %s attempt %d: %s%s", job.id, job.run_no, transition.state,
                    f" ({result.error})" if result.error else "")
        return next_job

    def _release(self, job: Job) -> None:
        now = self.store.clock()
        attempt = Attempt(job_id=job.id, number=job.run_no, worker_id=self.spec.worker_id,
                          started_at=job.started_at, finished_at=now,
                          error="not started: the worker was stopping")
        self.store.finish(Lease(job.id, self.spec.worker_id, job.run_no),
                          lifecycle.after_release(job, now), attempt, now)


def _reason(lease_held: bool, cancel_requested: bool) -> str | None:
    if not lease_held:
        return runner.LEASE_LOST
    return runner.CANCEL if cancel_requested else None


class _Watch:
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
        self.worker._maintain(self.lease)  # heartbeats while a stop waits out its grace

    def tick(self, output: runner.OutputTail) -> str | None:
        worker, store = self.worker, self.worker.store
        if worker.controls.cold.is_set():
            return runner.COLD_STOP
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

    from queuectl.store import open_store

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s [%(process)d] %(message)s")
    platform.ignore_interrupts()
    parent = multiprocessing.parent_process()
    controls = Controls(stop, cold, pgid_slot,
                        parent_alive=parent.is_alive if parent is not None else None)

    def on_term(signum, frame) -> None:  # only set a flag: the loop does the rest
        controls.terminated = True

    signal.signal(signal.SIGTERM, on_term)
    # Linux: what a command starts outside its group stays in this worker's tree, to be
    # stopped when the attempt ends (runner.run_command).
    platform.become_subreaper()
    store = open_store(spec.location, durable=False)
    try:
        Worker(store, spec, controls).run()
    finally:
        store.close()

