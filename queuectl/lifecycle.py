"""The job state machine and the retry policy, as plain functions (no I/O).

Stores persist a `Transition` computed here; they never decide one. Time is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

from queuectl.config import Config
from queuectl.durations import format_seconds
from queuectl.model import CANCELED, COMPLETED, DEAD, FAILED, PENDING, Attempt, Job
from queuectl.policy import retried
from queuectl.records import record

WORKER_LOST = "worker lost"
CANCELED_ERROR = "canceled"


@record(frozen=True)
class Transition:
    """The row-level effect of an attempt's end on its job."""

    state: str
    attempts: int
    run_at: float
    exit_code: int | None
    last_error: str | None
    finished_at: float | None  # set only when the job reaches a terminal state


def backoff_delay(failures: int, base: float, cap: float, factor: float = 1.0) -> float:
    """Seconds to wait after the n-th failed attempt: min(base ** n * factor, cap)."""
    if cap <= 0 or factor <= 0:
        return 0.0
    # Compare logarithms first: base ** n overflows a float long before the cap matters.
    if failures * math.log(base) + math.log(factor) >= math.log(cap):
        return float(cap)
    return float(base**failures * factor)


def jitter_factor(jitter: float, draw: float) -> float:
    """The factor config `backoff_jitter` puts on a delay, in [1 - jitter, 1 + jitter]:
    `draw` is a random number in [-1, 1] (the caller draws it, so this stays pure)."""
    return 1.0 + jitter * draw


def exit_status(returncode: int) -> tuple[int, str | None]:
    """(exit_code, error) for a finished process; a signal N is reported as 128 + N."""
    if returncode == 0:
        return 0, None
    if returncode < 0:
        return 128 - returncode, f"killed by signal {-returncode}"
    if returncode == 127:
        return 127, "exit code 127 (command not found)"
    if returncode == 126:
        return 126, "exit code 126 (command not executable)"
    return returncode, f"exit code {returncode}"


def timed_out_error(timeout: float) -> str:
    return f"timed out after {format_seconds(timeout)} s"


def after_attempt(
    job: Job,
    exit_code: int | None,
    error: str | None,
    now: float,
    config: Config,
    cancel_requested: bool = False,
    stopped_by: str | None = None,
    draw: float = 0.0,
) -> Transition:
    """Where a processing job goes once its current attempt has ended.

    `error` is None for success; `job.attempts` already counts the attempt that ended.
    `stopped_by` is how a failed attempt was stopped, as the failure policy words it
    (policy.TIMEOUT, policy.SIGNAL, or None); `draw`, in [-1, 1], spreads its backoff.
    """
    if cancel_requested:
        return Transition(
            CANCELED, job.attempts, job.run_at, exit_code, error or CANCELED_ERROR, now
        )
    if error is None:
        return Transition(COMPLETED, job.attempts, job.run_at, exit_code, None, now)
    if job.attempts > job.max_retries:
        return Transition(DEAD, job.attempts, job.run_at, exit_code, error, now)
    # A lost worker always follows the normal retry rules (SPEC §9).
    if error != WORKER_LOST and not retried(job.retry_on, job.no_retry_on, exit_code, stopped_by):
        return Transition(DEAD, job.attempts, job.run_at, exit_code, f"{error}, not retried", now)
    factor = jitter_factor(config.backoff_jitter, draw)
    delay = backoff_delay(job.attempts, config.backoff_base, config.backoff_max, factor)
    return Transition(FAILED, job.attempts, now + delay, exit_code, error, None)


def after_worker_lost(job: Job, now: float, config: Config, draw: float = 0.0) -> Transition:
    """A processing job whose worker died (lease expired or process gone)."""
    return after_attempt(job, None, WORKER_LOST, now, config, job.cancel_requested, draw=draw)


def after_release(job: Job, now: float) -> Transition:
    """A cold stop interrupted the attempt: back to pending, the attempt given back."""
    return Transition(PENDING, max(job.attempts - 1, 0), now, job.exit_code, job.last_error, None)


def attempt_outcome(transition: Transition, error: str | None, timed_out: bool, now: float) -> str:
    """How an attempt ended, in the pool's log: "completed", "canceled", "put back" (a
    cold stop), or its cause ("failed", "timed out", "lost") and what follows: "retry in
    4s" or "dead"."""
    if transition.state in (COMPLETED, CANCELED):
        return transition.state
    if transition.state == PENDING:
        return "put back"
    cause = "timed out" if timed_out else "lost" if error == WORKER_LOST else "failed"
    if transition.state == FAILED:
        return f"{cause}, retry in {format_seconds(round(max(transition.run_at - now, 0), 3))}s"
    return f"{cause}, dead"


def attempt_line(attempt: Attempt, outcome: str) -> str:
    """The pool's log line for a finished attempt: its job, number, outcome, exit code and
    run time."""
    exit_code = "-" if attempt.exit_code is None else str(attempt.exit_code)
    ran = (attempt.finished_at or 0.0) - (attempt.started_at or attempt.finished_at or 0.0)
    return (
        f"job {attempt.job_id} attempt {attempt.number} {outcome} "
        f"(exit {exit_code}, ran {format_seconds(round(max(ran, 0), 3))} s)"
    )


def dependency_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of "waits for" edges (job -> the jobs it waits for), as the ids along it
    with the first repeated at the end, or None. Iterative: a chain may be long."""
    done: set[str] = set()
    for start in edges:
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(edges.get(start, ())))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return path[path.index(child) :] + [child]
            elif child not in done:
                stack.append((child, iter(edges.get(child, ()))))
                path.append(child)
                on_path.add(child)
    return None
