"""Reading jobs: status, listings, a job and its attempts, the job log, following output,
waiting."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Callable

from queuectl.durations import iso_utc
from queuectl.errors import NotFound, UserError, quote
from queuectl.model import (
    COMPLETED,
    PROCESSING,
    STATES,
    TERMINAL,
    Attempt,
    Job,
)
from queuectl.names import check_outcome, check_state
from queuectl.service.stores import shown_location
from queuectl.service.workers import workers
from queuectl.store.base import LoggedAttempt, Store

EXIT_TIMEOUT = 124  # like timeout(1): `wait` gave up before the jobs ended


def status(store: Store) -> dict[str, Any]:
    raw = store.counts()
    counts = {state: 0 for state in STATES}
    queues = {}
    for queue in sorted(raw):
        queues[queue] = {state: raw[queue].get(state, 0) for state in STATES}
        for state, n in raw[queue].items():
            counts[state] = counts.get(state, 0) + n
    return {
        "counts": counts,
        "queues": queues,
        "workers": [w for w in workers(store) if w["state"] != "lost"],
        "store": shown_location(store.location),
    }


def clock(store: Store) -> float:
    """The store's time, which the ages of jobs are measured from (for PostgreSQL, the
    database server's clock)."""
    return store.clock()


def list_jobs(
    store: Store,
    state: str | None = None,
    queue: str | None = None,
    limit: int = 50,
    offset: int = 0,
    group: str | None = None,
    schedule: str | None = None,
) -> list[Job]:
    if limit < 1 or offset < 0:
        raise UserError("limit must be at least 1 and offset at least 0")
    return store.list_jobs(check_state(state), queue, limit, offset, group, schedule)


def attempts_of(store: Store, job: Job) -> list[Attempt]:
    """The job's attempts; a just-started one whose record is not written yet is shown
    from the job row."""
    attempts = store.attempts(job.id)
    if job.state == PROCESSING and all(a.number != job.attempt_number for a in attempts):
        attempts.append(
            Attempt(
                job_id=job.id,
                number=job.attempt_number,
                worker_id=job.worker_id,
                started_at=job.started_at,
            )
        )
    return attempts


# The job log's columns, in order: its JSON keys and its CSV header (SPEC §9).
LOG_COLUMNS = (
    "job_id",
    "number",
    "queue",
    "group",
    "host",
    "worker_id",
    "started_at",
    "finished_at",
    "wall_seconds",
    "cpu_user",
    "cpu_system",
    "max_rss",
    "exit_code",
    "signal",
    "error",
    "outcome",
)


def attempt_log(
    store: Store,
    since: float | None = None,
    queue: str | None = None,
    group: str | None = None,
    outcome: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The job log: up to `limit` finished attempts, newest first, of the last `since`
    seconds, of that queue and group, with that outcome, where given; each row has the
    keys of LOG_COLUMNS."""
    if limit < 1:
        raise UserError("limit must be at least 1")
    start = None if since is None else store.clock() - since
    rows = store.attempt_log(limit, start, queue, group, check_outcome(outcome))
    return [_log_row(item) for item in rows]


def _log_row(item: LoggedAttempt) -> dict[str, Any]:
    a = item.attempt
    wall = None
    if a.started_at is not None and a.finished_at is not None:
        wall = round(a.finished_at - a.started_at, 3)
    return {
        "job_id": a.job_id,
        "number": a.number,
        "queue": item.queue,
        "group": item.group,
        "host": a.host,
        "worker_id": a.worker_id,
        "started_at": iso_utc(a.started_at),
        "finished_at": iso_utc(a.finished_at),
        "wall_seconds": wall,
        "cpu_user": a.cpu_user,
        "cpu_system": a.cpu_system,
        "max_rss": a.max_rss,
        "exit_code": a.exit_code,
        "signal": a.signal,
        "error": a.error,
        "outcome": a.outcome,
    }


def show(store: Store, job_id: str) -> tuple[Job, list[Attempt]]:
    job = store.get_job(job_id)
    return job, attempts_of(store, job)


def attempt(store: Store, job_id: str, number: int | None = None) -> Attempt:
    """One attempt of a job (default: the latest); NotFound if it has none."""
    job, attempts = show(store, job_id)
    if not attempts:
        raise NotFound(f"job {quote(job_id)} has not run yet ({job.state})")
    if number is None:
        return attempts[-1]
    for item in attempts:
        if item.number == number:
            return item
    raise NotFound(
        f"job {quote(job_id)} has no attempt {number} "
        f"(attempts: {', '.join(str(a.number) for a in attempts)})"
    )


def follow(store: Store, job_id: str, write: Callable[[bytes], None], poll: float = 0.2) -> Attempt:
    """Write a job's output as it arrives: the latest attempt, or the next one if the job
    has not started yet, until that attempt ends. Returns the finished attempt."""
    job = store.get_job(job_id)
    while job.state != PROCESSING and not attempts_of(store, job) and job.state not in TERMINAL:
        time.sleep(poll)
        job = store.get_job(job_id)
    return _follow_attempt(store, job_id, attempt(store, job_id), write, poll)


def follow_job(
    store: Store,
    job_id: str,
    write: Callable[[bytes], None],
    on_attempt: Callable[[Attempt], None] = lambda attempt: None,
    on_no_worker: Callable[[], None] = lambda: None,
    poll: float = 0.2,
) -> Job:
    """Write the output of every attempt of a job, each as it arrives, until the job is
    terminal (`run --wait`); `on_attempt` gets each attempt as it ends. Calls
    `on_no_worker` once if no worker is running while the job waits. Returns the job as it
    ended."""
    store.get_job(job_id)  # NotFound before any waiting
    check_workers = _no_worker_alarm(store, on_no_worker)
    seen = 0  # the number of the last attempt followed
    while True:
        job = store.get_job(job_id)
        newer = [item for item in attempts_of(store, job) if item.number > seen]
        if newer:
            ended = _follow_attempt(store, job_id, newer[0], write, poll)
            on_attempt(ended)
            seen = ended.number
        elif job.state in TERMINAL:
            return job
        else:
            check_workers()
            time.sleep(poll)


def _follow_attempt(
    store: Store, job_id: str, current: Attempt, write: Callable[[bytes], None], poll: float
) -> Attempt:
    """Write one attempt's output as it arrives, from the oldest byte kept, and, once the
    attempt has ended, the rest of it (its last chunks may never be seen as chunks)."""
    position = max(current.output_total - len(current.output), 0)
    while True:
        current = attempt(store, job_id, current.number)
        if current.finished_at is not None:
            start = current.output_total - len(current.output)
            write(current.output[max(position - start, 0) :])
            return current
        for start, data in store.output_chunks(job_id, current.number, position):
            if start + len(data) > position:
                write(data[max(position - start, 0) :])
                position = start + len(data)
        time.sleep(poll)


def wait(
    store: Store,
    job_ids: Sequence[str],
    timeout: float | None = None,
    on_no_worker: Callable[[], None] = lambda: None,
    on_end: Callable[[Job], None] = lambda job: None,
    on_timeout: Callable[[list[Job]], None] = lambda jobs: None,
    poll: float = 0.05,
) -> int:
    """Block until every job is terminal. Returns the exit status of SPEC §3: 0 if all
    completed, else that of the first listed job that did not, 124 on timeout. `on_end`
    gets each job once, as it is seen terminal; `on_timeout` the jobs that were not."""
    for job_id in job_ids:
        store.get_job(job_id)  # NotFound before any waiting
    deadline = None if timeout is None else time.monotonic() + timeout
    check_workers = _no_worker_alarm(store, on_no_worker)
    pending = list(dict.fromkeys(job_ids))
    while True:
        jobs = [store.get_job(i) for i in pending]
        for job in jobs:
            if job.state in TERMINAL:
                on_end(job)
        pending = [job.id for job in jobs if job.state not in TERMINAL]
        if not pending:
            return exit_status([store.get_job(i) for i in job_ids])
        if deadline is not None and time.monotonic() >= deadline:
            on_timeout([job for job in jobs if job.state not in TERMINAL])
            return EXIT_TIMEOUT
        check_workers()
        time.sleep(poll)
        poll = min(poll * 1.5, 0.25)


def _no_worker_alarm(store: Store, on_no_worker: Callable[[], None]) -> Callable[[], None]:
    """A check to make while waiting for jobs: the first time it finds no worker running
    it calls `on_no_worker`, and then it stops looking."""
    warned = False

    def check() -> None:
        nonlocal warned
        if not warned and not any(w["state"] in ("idle", "busy") for w in workers(store)):
            on_no_worker()
            warned = True

    return check


def exit_status(jobs: Sequence[Job]) -> int:
    for job in jobs:
        if job.state != COMPLETED:
            return job.exit_code if job.exit_code else 1
    return 0
