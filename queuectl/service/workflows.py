"""Workflows (SPEC §7): arrays and groups, the operator verbs (hold, release, requeue),
acting on a whole group, and `explain`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable, NamedTuple

from queuectl import platform
from queuectl.durations import format_age, iso_utc
from queuectl.errors import Conflict, NotFound, UserError, quote
from queuectl.hooks import KEYS as HOOK_KEYS
from queuectl.inputs import plain_text
from queuectl.jobspec import NO_ENVIRONMENT, build_job
from queuectl.model import (
    ACCEPTS,
    CANCELED,
    COMPLETED,
    DEAD,
    FAILED,
    PROCESSING,
    STATES,
    TERMINAL,
    WAITING,
    Job,
    NewJob,
    new_job_id,
)
from queuectl.names import ID_PATTERN
from queuectl.policy import KEYS as POLICY_KEYS
from queuectl.records import fields
from queuectl.service.enqueue import store_jobs
from queuectl.service.stores import load_config
from queuectl.service.workers import workers
from queuectl.store.base import Store

MAX_INDICES = 100_000
_ALL = 2**31 - 1  # a listing's limit that leaves none out
ARRAY_INDEX_VAR = "QUEUECTL_ARRAY_INDEX"
ITEM_VAR = "QUEUECTL_ITEM"
_PART = re.compile(r"([0-9]{1,9})(?:-([0-9]{1,9})(?::([0-9]{1,9}))?)?")


# --- arrays ---------------------------------------------------------------------------------


def parse_array(text: str) -> tuple[list[int], int | None]:
    """`--array RANGE[%N]`: the indices, and N, the most of them to run at once."""
    spans, percent, limit = text.partition("%")
    if not percent:
        return array_indices(spans), None
    if not limit.isascii() or not limit.isdigit() or not 1 <= int(limit) <= MAX_INDICES:
        raise UserError(f"invalid array limit {quote('%' + limit)}: use %N with N from 1")
    return array_indices(spans), int(limit)


def array_indices(text: str) -> list[int]:
    """The indices of `--array`: `1-100`, `0-98:2` (a step), `1,3,5-7`; in the order given,
    each once, at most MAX_INDICES."""
    indices: dict[int, None] = {}
    for part in text.split(","):
        match = _PART.fullmatch(part.strip())
        if not match:
            raise UserError(
                f"invalid array range {quote(text)}: use N, N-M or N-M:STEP, "
                "separated by commas (e.g. 1-100, 0-98:2, 1,3,5-7)"
            )
        first, last, step = match.group(1), match.group(2), match.group(3)
        low, high = int(first), int(last if last is not None else first)
        stride = int(step) if step is not None else 1
        if stride < 1:
            raise UserError(f"invalid array range {quote(part.strip())}: the step is at least 1")
        if high < low:
            raise UserError(f"invalid array range {quote(part.strip())}: it counts up from N to M")
        if (high - low) // stride + 1 + len(indices) > MAX_INDICES:
            raise UserError(f"an array has at most {MAX_INDICES:,} indices")
        indices.update(dict.fromkeys(range(low, high + 1, stride)))
    return list(indices)


def each_line_items(text: str, source: str) -> list[str]:
    """The non-empty lines of an `--each-line` file (a line ending \\r\\n is a line)."""
    items = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    if not items:
        raise UserError(f"{source} has no non-empty line: no job to run")
    return items


def enqueue_array(
    store: Store,
    spec: Mapping[str, Any],
    base_cwd: str,
    indices: Sequence[int],
    items: Sequence[str] | None = None,
    environ: Mapping[str, str] = NO_ENVIRONMENT,
    max_running: int | None = None,
) -> tuple[str, list[str]]:
    """One job per index (or per item, numbered from 1), in one transaction: ids
    GROUP.INDEX, the index (and item) in each one's environment, every `{}` of an item's
    command replaced by the shell-quoted item; with `max_running`, at most that many of the
    group's jobs processing at once, on every worker and host. The options are validated
    once, for the first job; the others are copies. Returns (group, ids)."""
    if "id" in spec:
        raise UserError("an array's jobs are named GROUP.INDEX: give --group, not --id")
    group = spec.get("group") or new_job_id()
    longest = f"{group}.{max(indices)}"
    if not ID_PATTERN.fullmatch(longest):
        raise UserError(f"the id {quote(longest)} is too long: use a shorter --group")
    for number, item in enumerate(items or (), 1):
        if not plain_text(item):
            raise UserError(f"line {number}: not UTF-8 text, or it holds a NUL")
    config = load_config(store)
    now = store.clock()
    template = build_job({**spec, "group": group}, config, now, base_cwd, "", environ)
    shared = {item.name: getattr(template, item.name) for item in fields(NewJob)}
    jobs = []
    for position, index in enumerate(indices):
        env = {**template.env, ARRAY_INDEX_VAR: str(index)}
        command = template.command
        if items is not None:
            env[ITEM_VAR] = items[position]
            command = command.replace("{}", platform.quote_for_shell(items[position]))
        jobs.append(
            NewJob(
                **{
                    **shared,
                    "id": f"{group}.{index}",
                    "env": env,
                    "command": command,
                    "index": index,
                }
            )
        )
    limits = None if max_running is None else {group: max_running}
    return group, [job.id for job in store_jobs(store, jobs, now, lambda position: "", limits)]


# --- acting on jobs or on a group -----------------------------------------------------------


class Acted(NamedTuple):
    """What a verb did: the jobs it acted on, and (for --group) how many it skipped."""

    ids: list[str]
    skipped: int


def group_members(store: Store, group: str) -> list[tuple[str, str]]:
    """(id, state) of every job of the group, in index (then enqueue) order."""
    members = store.group_members(group)
    if not members:
        raise NotFound(f"no job in group {quote(group)}")
    return members


def act(
    store: Store,
    job_ids: Sequence[str],
    group: str | None,
    applies: Callable[[Job], bool],
    verb: str,
    apply: Callable[[Sequence[str]], Any],
) -> Acted:
    """Apply a verb to the jobs named (all or nothing: the store refuses one it does not
    apply to), or to those of `group` it `applies` to, skipping the others."""
    if group is None:
        job_ids = list(dict.fromkeys(job_ids))  # each once: `hold a a` holds one job
        apply(job_ids)
        return Acted(job_ids, 0)
    jobs = store.list_jobs(group=group, limit=_ALL)
    if not jobs:
        raise NotFound(f"no job in group {quote(group)}")
    chosen = [job.id for job in reversed(jobs) if applies(job)]
    if not chosen:
        raise UserError(f"no job of group {quote(group)} can be {verb}")
    apply(chosen)
    return Acted(chosen, len(jobs) - len(chosen))


def hold(store: Store, job_ids: Sequence[str], group: str | None = None) -> Acted:
    return act(
        store,
        job_ids,
        group,
        lambda job: job.state in WAITING and not job.held,
        "held",
        lambda ids: store.hold(ids, True, store.clock()),
    )


def release(store: Store, job_ids: Sequence[str], group: str | None = None) -> Acted:
    return act(
        store,
        job_ids,
        group,
        lambda job: job.state in WAITING and job.held,
        "released",
        lambda ids: store.hold(ids, False, store.clock()),
    )


def requeue(
    store: Store,
    job_ids: Sequence[str],
    group: str | None = None,
    states: Sequence[str] | None = None,
) -> Acted:
    """Finished jobs back to pending. For a group, by default its dead and canceled jobs
    (re-run only what failed)."""
    if states and group is None:
        raise UserError("--state chooses among a group's jobs: give it with --group")
    for state in states or ():
        if state not in TERMINAL:
            raise UserError(
                f"requeue takes finished states ({', '.join(TERMINAL)}), not {quote(state)}"
            )
    chosen = states or ((DEAD, CANCELED) if group is not None else TERMINAL)
    return act(
        store,
        job_ids,
        group,
        lambda job: job.state in chosen,
        "requeued",
        lambda ids: store.requeue(ids, store.clock()),
    )


def retry_group(store: Store, group: str) -> Acted:
    """`dlq retry --group`: requeue the group's dead jobs."""
    return act(
        store,
        [],
        group,
        lambda job: job.state == DEAD,
        "retried",
        lambda ids: store.retry_dead(ids, store.clock()),
    )


def cancel_group(store: Store, group: str) -> tuple[dict[str, str], int]:
    """`cancel --group`: cancel the group's unfinished jobs; (results, skipped)."""
    results: dict[str, str] = {}
    acted = act(
        store,
        [],
        group,
        lambda job: job.state not in TERMINAL,
        "canceled",
        lambda ids: results.update(store.cancel(ids, store.clock())),
    )
    return results, acted.skipped


EDITABLE = (
    "command",
    "queue",
    "priority",
    "max_retries",
    "timeout",
    "cwd",
    "env",
    "group",
    "lock",
    *POLICY_KEYS,
    *HOOK_KEYS,
)


def edit(store: Store, job_id: str, changes: Mapping[str, Any], base_cwd: str) -> Job:
    """Change what a pending or failed job (held or not) runs and how, validated as at
    enqueue: `changes` holds job-object keys (and `delay` or `run_at`); `env` entries are
    added to the job's. Its dependencies, group index and history stay."""
    job = store.get_job(job_id)
    if job.state not in WAITING:
        raise Conflict(
            f"job {quote(job_id)} is {job.state}: only pending or failed jobs can be edited"
        )
    spec: dict[str, Any] = {name: getattr(job, name) for name in EDITABLE}
    spec.update({key: getattr(job, key) or "" for key in HOOK_KEYS})  # none stays none
    spec.update({key: value for key, value in changes.items() if key != "env"})
    if any(key in changes for key in POLICY_KEYS):  # a policy given replaces the job's
        spec.update({key: changes.get(key) for key in POLICY_KEYS})
    spec["env"] = {**job.env, **changes.get("env", {})}
    edited = build_job({**spec, "id": job.id}, load_config(store), store.clock(), base_cwd)
    if "delay" not in changes and "run_at" not in changes:
        edited.run_at = job.run_at
    edited.after, edited.index = job.after, job.index
    store.edit(edited, store.clock())
    return store.get_job(job_id)


def group_status(store: Store, group: str) -> dict[str, Any]:
    counts = store.group_counts(group)
    if not counts:
        raise NotFound(f"no job in group {quote(group)}")
    return _group_summary(group, counts)


def groups(store: Store) -> list[dict[str, Any]]:
    """Every group, by name, as `group_status` shows it."""
    return [_group_summary(group, counts) for group, counts in store.groups().items()]


def _group_summary(group: str, counts: Mapping[str, int]) -> dict[str, Any]:
    total = sum(counts.values())
    done = sum(counts.get(state, 0) for state in TERMINAL)
    return {
        "group": group,
        "counts": {state: counts.get(state, 0) for state in STATES},
        "total": total,
        "finished": done,
        "progress": round(done / total, 4),
    }


# --- explain --------------------------------------------------------------------------------

# Every code `explain` may give, in the order it gives them (README: "Why a job waits").
REASONS = (
    "finished",
    "processing",
    "worker_lost",
    "delayed",
    "backoff",
    "held",
    "dependency",
    "queue_paused",
    "limit",
    "lock",
    "no_worker",
    "workers_busy",
)
_WANTS = {"success": "to complete", "any": "to end", "failure": "to end dead or canceled"}


def explain(store: Store, job_id: str) -> dict[str, Any]:
    """Why the job is not running now: every reason, as SPEC §7 lists them. `runnable`:
    nothing in the store keeps a worker from claiming it now."""
    job = store.get_job(job_id)
    now = store.clock()
    reasons: list[dict[str, str]] = []

    def reason(code: str, message: str) -> None:
        reasons.append({"code": code, "message": message})

    if job.state in TERMINAL:
        reason("finished", _finished(job))
    elif job.state == PROCESSING:
        _processing(store, job, now, reason)
    else:
        _waiting(store, job, now, reason)
    blocking = set(REASONS) - {"no_worker", "workers_busy"}
    return {
        "id": job.id,
        "state": job.state,
        "runnable": job.state in WAITING and not blocking & {r["code"] for r in reasons},
        "reasons": reasons,
    }


def _finished(job: Job) -> str:
    when = iso_utc(job.finished_at)
    if job.state == COMPLETED:
        return f"it completed at {when}"
    why = f": {job.last_error}" if job.last_error else ""
    if job.state == DEAD:
        return f"it is dead (the DLQ) since {when}, after {job.attempts} attempt(s){why}"
    return f"it was canceled at {when}{why}"


def _processing(store: Store, job: Job, now: float, reason: Callable[[str, str], None]) -> None:
    config = load_config(store)
    worker = next((w for w in workers(store) if w["id"] == job.worker_id), None)
    lease_end = f"{iso_utc(job.lease_until)} ({_relative(job.lease_until, now)})"
    if worker is None or worker["state"] == "lost":
        reason(
            "worker_lost",
            f"its worker {job.worker_id} is lost; it is recovered when the lease ends at "
            f"{lease_end}, within {format_age(config.lease_seconds)} of the last heartbeat",
        )
    else:
        reason(
            "processing",
            f"it is running on worker {job.worker_id} (host {worker['host']}) since "
            f"{iso_utc(job.started_at)}; the lease ends at {lease_end}",
        )


def _waiting(store: Store, job: Job, now: float, reason: Callable[[str, str], None]) -> None:
    if job.run_at > now:
        when = f"{iso_utc(job.run_at)} ({_relative(job.run_at, now)})"
        if job.state == FAILED:
            reason("backoff", f"attempt {job.attempts} failed ({job.last_error}); retry at {when}")
        else:
            reason("delayed", f"it is to run at {when}")
    if job.held:
        reason("held", f"it is held: queuectl release {job.id} lets it run")
    states = store.job_states([entry["id"] for entry in job.after])
    for entry in job.after:
        state = states.get(entry["id"])  # None: purged, long ended and settled
        if state is not None and (state not in TERMINAL or state not in ACCEPTS[entry["on"]]):
            reason(
                "dependency",
                f"it waits for {entry['id']} ({state}) {_WANTS[entry['on']]}",
            )
    _gates(store, job, reason)
    serving = [
        w
        for w in workers(store)
        if w["state"] != "lost" and (w["queues"] is None or job.queue in w["queues"])
    ]
    if not serving:
        reason("no_worker", f"no live worker serves queue {job.queue}")
    elif all(w["state"] in ("busy", "stopping") for w in serving):
        reason(
            "workers_busy", f"every worker that serves queue {job.queue} is busy ({len(serving)})"
        )


def _gates(store: Store, job: Job, reason: Callable[[str, str], None]) -> None:
    """The gates of the job's own that the claim finds closed (SPEC §8)."""
    queue = store.gate(f"queue:{job.queue}")
    if queue is not None and queue.paused:
        reason(
            "queue_paused", f"its queue {job.queue} is paused: queuectl queue resume {job.queue}"
        )
    for gate, what in (
        (queue, f"its queue {job.queue}"),
        (None if job.group is None else store.gate(f"group:{job.group}"), f"its group {job.group}"),
    ):
        if (
            gate is not None
            and gate.max_running is not None
            and not gate.running < gate.max_running
        ):
            reason(
                "limit",
                f"{what} runs at most {gate.max_running} at once and {gate.running} run: "
                + ", ".join(store.gate_holders(gate.name)),
            )
    lock = None if job.lock is None else store.gate(f"lock:{job.lock}")
    if lock is not None and lock.running > 0:
        holders = ", ".join(store.gate_holders(lock.name))
        reason("lock", f"its lock {job.lock} is held by {holders}")


def _relative(moment: float | None, now: float) -> str:
    if moment is None:
        return "unknown"
    return f"in {format_age(moment - now)}" if moment > now else f"{format_age(now - moment)} ago"
