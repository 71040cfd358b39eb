"""The PostgreSQL store (``pip install 'queuectl[postgres]'``): workers on many hosts.

The same domain operations as the SQLite store, on psycopg 3. Connections run in autocommit:
single statements commit on their own, and multi-statement writes run inside
``conn.transaction()``. A claim is one statement, an ``UPDATE`` fed by a CTE that selects
``FOR UPDATE SKIP LOCKED``, so claimers never wait on each other's rows. Idle workers sleep on
``LISTEN/NOTIFY`` (an enqueue notifies once per transaction), with the poll as the fallback.

psycopg is imported here only, so the default install needs nothing beyond the stdlib.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import select
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Callable
from urllib.parse import unquote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from queuectl.errors import Conflict, NotFound, StoreError
from queuectl.lifecycle import Transition
from queuectl.model import TERMINAL, Attempt, Job, Lease, NewJob, WorkerInfo
from queuectl.store import display_location, queries
from queuectl.store.base import FinishedAttempt, Heartbeat, RunTimes, Store, StrayAttempt, Waiter
from queuectl.store.rows import (
    FOREVER_MS,
    attempt_from_row,
    filters,
    job_from_row,
    lease_params,
    ms,
    seconds,
    statements,
    tail_of_chunks,
    worker_from_row,
)

SCHEMA_VERSION = 2
# pg_advisory_xact_lock(MIGRATION_LOCK, hashtext(schema)): taken by the transaction that
# creates or upgrades the schema, so hosts that start at once migrate one after the other.
MIGRATION_LOCK = 0x71756575  # "queu"
CONNECT_TIMEOUT = 10  # seconds, unless the URL sets connect_timeout
CLOCK_REFRESH = 30.0  # seconds between readings of the server's clock
NOTIFY_SLICE = 0.1  # seconds between checks of `interrupted` while waiting for a NOTIFY
RELISTEN_INTERVAL = 1.0  # seconds between attempts to restore a lost LISTEN connection

DatabaseErrors = (psycopg.OperationalError, psycopg.InterfaceError)
# Single statements that may run twice with the same effect (reads, upserts, deletes by key):
# sent again once on a new connection when the old one turns out to be broken.
REPEATABLE = frozenset({
    "existing_ids", "next_run_at", "job_flags", "stop_requested", "expired_jobs", "held_jobs",
    "stray_attempts", "chunks", "get_job", "list_jobs", "attempts", "counts",
    "finished_attempts", "throughput", "attempt_counts", "list_workers", "config_values",
    "record_start", "forget_pgid", "register_worker", "deregister_worker", "config_set",
    "config_unset",
})
# Statements run by `_rows` that store their parameters (validated upstream) rather than only
# match rows by them. (finish_job and purge_jobs go through `_count`, untouched.)
STORES_VALUES = frozenset({"insert_job", "record_start", "append_output", "upsert_attempt",
                           "register_worker", "config_set"})
_USERINFO_PASSWORD = re.compile(r"^[^:/]+://[^:/@]*:([^@]*)@")


def _connect(url: str) -> psycopg.Connection:
    settings = conninfo_to_dict(url)
    extra: dict[str, Any] = {}
    if "connect_timeout" not in settings:
        extra["connect_timeout"] = CONNECT_TIMEOUT
    if "application_name" not in settings:
        extra["application_name"] = "queuectl"
    return psycopg.connect(url, autocommit=True, row_factory=dict_row, **extra)


def _one_line(exc: BaseException, url: str) -> str:
    """The first line of a psycopg error, with the URL's password (if any) masked."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()),
                type(exc).__name__)
    passwords = set(_USERINFO_PASSWORD.findall(url))
    with suppress(psycopg.Error):
        passwords.add(conninfo_to_dict(url).get("password") or "")
    for password in sorted(passwords - {""}, key=len, reverse=True):
        text = text.replace(password, "***").replace(unquote(password), "***")
    return text


def _matchable(params: dict[str, Any]) -> dict[str, Any] | None:
    """`params` of a statement that looks rows up, without the strings no row can hold:
    PostgreSQL text cannot contain NUL, so such a value matches nothing (SQLite would find
    nothing either). None if a single-value parameter holds one: the statement matches no
    row at all."""
    cleaned = dict(params)
    for key, value in params.items():
        if isinstance(value, str) and "\0" in value:
            return None
        if isinstance(value, list) and any(isinstance(v, str) and "\0" in v for v in value):
            cleaned[key] = [v for v in value if not (isinstance(v, str) and "\0" in v)]
    return cleaned


def _readable(conn: psycopg.Connection) -> bool:
    try:
        ready, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(ready)


def _channel(schema: str) -> str:
    """The NOTIFY channel of the store in `schema`. LISTEN is database-wide, so the schema is
    part of the name: stores in other schemas of the same database do not wake each other."""
    channel = f"queuectl_{schema}"
    if len(channel.encode()) > 63:  # identifiers are cut at 63 bytes; pg_notify refuses more
        channel = "queuectl_" + hashlib.sha1(schema.encode()).hexdigest()[:20]
    return channel


class PostgresStore(Store):
    def __init__(self, location: str, durable: bool = True) -> None:
        self.location = location
        self._durable = durable
        self._q = queries.load("postgres")
        self._closed = False
        self._depth = 0  # open transactions: a broken connection is not replaced inside one
        self._clock_at = (0.0, -math.inf)  # (server epoch seconds, local monotonic)
        self._last_now = 0.0
        try:
            self._conn = self._open()
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the store {self._display()}: "
                             f"{_one_line(exc, location)}") from None
        try:
            schema = self._conn.execute("SELECT current_schema() AS schema").fetchone()["schema"]
            if schema is None:
                raise StoreError(f"cannot open the store {self._display()}: no schema of its "
                                 "search_path exists")
            self._channel = _channel(schema)
            self._migrate()
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, psycopg.Error):
                raise StoreError(f"cannot open the store {self._display()}: "
                                 f"{_one_line(exc, location)}") from None
            raise

    # --- plumbing ----------------------------------------------------------------------

    def _display(self) -> str:
        return display_location(self.location)

    def _open(self) -> psycopg.Connection:
        conn = _connect(self.location)
        # on: a commit that accepts user input returns once its WAL is flushed to disk.
        # off (workers): a server crash may lose the last few hundred milliseconds of
        # claims and completions; such a job is recovered by its lease and runs again
        # (at-least-once, as with SQLite's synchronous=NORMAL), and none is lost.
        conn.execute(f"SET synchronous_commit = {'on' if self._durable else 'off'}")
        return conn

    def _migrate(self) -> None:
        version = self._schema_version()
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise self._too_new(version)
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                               [MIGRATION_LOCK])
            version = self._schema_version()  # another host may have migrated meanwhile
            if version > SCHEMA_VERSION:
                raise self._too_new(version)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in statements(self._q[f"schema_v{step}"]):
                    self._conn.execute(statement)
            self._conn.execute(
                "INSERT INTO queuectl_meta (key, value) VALUES ('schema_version', %(v)s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                {"v": str(max(version, SCHEMA_VERSION))})

    def _schema_version(self) -> int:
        # A catalog query, not to_regclass(): the latter may answer from this session's
        # cache, which still says "no such table" after another host's migration committed
        # while this one waited for the lock.
        found = self._conn.execute(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = 'queuectl_meta' AND n.nspname = current_schema()) AS found")
        if not found.fetchone()["found"]:
            return 0
        row = self._conn.execute(
            "SELECT value FROM queuectl_meta WHERE key = 'schema_version'").fetchone()
        return int(row["value"]) if row else 0

    def _too_new(self, version: int) -> StoreError:
        return StoreError(f"the store {self._display()} has schema version {version}; this "
                          f"queuectl knows {SCHEMA_VERSION}: upgrade queuectl")

    @contextmanager
    def _guard(self) -> Iterator[psycopg.Connection]:
        """The live connection; a lost server becomes a one-line `StoreError`.

        Between transactions, a connection that the server has closed (a restart, an
        administrator, a proxy's idle timeout) is replaced before it is used, so that a
        process outlives a server restart without a failed claim or heartbeat: an idle
        connection that LISTENs to nothing has nothing to read, so a readable socket means
        the server said goodbye. A break in flight still fails that operation."""
        if self._depth == 0 and not self._closed:
            if not self._conn.closed and _readable(self._conn):
                with suppress(psycopg.Error):
                    self._conn.close()
            if self._conn.closed:
                try:
                    self._conn = self._open()
                except psycopg.Error as exc:
                    raise self._lost(exc) from None
        try:
            yield self._conn
        except DatabaseErrors as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: BaseException) -> StoreError:
        return StoreError(f"cannot use the store {self._display()}: "
                          f"{_one_line(exc, self.location)}")

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        with self._guard() as conn:
            self._depth += 1
            try:
                with conn.transaction():
                    yield conn
            finally:
                self._depth -= 1

    def _sql(self, name: str, queues: Sequence[str] | None = None) -> str:
        text = self._q[name]
        if "/*queues*/" in text:
            clause = "" if queues is None else "AND queue = ANY(%(queues)s::text[])"
            text = text.replace("/*queues*/", clause)
        return text

    def _rows(self, name: str, params: dict[str, Any] | None = None,
              queues: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if name not in STORES_VALUES and params:
            params = _matchable(params)
            if params is None:
                return []
        return self._fetch(self._sql(name, queues), params, repeatable=name in REPEATABLE)

    def _fetch(self, text: str, params: dict[str, Any] | None = None,
               repeatable: bool = False) -> list[dict[str, Any]]:
        try:
            return self._fetch_once(text, params)
        except StoreError:
            # A connection cut since the last statement (a server restart, a proxy's idle
            # timeout) shows only now. A statement that may run twice is sent again, once,
            # on a new connection (the guard opens it): that spares the caller the error.
            if not repeatable or self._depth > 0 or not self._conn.closed:
                raise
        return self._fetch_once(text, params)

    def _fetch_once(self, text: str, params: dict[str, Any] | None) -> list[dict[str, Any]]:
        with self._guard() as conn:
            cursor = conn.execute(text, params)
            return cursor.fetchall() if cursor.description else []

    def _row(self, name: str, params: dict[str, Any] | None = None,
             queues: Sequence[str] | None = None) -> dict[str, Any] | None:
        rows = self._rows(name, params, queues)
        return rows[0] if rows else None

    def _count(self, name: str, params: dict[str, Any]) -> int:
        with self._guard() as conn:
            return conn.execute(self._q[name], params).rowcount

    def _notify(self, reason: str) -> None:
        """One small NOTIFY, delivered when the enclosing transaction commits. (A commit that
        notifies takes a server-wide lock, so state changes of running jobs never do.)"""
        with self._guard() as conn:
            conn.execute("SELECT pg_notify(%(channel)s, %(reason)s)",
                         {"channel": self._channel, "reason": reason})

    def close(self) -> None:
        self._closed = True
        with suppress(psycopg.Error):
            self._conn.close()

    def housekeeping(self) -> None:
        pass  # the server's autovacuum and checkpointer do PostgreSQL's upkeep

    def clock(self) -> float:
        # The server's clock, so that a lease means the same moment on every host. Workers
        # read the clock several times per job, so rather than a query per call, the
        # offset is measured (half a round trip of error) and the local monotonic clock
        # measures the time since, re-read every CLOCK_REFRESH seconds. Never goes back.
        server, local = self._clock_at
        if time.monotonic() - local >= CLOCK_REFRESH:
            before = time.monotonic()
            [row] = self._fetch("SELECT extract(epoch FROM clock_timestamp())::float8 AS now",
                                repeatable=True)
            after = time.monotonic()
            server, local = self._clock_at = (row["now"], (before + after) / 2)
        self._last_now = max(self._last_now, server + time.monotonic() - local)
        return self._last_now

    # --- producers ---------------------------------------------------------------------

    def enqueue(self, jobs: Sequence[NewJob], now: float) -> None:
        rows = [{
            "id": job.id, "command": job.command, "queue": job.queue, "priority": job.priority,
            "max_retries": job.max_retries, "run_at": ms(job.run_at), "timeout": job.timeout,
            "cwd": job.cwd, "env": json.dumps(job.env) if job.env else None, "now": ms(now),
        } for job in jobs]
        try:
            with self._transaction() as conn:
                conn.cursor().executemany(self._q["insert_job"], rows)
                self._notify("enqueue")
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"job id {self._duplicate_id(jobs)!r} already exists") from None

    def _duplicate_id(self, jobs: Sequence[NewJob]) -> str:
        seen = set()
        for job in jobs:
            if job.id in seen:
                return job.id
            seen.add(job.id)
        row = self._row("existing_ids", {"ids": [job.id for job in jobs]})
        return row["id"] if row else "?"

    # --- claiming and running ----------------------------------------------------------

    def claim(self, worker_id: str, queues: Sequence[str] | None, now: float,
              lease_seconds: float) -> Job | None:
        row = self._row("claim", {
            "worker_id": worker_id, "now": ms(now), "lease_until": ms(now + lease_seconds),
            "queues": None if queues is None else list(queues)}, queues)
        return job_from_row(row) if row else None

    def next_run_at(self, queues: Sequence[str] | None) -> float | None:
        row = self._row("next_run_at", {"queues": None if queues is None else list(queues)},
                        queues)
        return seconds(row["run_at"])

    def record_start(self, lease: Lease, host: str, pgid: int, started_at: float) -> None:
        self._rows("record_start", {
            "job_id": lease.job_id, "number": lease.run_no, "worker_id": lease.worker_id,
            "host": host, "pgid": pgid, "started_at": ms(started_at)})

    def heartbeat(self, worker_id: str, lease: Lease | None, now: float,
                  lease_seconds: float) -> Heartbeat:
        with self._transaction():
            worker = self._row("touch_worker", {"worker_id": worker_id, "now": ms(now)})
            job = None
            if lease is not None:
                job = self._row("extend_lease", {
                    **lease_params(lease), "lease_until": ms(now + lease_seconds)})
        return Heartbeat(registered=worker is not None,
                         stop_requested=bool(worker and worker["stop_requested"]),
                         lease_held=job is not None,
                         cancel_requested=bool(job and job["cancel_requested"]))

    def job_flags(self, lease: Lease) -> tuple[bool, bool]:
        row = self._row("job_flags", lease_params(lease))
        return (row is not None, bool(row and row["cancel_requested"]))

    def stop_requested(self, worker_id: str) -> bool:
        row = self._row("stop_requested", {"worker_id": worker_id})
        return bool(row and row["stop_requested"])

    def append_output(self, lease: Lease, offset: int, data: bytes, keep_from: int) -> None:
        key = {"job_id": lease.job_id, "number": lease.run_no}
        with self._transaction():
            self._rows("append_output", {**key, "start": offset, "data": data})
            self._rows("trim_output", {**key, "keep_from": keep_from})

    def finish(self, lease: Lease, transition: Transition, attempt: Attempt, now: float,
               keep_pgid: bool = False) -> bool:
        with self._transaction():
            return self._finish(lease, transition, attempt, now, keep_pgid)

    def finish_and_claim(self, lease: Lease, transition: Transition, attempt: Attempt,
                         now: float, queues: Sequence[str] | None,
                         lease_seconds: float) -> tuple[bool, Job | None]:
        with self._transaction():
            applied = self._finish(lease, transition, attempt, now, keep_pgid=False)
            return applied, self.claim(lease.worker_id, queues, now, lease_seconds)

    def _finish(self, lease: Lease, transition: Transition, attempt: Attempt, now: float,
                keep_pgid: bool) -> bool:
        changed = self._count("finish_job", {
            **lease_params(lease), "state": transition.state,
            "attempts": transition.attempts, "run_at": ms(transition.run_at),
            "exit_code": transition.exit_code, "last_error": transition.last_error,
            "finished_at": ms(transition.finished_at), "now": ms(now),
        })
        if changed != 1:
            return False
        self._rows("upsert_attempt", {
            "job_id": lease.job_id, "number": lease.run_no, "worker_id": lease.worker_id,
            "started_at": ms(attempt.started_at), "finished_at": ms(attempt.finished_at),
            "exit_code": attempt.exit_code, "error": attempt.error,
            "outcome": transition.state, "output": attempt.output,
            "output_total": attempt.output_total, "keep_pgid": keep_pgid,
        })
        self._rows("drop_chunks", {"job_id": lease.job_id, "number": lease.run_no})
        return True

    # --- recovery ----------------------------------------------------------------------

    def expired_jobs(self, now: float, limit: int = 100) -> list[Job]:
        return [job_from_row(row) for row in self._rows("expired_jobs", {"now": ms(now),
                                                                 "limit": limit})]

    def held_jobs(self, worker_id: str) -> list[Job]:
        return [job_from_row(row) for row in self._rows("held_jobs", {"worker_id": worker_id})]

    def stray_attempts(self, host: str) -> list[StrayAttempt]:
        return [StrayAttempt(row["job_id"], row["number"], row["worker_id"], row["pgid"])
                for row in self._rows("stray_attempts", {"host": host})]

    def forget_pgid(self, job_id: str, number: int) -> None:
        self._rows("forget_pgid", {"job_id": job_id, "number": number})

    def live_output(self, job_id: str, number: int) -> tuple[bytes, int]:
        chunks = self.output_chunks(job_id, number, 0)
        if not chunks:
            return b"", 0
        return tail_of_chunks(chunks, chunks[0][0])

    # --- admin -------------------------------------------------------------------------

    def _states_of(self, job_ids: Sequence[str]) -> dict[str, str]:
        states = {row["id"]: row["state"]
                  for row in self._rows("states_of", {"ids": list(job_ids)})}
        for job_id in job_ids:
            if job_id not in states:
                raise NotFound(f"no job with id {job_id!r}")
        return states

    def cancel(self, job_ids: Sequence[str], now: float) -> dict[str, str]:
        params = {"ids": list(job_ids), "now": ms(now)}
        with self._transaction():
            states = self._states_of(job_ids)
            for job_id in job_ids:
                if states[job_id] in TERMINAL:
                    raise Conflict(f"job {job_id!r} is {states[job_id]}: only pending, failed "
                                   "or processing jobs can be canceled")
            self._rows("cancel_waiting", params)
            self._rows("cancel_running", params)
        return {job_id: "requested" if states[job_id] == "processing" else "canceled"
                for job_id in job_ids}

    def retry_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        with self._transaction():
            if job_ids is not None:
                states = self._states_of(job_ids)
                for job_id in job_ids:
                    if states[job_id] != "dead":
                        raise Conflict(f"job {job_id!r} is {states[job_id]}, not dead: only "
                                       "dead jobs can be retried")
            ids = None if job_ids is None else list(job_ids)
            moved = [row["id"] for row in self._rows("retry_dead", {"ids": ids,
                                                                    "now": ms(now)})]
            if moved:
                self._notify("retry")
        return moved

    def purge(self, states: Sequence[str], finished_before: float | None) -> int:
        params = {"states": list(states),
                  "before": FOREVER_MS if finished_before is None else ms(finished_before)}
        with self._transaction():
            self._rows("purge_attempts", params)
            self._rows("purge_chunks", params)
            return self._count("purge_jobs", params)

    # --- reads -------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job:
        row = self._row("get_job", {"job_id": job_id})
        if row is None:
            raise NotFound(f"no job with id {job_id!r}")
        return job_from_row(row)

    def list_jobs(self, state: str | None = None, queue: str | None = None,
                  limit: int = 50, offset: int = 0) -> list[Job]:
        where = filters(("state = %(state)s", state), ("queue = %(queue)s", queue))
        params = {"state": state, "queue": queue, "limit": limit, "offset": offset}
        if _matchable(params) is None:
            return []
        rows = self._fetch(self._q["list_jobs"].replace("/*filters*/", where), params,
                           repeatable=True)
        return [job_from_row(row) for row in rows]

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
        return [FinishedAttempt(row["queue"], row["outcome"], seconds(row["started_at"]),
                                row["finished_at"] / 1000.0)
                for row in self._rows("finished_attempts", {"since": ms(since)})]

    def throughput(self, since: float, bucket_seconds: int) -> list[tuple[float, str, int]]:
        rows = self._rows("throughput", {"since": ms(since),
                                         "bucket_ms": int(bucket_seconds * 1000)})
        return [(row["bucket"] / 1000.0, row["outcome"], row["n"]) for row in rows]

    def attempt_counts(self) -> dict[str, int]:
        return {row["outcome"]: row["n"] for row in self._rows("attempt_counts")}

    def run_times(self, bounds: Sequence[float]) -> RunTimes:
        columns = "".join(f", count(*) FILTER (WHERE finished_at - started_at <= %(b{i})s)"
                          f" AS b{i}" for i in range(len(bounds)))
        text = self._q["run_times"].replace("/*buckets*/", columns)
        with self._guard() as conn:
            row = conn.execute(text, {f"b{i}": ms(bound) for i, bound in enumerate(bounds)},
                               ).fetchone()
        return RunTimes(row["n"], row["total_ms"] / 1000.0,
                        [row[f"b{i}"] for i in range(len(bounds))])

    # --- workers -----------------------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> None:
        self._rows("register_worker", {
            "id": worker.id, "host": worker.host, "pid": worker.pid, "pool": worker.pool,
            "queues": json.dumps(worker.queues) if worker.queues else None,
            "started_at": ms(worker.started_at), "heartbeat_at": ms(worker.heartbeat_at),
            "doorbell": worker.doorbell})

    def deregister_worker(self, worker_id: str) -> None:
        self._rows("deregister_worker", {"worker_id": worker_id})

    def list_workers(self) -> list[WorkerInfo]:
        return [worker_from_row(row) for row in self._rows("list_workers")]

    def request_stop(self, worker_ids: Sequence[str]) -> None:
        with self._transaction():
            self._rows("request_stop", {"ids": list(worker_ids)})
            self._notify("stop")

    # --- config ------------------------------------------------------------------------

    def config_values(self) -> dict[str, object]:
        return {row["key"]: json.loads(row["value"]) for row in self._rows("config_values")}

    def config_set(self, key: str, value: object) -> None:
        self._rows("config_set", {"key": key, "value": json.dumps(value)})

    def config_unset(self, key: str) -> None:
        self._rows("config_unset", {"key": key})

    # --- wake-up -----------------------------------------------------------------------

    def wake_workers(self) -> None:
        self._notify("wake")

    def waiter(self) -> Waiter:
        return _NotifyWaiter(self.location, self._channel)


class _NotifyWaiter(Waiter):
    """LISTENs on a connection of its own, in autocommit (a listener inside a transaction
    would see nothing until it ended). A notification that arrives while the worker is busy
    waits in the connection, so the next wait returns at once: none is missed between a
    fruitless claim and the wait. Nothing is replayed after a lost connection, so a new one
    counts as a wake-up, and the caller's poll remains the fallback."""

    def __init__(self, location: str, channel: str) -> None:
        self._location = location
        self._channel = channel
        self._conn: psycopg.Connection | None = None
        self._retry_at = 0.0
        try:
            self._conn = self._listen()
        except psycopg.Error as exc:
            raise StoreError(f"cannot listen on the store {display_location(location)}: "
                             f"{_one_line(exc, location)}") from None

    def _listen(self) -> psycopg.Connection:
        conn = _connect(self._location)
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        return conn

    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._receive(min(remaining, NOTIFY_SLICE)) or interrupted():
                return True

    def _receive(self, timeout: float) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                if time.monotonic() < self._retry_at:
                    time.sleep(timeout)
                    return False
                self._retry_at = time.monotonic() + RELISTEN_INTERVAL
                self._conn = self._listen()
                return True  # notifications sent while it was down are lost: look now
            # A plain select() while nothing arrives: an idle worker checks `interrupted`
            # ten times a second, and psycopg's notifies() costs more per call than that
            # deserves. notifies() then reads whatever came, so a burst is one wake-up.
            ready, _, _ = select.select([self._conn.fileno()], [], [], timeout)
            return bool(ready and list(self._conn.notifies(timeout=0)))
        except (OSError, ValueError, psycopg.Error):
            self._drop()
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        self._drop()
