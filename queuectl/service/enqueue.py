"""Enqueueing: job objects validated (queuectl.jobspec), then stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from queuectl.errors import Conflict, DuplicateId, UserError, quote
from queuectl.jobspec import NO_ENVIRONMENT, build_job
from queuectl.model import NewJob
from queuectl.records import record
from queuectl.service.stores import load_config
from queuectl.store.base import Store

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any, Callable


@record(frozen=True)
class Enqueued:
    """A job of an enqueue: its id, or the id of the job that holds its unique key."""

    id: str
    created: bool
    unique_key: str | None


def enqueue(
    store: Store,
    specs: Sequence[Mapping[str, Any]],
    base_cwd: str,
    label: Callable[[int], str] = lambda index: "",
    environ: Mapping[str, str] = NO_ENVIRONMENT,
) -> list[Enqueued]:
    """Validate every job, then insert them all in one transaction (all or nothing).
    `label(i)` prefixes the error message of the i-th job (e.g. "line 3: "); `environ` is
    the enqueuer's environment, which `inherit_env` copies from."""
    if not specs:
        raise UserError("no jobs given")
    config = load_config(store)
    now = store.clock()
    jobs = [
        build_job(spec, config, now, base_cwd, label(index), environ)
        for index, spec in enumerate(specs)
    ]
    return store_jobs(store, jobs, now, label)


def store_jobs(
    store: Store,
    jobs: Sequence[NewJob],
    now: float,
    label: Callable[[int], str],
    limits: Mapping[str, int] | None = None,
) -> list[Enqueued]:
    """Insert validated jobs in one transaction (with the limits of their groups); an id
    or a unique key used twice names its job's label. A job whose unique key is held is
    not created: its holder's id stands in its place."""
    first_use: dict[str, int] = {}
    key_use: dict[str, int] = {}
    for index, job in enumerate(jobs):
        if first_use.setdefault(job.id, index) != index:
            raise Conflict(f"{label(index)}job id {quote(job.id)} is used twice in this batch")
        if job.unique_key is not None and key_use.setdefault(job.unique_key, index) != index:
            raise Conflict(
                f"{label(index)}unique key {quote(job.unique_key)} is used twice in this batch"
            )
    try:
        held = store.enqueue(jobs, now, limits)
    except DuplicateId as exc:  # name the line of a batch
        raise Conflict(f"{label(first_use.get(exc.job_id, 0))}{exc}") from None
    return [Enqueued(held.get(job.id, job.id), job.id not in held, job.unique_key) for job in jobs]
