"""The OpenAPI 3.1 description of the dashboard's JSON API, served at
``/api/openapi.json``: the parameters' bounds are the ones `api.py` checks, and the
credentials those of this dashboard (with a --token or without). Tests check documented
responses against real ones, and schemathesis the whole document."""

from __future__ import annotations

from typing import Any, Callable

from queuectl import __version__
from queuectl.dashboard.api import (
    MAX_DEPENDENTS,
    MAX_MINUTES,
    MAX_OFFSET,
    MAX_PAGE,
    SINCE_PATTERN,
)
from queuectl.jobspec import JOB_KEYS
from queuectl.model import (
    ACCEPTS,
    CATCH_UPS,
    ENQUEUED,
    OVERLAPS,
    PUBLIC_JOB_FIELDS,
    SKIPPED,
    STATES,
    JobField,
)
from queuectl.service import ID_PATTERN, QUEUE_PATTERN, REASONS
from queuectl.service.schedules import RECENT, REFUSED_KEYS

SESSION_COOKIE = "queuectl_session"  # + "_PORT": cookies do not tell ports apart
CSRF_HEADER = "X-CSRF-Token"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = _nullable("string", format="date-time")
STATE_COUNTS = _object({state: {"type": "integer", "minimum": 0} for state in STATES})
# The schema of each type a job field is annotated with (model.JobField.type).
_JOB_FIELD_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "dict[str, str]": {"type": "object", "additionalProperties": {"type": "string"}},
    "list[str]": {"type": "array", "items": {"type": "string"}},
    "list[dict[str, str]]": {
        "type": "array",
        "items": _object({"id": {"type": "string"}, "on": {"enum": list(ACCEPTS)}}),
    },
}


def _job_property(item: JobField) -> dict[str, Any]:
    schema = dict(TIME if item.moment else _JOB_FIELD_TYPES[item.type])
    if item.nullable:
        schema["type"] = [schema["type"], "null"]
    if item.choices is not None:
        schema["enum"] = list(item.choices)
    if item.minimum is not None:
        schema["minimum"] = item.minimum
    if item.description:
        schema["description"] = item.description
    return schema


# What an attempt's command used (SPEC §9), null where the OS could not tell.
ACCOUNTING: dict[str, Any] = {
    "cpu_user": {**_nullable("number"), "minimum": 0, "description": "user CPU seconds"},
    "cpu_system": {**_nullable("number"), "minimum": 0, "description": "system CPU seconds"},
    "max_rss": {
        **_nullable("integer"),
        "minimum": 0,
        "description": "bytes: the largest resident set of the command's waited-for tree",
    },
    "signal": {**_nullable("integer"), "description": "the signal that ended the command"},
}
_JOB_PROPERTIES = {item.name: _job_property(item) for item in PUBLIC_JOB_FIELDS}
# The job options a schedule keeps for its runs (service.add_schedule): a job object's
# keys but those a schedule refuses, and inherit_env (kept resolved, as env).
_SCHEDULE_JOB_KEYS = tuple(
    key for key in JOB_KEYS if key not in (*REFUSED_KEYS, "command", "inherit_env")
)

SCHEMAS: dict[str, Any] = {
    "Job": _object(_JOB_PROPERTIES),
    "Attempt": _object(
        {
            "number": {"type": "integer", "minimum": 1},
            "worker_id": _nullable("string"),
            "started_at": NULLABLE_TIME,
            "finished_at": NULLABLE_TIME,
            "exit_code": _nullable("integer"),
            "error": _nullable("string"),
            "outcome": {
                **_nullable("string"),
                "description": "the state this attempt led to; null while it runs",
            },
            "output_bytes": {
                "type": "integer",
                "minimum": 0,
                "description": "bytes the command wrote in all",
            },
            "output": {
                "type": "string",
                "description": "the last output_limit bytes of stdout+stderr, as UTF-8",
            },
            **ACCOUNTING,
        }
    ),
    "Worker": _object(
        {
            "id": {"type": "string"},
            "host": {"type": "string"},
            "pid": {"type": "integer"},
            "pool": {"type": "string", "description": "the pool (supervisor) it belongs to"},
            "state": {"type": "string", "enum": ["idle", "busy", "stopping", "lost"]},
            "job_id": _nullable("string"),
            "queues": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "the queues it serves; null = all",
            },
            "started_at": TIME,
            "last_heartbeat": TIME,
            "heartbeat_age": {"type": "number", "minimum": 0, "description": "seconds"},
        }
    ),
    "StateCounts": STATE_COUNTS,
    "Status": _object(
        {
            "counts": _ref("StateCounts"),
            "queues": {"type": "object", "additionalProperties": _ref("StateCounts")},
            "workers": {
                "type": "array",
                "items": _ref("Worker"),
                "description": "workers that are not lost",
            },
            "store": {"type": "string", "description": "the store location, password masked"},
        }
    ),
    "JobPage": _object(
        {
            "jobs": {"type": "array", "items": _ref("Job")},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "has_more": {"type": "boolean", "description": "whether another page follows"},
        }
    ),
    "JobDetail": _object(
        {
            "job": _ref("Job"),
            "attempts": {"type": "array", "items": _ref("Attempt")},
            "dependencies": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "string"},
                        "on": {"enum": list(ACCEPTS)},
                        "state": {
                            "enum": [*STATES, None],
                            "description": "null: the job is no longer in the store",
                        },
                    }
                ),
                "description": "the jobs its `after` names, each with its condition and state",
            },
            "dependents": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": MAX_DEPENDENTS,
                "description": "the jobs whose `after` names it (met or not), in enqueue "
                f"order, the first {MAX_DEPENDENTS}",
            },
            "more_dependents": {
                "type": "boolean",
                "description": f"whether more than {MAX_DEPENDENTS} jobs wait for it",
            },
        }
    ),
    "Explain": _object(
        {
            "id": {"type": "string"},
            "state": {"enum": list(STATES)},
            "runnable": {
                "type": "boolean",
                "description": "nothing in the store keeps a worker from claiming it now",
            },
            "reasons": {
                "type": "array",
                "items": _object({"code": {"enum": list(REASONS)}, "message": {"type": "string"}}),
                "description": "every reason it is not running now, in the order of the codes",
            },
        }
    ),
    "Group": _object(
        {
            "group": {"type": "string"},
            "counts": _ref("StateCounts"),
            "total": {"type": "integer", "minimum": 1},
            "finished": {
                "type": "integer",
                "minimum": 0,
                "description": "jobs completed, dead or canceled",
            },
            "progress": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "finished / total, to 4 decimals",
            },
        }
    ),
    "Groups": _object({"groups": {"type": "array", "items": _ref("Group")}}),
    "Queue": _object(
        {
            "queue": {"type": "string"},
            "counts": _ref("StateCounts"),
            "paused": {"type": "boolean", "description": "its jobs are not claimed"},
            "limit": {
                **_nullable("integer", minimum=1),
                "description": "at most this many of its jobs processing at once; null: any",
            },
            "running": {"type": "integer", "minimum": 0, "description": "its jobs processing"},
            "workers": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the live workers that serve it",
            },
        }
    ),
    "Queues": _object({"queues": {"type": "array", "items": _ref("Queue")}}),
    "QueueFlow": _object(
        {
            "queue": {"type": "string"},
            "paused": {"type": "boolean"},
            "note": {
                **_nullable("string"),
                "description": "why nothing changed (a resume of a queue not paused)",
            },
        }
    ),
    "Locks": _object(
        {
            "locks": {
                "type": "array",
                "items": _object(
                    {
                        "lock": {"type": "string"},
                        "jobs": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "the processing job that holds it",
                        },
                    }
                ),
                "description": "each lock held now, by name",
            }
        }
    ),
    "Schedule": _object(
        {
            "name": {"type": "string"},
            "expression": {"type": "string", "description": "cron, as given"},
            "zone": {"type": "string", "description": "the IANA zone it is read in"},
            "command": {"type": "string"},
            "job": {
                **_object({key: _JOB_PROPERTIES[key] for key in _SCHEDULE_JOB_KEYS}),
                "required": ["queue", "priority", "cwd"],
                "description": "the options of each run's job; secrets in env shown as ***",
            },
            "overlap": {"enum": list(OVERLAPS)},
            "catch_up": {"enum": list(CATCH_UPS)},
            "paused": {"type": "boolean", "description": "no tick is enqueued"},
            "created_at": TIME,
            "next_run": {**NULLABLE_TIME, "description": "its next tick; null while paused"},
            "last_job": _nullable("string"),
            "last_run": {
                "oneOf": [
                    {"type": "null"},
                    _object(
                        {
                            "job": {"type": "string"},
                            "state": {
                                "enum": [*STATES, "purged"],
                                "description": "its job's state; purged: the job is gone",
                            },
                        }
                    ),
                ],
                "description": "its latest run (a tick's or a run now); null: none yet",
            },
        }
    ),
    "Schedules": _object({"schedules": {"type": "array", "items": _ref("Schedule")}}),
    "ScheduleDetail": _object(
        {
            "schedule": _ref("Schedule"),
            "runs": {
                "type": "array",
                "items": _ref("Job"),
                "description": f"its {RECENT} newest jobs, newest first",
            },
            "skipped": {
                "type": "array",
                "items": _object(
                    {
                        "tick": TIME,
                        "job": _nullable("string"),
                        "outcome": {"enum": [ENQUEUED, SKIPPED]},
                        "reason": {
                            **_nullable("string"),
                            "description": "overlap: its previous run had not finished; "
                            "missed: no pool ran at its time",
                        },
                        "at": {**TIME, "description": "when it was handled"},
                    }
                ),
                "description": f"its {RECENT} newest skipped ticks, newest first",
            },
        }
    ),
    "ScheduleFlow": _object(
        {
            "schedule": {"type": "string"},
            "paused": {"type": "boolean"},
            "job": {**_nullable("string"), "description": "the job a run now enqueued"},
            "note": {
                **_nullable("string"),
                "description": "why nothing changed (a pause of a paused schedule, a resume "
                "of one not paused)",
            },
        }
    ),
    "Acted": _object(
        {
            "ids": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the jobs acted on",
            },
            "skipped": {
                "type": "integer",
                "minimum": 0,
                "description": "the group's jobs the verb does not apply to (0 for a job)",
            },
        }
    ),
    "StatsSummary": _object(
        {
            "completed": {"type": "integer"},
            "failed_attempts": {"type": "integer"},
            "dead": {"type": "integer"},
            "canceled": {"type": "integer"},
            "jobs_per_minute": _nullable("number"),
            "mean_seconds": _nullable("number"),
            "p95_seconds": _nullable("number"),
            "cpu_seconds": {"type": "number", "description": "CPU seconds, user + system"},
            "p95_max_rss": {**_nullable("integer"), "description": "bytes"},
        }
    ),
    "Stats": _object(
        {
            "since": TIME,
            "until": TIME,
            "window_seconds": {"type": "number"},
            "total": _ref("StatsSummary"),
            "queues": {"type": "object", "additionalProperties": _ref("StatsSummary")},
        }
    ),
    "Throughput": _object(
        {
            "bucket_seconds": {"type": "integer"},
            "until": TIME,
            "buckets": {
                "type": "array",
                "items": _object(
                    {
                        "start": TIME,
                        "completed": {"type": "integer"},
                        "failed": {
                            "type": "integer",
                            "description": "failed attempts, dead included",
                        },
                        "canceled": {"type": "integer"},
                    }
                ),
            },
        }
    ),
    "RetryRequest": {
        "oneOf": [
            _object({"ids": {"type": "array", "items": {"type": "string"}, "minItems": 1}}),
            _object({"all": {"const": True}}),
        ]
    },
    "RetryResult": _object(
        {
            "ids": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the jobs moved back to pending",
            }
        }
    ),
    "CancelResult": _object(
        {
            "id": {"type": "string"},
            "result": {
                "type": "string",
                "enum": ["canceled", "requested"],
                "description": "requested: the job's worker had not stopped it after "
                "kill_grace + 5 s of waiting, and will",
            },
        }
    ),
    "Error": _object({"error": {"type": "string"}, "status": {"type": "integer"}}),
}

_ERRORS = {
    "400": "bad request: an invalid parameter or body, an unknown or repeated query "
    "parameter, a malformed Host or Content-Length",
    "401": "a --token is set and the request has no valid bearer token or session cookie",
    "403": "a cross-origin request, a browser request without the CSRF token, or (on "
    "loopback) a Host header that names another host",
    "404": "no such job, group, queue or schedule",
    "405": "wrong method: state-changing endpoints take POST only, reads GET or HEAD",
    "409": "the job is in the wrong state",
    "411": "a chunked body: send it with a Content-Length",
    "413": "a body over 64 KiB",
    "414": "a request line over 64 KiB",
    "415": "a body that is not application/json",
    "431": "a header line over 64 KiB, or more than 100 headers",
    "503": "the store cannot be reached (its error says why), or the dashboard has as many "
    "connections open as it takes (Retry-After: 1)",
}
# The headers that come with an error.
_ERROR_HEADERS = {
    "401": {"WWW-Authenticate": 'Bearer realm="queuectl"'},
    "405": {"Allow": "the methods this path takes"},
}
# What any request may be answered, whatever it asks.
_ANY_ERRORS = ("400", "403", "405", "414", "431", "503")
_READ_ERRORS = (*_ANY_ERRORS, "401")
_WRITE_ERRORS = (*_READ_ERRORS, "411", "413")


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in codes}


def _header(description: str) -> dict[str, Any]:
    return {"required": True, "schema": {"type": "string"}, "description": description}


def _json(schema: dict[str, Any], description: str, **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = {name: _header(text) for name, text in headers.items()}
    return response


def _api_answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A successful /api/ answer: it carries the CSRF token."""
    return _json(schema, description, **{CSRF_HEADER: "the CSRF token, for POST requests"})


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _security(token: bool) -> dict[str, list[dict[str, list[str]]]]:
    """Who may read (GET) and change (POST): with a token, whoever sends it or has a
    session, and a session's change needs the CSRF token too; without one, anyone may read
    and a change needs the CSRF token."""
    if token:
        return {
            "get": [{"bearerAuth": []}, {"cookieAuth": []}],
            "post": [{"bearerAuth": []}, {"cookieAuth": [], "csrfToken": []}],
        }
    return {"get": [{}], "post": [{"csrfToken": []}]}


_JOB_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
_GROUP_SCHEMA = {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$"}
_GROUP = {"name": "group", "in": "path", "required": True, "schema": _GROUP_SCHEMA}
_GROUP_QUERY = {
    "name": "name",
    "in": "query",
    "required": True,
    "schema": _GROUP_SCHEMA,
    "description": "the group's name; any name, `.` and `..` included, which a browser "
    "would resolve as a path segment",
}
# What a verb does to a job named, and to each job of a group it applies to.
_JOB_VERBS = {
    "hold": "Hold a pending or failed job: no worker claims it until it is released",
    "release": "Release a held job",
    "requeue": "Move a finished job (completed, dead, canceled) back to pending, attempts 0",
}
_GROUP_VERBS = {
    "hold": "Hold the group's pending and failed jobs that are not held",
    "release": "Release the group's held jobs",
    "requeue": "Move the group's dead and canceled jobs back to pending (re-run what failed)",
    "cancel": "Cancel the group's unfinished jobs (a processing one is asked to stop)",
}
_QUEUE_SCHEMA = {"type": "string", "pattern": f"^{QUEUE_PATTERN.pattern}$"}
_QUEUE = {"name": "queue", "in": "path", "required": True, "schema": _QUEUE_SCHEMA}
_QUEUE_QUERY = {
    "name": "name",
    "in": "query",
    "required": True,
    "schema": _QUEUE_SCHEMA,
    "description": "the queue's name; any name, `.` and `..` included, which a browser "
    "would resolve as a path segment",
}
_QUEUE_VERBS = {
    "pause": "Pause a known queue (one with jobs, or paused or limited): its jobs are not "
    "claimed until it is resumed; running ones finish",
    "resume": "Resume a known queue; one that is not paused stays so, with a note",
}
_SCHEDULE_SCHEMA = {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$"}
_SCHEDULE = {"name": "schedule", "in": "path", "required": True, "schema": _SCHEDULE_SCHEMA}
_SCHEDULE_QUERY = {
    "name": "name",
    "in": "query",
    "required": True,
    "schema": _SCHEDULE_SCHEMA,
    "description": "the schedule's name; any name, `.` and `..` included, which a browser "
    "would resolve as a path segment",
}
_SCHEDULE_VERBS = {
    "pause": "Pause a schedule: no tick is enqueued until it is resumed; one paused already "
    "stays so, with a note",
    "resume": "Resume a schedule from its next tick on (the paused ones are not made up "
    "for); one that is not paused stays so, with a note",
    "run": "Enqueue one run of a schedule now (its last run from then on); `job` is its id",
}
_JOB_ID_QUERY = {
    "name": "id",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
    "description": "the job's id; any id, `.` and `..` included, which a browser would "
    "resolve as a path segment",
}


def _get(summary: str, schema: dict[str, Any], *, params=(), errors=_READ_ERRORS) -> dict:
    return {
        "get": {
            "summary": summary,
            "parameters": list(params),
            "responses": {"200": _api_answer(schema, summary), **_errors(*errors)},
        }
    }


def _post(
    summary: str, schema: dict[str, Any], *, body=None, params=(), errors=("404", "409")
) -> dict:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": list(params),
        "responses": {"200": _api_answer(schema, summary), **_errors(*_WRITE_ERRORS, *errors)},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
        operation["responses"].update(_errors("415"))
    return {"post": operation}


DESCRIPTION = """\
The queuectl dashboard's API: everything the page shows and does. It never takes a
command: the only job it creates is a run now of a schedule that exists.

Authentication: without `--token` (loopback only) reads need nothing. With `--token T`,
send `Authorization: Bearer T`, or log in once at `POST /login` (form field `token`), which
sets the HttpOnly, SameSite=Strict cookie `{cookie}`.

CSRF: a POST that carries the session cookie or an `Origin` header (a browser), and every
POST when no `--token` is set, must send the page's CSRF token in `{csrf}`; an
`Origin` must be the dashboard's own. The token is in the page's
`<meta name="csrf-token">` and in the `{csrf}` header of every successful `/api/` answer.
A script with the bearer token and no cookie needs no CSRF token.

Errors are JSON: `{{"error": "...", "status": 400}}`."""


Operation = Callable[[dict[str, Any], str], dict[str, Any]]
"""An endpoint's operation, given how the job or group is named and a summary's ending."""


def _detail(summary: str, schema: str) -> Operation:
    return lambda param, ending: _get(
        summary + ending, _ref(schema), params=[param], errors=(*_READ_ERRORS, "404")
    )


def _action(summary: str, schema: str = "Acted", errors=("404", "409")) -> Operation:
    return lambda param, ending: _post(
        summary + ending, _ref(schema), params=[param], errors=errors
    )


_JOB_OPERATIONS: dict[str, Operation] = {
    "": _detail("One job with its attempts and their output", "JobDetail"),
    "cancel": _action("Cancel a pending, failed or processing job", "CancelResult"),
    "explain": _detail("Why the job is not running now: every reason", "Explain"),
    **{verb: _action(summary) for verb, summary in _JOB_VERBS.items()},
}
_GROUP_OPERATIONS: dict[str, Operation] = {
    "": _detail("One group's counts per state and progress", "Group"),
    **{verb: _action(summary) for verb, summary in _GROUP_VERBS.items()},
}


_QUEUE_OPERATIONS: dict[str, Operation] = {
    verb: _action(summary, "QueueFlow", errors=("404",)) for verb, summary in _QUEUE_VERBS.items()
}


_SCHEDULE_OPERATIONS: dict[str, Operation] = {
    "": _detail(
        "One schedule: its settings, newest runs and newest skipped ticks", "ScheduleDetail"
    ),
    **{
        verb: _action(summary, "ScheduleFlow", errors=("404",))
        for verb, summary in _SCHEDULE_VERBS.items()
    },
}


def _by_path_and_query(
    path: tuple[str, dict[str, Any]],
    query: tuple[str, dict[str, Any]],
    what: str,
    operations: dict[str, Operation],
) -> dict[str, Any]:
    """Each operation twice: the job or group named in the path (``/api/jobs/{id}/cancel``)
    and in the query (``/api/job/cancel?id=``), for names a path cannot carry."""
    paths = {}
    for (base, param), ending in ((path, ""), (query, f", the {what} in the query")):
        for suffix, operation in operations.items():
            paths[f"{base}/{suffix}" if suffix else base] = operation(param, ending)
    return paths


def _paths() -> dict[str, Any]:
    state_param = _query("state", {"type": "string", "enum": list(STATES)}, "only this state")
    queue_param = _query(
        "queue", {"type": "string", "pattern": f"^{QUEUE_PATTERN.pattern}$"}, "only this queue"
    )
    return {
        "/api/status": _get("Job counts per state and per queue, live workers", _ref("Status")),
        "/api/jobs": _get(
            "A page of jobs, newest first",
            _ref("JobPage"),
            params=[
                state_param,
                queue_param,
                _query("group", _GROUP_SCHEMA, "only this group's jobs"),
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50},
                    "page size",
                ),
                _query(
                    "offset",
                    {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
                    "jobs to skip",
                ),
            ],
        ),
        **_by_path_and_query(
            ("/api/jobs/{id}", _JOB_ID), ("/api/job", _JOB_ID_QUERY), "id", _JOB_OPERATIONS
        ),
        "/api/groups": _get(
            "Every group, by name, with its counts per state and progress", _ref("Groups")
        ),
        **_by_path_and_query(
            ("/api/groups/{group}", _GROUP),
            ("/api/group", _GROUP_QUERY),
            "name",
            _GROUP_OPERATIONS,
        ),
        "/api/queues": _get(
            "Every known queue: counts per state, paused or not, limit, running jobs, workers",
            _ref("Queues"),
        ),
        **_by_path_and_query(
            ("/api/queues/{queue}", _QUEUE),
            ("/api/queue", _QUEUE_QUERY),
            "name",
            _QUEUE_OPERATIONS,
        ),
        "/api/locks": _get("Every lock held now, and the job that holds it", _ref("Locks")),
        "/api/schedules": _get(
            "Every schedule: cron, zone, next run, last run and its state, paused or not",
            _ref("Schedules"),
        ),
        **_by_path_and_query(
            ("/api/schedules/{schedule}", _SCHEDULE),
            ("/api/schedule", _SCHEDULE_QUERY),
            "name",
            _SCHEDULE_OPERATIONS,
        ),
        "/api/dlq/retry": _post(
            "Move dead jobs back to pending (attempts reset to 0)",
            _ref("RetryResult"),
            body=_ref("RetryRequest"),
        ),
        "/api/workers": _get(
            "Every registered worker, lost ones included",
            {"type": "array", "items": _ref("Worker")},
        ),
        "/api/stats": _get(
            "Completed, failed and dead counts, jobs per minute, mean "
            "and p95 run time, overall and per queue",
            _ref("Stats"),
            params=[
                _query(
                    "since",
                    {"type": "string", "pattern": SINCE_PATTERN, "default": "1h"},
                    "the window: a number over 0 and a unit s (or none), m, h or d, "
                    "at most 7d: 30s, 5m, 1.5h, 7d",
                )
            ],
        ),
        "/api/throughput": _get(
            "Attempts completed and failed per minute",
            _ref("Throughput"),
            params=[
                _query(
                    "minutes",
                    {"type": "integer", "minimum": 1, "maximum": MAX_MINUTES, "default": 60},
                    "how many minutes, the current one last",
                )
            ],
        ),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics: jobs by queue and state, queues paused and "
                "limited, schedules paused and their next runs, attempts by outcome, a "
                "run-time histogram, workers by state",
                "responses": {
                    "200": {
                        "description": "Prometheus text format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_errors(*_READ_ERRORS),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [{}],
                "responses": {
                    "200": _json({"type": "object"}, "the OpenAPI document"),
                    **_errors(*_ANY_ERRORS),
                },
            }
        },
        "/logout": {
            "post": {
                "summary": "End the session whose cookie the request carries, and clear it",
                "responses": {
                    "200": _json(
                        _object({"logged_out": {"const": True}}),
                        "logged out",
                        **{"Set-Cookie": "the session cookie, emptied"},
                    ),
                    **_errors(*_WRITE_ERRORS),
                },
            }
        },
    }


def document(cookie: str, token: bool) -> dict[str, Any]:
    """The document for a dashboard whose session cookie is called `cookie`, started with
    a --token or without."""
    paths = _paths()
    security = _security(token)
    for operations in paths.values():
        for method, operation in operations.items():
            operation.setdefault("security", security[method])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "queuectl dashboard API",
            "version": __version__,
            "description": DESCRIPTION.format(cookie=cookie, csrf=CSRF_HEADER),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                f"E{code}": _json(_ref("Error"), text, **_ERROR_HEADERS.get(code, {}))
                for code, text in _ERRORS.items()
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the dashboard's --token",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": cookie,
                    "description": "set by POST /login",
                },
                "csrfToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": CSRF_HEADER,
                    "description": "the page's CSRF token",
                },
            },
        },
    }
