"""The SQLite store: one WAL-mode file shared by every process on one host.

Connections run in autocommit (``isolation_level=None``): single statements commit on
their own, and every multi-statement write starts with ``BEGIN IMMEDIATE`` so that it takes
the write lock up front, instead of failing at once with SQLITE_BUSY_SNAPSHOT when a read
snapshot has to be upgraded. The domain operations themselves are `SqlStore`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Callable

from queuectl import platform
from queuectl.errors import DuplicateId, StoreError
from queuectl.model import NewJob
from queuectl.store import queries
from queuectl.store.base import RunTimes, Waiter
from queuectl.store.rows import ms, statements
from queuectl.store.sqlstore import Row, SqlStore

SCHEMA_VERSION = 3
MIN_SQLITE = (3, 35, 0)  # UPDATE ... RETURNING
BUSY_TIMEOUT = 60.0  # seconds a writer waits for the lock before "database is locked"
WORKER_AUTOCHECKPOINT = 100_000  # pages (~400 MB of WAL)
DATA_VERSION_INTERVAL = 0.1  # seconds between idle checks for other connections' commits
QUEUE_FILTER = "AND queue IN (SELECT value FROM json_each(:queues))"
# Error texts of SQLite that describe the file or the disk rather than a query.
_STORE_TROUBLE = ("disk", "I/O", "readonly", "read-only", "unable to open", "not a database",
                  "malformed", "no such table", "full")


class SqliteStore(SqlStore):
    def __init__(self, path: str, durable: bool = True) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old: queuectl needs "
                             f"{'.'.join(map(str, MIN_SQLITE))} or newer")
        self.location = path
        self._q = queries.load("sqlite")
        self._host: str | None = None
        self._wake_on_commit = False
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            # SQLite's own busy handler sleeps 1, 2, 5 ms ... between tries, though a worker
            # holds the write lock for a tenth of that: waits are done in _execute instead.
            # One thread uses a store at a time, but the dashboard hands its stores on from
            # one request's thread to the next (dashboard/stores.py).
            self._conn = sqlite3.connect(path, timeout=0, isolation_level=None,
                                         check_same_thread=False)
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
                    raise self._trouble(exc) from None
                now = time.monotonic()
                deadline = deadline or now + BUSY_TIMEOUT
                if now >= deadline:
                    raise StoreError(f"the store {self.location} stayed locked by another "
                                     f"process for {BUSY_TIMEOUT:g} s") from None
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01)

    def _trouble(self, exc: sqlite3.OperationalError) -> Exception:
        """A full disk, an I/O error, a read-only or damaged file is the store's trouble,
        said in one line; anything else (a query SQLite rejects) is a bug."""
        text = str(exc)
        if any(sign in text for sign in _STORE_TROUBLE):
            return StoreError(f"the store {self.location}: {text}")
        return exc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._wake_on_commit = False
            raise
        self._execute("COMMIT")
        if self._wake_on_commit:
            self._wake_on_commit = False
            self.wake_workers()

    def _sql(self, name: str, queues: Sequence[str] | None = None, where: str = "") -> str:
        sql = self._q[name].replace("/*queues*/", "" if queues is None else QUEUE_FILTER)
        return sql.replace("/*filters*/", where)

    def _rows(self, name: str, params: dict[str, Any] | None = None,
              queues: Sequence[str] | None = None, where: str = "") -> list[Row]:
        return self._execute(self._sql(name, queues, where), params or {}).fetchall()

    def _count(self, name: str, params: dict[str, Any]) -> int:
        return self._execute(self._q[name], params).rowcount

    def _announce(self, reason: str) -> None:
        # The doorbell is not transactional: ring it once the transaction has committed.
        if self._conn.in_transaction:
            self._wake_on_commit = True
        else:
            self.wake_workers()

    def _list(self, values: Sequence[str]) -> str:
        return json.dumps(list(values))  # read back with json_each()

    def _param(self, name: str) -> str:
        return f":{name}"

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
            raise DuplicateId(self._duplicate_id(jobs)) from None
        self._announce("enqueue")

    # --- reads -------------------------------------------------------------------------

    def run_times(self, bounds: Sequence[float]) -> RunTimes:
        columns = "".join(f", coalesce(sum(finished_at - started_at <= :b{i}), 0)"
                          for i in range(len(bounds)))
        sql = self._q["run_times"].replace("/*buckets*/", columns)
        row = self._execute(sql, {f"b{i}": ms(bound) for i, bound in enumerate(bounds)})
        count, total_ms, *buckets = row.fetchone()
        return RunTimes(count, total_ms / 1000.0, list(buckets))

    # --- wake-up -----------------------------------------------------------------------

    def wake_workers(self) -> None:
        rows = self._rows("doorbells", {"host": self._hostname()})
        if not rows:
            return
        import socket  # only when there is a doorbell to ring: `run` starts faster

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for row in rows:
                with contextlib.suppress(OSError):  # a hint: the store stays the truth
                    sock.sendto(b"!", ("127.0.0.1", row["doorbell"]))

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
