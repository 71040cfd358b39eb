"""Export and import (SPEC §10) on both SQL stores, with `SqlStore`'s primitives: an export
reads pages of jobs in enqueue order inside one snapshot; an import writes whole rows in
one transaction, then works out what the store derives from them (each live job's gate,
the gates' running counts, which jobs are waited for) and checks every condition waited
on still names a live job."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from queuectl.errors import Conflict, Taken, quote
from queuectl.model import LIVE, Tick
from queuectl.store.base import JobExport, StoreSettings
from queuectl.store.rows import (
    attempt_from_row,
    attempt_params,
    hook_duty_from_row,
    hook_duty_params,
    job_from_row,
    job_params,
    schedule_params,
    tick_from_row,
    tick_params,
    to_json,
)

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Callable, TypeVar

    from queuectl.store.sqlstore import Row, SqlStore

    T = TypeVar("T")

PAGE = 500  # jobs read or written per statement batch


def export(
    store: SqlStore, states: Sequence[str] | None, group: str | None, with_output: bool
) -> Iterator[JobExport | StoreSettings]:
    with store._snapshot():
        params = {"after": 0, "limit": PAGE, "group": group}
        params["states"] = None if states is None else store._list(states)
        while rows := store._rows("export_jobs", params):
            params["after"] = rows[-1]["seq"]
            yield from _exports(store, rows, with_output)
        yield StoreSettings(
            config=store.config_values(),
            gates=store.gates(),
            schedules=[(schedule, _ticks(store, schedule.name)) for schedule in store.schedules()],
        )


def _exports(store: SqlStore, rows: Sequence[Row], with_output: bool) -> Iterator[JobExport]:
    ids = {"ids": store._list([row["id"] for row in rows])}
    attempts = _grouped(
        store._rows("export_attempts", {**ids, "with_output": with_output}),
        lambda row: attempt_from_row(_with_live_output(store, row) if with_output else row),
    )
    waits = _grouped(
        store._rows("export_waits", ids), lambda row: (row["dep_id"], row["condition"])
    )
    duties = _grouped(store._rows("export_hook_duties", ids), hook_duty_from_row)
    for row in rows:
        job_id = row["id"]
        yield JobExport(
            job_from_row(row),
            attempts.get(job_id, []),
            waits.get(job_id, []),
            duties.get(job_id, []),
        )


def _with_live_output(store: SqlStore, row: Row) -> Row:
    """A running attempt's row with the output its chunks hold so far."""
    if row["outcome"] is not None:
        return row
    output, total = store.live_output(row["job_id"], row["number"])
    return {**row, "output": output, "output_total": total}


def _ticks(store: SqlStore, schedule: str) -> list[Tick]:
    return [tick_from_row(row) for row in store._rows("export_ticks", {"schedule": schedule})]


def _grouped(rows: Iterable[Row], convert: Callable[[Row], T]) -> dict[str, list[T]]:
    """Each job's converted rows, by its id, in the order given."""
    grouped: dict[str, list[T]] = {}
    for row in rows:
        grouped.setdefault(row["job_id"], []).append(convert(row))
    return grouped


def import_parts(
    store: SqlStore, parts: Iterable[Sequence[JobExport] | StoreSettings], now: float
) -> None:
    settings = None
    try:
        with store._transaction():
            for part in parts:
                if isinstance(part, StoreSettings):
                    settings = part  # applied once every job is in (the file's last part)
                else:
                    _import_jobs(store, part)
            # PostgreSQL: from here on no claim takes a slot and no enqueue picks a gate;
            # taken only now, so that the reading of a long file holds no one up.
            store._rows("lock_gates")
            if settings is not None:
                _import_settings(store, settings)
            store._rows("regate_jobs")
            store._rows("recount_gates")
            store._rows("awaited_by_waits")
            _check_waits(store)
            store._announce("import")
    except store._duplicate_key:
        # The import service refuses a file that names an id, unique key or attempt twice,
        # and the ids, keys and names this store holds are checked first: only a job or
        # schedule added by someone else meanwhile, with the same id or key, gets here.
        raise Conflict(
            "a job id, unique key or schedule name of the file was taken meanwhile: "
            "nothing was imported"
        ) from None


def _import_jobs(store: SqlStore, batch: Sequence[JobExport]) -> None:
    ids = [entry.job.id for entry in batch]
    for row in store._rows("existing_ids", {"ids": store._list(ids)}):
        raise Taken(f"job id {quote(row['id'])} exists already in this store", ("job", row["id"]))
    keys = {
        entry.job.unique_key: entry.job.id
        for entry in batch
        if entry.job.unique_key is not None and entry.job.state in LIVE
    }
    if keys:
        for row in store._rows("unique_holders", {"keys": store._list(list(keys))}):
            raise Taken(
                f"unique key {quote(row['unique_key'])} is held by job {quote(row['id'])} of "
                "this store",
                ("job", keys[row["unique_key"]]),
            )
    store._many("import_job", [{**job_params(e.job), "waiting_on": 0} for e in batch])
    store._many("import_attempt", [attempt_params(a) for e in batch for a in e.attempts])
    store._many(
        "insert_dependency",
        [
            {"dep_id": dep, "job_id": entry.job.id, "condition": on}
            for entry in batch
            for dep, on in entry.waits
        ],
    )
    waiting = [entry.job.id for entry in batch if entry.waits]
    if waiting:
        store._rows("count_waiting", {"ids": store._list(waiting)})
    store._many(
        "import_hook_duty",
        [hook_duty_params(duty) for entry in batch for duty in entry.hook_duties],
    )
    store._add_locks(entry.job.lock for entry in batch)


def _import_settings(store: SqlStore, settings: StoreSettings) -> None:
    store._rows("config_clear")
    store._many(
        "config_set",
        [{"key": key, "value": to_json(value)} for key, value in settings.config.items()],
    )
    store._rows("drop_queue_gates")
    store._many(
        "import_gate",
        [
            {"name": gate.name, "paused": gate.paused, "max_running": gate.max_running}
            for gate in settings.gates
        ],
    )
    for schedule, ticks in settings.schedules:
        if store._row("get_schedule", {"name": schedule.name}) is not None:
            raise Taken(
                f"a schedule named {quote(schedule.name)} exists already in this store",
                ("schedule", schedule.name),
            )
        store._rows("import_schedule", schedule_params(schedule))
        store._many("insert_tick", [tick_params(tick) for tick in ticks])


def _check_waits(store: SqlStore) -> None:
    broken = store._row("broken_wait")
    if broken is None:
        return
    dep, state = quote(broken["dep_id"]), broken["state"]
    where = "is neither in the file nor in this store" if state is None else f"is {state}"
    raise Taken(
        f"job {quote(broken['job_id'])} waits for {dep}, which {where}", ("job", broken["job_id"])
    )
