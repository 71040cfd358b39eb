"""What the JSON API answers: query parameters validated, responses shaped from the
service layer. Every function takes an open store; bad input raises `UserError`.

Nothing here scans every job except through ``store.counts()`` (in `status`): job lists are
pages (``limit``/``offset``), and a page's total comes from the counts the page already has.
`groups` reads the jobs that have a group, and a job's dependents those that have an
``after``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

from queuectl import service
from queuectl.durations import parse_duration
from queuectl.errors import Conflict, NotFound, UserError, quote
from queuectl.inputs import whole_number

if TYPE_CHECKING:
    from queuectl.store.base import Store

Query = Mapping[str, list]

MAX_PAGE = 500
MAX_OFFSET = 2**31
MAX_MINUTES = 24 * 60
MAX_STATS_WINDOW = 7 * 86400
MAX_DEPENDENTS = 500  # of a job, on its page


def _below(limit: int) -> str:
    """A regex of the whole numbers from 1 to `limit` - 1, without leading zeros: shorter
    numbers, then those as long as `limit` that are smaller at their first different digit."""
    digits = str(limit)
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    alike = []
    for index, digit in enumerate(digits):
        lowest = 1 if index == 0 else 0
        rest = len(digits) - index - 1
        if int(digit) > lowest:
            tail = f"[0-9]{{{rest}}}" if rest else ""
            alike.append(f"{digits[:index]}[{lowest}-{int(digit) - 1}]{tail}")
    return "|".join(shorter + alike)


def _window(unit: str, seconds: int) -> str:
    """A regex of the durations in `unit` (seconds long) over 0 and at most the stats window."""
    most = MAX_STATS_WINDOW // seconds
    return rf"(?:(?:{_below(most)})(?:\.[0-9]+)?|0\.0{{0,8}}[1-9][0-9]*|{most}(?:\.0+)?){unit}"


# What `since` may be, exactly: a number over 0 (at most 9 zeros after the point before a
# digit that is not, lest it round to 0) and a unit, at most 7 days. It is in the OpenAPI
# document, which can state bounds on numbers but not on numbers written in a string.
_UNITS = (("s?", 1), ("m", 60), ("h", 3600), ("d", 86400))
SINCE_PATTERN = "^(?:{})$".format("|".join(_window(unit, size) for unit, size in _UNITS))
_SINCE = re.compile(SINCE_PATTERN)


def _params(query: Query, allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise UserError(f"unknown query parameter {quote(unknown[0])}; valid: {valid}")
    single = {}
    for name, values in query.items():
        if len(values) != 1:
            raise UserError(f"query parameter {quote(name)} given {len(values)} times")
        single[name] = values[0]
    return single


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    value = whole_number(text)
    if value is None or not low <= value <= high:
        raise UserError(f"{name!r} must be a whole number from {low} to {high}, not {quote(text)}")
    return value


def status(store: Store, query: Query) -> dict[str, Any]:
    _params(query, ())
    return service.status(store)


def check_group(group: str) -> str:
    if not service.ID_PATTERN.fullmatch(group):
        raise UserError(f"invalid group {quote(group)}: use 1 to 128 of A-Z a-z 0-9 . _ : -")
    return group


def jobs(store: Store, query: Query) -> dict[str, Any]:
    """A page of jobs, newest first; ``has_more`` says whether another page follows."""
    params = _params(query, ("state", "queue", "group", "limit", "offset"))
    limit = _int(params, "limit", 50, 1, MAX_PAGE)
    offset = _int(params, "offset", 0, 0, MAX_OFFSET)
    queue = params.get("queue")
    if queue is not None:
        service.check_queue(queue)
    group = params.get("group")
    if group is not None:
        check_group(group)
    found = service.list_jobs(store, params.get("state"), queue, limit + 1, offset, group)
    return {
        "jobs": [job.to_dict() for job in found[:limit]],
        "limit": limit,
        "offset": offset,
        "has_more": len(found) > limit,
    }


def job(store: Store, job_id: str, query: Query) -> dict[str, Any]:
    """The job, its attempts, the state of each job it waits for (None: purged) and the
    first MAX_DEPENDENTS jobs that wait for it."""
    _params(query, ())
    found, attempts = service.show(store, job_id)
    states = store.job_states([entry["id"] for entry in found.after])
    dependents = store.dependents(job_id, MAX_DEPENDENTS + 1)
    return {
        "job": found.to_dict(),
        "attempts": [item.to_dict() for item in attempts],
        "dependencies": [{**entry, "state": states.get(entry["id"])} for entry in found.after],
        "dependents": dependents[:MAX_DEPENDENTS],
        "more_dependents": len(dependents) > MAX_DEPENDENTS,
    }


def explain(store: Store, job_id: str, query: Query) -> dict[str, Any]:
    _params(query, ())
    return service.explain(store, job_id)


def groups(store: Store, query: Query) -> dict[str, Any]:
    _params(query, ())
    return {"groups": service.groups(store)}


def group(store: Store, name: str, query: Query) -> dict[str, Any]:
    _params(query, ())
    return service.group_status(store, check_group(name))


# What each verb does to a job named, and to a group: hold and release the waiting jobs it
# applies to, requeue the dead and canceled ones (re-run only what failed), cancel the
# unfinished ones (a processing one is asked to stop, and not waited for).
JOB_VERBS: dict[str, Callable[[Store, Sequence[str]], service.Acted]] = {
    "hold": service.hold,
    "release": service.release,
    "requeue": service.requeue,
}
GROUP_VERBS: dict[str, Callable[[Store, str], service.Acted]] = {
    "hold": lambda store, name: service.hold(store, [], name),
    "release": lambda store, name: service.release(store, [], name),
    "requeue": lambda store, name: service.requeue(store, [], name),
    "cancel": lambda store, name: _cancel_group(store, name),
}


def job_verb(store: Store, verb: str, job_id: str, query: Query) -> dict[str, Any]:
    """Hold, release or requeue one job; a job in a state the verb does not take is a
    conflict that changes nothing."""
    _params(query, ())
    return JOB_VERBS[verb](store, [job_id])._asdict()


def group_verb(store: Store, verb: str, name: str, query: Query) -> dict[str, Any]:
    """A verb on every job of the group it applies to: ``{"ids": [...], "skipped": n}``;
    a group with no such job is a conflict, as a job in the wrong state is."""
    _params(query, ())
    check_group(name)
    try:
        return GROUP_VERBS[verb](store, name)._asdict()
    except (NotFound, Conflict):
        raise
    except UserError as exc:  # "no job of group 'g' can be held": its jobs' states
        raise Conflict(str(exc)) from None


def _cancel_group(store: Store, name: str) -> service.Acted:
    results, skipped = service.cancel_group(store, name)
    return service.Acted(list(results), skipped)


def queues(store: Store, query: Query) -> dict[str, Any]:
    _params(query, ())
    return {"queues": service.queue_list(store)}


def locks(store: Store, query: Query) -> dict[str, Any]:
    _params(query, ())
    return {"locks": service.held_locks(store)}


def queue_verb(store: Store, verb: str, queue: str, query: Query) -> dict[str, Any]:
    """Pause or resume a queue the store knows (as `queue list` shows it): the dashboard
    acts only on what exists. Resuming one that is not paused changes nothing and says so,
    as the CLI does."""
    _params(query, ())
    service.check_queue(queue)
    if queue not in {entry["queue"] for entry in service.queue_list(store)}:
        raise NotFound(f"no queue {quote(queue)}: it has no jobs and is not paused or limited")
    note = None
    if verb == "pause":
        if service.pause(store, [queue]):
            note = f"queue {queue} is paused already"
    elif service.resume(store, [queue]):
        note = f"queue {queue} is not paused: nothing to resume"
    return {"queue": queue, "paused": verb == "pause", "note": note}


def schedules(store: Store, query: Query) -> dict[str, Any]:
    _params(query, ())
    return {"schedules": service.schedule_list(store)}


def schedule(store: Store, name: str, query: Query) -> dict[str, Any]:
    """As `schedule show --json`: its settings, newest runs and newest skipped ticks."""
    _params(query, ())
    return service.schedule_show(store, service.check_schedule(name))


def schedule_verb(store: Store, verb: str, name: str, query: Query) -> dict[str, Any]:
    """Pause, resume or run now a schedule that exists (the dashboard adds none: it takes
    no command). A pause of a paused one or a resume of one not paused changes nothing and
    says so, as the CLI does; a run answers its job's id."""
    _params(query, ())
    service.check_schedule(name)
    note = job_id = None
    if verb == "run":
        job_id = service.run_schedule(store, name)
    elif verb == "pause" and service.pause_schedule(store, name):
        note = f"schedule {name} is paused already"
    elif verb == "resume" and not service.resume_schedule(store, name):
        note = f"schedule {name} is not paused: nothing to resume"
    paused = store.get_schedule(name).paused
    return {"schedule": name, "paused": paused, "job": job_id, "note": note}


def workers(store: Store, query: Query) -> list[dict[str, Any]]:
    _params(query, ())
    return service.workers(store)


def stats(store: Store, query: Query) -> dict[str, Any]:
    params = _params(query, ("since",))
    text = params.get("since", "1h")
    if not _SINCE.fullmatch(text):
        raise UserError(
            "'since' must be a duration over 0 and at most 7d, a number and a unit s, m, h "
            f"or d (30s, 5m, 1.5h, 7d), not {quote(text)}"
        )
    return service.stats(store, parse_duration(text))


def throughput(store: Store, query: Query) -> dict[str, Any]:
    params = _params(query, ("minutes",))
    return service.throughput(store, _int(params, "minutes", 60, 1, MAX_MINUTES))


def dlq_retry(store: Store, body: Any, query: Query) -> dict[str, Any]:
    """``{"ids": [...]}`` retries those dead jobs, ``{"all": true}`` every one."""
    _params(query, ())
    usage = 'send {"ids": ["ID", ...]} or {"all": true}'
    if not isinstance(body, dict) or not body or set(body) - {"ids", "all"}:
        raise UserError(usage)
    if set(body) == {"all"} and body["all"] is True:
        return {"ids": service.dlq_retry(store, None)}
    ids = body.get("ids")
    if (
        set(body) != {"ids"}
        or not isinstance(ids, list)
        or not ids
        or not all(isinstance(item, str) for item in ids)
    ):
        raise UserError(usage)
    return {"ids": service.dlq_retry(store, ids)}


def cancel(store: Store, job_id: str, query: Query) -> dict[str, str]:
    """As `queuectl cancel` does: ``canceled``, for a running job once its worker has
    stopped the process tree (waited for up to kill_grace + 5 s); ``requested`` if it has
    not yet. A job that ended on its own before the cancel reached it is a conflict."""
    _params(query, ())
    results = service.cancel(store, [job_id])
    late = service.late_cancels(results)
    if late:
        raise Conflict(late)
    return {"id": job_id, "result": results[job_id]}
