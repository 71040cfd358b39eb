"""The SQLite store: one WAL-mode file shared by every process on one host.

Connections run in autocommit (``isolation_level=None``): single statements commit on
their own, and every multi-statement write starts with ``BEGIN IMMEDIATE`` so that it takes
the write lock up front and waits on the busy timeout, instead of failing at once with
SQLITE_BUSY_SNAPSHOT when a read snapshot has to be upgraded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Callable

from queuectl import platform
from queuectl.errors import Conflict, NotFound, StoreError
from queuectl.lifecycle import Transition
from queuectl.model import TERMINAL, Attempt, Job, Lease, NewJob, WorkerInfo
from queuectl.store import queries
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
MIN_SQLITE = (3, 35, 0)  # UPDATE ... RETURNING
BUSY_TIMEOUT = 60.0  # seconds a writer waits for the lock before "database is locked"
WORKER_AUTOCHECKPOINT = 100_000  # pages (~400 MB of WAL)
DATA_VERSION_INTERVAL = 0.1  # seconds between idle checks for other connections' commits
class SqliteStore(Store):
    def __init__(self, path: str, durable: bool = True) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old: queuectl needs "
                             f"{'.'.join(map(str, MIN_SQLITE))} or newer")
        self.location = path
        self._q = queries.load("sqlite")
        self._host: str | None = None
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            # SQLite's own busy handler sleeps 1, 2, 5 ms ... between tries, though a worker
            # holds the write lock for a tenth of that: waits are done in _execute instead.
            self._conn = sqlite3.connect(path, timeout=0, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            # FULL syncs the WAL on every commit (an acknowledged job survives a power cut);
            # workers use NORMAL: a power cut may roll back a recent claim or completion,
            # which re-runs that job and never loses one.
            self._execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            if not durable:
                # A commit that crosses wal_autocheckpoint copies the WAL back into the
                # file and syncs it: a tenth of a busy worker's time at the default 1,000
                # pages. Workers leave that to their idle supervisor (housekeeping) and
                # keep a high mark only as a bound on the WAL if no supervisor runs.
                self._execute(f"PRAGMA wal_autocheckpoint = {WORKER_AUTOCHECKPOINT}")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"cannot open the store {path}: {exc}") from None

    # --- plumbing ----------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self._execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(f"the store {self.location} has schema version {version}; this "
                             f"queuectl knows {SCHEMA_VERSION}: upgrade queuectl")
        # WAL lets readers and the one writer work side by side; the mode is stored in the
        # file, so it is set once, when the schema is created or upgraded.
        mode = self._execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"cannot put {self.location} in WAL mode (got {mode})")
        with self._transaction():
            version = self._execute("PRAGMA user_version").fetchone()[0]
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in statements(self._q[f"schema_v{step}"]):
                    self._execute(statement)
            self._execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")

    def _execute(self, sql: str, params=()) -> sqlite3.Cursor:
        """Run one statement, waiting for a busy write lock with short, growing sleeps
        (0.1 ms to 10 ms) for up to BUSY_TIMEOUT: a statement that gets SQLITE_BUSY has
        done nothing, so it is safe to try again."""
        delay, deadline = 0.0001, None
        while True:
            try:
                return self._conn.execute(sql, params)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + BUSY_TIMEOUT
                if now >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._execute("COMMIT")

    def _sql(self, name: str, queues: Sequence[str] | None = None) -> str:
        sql = self._q[name]
        if "/*queues*/" in sql:
            clause = "" if queues is None else "AND queue IN (SELECT value FROM json_each(:queues))"
            sql = sql.replace("/*queues*/", clause)
        return sql

    def _hostname(self) -> str:
        if self._host is None:
            self._host = platform.hostname()
        return self._host

    def close(self) -> None:
        self._conn.close()

    def clock(self) -> float:
        return time.time()

    def housekeeping(self) -> None:
        # PASSIVE: copies what it can without waiting for (or blocking) anyone.
        self._execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    # --- producers ---------------------------------------------------------------------

    def enqueue(self, jobs: Sequence[NewJob], now: float) -> None:
        rows = [{
            "id": job.id, "command": job.command, "queue": job.queue, "priority": job.priority,
            "max_retries": job.max_retries, "run_at": ms(job.run_at), "timeout": job.timeout,
            "cwd": job.cwd, "env": json.dumps(job.env) if job.env else None, "now": ms(now),
        } for job in jobs]
        try:
            if len(rows) == 1:
                self._execute(self._q["insert_job"], rows[0])
            else:
                with self._transaction():
                    self._conn.executemany(self._q["insert_job"], rows)
        except sqlite3.IntegrityError:
            raise Conflict(f"job id {self._duplicate_id(jobs)!r} already exists") from None
        self.wake_workers()

    def _duplicate_id(self, jobs: Sequence[NewJob]) -> str:
        seen = set()
        for job in jobs:
            if job.id in seen:
                return job.id
            seen.add(job.id)
        ids = json.dumps([job.id for job in jobs])
        row = self._execute(self._q["existing_ids"], {"ids": ids}).fetchone()
        return row[0] if row else "?"

    # --- claiming and running ----------------------------------------------------------

    def claim(self, worker_id: str, queues: Sequence[str] | None, now: float,
              lease_seconds: float) -> Job | None:
        params = {"worker_id": worker_id, "now": ms(now), "lease_until": ms(now + lease_seconds),
                  "queues": None if queues is None else json.dumps(queues)}
        rows = self._execute(self._sql("claim", queues), params).fetchall()
        return job_from_row(rows[0]) if rows else None

    def next_run_at(self, queues: Sequence[str] | None) -> float | None:
        row = self._execute(self._sql("next_run_at", queues),
                                 {"queues": json.dumps(queues)}).fetchone()
        return seconds(row[0])

    def record_start(self, lease: Lease, host: str, pgid: int, started_at: float) -> None:
        self._execute(self._q["record_start"], {
            "job_id": lease.job_id, "number": lease.run_no, "worker_id": lease.worker_id,
            "host": host, "pgid": pgid, "started_at": ms(started_at)})

    def heartbeat(self, worker_id: str, lease: Lease | None, now: float,
                  lease_seconds: float) -> Heartbeat:
        with self._transaction():
            worker = self._execute(self._q["touch_worker"],
                                  {"worker_id": worker_id, "now": ms(now)}).fetchall()
            job = []
            if lease is not None:
                job = self._execute(self._q["extend_lease"], {
                    **lease_params(lease), "lease_until": ms(now + lease_seconds)}).fetchall()
        return Heartbeat(registered=bool(worker),
                         stop_requested=bool(worker and worker[0][0]),
                         lease_held=bool(job), cancel_requested=bool(job and job[0][0]))

    def job_flags(self, lease: Lease) -> tuple[bool, bool]:
        row = self._execute(self._q["job_flags"], lease_params(lease)).fetchone()
        return (row is not None, bool(row and row[0]))

    def stop_requested(self, worker_id: str) -> bool:
        row = self._execute(self._q["stop_requested"], {"worker_id": worker_id}).fetchone()
        return bool(row and row[0])

    def append_output(self, lease: Lease, offset: int, data: bytes, keep_from: int) -> None:
        key = {"job_id": lease.job_id, "number": lease.run_no}
        with self._transaction():
            self._execute(self._q["append_output"], {**key, "start": offset, "data": data})
            self._execute(self._q["trim_output"], {**key, "keep_from": keep_from})

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
        changed = self._execute(self._q["finish_job"], {
            **lease_params(lease), "state": transition.state,
            "attempts": transition.attempts, "run_at": ms(transition.run_at),
            "exit_code": transition.exit_code, "last_error": transition.last_error,
            "finished_at": ms(transition.finished_at), "now": ms(now),
        }).rowcount
        if changed != 1:
            return False
        self._execute(self._q["upsert_attempt"], {
            "job_id": lease.job_id, "number": lease.run_no, "worker_id": lease.worker_id,
            "started_at": ms(attempt.started_at), "finished_at": ms(attempt.finished_at),
            "exit_code": attempt.exit_code, "error": attempt.error,
            "outcome": transition.state, "output": attempt.output,
            "output_total": attempt.output_total, "keep_pgid": keep_pgid,
        })
        self._execute(self._q["drop_chunks"], {"job_id": lease.job_id, "number": lease.run_no})
        return True

    # --- recovery ----------------------------------------------------------------------

    def expired_jobs(self, now: float, limit: int = 100) -> list[Job]:
        rows = self._execute(self._q["expired_jobs"], {"now": ms(now), "limit": limit})
        return [job_from_row(row) for row in rows.fetchall()]

    def held_jobs(self, worker_id: str) -> list[Job]:
        rows = self._execute(self._q["held_jobs"], {"worker_id": worker_id}).fetchall()
        return [job_from_row(row) for row in rows]

    def stray_attempts(self, host: str) -> list[StrayAttempt]:
        rows = self._execute(self._q["stray_attempts"], {"host": host}).fetchall()
        return [StrayAttempt(row["job_id"], row["number"], row["worker_id"], row["pgid"])
                for row in rows]

    def forget_pgid(self, job_id: str, number: int) -> None:
        self._execute(self._q["forget_pgid"], {"job_id": job_id, "number": number})

    def live_output(self, job_id: str, number: int) -> tuple[bytes, int]:
        chunks = self.output_chunks(job_id, number, 0)
        if not chunks:
            return b"", 0
        return tail_of_chunks(chunks, chunks[0][0])

    # --- admin -------------------------------------------------------------------------

    def _states_of(self, job_ids: Sequence[str]) -> dict[str, str]:
        rows = self._execute(self._q["states_of"], {"ids": json.dumps(list(job_ids))})
        states = {row[0]: row[1] for row in rows.fetchall()}
        for job_id in job_ids:
            if job_id not in states:
                raise NotFound(f"no job with id {job_id!r}")
        return states

    def cancel(self, job_ids: Sequence[str], now: float) -> dict[str, str]:
        params = {"ids": json.dumps(list(job_ids)), "now": ms(now)}
        with self._transaction():
            states = self._states_of(job_ids)
            for job_id in job_ids:
                if states[job_id] in TERMINAL:
                    raise Conflict(f"job {job_id!r} is {states[job_id]}: only pending, failed "
                                   "or processing jobs can be canceled")
            self._execute(self._q["cancel_waiting"], params)
            self._execute(self._q["cancel_running"], params)
        return {job_id: "requested" if states[job_id] == "processing" else "canceled"
                for job_id in job_ids}

    def retry_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        ids = None if job_ids is None else json.dumps(list(job_ids))
        with self._transaction():
            if job_ids is not None:
                states = self._states_of(job_ids)
                for job_id in job_ids:
                    if states[job_id] != "dead":
                        raise Conflict(f"job {job_id!r} is {states[job_id]}, not dead: only "
                                       "dead jobs can be retried")
            moved = self._execute(self._q["retry_dead"], {"ids": ids, "now": ms(now)})
            moved_ids = [row[0] for row in moved.fetchall()]
        if moved_ids:
            self.wake_workers()
        return moved_ids

    def purge(self, states: Sequence[str], finished_before: float | None) -> int:
        params = {"states": json.dumps(list(states)),
                  "before": FOREVER_MS if finished_before is None else ms(finished_before)}
        with self._transaction():
            self._execute(self._q["purge_attempts"], params)
            self._execute(self._q["purge_chunks"], params)
            return self._execute(self._q["purge_jobs"], params).rowcount

    # --- reads -------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job:
        row = self._execute(self._q["get_job"], {"job_id": job_id}).fetchone()
        if row is None:
            raise NotFound(f"no job with id {job_id!r}")
        return job_from_row(row)

    def list_jobs(self, state: str | None = None, queue: str | None = None,
                  limit: int = 50, offset: int = 0) -> list[Job]:
        # One WHERE per combination: "(:state IS NULL OR state = :state)" would keep SQLite
        # from using the index that serves each filter.
        where = filters(("state = :state", state), ("queue = :queue", queue))
        rows = self._execute(self._q["list_jobs"].replace("/*filters*/", where), {
            "state": state, "queue": queue, "limit": limit, "offset": offset}).fetchall()
        return [job_from_row(row) for row in rows]

    def attempts(self, job_id: str) -> list[Attempt]:
        rows = self._execute(self._q["attempts"], {"job_id": job_id}).fetchall()
        attempts = [attempt_from_row(row) for row in rows]
        for attempt in attempts:
            if attempt.finished_at is None:
                attempt.output, attempt.output_total = self.live_output(job_id, attempt.number)
        return attempts

    def output_chunks(self, job_id: str, number: int, offset: int) -> list[tuple[int, bytes]]:
        rows = self._execute(self._q["chunks"], {
            "job_id": job_id, "number": number, "start": offset}).fetchall()
        return [(row[0], bytes(row[1])) for row in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for row in self._execute(self._q["counts"]).fetchall():
            result.setdefault(row["queue"], {})[row["state"]] = row["n"]
        return result

    def finished_attempts(self, since: float) -> list[FinishedAttempt]:
        rows = self._execute(self._q["finished_attempts"], {"since": ms(since)})
        return [FinishedAttempt(row[0], row[1], seconds(row[2]), row[3] / 1000.0)
                for row in rows.fetchall()]

    def throughput(self, since: float, bucket_seconds: int) -> list[tuple[float, str, int]]:
        rows = self._execute(self._q["throughput"], {
            "since": ms(since), "bucket_ms": int(bucket_seconds * 1000)}).fetchall()
        return [(row[0] / 1000.0, row[1], row[2]) for row in rows]

    def attempt_counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self._execute(self._q["attempt_counts"])}

    def run_times(self, bounds: Sequence[float]) -> RunTimes:
        columns = "".join(f", coalesce(sum(finished_at - started_at <= :b{i}), 0)"
                          for i in range(len(bounds)))
        sql = self._q["run_times"].replace("/*buckets*/", columns)
        row = self._execute(sql, {f"b{i}": ms(bound) for i, bound in enumerate(bounds)})
        count, total_ms, *buckets = row.fetchone()
        return RunTimes(count, total_ms / 1000.0, list(buckets))

    # --- workers -----------------------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> None:
        self._execute(self._q["register_worker"], {
            "id": worker.id, "host": worker.host, "pid": worker.pid, "pool": worker.pool,
            "queues": json.dumps(worker.queues) if worker.queues else None,
            "started_at": ms(worker.started_at), "heartbeat_at": ms(worker.heartbeat_at),
            "doorbell": worker.doorbell})

    def deregister_worker(self, worker_id: str) -> None:
        self._execute(self._q["deregister_worker"], {"worker_id": worker_id})

    def list_workers(self) -> list[WorkerInfo]:
        return [worker_from_row(row) for row in self._execute(self._q["list_workers"]).fetchall()]

    def request_stop(self, worker_ids: Sequence[str]) -> None:
        self._execute(self._q["request_stop"], {"ids": json.dumps(list(worker_ids))})
        self.wake_workers()

    # --- config ------------------------------------------------------------------------

    def config_values(self) -> dict[str, object]:
        rows = self._execute(self._q["config_values"]).fetchall()
        return {row[0]: json.loads(row[1]) for row in rows}

    def config_set(self, key: str, value: object) -> None:
        self._execute(self._q["config_set"], {"key": key, "value": json.dumps(value)})

    def config_unset(self, key: str) -> None:
        self._execute(self._q["config_unset"], {"key": key})

    # --- wake-up -----------------------------------------------------------------------

    def wake_workers(self) -> None:
        rows = self._execute(self._q["doorbells"], {"host": self._hostname()}).fetchall()
        if not rows:
            return
        import socket  # only when there is a doorbell to ring: `run` starts faster

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for row in rows:
                with contextlib.suppress(OSError):  # a hint: the store stays the truth
                    sock.sendto(b"!", ("127.0.0.1", row[0]))

    def waiter(self) -> Waiter:
        return _DoorbellWaiter(self._execute)


class _DoorbellWaiter(Waiter):
    """Sleeps on a local UDP socket (rung by enqueues on this host) and, as a fallback,
    watches ``PRAGMA data_version``, which changes when another connection commits."""

    def __init__(self, execute: Callable[[str], sqlite3.Cursor]) -> None:
        import select
        import socket

        self._select = select.select
        self._execute = execute
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        # Compared with the previous check, not reset per wait: a commit that lands between
        # a fruitless claim and the next wait is still noticed.
        self._version = self._data_version()

    def _data_version(self) -> int:
        return self._execute("PRAGMA data_version").fetchone()[0]

    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready, _, _ = self._select([self._sock], [], [], min(remaining, DATA_VERSION_INTERVAL))
            if ready:
                self._drain()
                return True
            if interrupted():
                return True
            version = self._data_version()
            if version != self._version:
                self._version = version
                return True

    def _drain(self) -> None:
        while True:
            try:
                self._sock.recv(64)
            except OSError:  # BlockingIOError: nothing left
                return

    def close(self) -> None:
        self._sock.close()
