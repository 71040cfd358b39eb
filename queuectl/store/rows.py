"""Row conversion shared by the stores: both schemas hold the same columns in the same
units (times as integer milliseconds since the epoch), so rows convert the same way."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from queuectl.model import Attempt, Job, Lease, WorkerInfo

FOREVER_MS = 2**62


def ms(moment: float | None) -> int | None:
    return None if moment is None else int(round(moment * 1000))


def seconds(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000.0


def job_from_row(row: Mapping[str, Any]) -> Job:
    return Job(
        id=row["id"], command=row["command"], state=row["state"], attempts=row["attempts"],
        max_retries=row["max_retries"], queue=row["queue"], priority=row["priority"],
        run_at=row["run_at"] / 1000.0, timeout=row["timeout"], cwd=row["cwd"],
        env=json.loads(row["env"]) if row["env"] else {}, exit_code=row["exit_code"],
        last_error=row["last_error"], worker_id=row["worker_id"],
        created_at=row["created_at"] / 1000.0, updated_at=row["updated_at"] / 1000.0,
        started_at=seconds(row["started_at"]), finished_at=seconds(row["finished_at"]),
        run_no=row["run_no"], lease_until=seconds(row["lease_until"]),
        cancel_requested=bool(row["cancel_requested"]), host=row["host"],
    )


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    return Attempt(
        job_id=row["job_id"], number=row["number"], worker_id=row["worker_id"],
        started_at=seconds(row["started_at"]), finished_at=seconds(row["finished_at"]),
        exit_code=row["exit_code"], error=row["error"], outcome=row["outcome"],
        output=bytes(row["output"] or b""), output_total=row["output_total"],
        host=row["host"], pgid=row["pgid"],
    )


def worker_from_row(row: Mapping[str, Any]) -> WorkerInfo:
    return WorkerInfo(
        id=row["id"], host=row["host"], pid=row["pid"], pool=row["pool"],
        queues=json.loads(row["queues"]) if row["queues"] else None,
        started_at=row["started_at"] / 1000.0, heartbeat_at=row["heartbeat_at"] / 1000.0,
        stop_requested=bool(row["stop_requested"]), doorbell=row["doorbell"],
        job_id=row["job_id"],
    )


def lease_params(lease: Lease) -> dict[str, object]:
    return {"job_id": lease.job_id, "worker_id": lease.worker_id, "run_no": lease.run_no}


def tail_of_chunks(chunks: Sequence[tuple[int, bytes]], start: int) -> tuple[bytes, int]:
    """(bytes from `start` on, end offset) of contiguous output chunks."""
    out = bytearray()
    end = start
    for offset, data in chunks:
        if offset + len(data) <= end:
            continue
        out += data[max(end - offset, 0):]
        end = offset + len(data)
    return bytes(out), end


def filters(*conditions: tuple[str, object]) -> str:
    """A WHERE clause of the conditions whose value is given (not None), or ""."""
    given = [condition for condition, value in conditions if value is not None]
    return "WHERE " + " AND ".join(given) if given else ""
