"""What the JSON API answers: query parameters validated, responses shaped from the
service layer. Every function takes an open store; bad input raises `UserError`.

Nothing here scans every job except through ``store.counts()`` (in `status`): job lists are
pages (``limit``/``offset``), and a page's total comes from the counts the page already has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from queuectl import service
from queuectl.durations import parse_duration
from queuectl.errors import Conflict, UserError, quote
from queuectl.inputs import whole_number

if TYPE_CHECKING:
    from queuectl.store.base import Store

Query = Mapping[str, list]

MAX_PAGE = 500
MAX_OFFSET = 2**31
MAX_MINUTES = 24 * 60
MAX_STATS_WINDOW = 7 * 86400.0


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


def jobs(store: Store, query: Query) -> dict[str, Any]:
    """A page of jobs, newest first; ``has_more`` says whether another page follows."""
    params = _params(query, ("state", "queue", "limit", "offset"))
    limit = _int(params, "limit", 50, 1, MAX_PAGE)
    offset = _int(params, "offset", 0, 0, MAX_OFFSET)
    found = service.list_jobs(
        store, params.get("state") or None, params.get("queue") or None, limit + 1, offset
    )
    return {
        "jobs": [job.to_dict() for job in found[:limit]],
        "limit": limit,
        "offset": offset,
        "has_more": len(found) > limit,
    }


def job(store: Store, job_id: str, query: Query) -> dict[str, Any]:
    _params(query, ())
    found, attempts = service.show(store, job_id)
    return {"job": found.to_dict(), "attempts": [item.to_dict() for item in attempts]}


def workers(store: Store, query: Query) -> list[dict[str, Any]]:
    _params(query, ())
    return service.workers(store)


def stats(store: Store, query: Query) -> dict[str, Any]:
    params = _params(query, ("since",))
    since = parse_duration(params["since"]) if "since" in params else 3600.0
    if not 0 < since <= MAX_STATS_WINDOW:
        raise UserError(f"'since' must be more than 0 and at most {MAX_STATS_WINDOW:g} s")
    return service.stats(store, since)


def throughput(store: Store, query: Query) -> dict[str, Any]:
    params = _params(query, ("minutes",))
    return service.throughput(store, _int(params, "minutes", 60, 1, MAX_MINUTES))


def dlq_retry(store: Store, body: Any) -> dict[str, Any]:
    """``{"ids": [...]}`` retries those dead jobs, ``{"all": true}`` every one."""
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


def cancel(store: Store, job_id: str) -> dict[str, str]:
    """As `queuectl cancel` does: ``canceled``, for a running job once its worker has
    stopped the process tree (waited for up to kill_grace + 5 s); ``requested`` if it has
    not yet. A job that ended on its own before the cancel reached it is a conflict."""
    results = service.cancel(store, [job_id])
    late = service.late_cancels(results)
    if late:
        raise Conflict(late)
    return {"id": job_id, "result": results[job_id]}
