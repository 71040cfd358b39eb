"""Row conversion shared by the stores: both schemas hold the same columns in the same
units (times as integer milliseconds since the epoch), so rows convert the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from queuectl.hooks import HookDuty
from queuectl.model import (
    JOB_FIELDS,
    NEW_JOB_FIELDS,
    Attempt,
    Gate,
    Job,
    JobField,
    Lease,
    NewJob,
    Schedule,
    Tick,
    WorkerInfo,
)

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any, Callable

FOREVER_MS = 2**62


def ms(moment: float | None) -> int | None:
    return None if moment is None else int(round(moment * 1000))


def seconds(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000.0


# A job's columns have the names of its fields (model.JOB_FIELDS) and hold them as they are,
# but for a moment (integer milliseconds), a mapping (JSON text, NULL if empty), a list of
# words (comma-separated text: a failure policy, "" if empty) and a flag (0 or 1 on SQLite).
def _as_is(value: Any) -> Any:
    return value


def to_json(value: Any) -> str:
    """A column's JSON text. `json` is imported when a value first needs it: `queuectl run`
    of a job without an environment or dependencies, into a store without settings, needs
    none (it costs that command 1.4 ms)."""
    import json

    return json.dumps(value)


def from_json(text: str) -> Any:
    import json

    return json.loads(text)


def _json_text(mapping: Mapping[str, Any]) -> str | None:
    return to_json(mapping) if mapping else None


def _json_object(text: str | None) -> dict[str, Any]:
    return from_json(text) if text else {}


def _json_list(text: str | None) -> list[Any]:
    return from_json(text) if text else []


def _comma_text(words: list[str] | None) -> str | None:
    return None if words is None else ",".join(words)


def _comma_list(text: str | None) -> list[str] | None:
    return None if text is None else text.split(",") if text else []


_WRITERS: dict[str, Callable[[Any], Any]] = {
    "dict[str, str]": _json_text,
    "list[dict[str, str]]": _json_text,
    "list[str]": _comma_text,
}
_READERS: dict[str, Callable[[Any], Any]] = {
    "dict[str, str]": _json_object,
    "list[dict[str, str]]": _json_list,
    "list[str]": _comma_list,
    "bool": bool,
}


def _writer(item: JobField) -> Callable[[Any], Any]:
    return ms if item.moment else _WRITERS.get(item.type, _as_is)


def _reader(item: JobField) -> Callable[[Any], Any]:
    return seconds if item.moment else _READERS.get(item.type, _as_is)


_JOB_READERS = [(item.name, _reader(item)) for item in JOB_FIELDS.values()]
_NEW_JOB_WRITERS = [(item.name, _writer(item)) for item in NEW_JOB_FIELDS]
_JOB_WRITERS = [(item.name, _writer(item)) for item in JOB_FIELDS.values()]


def job_from_row(row: Mapping[str, Any]) -> Job:
    return Job(**{name: read(row[name]) for name, read in _JOB_READERS})


def new_job_params(job: NewJob, now: float) -> dict[str, Any]:
    """The parameters of insert_job: the job's fields as their columns hold them, and `now`
    for its creation."""
    params = {name: write(getattr(job, name)) for name, write in _NEW_JOB_WRITERS}
    params["now"] = ms(now)
    return params


def job_params(job: Job) -> dict[str, Any]:
    """Every field of `job` as its column holds it (an import writes whole rows)."""
    return {name: write(getattr(job, name)) for name, write in _JOB_WRITERS}


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    return Attempt(
        job_id=row["job_id"],
        number=row["number"],
        worker_id=row["worker_id"],
        started_at=seconds(row["started_at"]),
        finished_at=seconds(row["finished_at"]),
        exit_code=row["exit_code"],
        error=row["error"],
        outcome=row["outcome"],
        output=bytes(row["output"] or b""),
        output_total=row["output_total"],
        cpu_user=row["cpu_user"],
        cpu_system=row["cpu_system"],
        max_rss=row["max_rss"],
        signal=row["signal"],
        host=row["host"],
        pgid=row["pgid"],
    )


def attempt_params(attempt: Attempt) -> dict[str, Any]:
    """The attempt's fields as their columns hold them."""
    return {
        "job_id": attempt.job_id,
        "number": attempt.number,
        "worker_id": attempt.worker_id,
        "host": attempt.host,
        "started_at": ms(attempt.started_at),
        "finished_at": ms(attempt.finished_at),
        "exit_code": attempt.exit_code,
        "error": attempt.error,
        "outcome": attempt.outcome,
        "output": attempt.output,
        "output_total": attempt.output_total,
        "cpu_user": attempt.cpu_user,
        "cpu_system": attempt.cpu_system,
        "max_rss": attempt.max_rss,
        "signal": attempt.signal,
    }


def gate_from_row(row: Mapping[str, Any]) -> Gate:
    return Gate(row["name"], bool(row["paused"]), row["max_running"], row["running"])


def schedule_from_row(row: Mapping[str, Any]) -> Schedule:
    return Schedule(
        name=row["name"],
        expression=row["expression"],
        zone=row["zone"],
        spec=from_json(row["spec"]),
        overlap=row["overlap"],
        catch_up=row["catch_up"],
        paused=bool(row["paused"]),
        created_at=row["created_at"] / 1000.0,
        fired_through=row["fired_through"] / 1000.0,
        next_fire_at=seconds(row["next_fire_at"]),
        last_job=row["last_job"],
    )


def schedule_params(schedule: Schedule) -> dict[str, Any]:
    """The schedule's fields as their columns hold them."""
    return {
        "name": schedule.name,
        "expression": schedule.expression,
        "zone": schedule.zone,
        "spec": to_json(schedule.spec),
        "overlap": schedule.overlap,
        "catch_up": schedule.catch_up,
        "paused": schedule.paused,
        "created_at": ms(schedule.created_at),
        "fired_through": ms(schedule.fired_through),
        "next_fire_at": ms(schedule.next_fire_at),
        "last_job": schedule.last_job,
    }


def tick_from_row(row: Mapping[str, Any]) -> Tick:
    return Tick(
        row["schedule"],
        row["tick"] / 1000.0,
        row["job"],
        row["outcome"],
        row["reason"],
        row["at"] / 1000.0,
    )


def hook_duty_from_row(row: Mapping[str, Any]) -> HookDuty:
    return HookDuty(
        job_id=row["job_id"],
        command=row["command"],
        cwd=row["cwd"],
        env=_json_object(row["env"]),
        state=row["state"],
        exit_code=row["exit_code"],
        attempt=row["attempt"],
        last_error=row["last_error"],
        created_at=row["created_at"] / 1000.0,
    )


def hook_duty_params(duty: HookDuty) -> dict[str, Any]:
    return {
        "job_id": duty.job_id,
        "command": duty.command,
        "cwd": duty.cwd,
        "env": _json_text(duty.env),
        "state": duty.state,
        "exit_code": duty.exit_code,
        "attempt": duty.attempt,
        "last_error": duty.last_error,
        "created_at": ms(duty.created_at),
    }


def tick_params(tick: Tick) -> dict[str, Any]:
    return {
        "schedule": tick.schedule,
        "tick": ms(tick.tick),
        "job": tick.job,
        "outcome": tick.outcome,
        "reason": tick.reason,
        "now": ms(tick.at),
    }


def worker_from_row(row: Mapping[str, Any]) -> WorkerInfo:
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=row["pid"],
        pool=row["pool"],
        queues=from_json(row["queues"]) if row["queues"] else None,
        started_at=row["started_at"] / 1000.0,
        heartbeat_at=row["heartbeat_at"] / 1000.0,
        stop_requested=bool(row["stop_requested"]),
        doorbell=row["doorbell"],
        job_id=row["job_id"],
    )


def lease_params(lease: Lease) -> dict[str, object]:
    return {
        "job_id": lease.job_id,
        "worker_id": lease.worker_id,
        "attempt_number": lease.attempt_number,
    }


def tail_of_chunks(chunks: Sequence[tuple[int, bytes]], start: int) -> tuple[bytes, int]:
    """(bytes from `start` on, end offset) of contiguous output chunks."""
    out = bytearray()
    end = start
    for offset, data in chunks:
        if offset + len(data) <= end:
            continue
        out += data[max(end - offset, 0) :]
        end = offset + len(data)
    return bytes(out), end


def filters(*conditions: tuple[str, object]) -> str:
    """A WHERE clause of the conditions whose value is given (not None), or ""."""
    given = [condition for condition, value in conditions if value is not None]
    return "WHERE " + " AND ".join(given) if given else ""
