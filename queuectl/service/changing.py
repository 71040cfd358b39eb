"""Changing jobs: the DLQ, cancel (and waiting for it), purge."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence

from queuectl.errors import Conflict, UserError, quote
from queuectl.model import (
    CANCELED,
    DEAD,
    FAILED,
    PENDING,
    PROCESSING,
    TERMINAL,
    Job,
)
from queuectl.service.stores import load_config
from queuectl.store.base import Store

# Seconds between looks at a job whose cancel waits for its worker: half the worker's own
# interval between looks for a cancel (loop.CHECK_INTERVAL), enough to answer soon after.
CANCEL_LOOK_INTERVAL = 0.25


def dlq_list(store: Store, limit: int = 1000) -> tuple[list[Job], int]:
    """The newest `limit` dead jobs, and how many dead jobs there are."""
    jobs = store.list_jobs(DEAD, None, limit, 0)
    total = len(jobs)
    if total == limit:  # there may be more: count them
        total = sum(states.get(DEAD, 0) for states in store.counts().values())
    return jobs, total


def dlq_retry(store: Store, job_ids: Sequence[str] | None) -> list[str]:
    """Retry the named dead jobs, or every dead job if `job_ids` is None."""
    if job_ids is not None and not job_ids:
        raise UserError("name the jobs to retry, or use --all")
    return store.retry_dead(list(job_ids) if job_ids is not None else None, store.clock())


def cancel(store: Store, job_ids: Sequence[str]) -> dict[str, str]:
    """Cancel jobs (SPEC §3): {id: outcome}. A waiting job is canceled at once. For a running
    one the cancel is recorded and its worker stops the process tree; this waits up to
    kill_grace + 5 s for that. Outcome: "canceled"; "requested" if its worker has not
    stopped it yet; else the state the job reached on its own first (see `late_cancels`)."""
    if not job_ids:
        raise UserError("name the jobs to cancel")
    results = store.cancel(list(dict.fromkeys(job_ids)), store.clock())
    requested = [job_id for job_id, result in results.items() if result == "requested"]
    if requested:
        ended = _await_cancel(store, requested, load_config(store).kill_grace + 5)
        results.update(
            {
                job_id: "requested" if state == PROCESSING else state
                for job_id, state in ended.items()
            }
        )
    return results


def late_cancels(results: Mapping[str, str]) -> str | None:
    """The error to report for the jobs of a `cancel` result that ended on their own
    before the cancel reached them, or None if none did."""
    missed = [job_id for job_id, result in results.items() if result not in (CANCELED, "requested")]
    if not missed:
        return None
    return (
        f"{', '.join(missed)}: finished ({results[missed[0]]}) before the cancel reached "
        f"{'them' if len(missed) > 1 else 'it'}"
    )


def _await_cancel(store: Store, job_ids: Sequence[str], timeout: float) -> dict[str, str]:
    """Wait for requested cancels to take effect: {id: state now}, "processing" for a job
    its worker has not stopped yet. A job handed back to the queue before its worker saw
    the cancel (a cold stop) is canceled here, as a waiting job is."""
    deadline = time.monotonic() + timeout
    states = {job_id: PROCESSING for job_id in job_ids}
    while time.monotonic() < deadline and PROCESSING in states.values():
        time.sleep(CANCEL_LOOK_INTERVAL)
        for job_id in [i for i, state in states.items() if state == PROCESSING]:
            states[job_id] = store.get_job(job_id).state
            if states[job_id] in (PENDING, FAILED):
                with contextlib.suppress(Conflict):  # it may have ended meanwhile
                    store.cancel([job_id], store.clock())
                states[job_id] = PROCESSING  # look again
    return states


def purge(store: Store, state: str, older_than: float | None = None) -> int:
    if state not in TERMINAL:
        raise UserError(
            f"can only purge terminal states ({', '.join(TERMINAL)}), not {quote(state)}"
        )
    before = None if older_than is None else store.clock() - older_than
    return store.purge([state], before)
