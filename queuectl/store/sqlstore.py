"""What both SQL backends do the same way. Each runs its own dialect's named queries
(``sql/sqlite.sql``, ``sql/postgres.sql``: the same names, the same columns, times in
milliseconds) through a few primitives it provides:

* `_rows(name, params, queues, where)`: run a named statement, return its rows as mappings;
* `_count(name, params)`: run one, return how many rows it changed;
* `_many(name, rows)`: run one once per parameter set, inside a transaction;
* `_transaction()`: a write transaction, committed on exit;
* `_snapshot()`: a read-only transaction whose reads all see one moment;
* `_announce(reason)`: tell idle workers, once the transaction commits, that there may be work;
* `_list(values)`, `_param(name)`, `_queue_filter` and `_jobs_table`: how a list, a named
  parameter and "in one of these queues" are written, and the jobs table's name;
* `_duplicate_key`: the exception a statement raises when a row's key is taken.

Everything that differs more than that (opening, migrating, the clock, wake-ups, the
run-time histogram) stays in the backend.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager

from queuectl.errors import Conflict, DuplicateId, NotFound, quote
from queuectl.hooks import HookDuty
from queuectl.lifecycle import Transition, dependency_cycle
from queuectl.model import (
    ACCEPTS,
    CANCELED,
    ENQUEUED,
    LIVE,
    SKIPPED,
    TERMINAL,
    WAITING,
    Attempt,
    Firing,
    Gate,
    Job,
    Lease,
    NewJob,
    Schedule,
    Tick,
    WorkerInfo,
)
from queuectl.store import queries
from queuectl.store.base import (
    STOP_ANNOUNCEMENT,
    FinishedAttempt,
    Heartbeat,
    JobExport,
    LoggedAttempt,
    Store,
    StoreSettings,
    StrayAttempt,
)
from queuectl.store.rows import (
    FOREVER_MS,
    attempt_from_row,
    attempt_params,
    filters,
    from_json,
    gate_from_row,
    hook_duty_from_row,
    job_from_row,
    lease_params,
    ms,
    new_job_params,
    schedule_from_row,
    schedule_params,
    seconds,
    tail_of_chunks,
    tick_from_row,
    tick_params,
    to_json,
    worker_from_row,
)

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any

Row = Mapping[str, "Any"]  # quoted: typing is imported for type checkers only


class GatesBusy(Exception):
    """The gates' lock could not be had soon: a chore gives up until next time."""


TICKS_KEPT = 100  # of each schedule: what `schedule show` tells of its skipped ticks
_UNIQUE_TRIES = 5  # inserts of a job whose key's holder keeps ending meanwhile
_CONDITION_TEXT = {"success": "complete", "failure": "end dead or canceled"}


_HOLDERS = {
    "queue": ("processing_in_queue", "queue"),
    "group": ("processing_in_group", "group"),
    "lock": ("lock_holders", "lock"),
}


def _no_schedule(name: str) -> NotFound:
    return NotFound(f"no schedule named {quote(name)} (queuectl schedule list shows them)")


def _either(states: Sequence[str]) -> str:
    return ", ".join(states[:-1]) + f" or {states[-1]}" if len(states) > 1 else states[0]


class SqlStore(Store):
    dialect: str  # its queries are sql/<dialect>.sql
    _queue_filter: str  # what a statement's /*queues*/ becomes when queues are given
    _jobs_table: str
    _duplicate_key: type[Exception]

    @property
    def _queries(self) -> dict[str, queries.Query]:
        """The named statements of this dialect (loaded once per process)."""
        return queries.load(self.dialect)

    @property
    def _newest_schema(self) -> int:
        """The schema version this release builds and upgrades stores to."""
        return queries.schema_version(self.dialect)

    # --- the primitives a backend provides ---------------------------------------------

    @abc.abstractmethod
    def _rows(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        queues: Sequence[str] | None = None,
        where: str = "",
    ) -> list[Row]:
        """Run the named statement (`queues` and `where` fill its /*queues*/ and
        /*filters*/ marks) and return every row it gives."""

    @abc.abstractmethod
    def _count(self, name: str, params: dict[str, Any]) -> int:
        """Run the named statement and return the number of rows it changed."""

    @abc.abstractmethod
    def _many(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Run the named statement once for each parameter set in `rows`, inside the
        current transaction."""

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """One write transaction, committed on exit, rolled back on an exception."""

    @abc.abstractmethod
    def _snapshot(self) -> AbstractContextManager[Any]:
        """A read-only transaction: every read in it sees the store as of one moment, and
        writers are not held up meanwhile."""

    @abc.abstractmethod
    def _announce(self, reason: str) -> None:
        """Wake idle workers once the current transaction commits (at once outside one)."""

    @abc.abstractmethod
    def _list(self, values: Sequence[str]) -> Any:
        """A list of strings as the dialect's queries take it (JSON text, or an array)."""

    @abc.abstractmethod
    def _param(self, name: str) -> str:
        """How a query refers to the named parameter: `:name` or `%(name)s`."""

    def _sql(self, name: str, queues: Sequence[str] | None = None, where: str = "") -> str:
        """The named statement, its /*queues*/ and /*filters*/ marks filled in."""
        text = self._queries[name].text
        text = text.replace("/*queues*/", "" if queues is None else self._queue_filter)
        return text.replace("/*filters*/", where)

    def _row(
        self, name: str, params: dict[str, Any] | None = None, queues: Sequence[str] | None = None
    ) -> Row | None:
        rows = self._rows(name, params, queues)
        return rows[0] if rows else None

    def _queues(self, queues: Sequence[str] | None) -> Any:
        return None if queues is None else self._list(queues)

    # --- producers ---------------------------------------------------------------------

    def enqueue(
        self, jobs: Sequence[NewJob], now: float, limits: Mapping[str, int] | None = None
    ) -> dict[str, str]:
        try:
            with self._transaction():
                return self._insert_jobs(jobs, now, limits)
        except self._duplicate_key:
            raise DuplicateId(self._duplicate_id(jobs)) from None

    def _insert_jobs(
        self, jobs: Sequence[NewJob], now: float, limits: Mapping[str, int] | None = None
    ) -> dict[str, str]:
        """`enqueue`'s work, inside the caller's transaction."""
        rows = [new_job_params(job, now) for job in jobs]
        for group, max_running in (limits or {}).items():
            self._limit_group(group, max_running)
        waits = self._dependencies_of(jobs) if any(job.after for job in jobs) else {}
        for row, job in zip(rows, jobs):
            if job.id in waits:
                row["after"] = to_json([{"id": dep, "on": on} for dep, on in waits[job.id]])
        self._rows("read_gates")
        self._add_locks(job.lock for job in jobs)
        self._many("insert_job", rows)
        held = self._unique_holders(jobs, rows)
        waits = {job_id: deps for job_id, deps in waits.items() if job_id not in held}
        if waits:
            self._wait_for(waits)
        if len(held) < len(jobs):
            self._announce("enqueue")
        return held

    def _unique_holders(
        self, jobs: Sequence[NewJob], rows: Sequence[dict[str, Any]]
    ) -> dict[str, str]:
        """The id of each job with a unique key that insert_job skipped (its key held), to
        the holder's, read for the whole batch at once. A holder may end between the insert
        and this read (on PostgreSQL, another transaction's): then that job's insert is tried
        again, a bounded number of times."""
        keyed = {job.unique_key: row for job, row in zip(jobs, rows) if job.unique_key}
        if not keyed:
            return {}
        holders: dict[str, str] = {}  # unique key -> holder's id
        unheld = list(keyed)
        for _ in range(_UNIQUE_TRIES):
            for found in self._rows("unique_holders", {"keys": self._list(unheld)}):
                holders[found["unique_key"]] = found["id"]
            unheld = [key for key in unheld if key not in holders]
            if not unheld:
                break
            for key in unheld:
                self._rows("insert_job", keyed[key])
        else:
            raise Conflict(f"unique key {quote(unheld[0])} keeps changing hands: try again")
        return {
            job.id: holders[job.unique_key]
            for job in jobs
            if job.unique_key and holders[job.unique_key] != job.id
        }

    def _add_locks(self, locks: Iterable[str | None]) -> None:
        """The gate of each lock jobs take, made on first use (or again, once pruned):
        without it none of its jobs would run."""
        for lock in sorted({lock for lock in locks if lock is not None}):
            self._rows("add_lock", {"lock": lock})

    def _limit_group(self, group: str, max_running: int) -> None:
        """At most `max_running` of the group's jobs processing at once, from now on. While
        the group has unfinished jobs, a group without a limit cannot be given one (its
        running jobs were not counted), nor a limited one another limit (the jobs enqueued
        under the first would run past it)."""
        limit = self._row("group_limit", {"group": group})
        if limit is not None and limit["max_running"] == max_running:
            return
        if any(state not in TERMINAL for _, state in self.group_members(group)):
            had = "no limit" if limit is None else f"a limit of {limit['max_running']}"
            raise Conflict(
                f"group {quote(group)} has unfinished jobs and {had} on how many run at "
                f"once: give it {'no %N' if limit is None else '%' + str(limit['max_running'])}"
                " or use another group"
            )
        self._rows("set_group_limit", {"group": group, "max_running": max_running})

    # --- dependencies (SPEC §7) --------------------------------------------------------

    def _dependencies_of(self, jobs: Sequence[NewJob]) -> dict[str, list[tuple[str, str]]]:
        """Each job's dependencies as (id, condition), `group:NAME` expanded to the jobs of
        that group as this transaction sees them (the batch's too). Refuses (changing
        nothing) an unknown job or group, a cycle, and a condition that can never be met."""
        in_batch = {job.id: job for job in jobs}
        groups = {
            entry["id"][len("group:") :]
            for job in jobs
            for entry in job.after
            if entry["id"].startswith("group:")
        }
        members: dict[str, list[str]] = {group: [] for group in groups}
        if groups:
            for row in self._rows("group_members", {"groups": self._list(sorted(groups))}):
                members[row["group"]].append(row["id"])
            for job in jobs:
                if job.group in members:
                    members[job.group].append(job.id)
        waits: dict[str, list[tuple[str, str]]] = {}
        for job in jobs:
            expanded: dict[tuple[str, str], None] = {}  # in order, without repeats
            for entry in job.after:
                if entry["id"].startswith("group:"):
                    group = entry["id"][len("group:") :]
                    if not members[group]:
                        raise NotFound(f"job {quote(job.id)}: no job in group {quote(group)}")
                    for dep in members[group]:
                        expanded[(dep, entry["on"])] = None
                else:
                    expanded[(entry["id"], entry["on"])] = None
            if expanded:
                waits[job.id] = list(expanded)
        cycle = dependency_cycle(
            {job_id: [dep for dep, _ in deps if dep in in_batch] for job_id, deps in waits.items()}
        )
        if cycle:
            raise Conflict(f"the dependencies form a cycle: {' -> '.join(map(quote, cycle))}")
        return waits

    def _wait_for(self, waits: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        """Record each waiting job's unmet conditions and count them on it. Every job named
        must be in the store by now (an enqueue's batch is inserted first). Refuses, in the
        transaction, an unknown dependency and one that ended in a state its condition does
        not accept. On PostgreSQL the dependencies' rows stay locked until commit, so none
        of them ends unseen meanwhile."""
        deps = sorted({dep for entries in waits.values() for dep, _ in entries})
        states = {
            row["id"]: row["state"] for row in self._rows("states_of", {"ids": self._list(deps)})
        }
        unmet = []
        for job_id, entries in waits.items():
            for dep, on in entries:
                if dep not in states:
                    raise NotFound(f"job {quote(job_id)}: no job with id {quote(dep)} to wait for")
                if states[dep] not in TERMINAL:
                    unmet.append({"dep_id": dep, "job_id": job_id, "condition": on})
                elif states[dep] not in ACCEPTS[on]:
                    raise Conflict(
                        f"job {quote(job_id)} can never run: it waits for {quote(dep)} to "
                        f"{_CONDITION_TEXT[on]}, and {quote(dep)} is {states[dep]}"
                    )
        if not unmet:
            return
        self._many("insert_dependency", unmet)
        self._rows("mark_awaited", {"ids": self._list(sorted({row["dep_id"] for row in unmet}))})
        self._rows("count_waiting", {"ids": self._list(sorted({row["job_id"] for row in unmet}))})

    def _settle_dependents(self, job_id: str, state: str, now: float) -> None:
        """A job ended in `state`: the jobs waiting on it whose condition that meets are one
        step nearer to running; those it fails are canceled, and so in turn are the jobs
        waiting on them whose conditions their cancel fails (SPEC §7: never wait forever)."""
        ended = [(job_id, state)]
        released = False
        while ended:
            dep_id, dep_state = ended.pop()
            accepted = self._list([on for on, states in ACCEPTS.items() if dep_state in states])
            key = {"dep_id": dep_id, "accepted": accepted}
            self._rows("lock_dependents", {"dep_id": dep_id})
            rows = self._rows("release_dependents", {**key, "now": ms(now)})
            released = released or any(row["waiting_on"] == 0 for row in rows)
            doomed = [row["job_id"] for row in self._rows("doomed_dependents", key)]
            self._rows("forget_dependency", {"dep_id": dep_id})
            if doomed:
                canceled = self._rows(
                    "cancel_doomed",
                    {
                        "ids": self._list(doomed),
                        "last_error": f"dependency {quote(dep_id)} ended {dep_state}",
                        "now": ms(now),
                    },
                )
                ids = [row["id"] for row in canceled]
                self._rows("forget_waits", {"ids": self._list(ids)})
                ended += [(canceled_id, CANCELED) for canceled_id in ids]
        if released:
            self._announce("dependencies met")

    def _duplicate_id(self, jobs: Sequence[NewJob]) -> str:
        """Which id made an enqueue fail: one given twice, or one already stored."""
        seen = set()
        for job in jobs:
            if job.id in seen:
                return job.id
            seen.add(job.id)
        row = self._row("existing_ids", {"ids": self._list([job.id for job in jobs])})
        return row["id"] if row else "?"

    # --- claiming and running ----------------------------------------------------------

    def claim(
        self, worker_id: str, queues: Sequence[str] | None, now: float, lease_seconds: float
    ) -> Job | None:
        row = self._row(
            "claim",
            {
                "worker_id": worker_id,
                "now": ms(now),
                "lease_until": ms(now + lease_seconds),
                "queues": self._queues(queues),
            },
            queues,
        )
        return job_from_row(row) if row else None

    def next_run_at(self, queues: Sequence[str] | None) -> float | None:
        row = self._row("next_run_at", {"queues": self._queues(queues)}, queues)
        return seconds(row["run_at"]) if row else None

    def record_start(self, lease: Lease, host: str, pgid: int, started_at: float) -> None:
        self._rows(
            "record_start",
            {
                "job_id": lease.job_id,
                "number": lease.attempt_number,
                "worker_id": lease.worker_id,
                "host": host,
                "pgid": pgid,
                "started_at": ms(started_at),
            },
        )

    def heartbeat(
        self, worker_id: str, lease: Lease | None, now: float, lease_seconds: float
    ) -> Heartbeat:
        with self._transaction():
            worker = self._row("touch_worker", {"worker_id": worker_id, "now": ms(now)})
            job = None
            if lease is not None:
                job = self._row(
                    "extend_lease", {**lease_params(lease), "lease_until": ms(now + lease_seconds)}
                )
        return Heartbeat(
            registered=worker is not None,
            stop_requested=bool(worker and worker["stop_requested"]),
            lease_held=job is not None,
            cancel_requested=bool(job and job["cancel_requested"]),
        )

    def job_flags(self, lease: Lease) -> tuple[bool, bool]:
        row = self._row("job_flags", lease_params(lease))
        return (row is not None, bool(row and row["cancel_requested"]))

    def stop_requested(self, worker_id: str) -> bool:
        row = self._row("stop_requested", {"worker_id": worker_id})
        return bool(row and row["stop_requested"])

    def append_output(self, lease: Lease, offset: int, data: bytes, keep_from: int) -> None:
        key = {"job_id": lease.job_id, "number": lease.attempt_number}
        with self._transaction():
            self._rows("append_output", {**key, "start": offset, "data": data})
            self._rows("trim_output", {**key, "keep_from": keep_from})

    def finish(
        self,
        lease: Lease,
        transition: Transition,
        attempt: Attempt,
        now: float,
        keep_pgid: bool = False,
    ) -> bool:
        with self._transaction():
            return self._finish(lease, transition, attempt, now, keep_pgid)

    def finish_and_claim(
        self,
        lease: Lease,
        transition: Transition,
        attempt: Attempt,
        now: float,
        queues: Sequence[str] | None,
        lease_seconds: float,
    ) -> tuple[bool, Job | None]:
        with self._transaction():
            applied = self._finish(lease, transition, attempt, now, keep_pgid=False)
            return applied, self.claim(lease.worker_id, queues, now, lease_seconds)

    def _finish(
        self, lease: Lease, transition: Transition, attempt: Attempt, now: float, keep_pgid: bool
    ) -> bool:
        finished = self._row(
            "finish_job",
            {
                **lease_params(lease),
                "state": transition.state,
                "attempts": transition.attempts,
                "run_at": ms(transition.run_at),
                "exit_code": transition.exit_code,
                "last_error": transition.last_error,
                "finished_at": ms(transition.finished_at),
                "now": ms(now),
            },
        )
        if finished is None:
            return False
        self._rows(
            "upsert_attempt",
            {
                **attempt_params(attempt),
                "job_id": lease.job_id,
                "number": lease.attempt_number,
                "worker_id": lease.worker_id,
                "outcome": transition.state,
                "keep_pgid": keep_pgid,
            },
        )
        self._rows("drop_chunks", {"job_id": lease.job_id, "number": lease.attempt_number})
        if finished["awaited"] and transition.state in TERMINAL:
            self._settle_dependents(lease.job_id, transition.state, now)
        if finished["gate"] is not None:
            self._announce("slot freed")  # a worker idle behind that gate may claim now
        return True

    # --- recovery ----------------------------------------------------------------------

    def expired_jobs(self, now: float, limit: int = 100) -> list[Job]:
        rows = self._rows("expired_jobs", {"now": ms(now), "limit": limit})
        return [job_from_row(row) for row in rows]

    def held_jobs(self, worker_id: str) -> list[Job]:
        return [job_from_row(row) for row in self._rows("held_jobs", {"worker_id": worker_id})]

    def stray_attempts(self, host: str) -> list[StrayAttempt]:
        return [
            StrayAttempt(row["job_id"], row["number"], row["worker_id"], row["pgid"])
            for row in self._rows("stray_attempts", {"host": host})
        ]

    def forget_pgid(self, job_id: str, number: int) -> None:
        self._rows("forget_pgid", {"job_id": job_id, "number": number})

    def live_output(self, job_id: str, number: int) -> tuple[bytes, int]:
        chunks = self.output_chunks(job_id, number, 0)
        if not chunks:
            return b"", 0
        return tail_of_chunks(chunks, chunks[0][0])

    # --- admin -------------------------------------------------------------------------

    def _jobs_of(self, job_ids: Sequence[str]) -> list[Job]:
        """The jobs of those ids that exist, in enqueue order: one query for a group."""
        return [job_from_row(row) for row in self._rows("jobs_of", {"ids": self._list(job_ids)})]

    def _states_of(self, job_ids: Sequence[str]) -> dict[str, str]:
        states = {
            row["id"]: row["state"] for row in self._rows("states_of", {"ids": self._list(job_ids)})
        }
        for job_id in job_ids:
            if job_id not in states:
                raise NotFound(f"no job with id {quote(job_id)}")
        return states

    def cancel(self, job_ids: Sequence[str], now: float) -> dict[str, str]:
        params = {"ids": self._list(job_ids), "now": ms(now)}
        with self._transaction():
            states = self._states_of(job_ids)
            for job_id in job_ids:
                if states[job_id] in TERMINAL:
                    raise Conflict(
                        f"job {quote(job_id)} is {states[job_id]}: only pending, failed "
                        "or processing jobs can be canceled"
                    )
            canceled = [row["id"] for row in self._rows("cancel_waiting", params)]
            self._rows("cancel_running", params)
            self._ended_waiting(canceled, CANCELED, now)
        return {
            job_id: "requested" if states[job_id] == "processing" else "canceled"
            for job_id in job_ids
        }

    def _ended_waiting(self, job_ids: Sequence[str], state: str, now: float) -> None:
        """Jobs that ended without running: what they waited for no longer matters, and
        what waits for them is settled."""
        if not job_ids:
            return
        self._rows("forget_waits", {"ids": self._list(job_ids)})
        for job_id in job_ids:
            self._settle_dependents(job_id, state, now)

    def _require_states(
        self, job_ids: Sequence[str], allowed: Sequence[str], verb: str
    ) -> dict[str, str]:
        states = self._states_of(job_ids)
        for job_id in job_ids:
            if states[job_id] not in allowed:
                raise Conflict(
                    f"job {quote(job_id)} is {states[job_id]}: only {_either(allowed)} jobs "
                    f"can be {verb}"
                )
        return states

    def hold(self, job_ids: Sequence[str], held: bool, now: float) -> None:
        with self._transaction():
            self._require_states(job_ids, WAITING, "released" if not held else "held")
            if not held:
                for job in self._jobs_of(job_ids):
                    if not job.held:
                        raise Conflict(f"job {quote(job.id)} is not held: nothing to release")
            self._rows("set_held", {"ids": self._list(job_ids), "held": held, "now": ms(now)})
            if not held:
                self._announce("release")

    def edit(self, job: NewJob, now: float) -> None:
        with self._transaction():
            # The gates first, the job's row then: the order of pause, limit and import
            # (PostgreSQL: the other order deadlocks with them).
            self._rows("read_gates")
            self._require_states([job.id], WAITING, "edited")
            self._add_locks([job.lock])
            self._rows("edit_job", new_job_params(job, now))
            self._announce("edit")

    def requeue(self, job_ids: Sequence[str], now: float) -> list[str]:
        try:
            with self._transaction():
                self._require_states(job_ids, TERMINAL, "requeued")
                return self._requeue(job_ids, now)
        except self._duplicate_key:
            raise self._unique_clash(job_ids) from None

    def _unique_clash(self, job_ids: Sequence[str]) -> Conflict:
        """Why a requeue broke the unique index (after its transaction rolled back): a job's
        key is held by another live job, or two of the jobs share one."""
        row = self._row("unique_clashes", {"ids": self._list(job_ids)})
        if row is None:
            return Conflict("two of these jobs have the same unique key: requeue one of them")
        return Conflict(
            f"job {quote(row['id'])} cannot be requeued: its unique key "
            f"{quote(row['unique_key'])} is held by job {quote(row['holder'])}"
        )

    def _requeue(self, job_ids: Sequence[str], now: float) -> list[str]:
        if not job_ids:
            return []
        ids = self._list(job_ids)
        self._rows("read_gates")
        moved = [row["id"] for row in self._rows("requeue", {"ids": ids, "now": ms(now)})]
        # Their dependencies are waited for again, as at enqueue: those requeued here too are
        # pending now, so their dependents wait for them; one that can no longer meet its
        # condition refuses the whole requeue.
        self._rows("forget_waits", {"ids": ids})
        jobs = self._jobs_of(moved)
        self._add_locks(job.lock for job in jobs)
        # A dependency purged since ended long ago, and its end was settled then.
        kept = self.job_states([entry["id"] for job in jobs for entry in job.after])
        waits = {
            job.id: [(entry["id"], entry["on"]) for entry in job.after if entry["id"] in kept]
            for job in jobs
            if any(entry["id"] in kept for entry in job.after)
        }
        if waits:
            self._wait_for(waits)
        self._announce("requeue")
        return moved

    def retry_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        try:
            return self._retry_dead(job_ids, now)
        except self._duplicate_key:
            raise self._unique_clash(job_ids or []) from None

    def _retry_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        with self._transaction():
            if job_ids is None:
                job_ids = [row["id"] for row in self._rows("dead_ids")]
            else:
                states = self._states_of(job_ids)
                for job_id in job_ids:
                    if states[job_id] != "dead":
                        raise Conflict(
                            f"job {quote(job_id)} is {states[job_id]}, not dead: only "
                            "dead jobs can be retried"
                        )
            return self._requeue(job_ids, now)

    def purge(self, states: Sequence[str], finished_before: float | None) -> int:
        params = {
            "states": self._list(states),
            "before": FOREVER_MS if finished_before is None else ms(finished_before),
        }
        with self._transaction():
            self._rows("purge_attempts", params)
            self._rows("purge_chunks", params)
            return self._count("purge_jobs", params)

    # --- reads -------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job:
        row = self._row("get_job", {"job_id": job_id})
        if row is None:
            raise NotFound(f"no job with id {quote(job_id)}")
        return job_from_row(row)

    def list_jobs(
        self,
        state: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        offset: int = 0,
        group: str | None = None,
        schedule: str | None = None,
    ) -> list[Job]:
        # One WHERE per combination: "(state IS NULL OR state = ...)" would keep the
        # planner from the index that serves each filter.
        where = filters(
            (f"state = {self._param('state')}", state),
            (f"queue = {self._param('queue')}", queue),
            (f'"group" = {self._param("group")}', group),
            (f"schedule = {self._param('schedule')}", schedule),
        )
        params = {"state": state, "queue": queue, "group": group, "schedule": schedule}
        rows = self._rows("list_jobs", {**params, "limit": limit, "offset": offset}, where=where)
        return [job_from_row(row) for row in rows]

    def group_members(self, group: str) -> list[tuple[str, str]]:
        rows = self._rows("group_members", {"groups": self._list([group])})
        return [(row["id"], row["state"]) for row in rows]

    def group_limit(self, group: str) -> tuple[int, int] | None:
        row = self._row("group_limit", {"group": group})
        return None if row is None else (row["max_running"], row["running"])

    def gates(self) -> list[Gate]:
        return [gate_from_row(row) for row in self._rows("gates")]

    def prune_lock_gates(self) -> int:
        try:
            with self._transaction():
                self._lock_gates_briefly()
                return self._count("prune_lock_gates", {})
        except GatesBusy:
            return 0  # the next prune will do

    def _lock_gates_briefly(self) -> None:
        """lock_gates, for a chore that may wait: PostgreSQL raises `GatesBusy` rather than
        wait long, as every claim would queue behind the wait."""
        self._rows("lock_gates")

    def gate(self, name: str) -> Gate | None:
        row = self._row("gate", {"name": name})
        return None if row is None else gate_from_row(row)

    def gate_holders(self, name: str) -> list[str]:
        kind, _, value = name.partition(":")
        query, param = _HOLDERS[kind]
        return [row["id"] for row in self._rows(query, {param: value})]

    def pause_queues(self, queues: Sequence[str]) -> list[str]:
        paused_already = []
        with self._transaction():
            self._rows("lock_gates")
            for queue in queues:
                gate = self._row("gate", {"name": "queue:" + queue})
                if gate is not None and gate["paused"]:
                    paused_already.append(queue)
                    continue
                self._rows("gate_queue", {"queue": queue})
                self._rows("pause_queue", {"queue": queue})
        return paused_already

    def resume_queues(self, queues: Sequence[str]) -> list[str]:
        not_paused = []
        with self._transaction():
            self._rows("lock_gates")
            for queue in queues:
                gate = self._row("resume_queue", {"queue": queue})
                if gate is None:
                    not_paused.append(queue)
                else:
                    self._drop_open_queue_gate(queue, gate)
            if len(not_paused) < len(queues):
                self._announce("queue flow")
        return not_paused

    def limit_queue(self, queue: str, max_running: int | None) -> None:
        with self._transaction():
            self._rows("lock_gates")
            if max_running is not None:
                self._rows("gate_queue", {"queue": queue})
                self._rows("limit_queue", {"queue": queue, "max_running": max_running})
            else:
                gate = self._row("unlimit_queue", {"queue": queue})
                if gate is not None:
                    self._drop_open_queue_gate(queue, gate)
            self._announce("queue flow")

    def _drop_open_queue_gate(self, queue: str, gate: Row) -> None:
        """A queue neither paused nor limited has no gate: its jobs go back to the plain
        claim index."""
        if not gate["paused"] and gate["max_running"] is None:
            self._rows("drop_queue_gate", {"queue": queue})
            self._rows("ungate_queue", {"queue": queue})

    def group_counts(self, group: str) -> dict[str, int]:
        return {row["state"]: row["n"] for row in self._rows("group_counts", {"group": group})}

    def groups(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for row in sorted(self._rows("groups"), key=lambda row: row["group"]):
            result.setdefault(row["group"], {})[row["state"]] = row["n"]
        return result

    def dependents(self, job_id: str, limit: int) -> list[str]:
        return [row["id"] for row in self._rows("dependents", {"job_id": job_id, "limit": limit})]

    def job_states(self, job_ids: Sequence[str]) -> dict[str, str]:
        rows = self._rows("job_states", {"ids": self._list(job_ids)}) if job_ids else []
        return {row["id"]: row["state"] for row in rows}

    def attempts(self, job_id: str) -> list[Attempt]:
        attempts = [attempt_from_row(row) for row in self._rows("attempts", {"job_id": job_id})]
        for attempt in attempts:
            if attempt.finished_at is None:
                attempt.output, attempt.output_total = self.live_output(job_id, attempt.number)
        return attempts

    def output_chunks(self, job_id: str, number: int, offset: int) -> list[tuple[int, bytes]]:
        rows = self._rows("chunks", {"job_id": job_id, "number": number, "start": offset})
        return [(row["start"], bytes(row["data"])) for row in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for row in self._rows("counts"):
            result.setdefault(row["queue"], {})[row["state"]] = row["n"]
        return result

    def finished_attempts(self, since: float) -> list[FinishedAttempt]:
        return [
            FinishedAttempt(
                row["queue"],
                row["outcome"],
                seconds(row["started_at"]),
                row["finished_at"] / 1000.0,
                _cpu_seconds(row["cpu_user"], row["cpu_system"]),
                row["max_rss"],
            )
            for row in self._rows("finished_attempts", {"since": ms(since)})
        ]

    def attempt_log(
        self,
        limit: int,
        since: float | None = None,
        queue: str | None = None,
        group: str | None = None,
        outcome: str | None = None,
    ) -> list[LoggedAttempt]:
        where, params = self._log_filters(since, queue, group, outcome)
        return [
            LoggedAttempt(attempt_from_row(row), row["queue"], row["group"])
            for row in self._rows("attempt_log", {**params, "limit": limit}, where=where)
        ]

    def _log_filters(
        self, since: float | None, queue: str | None, group: str | None, outcome: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The job log's WHERE, one per combination of filters (as in `list_jobs`), and
        its parameters. The job's queue and group are looked up for each attempt walked: a
        condition on the joined job would have SQLite (3.38+) first build a Bloom filter
        from every job of that queue or group, a cost that grows with the store."""
        job = f"{self._jobs_table} WHERE id = a.job_id"
        where = filters(
            ("a.outcome IS NOT NULL", True),
            (f"a.finished_at >= {self._param('since')}", since),
            (f"(SELECT queue FROM {job}) = {self._param('queue')}", queue),
            (f'(SELECT "group" FROM {job}) = {self._param("group")}', group),
            (f"a.outcome = {self._param('outcome')}", outcome),
        )
        since_ms = None if since is None else ms(since)
        return where, {"since": since_ms, "queue": queue, "group": group, "outcome": outcome}

    def throughput(self, since: float, bucket_seconds: int) -> list[tuple[float, str, int]]:
        rows = self._rows(
            "throughput", {"since": ms(since), "bucket_ms": int(bucket_seconds * 1000)}
        )
        return [(row["bucket"] / 1000.0, row["outcome"], row["n"]) for row in rows]

    def attempt_counts(self) -> dict[str, int]:
        return {row["outcome"]: row["n"] for row in self._rows("attempt_counts")}

    # --- schedules (SPEC §8) ------------------------------------------------------------

    def add_schedule(self, schedule: Schedule) -> None:
        try:
            self._rows(
                "add_schedule", {**schedule_params(schedule), "now": ms(schedule.created_at)}
            )
        except self._duplicate_key:
            raise Conflict(
                f"a schedule named {quote(schedule.name)} exists already: remove it first, "
                "or choose another name"
            ) from None

    def schedules(self) -> list[Schedule]:
        return [schedule_from_row(row) for row in self._rows("schedules")]

    def get_schedule(self, name: str) -> Schedule:
        row = self._row("get_schedule", {"name": name})
        if row is None:
            raise _no_schedule(name)
        return schedule_from_row(row)

    def due_schedules(self, now: float) -> list[Schedule]:
        return [schedule_from_row(row) for row in self._rows("due_schedules", {"now": ms(now)})]

    def fire_schedule(self, firing: Firing, now: float) -> list[Tick]:
        try:
            return self._fire_schedule(firing, now)
        except self._duplicate_key:  # a run's random id taken: nothing was stored
            raise Conflict(
                f"a run of schedule {quote(firing.schedule)} got a job id in use"
            ) from None

    def _fire_schedule(self, firing: Firing, now: float) -> list[Tick]:
        with self._transaction():
            row = self._row("lock_schedule", {"name": firing.schedule})
            if row is None or row["paused"] or row["fired_through"] != ms(firing.seen_through):
                return []
            runs, skipped = list(firing.runs), list(firing.skipped)
            if runs and firing.skip_if_running and self._running(row["last_job"]):
                skipped += [(tick, "overlap") for tick, _ in runs]
                runs = []
            ticks = [Tick(firing.schedule, tick, job.id, ENQUEUED, None, now) for tick, job in runs]
            ticks += [
                Tick(firing.schedule, tick, None, SKIPPED, reason, now) for tick, reason in skipped
            ]
            recorded = [tick for tick in ticks if self._count("insert_tick", tick_params(tick))]
            new_ids = {tick.job for tick in recorded if tick.job is not None}
            jobs = [job for _, job in runs if job.id in new_ids]
            if jobs:
                self._insert_jobs(jobs, now)
            self._rows(
                "advance_schedule",
                {
                    "name": firing.schedule,
                    "fired_through": ms(firing.through),
                    "next_fire_at": ms(firing.next_fire_at),
                    "last_job": jobs[-1].id if jobs else None,
                },
            )
            self._rows("prune_ticks", {"schedule": firing.schedule, "keep": TICKS_KEPT})
        return sorted(recorded, key=lambda tick: tick.tick)

    def _running(self, job_id: str | None) -> bool:
        """Whether that job is pending, failed or processing (a purged one has ended)."""
        return job_id is not None and self.job_states([job_id]).get(job_id) in LIVE

    def run_schedule(self, name: str, job: NewJob, now: float) -> None:
        try:
            with self._transaction():
                if self._row("lock_schedule", {"name": name}) is None:
                    raise _no_schedule(name)
                self._insert_jobs([job], now)
                self._rows("set_last_job", {"name": name, "last_job": job.id})
        except self._duplicate_key:
            raise DuplicateId(job.id) from None

    def pause_schedule(
        self, name: str, paused: bool, now: float, next_fire_at: float | None
    ) -> bool:
        with self._transaction():
            row = self._row("lock_schedule", {"name": name})
            if row is None:
                raise _no_schedule(name)
            if paused:
                self._rows("pause_schedule", {"name": name, "paused": True})
            elif row["paused"]:
                params = {"name": name, "paused": False, "now": ms(now)}
                self._rows("resume_schedule", {**params, "next_fire_at": ms(next_fire_at)})
            return bool(row["paused"])

    def remove_schedule(self, name: str) -> None:
        with self._transaction():
            if not self._count("remove_schedule", {"name": name}):
                raise _no_schedule(name)
            self._rows("forget_ticks", {"schedule": name})

    def schedule_ticks(self, name: str, outcome: str, limit: int) -> list[Tick]:
        rows = self._rows("schedule_ticks", {"schedule": name, "outcome": outcome, "limit": limit})
        return [tick_from_row(row) for row in rows]

    # --- hooks (SPEC §9) ----------------------------------------------------------------

    def take_hook_duties(self, limit: int) -> list[HookDuty]:
        row = self._row("hook_duties_waiting")
        if row is None or not row["waiting"]:  # a read: the poll of idle pools costs no write
            return []
        rows = sorted(self._rows("take_hook_duties", {"limit": limit}), key=lambda r: r["seq"])
        return [hook_duty_from_row(row) for row in rows]

    # --- moving a store (SPEC §10) ------------------------------------------------------

    def export(
        self, states: Sequence[str] | None, group: str | None, with_output: bool
    ) -> Iterator[JobExport | StoreSettings]:
        from queuectl.store import porting  # here: only export and import need it

        return porting.export(self, states, group, with_output)

    def import_parts(
        self, parts: Iterable[Sequence[JobExport] | StoreSettings], now: float
    ) -> None:
        from queuectl.store import porting

        porting.import_parts(self, parts, now)

    # --- workers -----------------------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> None:
        self._rows(
            "register_worker",
            {
                "id": worker.id,
                "host": worker.host,
                "pid": worker.pid,
                "pool": worker.pool,
                "queues": to_json(worker.queues) if worker.queues else None,
                "started_at": ms(worker.started_at),
                "heartbeat_at": ms(worker.heartbeat_at),
                "doorbell": worker.doorbell,
            },
        )

    def deregister_worker(self, worker_id: str) -> None:
        self._rows("deregister_worker", {"worker_id": worker_id})

    def list_workers(self) -> list[WorkerInfo]:
        return [worker_from_row(row) for row in self._rows("list_workers")]

    def request_stop(self, worker_ids: Sequence[str]) -> None:
        with self._transaction():
            self._rows("request_stop", {"ids": self._list(worker_ids)})
            self._announce(STOP_ANNOUNCEMENT)

    def request_pool_stop(self, pool: str | None, now: float) -> None:
        self._rows("request_pool_stop", {"pool": pool or "*", "now": ms(now)})

    def pool_stop_requested(self, pool: str, since: float) -> bool:
        return self._row("pool_stop_requested", {"pool": pool, "since": ms(since)}) is not None

    # --- config ------------------------------------------------------------------------

    def config_values(self) -> dict[str, object]:
        return {row["key"]: from_json(row["value"]) for row in self._rows("config_values")}

    def config_set(self, key: str, value: object) -> None:
        self._rows("config_set", {"key": key, "value": to_json(value)})

    def config_unset(self, key: str) -> None:
        self._rows("config_unset", {"key": key})


def _cpu_seconds(user: float | None, system: float | None) -> float | None:
    return None if user is None or system is None else user + system
