"""Finding and finishing work whose worker died. No job is lost or stuck: a job held by a
dead worker becomes a failed attempt ``worker lost`` (then the normal retry rules apply),
and the process tree that attempt left on this host is stopped before the job runs again.

Any worker may run this at any time: every change is fenced by the dead worker's lease, so
two workers recovering the same job apply it once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping

from queuectl import lifecycle, platform
from queuectl.config import Config
from queuectl.model import Attempt, Job, Lease, WorkerInfo
from queuectl.store.base import Store

log = logging.getLogger("queuectl.recovery")


def recover_job(
    store: Store, job: Job, config: Config, host: str, now: float, local_pgid: int = 0
) -> bool:
    """Stop what is left of the job's attempt on this host, then record it as lost.

    The attempt ran on the host its claim recorded, even if its worker died before it
    recorded the command's process group: then that group is `local_pgid` as the local
    pool knows it, or unknown, and on Linux the attempt's tags still find its processes.
    A tree on another host is kept on record for that host's next pool to stop."""
    attempt = _current_attempt(store, job)
    ran_on = attempt.host if attempt is not None and attempt.host else job.host
    here = ran_on == host or bool(local_pgid)
    if here:
        pgid = attempt.pgid if attempt is not None and attempt.pgid else local_pgid
        tags = platform.attempt_tags(job.id, job.attempt_number, job.worker_id or "")
        stop_stray_attempt(pgid, tags, config)
    record = Attempt(
        job_id=job.id,
        number=job.attempt_number,
        worker_id=job.worker_id,
        started_at=job.started_at,
        finished_at=now,
        error=lifecycle.WORKER_LOST,
        output=attempt.output if attempt else b"",
        output_total=attempt.output_total if attempt else 0,
        host=ran_on,
    )
    lease = Lease(job.id, job.worker_id or "", job.attempt_number)
    transition = lifecycle.after_worker_lost(job, now, config, random.uniform(-1.0, 1.0))
    keep_pgid = ran_on is not None and not here
    applied = store.finish(lease, transition, record, now, keep_pgid=keep_pgid)
    if applied:
        outcome = lifecycle.attempt_outcome(transition, record.error, False, now)
        log.warning("%s, worker %s", lifecycle.attempt_line(record, outcome), job.worker_id)
    return applied


def _current_attempt(store: Store, job: Job) -> Attempt | None:
    for attempt in store.attempts(job.id):
        if attempt.number == job.attempt_number:
            return attempt
    return None


def stop_stray_attempt(pgid: int, tags: Mapping[str, str], config: Config) -> bool:
    """Stop what a lost attempt left on this host: its process group, if it is still the
    attempt's (a reused number is left alone), then, on Linux, whatever else carries the
    attempt's tags (a daemon that left the group with setsid). Returns whether anything
    was found."""
    found = False
    if pgid and platform.tree_belongs_to(pgid, tags):
        log.warning(
            "stopping the process tree %d left by job %s (attempt %s)",
            pgid,
            tags[platform.JOB_ID_VAR],
            tags[platform.ATTEMPT_VAR],
        )
        platform.stop_tree(pgid, config.kill_grace)
        found = True
    escaped = platform.stop_attempt(tags, config.kill_grace)
    if escaped:
        log.warning(
            "stopped %d process(es) of job %s (attempt %s) found by their tags: %s",
            len(escaped),
            tags[platform.JOB_ID_VAR],
            tags[platform.ATTEMPT_VAR],
            " ".join(map(str, escaped)),
        )
    return found or bool(escaped)


def process_gone(worker: WorkerInfo, host: str) -> bool:
    """A worker of this host whose process has exited. (Elsewhere only a job's lease can
    tell: a heartbeat may be late for an innocent reason, such as a setting just lowered.)"""
    return worker.host == host and not platform.pid_alive(worker.pid)


def recover_dead_worker(
    store: Store, worker_id: str, config: Config, host: str, now: float, local_pgid: int = 0
) -> int:
    """Recover the jobs of a worker of this host whose process is gone, then forget it."""
    recovered = sum(
        recover_job(store, job, config, host, now, local_pgid) for job in store.held_jobs(worker_id)
    )
    store.deregister_worker(worker_id)
    return recovered


def recover_lost_work(
    store: Store,
    config: Config,
    host: str,
    now: float,
    local_pgids: Mapping[str, int] | None = None,
) -> int:
    """Recover jobs whose lease expired, and at once the jobs of this host's workers whose
    process is gone; forget the rows of workers that are gone for good. `local_pgids` maps
    the local pool's worker ids to the process group of the command each one runs."""
    local_pgids = local_pgids or {}
    recovered = 0
    for job in store.expired_jobs(now):
        recovered += recover_job(
            store, job, config, host, now, local_pgids.get(job.worker_id or "", 0)
        )
    for worker in store.list_workers():
        if process_gone(worker, host):
            recovered += recover_dead_worker(
                store, worker.id, config, host, now, local_pgids.get(worker.id, 0)
            )
        elif (
            worker.host != host
            and now - worker.heartbeat_at > 2 * config.lease_seconds
            and not store.held_jobs(worker.id)
        ):
            store.deregister_worker(worker.id)  # its jobs' leases expired long ago
    return recovered


def stop_stray_trees(store: Store, config: Config, host: str) -> int:
    """Stop process trees on this host whose attempt's worker is gone (a pool that was
    killed outright leaves them behind). Returns how many attempts had something left."""
    live = {w.id for w in store.list_workers() if w.host == host and not process_gone(w, host)}
    stopped = 0
    for stray in store.stray_attempts(host):
        if stray.worker_id in live:
            continue
        tags = platform.attempt_tags(stray.job_id, stray.number, stray.worker_id or "")
        stopped += stop_stray_attempt(stray.pgid, tags, config)
        store.forget_pgid(stray.job_id, stray.number)
    return stopped
