"""The SQLite store: one WAL-mode file shared by every process on one host.

Connections run in autocommit (``isolation_level=None``): single statements commit on
their own, and every multi-statement write starts with ``BEGIN IMMEDIATE`` so that it takes
the write lock up front, instead of failing at once with SQLITE_BUSY_SNAPSHOT when a read
snapshot has to be upgraded. The domain operations themselves are `SqlStore`'s.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from queuectl import platform
from queuectl.errors import SchemaTooNew, StoreError, StoreReadOnly, StoreUnavailable
from queuectl.store import queries
from queuectl.store.base import RunTimes, Waiter
from queuectl.store.rows import ms, to_json
from queuectl.store.sqlstore import Row, SqlStore

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any, Callable

# PRAGMA application_id of every store queuectl creates ("qctl"): it tells a queuectl store
# from another application's SQLite file. Stores made before it carry their tables instead.
APPLICATION_ID = 0x7163746C
QUEUECTL_TABLES = frozenset({"jobs", "attempts", "output_chunks", "workers", "config"})
MIN_SQLITE = (3, 35, 0)  # UPDATE ... RETURNING
BUSY_TIMEOUT = 60.0  # seconds a writer waits for the lock before "database is locked"
WORKER_AUTOCHECKPOINT = 100_000  # pages (~400 MB of WAL)
WAL_LIMIT = 16 * 1024 * 1024  # bytes of WAL a pool keeps once it has been checkpointed
DATA_VERSION_INTERVAL = 0.1  # seconds between idle checks for other connections' commits
SQLITE_HEADER = b"SQLite format 3\x00"  # the first bytes of every SQLite database file
# Error texts of SQLite that describe the file or the disk rather than a query.
_STORE_TROUBLE = (
    "disk",
    "I/O",
    "readonly",
    "read-only",
    "unable to open",
    "not a database",
    "malformed",
    "no such table",
    "full",
)
# Of those, the ones that pass: space freed, a device that answers again.
_PASSING_TROUBLE = ("full", "disk I/O")
# ... and those of a file it may not write, or a -wal or -shm file it cannot make.
_CANNOT_WRITE = ("readonly database", "unable to open database file")


class SqliteStore(SqlStore):
    dialect = "sqlite"
    _queue_filter = "AND queue IN (SELECT value FROM json_each(:queues))"
    _jobs_table = "jobs"
    _duplicate_key = sqlite3.IntegrityError

    def __init__(self, path: str, durable: bool = True, only_reads: bool = False) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"SQLite {sqlite3.sqlite_version} is too old: queuectl needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or newer"
            )
        self.location = path
        self._host: str | None = None
        self._rings_on_commit: set[str] = set()  # what to announce once the commit is done
        self._error_prefix = "cannot open the store"  # "the store" once it is open
        try:
            self._open_to_write(durable)
        except StoreReadOnly as refused:
            if not os.path.exists(path):
                raise StoreError(f"cannot create the store {path}: {refused.reason}") from None
            if not only_reads:
                raise
            self._open_to_read(refused.reason)
        self._error_prefix = "the store"

    def _open_to_write(self, durable: bool) -> None:
        """Open the store read-write, creating or upgrading its schema if needed."""
        # SQLite would open a file it may not write read-only, without a word, and fail
        # only at the first write.
        reason = _read_only_reason(self.location, "it")
        if reason:
            raise StoreReadOnly(self.location, reason)
        try:
            platform.make_folder(os.path.dirname(self.location) or ".")
        except OSError as exc:
            raise StoreError(f"cannot create the store {self.location}: {exc.strerror}") from None
        with self._opening(self.location):
            self._refuse_foreign_file()
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
                # Without a limit the WAL file keeps the size of its busiest moment; on a
                # small disk that is the space the next commits need.
                self._execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
            self._migrate()

    def _open_to_read(self, reason: str) -> None:
        """Open a store that cannot be written (`reason` says why), for reading only.

        mode=ro reads the -wal and -shm files a writer left behind, or makes a -shm file
        where the folder allows. On a read-only file system with neither, immutable=1
        reads the file alone: safe there, as nothing can change it, unless a -wal file
        holds changes the file does not have yet."""
        from pathlib import Path  # and urllib: read-only stores are rare, `run` needs neither

        uri = Path(os.path.abspath(self.location)).as_uri()
        try:
            with self._opening(f"{uri}?mode=ro", uri=True):
                self._check_readable(reason)
        except StoreReadOnly as refused:
            if (
                not platform.read_only_filesystem(self.location)
                or _size(self.location + "-wal") > 0
            ):
                folder = os.path.dirname(self.location) or "."
                why = _read_only_reason(folder, f"its folder {folder}") or refused.reason
                raise StoreError(
                    f"cannot read the store {self.location}: SQLite needs "
                    f"{self.location}-shm for it and cannot make it: {why}"
                ) from None
            with self._opening(f"{uri}?immutable=1", uri=True):
                self._check_readable(reason)

    def _check_readable(self, reason: str) -> None:
        self._refuse_foreign_file()
        version = self._schema_version()
        if version == 0:
            raise StoreError(f"the store {self.location} is empty and read-only: {reason}")
        if version < self._newest_schema:
            raise StoreError(
                f"the store {self.location} has schema version {version} and is "
                f"read-only ({reason}): open it once where it can be written, "
                f"to upgrade it to version {self._newest_schema}"
            )

    # --- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _opening(self, target: str, uri: bool = False) -> Iterator[None]:
        """Connect to `target` for the body to check and prepare. If that fails, the
        connection is closed at once (a refused file must not keep the -wal and -shm files
        SQLite made next to it to read it) and the reason is one line."""
        try:
            # SQLite's own busy handler sleeps 1, 2, 5 ms ... between tries, though a worker
            # holds the write lock for a tenth of that: waits are done in _execute instead.
            # One thread uses a store at a time, but the dashboard hands its stores on from
            # one request's thread to the next (dashboard/stores.py).
            self._conn = sqlite3.connect(
                target, timeout=0, isolation_level=None, check_same_thread=False, uri=uri
            )
        except sqlite3.DatabaseError as exc:
            raise self._read_only(exc) or StoreError(
                f"cannot open the store {self.location}: {exc}"
            ) from None
        self._conn.row_factory = sqlite3.Row
        self._identity = _file_identity(self.location)
        self._header = _Header(self.location)
        try:
            yield
        except BaseException as exc:
            self.close()
            if isinstance(exc, sqlite3.DatabaseError):  # "file is not a database"
                raise StoreError(f"cannot open the store {self.location}: {exc}") from None
            raise

    def _refuse_foreign_file(self) -> None:
        """queuectl creates its schema only in a new or empty file. Anything else that is
        not a queuectl store belongs to another application: refused here, before the
        first write (journal_mode = WAL rewrites the header), so it stays as it was."""
        application_id = self._execute("PRAGMA application_id").fetchone()[0]
        if application_id == APPLICATION_ID:
            return
        version = self._execute("PRAGMA user_version").fetchone()[0]
        kinds = self._execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall()
        tables = [name for kind, name in kinds if kind == "table"]
        if application_id == 0 and version == 0 and not kinds:
            return  # empty
        if application_id == 0 and version > 0 and QUEUECTL_TABLES.issubset(tables):
            return  # a queuectl store made before APPLICATION_ID
        if tables:
            shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
            held = f"it holds another application's tables ({shown})"
        else:
            held = (
                f"another application marked it (application_id {application_id}, "
                f"user_version {version})"
            )
        raise StoreError(
            f"{self.location} is not a queuectl store: {held}; queuectl "
            "creates a store only in a new or empty file"
        )

    def _schema_version(self) -> int:
        version, newest = self.schema_versions()
        if version > newest:
            raise SchemaTooNew(
                f"the store {self.location} has schema version {version}; this "
                f"queuectl knows {newest}: upgrade queuectl"
            )
        return version

    def _migrate(self) -> None:
        if self._schema_version() == self._newest_schema:
            return
        # WAL lets readers and the one writer work side by side; the mode is stored in the
        # file, so it is set once, when the schema is created or upgraded.
        mode = self._execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"cannot put {self.location} in WAL mode (got {mode})")
        with self._transaction():
            version = self._execute("PRAGMA user_version").fetchone()[0]
            for statement in queries.upgrade(self.dialect, version):
                self._execute(statement)
            self._execute(f"PRAGMA user_version = {max(version, self._newest_schema)}")
            self._execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def _execute(self, sql: str, params=()) -> sqlite3.Cursor:
        """Run one statement, waiting for a busy write lock with short, growing sleeps
        (0.1 ms to 10 ms) for up to BUSY_TIMEOUT: a statement that gets SQLITE_BUSY has
        done nothing, so it is safe to try again."""
        delay, deadline = 0.0001, None
        while True:
            try:
                return self._conn.execute(sql, params)
            except sqlite3.IntegrityError:
                raise  # a constraint: the caller's to explain (a duplicate id, ...)
            except sqlite3.DatabaseError as exc:  # also "file is not a database"
                if not isinstance(exc, sqlite3.OperationalError) or "locked" not in str(exc):
                    raise self._store_error(exc) from None
                now = time.monotonic()
                deadline = deadline or now + BUSY_TIMEOUT
                if now >= deadline:
                    raise StoreUnavailable(
                        f"the store {self.location} stayed locked by another "
                        f"process for {BUSY_TIMEOUT:g} s"
                    ) from None
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01)

    def _store_error(self, exc: sqlite3.DatabaseError) -> Exception:
        """A full disk, an I/O error, a read-only or damaged file is the store's trouble,
        said in one line; anything else (a query SQLite rejects) is a bug."""
        text = str(exc)
        if any(sign in text for sign in _PASSING_TROUBLE):
            return StoreUnavailable(f"{self._error_prefix} {self.location}: {text}")
        if any(sign in text for sign in _STORE_TROUBLE):
            return self._read_only(exc) or StoreError(
                f"{self._error_prefix} {self.location}: {text}"
            )
        return exc

    def _read_only(self, exc: sqlite3.DatabaseError) -> StoreReadOnly | None:
        """SQLite's failure to write the file or to make a -wal or -shm file next to it,
        said as what it is when the file or its folder is read-only."""
        if not any(sign in str(exc) for sign in _CANNOT_WRITE):
            return None
        folder = os.path.dirname(self.location) or "."
        reason = _read_only_reason(self.location, "it") or _read_only_reason(
            folder, f"its folder {folder}"
        )
        return StoreReadOnly(self.location, reason) if reason else None

    def _many(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        # No waits for a busy lock: the transaction holds it already (BEGIN IMMEDIATE).
        try:
            self._conn.executemany(self._queries[name].text, rows)
        except sqlite3.OperationalError as exc:
            raise self._store_error(exc) from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._rings_on_commit.clear()
            raise
        self._execute("COMMIT")
        if self._rings_on_commit:
            reasons, self._rings_on_commit = self._rings_on_commit, set()
            self._ring(reasons)

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        # A deferred BEGIN: its first read fixes what the rest see, and writers go on (WAL).
        self._execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("ROLLBACK")

    def _rows(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        queues: Sequence[str] | None = None,
        where: str = "",
    ) -> list[Row]:
        return self._execute(self._sql(name, queues, where), params or {}).fetchall()

    def _count(self, name: str, params: dict[str, Any]) -> int:
        return self._execute(self._queries[name].text, params).rowcount

    def _announce(self, reason: str) -> None:
        # The doorbell is not transactional: ring it once the transaction has committed.
        if self._conn.in_transaction:
            self._rings_on_commit.add(reason)
        else:
            self._ring({reason})

    def _list(self, values: Sequence[str]) -> str:
        return to_json(list(values))  # read back with json_each()

    def _param(self, name: str) -> str:
        return f":{name}"

    def _hostname(self) -> str:
        if self._host is None:
            self._host = platform.hostname()
        return self._host

    def schema_versions(self) -> tuple[int, int]:
        return self._execute("PRAGMA user_version").fetchone()[0], self._newest_schema

    def journal_mode(self) -> str:
        return self._execute("PRAGMA journal_mode").fetchone()[0].lower()

    def close(self) -> None:
        self._conn.close()
        self._header.close()  # after SQLite's own descriptor: see _Header

    def clock(self) -> float:
        return time.time()

    def vanished(self) -> str | None:
        try:
            identity = _file_identity(self.location)
            header = self._header.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            return f"the store file {self.location} was deleted"
        except OSError:
            return None  # cannot look now (a passing I/O error): the store's own errors tell
        if identity != self._identity:
            return f"the store file {self.location} was replaced by another file"
        if header is not None and header != SQLITE_HEADER:
            return f"the store file {self.location} was overwritten: it is no longer a store"
        return None

    def housekeeping(self) -> None:
        # PASSIVE: copies what it can without waiting for (or blocking) anyone.
        self._execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        if _size(self.location + "-wal") > WAL_LIMIT:
            # TRUNCATE also empties the file, once no reader needs it; with no busy handler
            # it gives up at once rather than wait for one, and tries again next time.
            self._execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    # --- reads -------------------------------------------------------------------------

    def run_times(self, bounds: Sequence[float]) -> RunTimes:
        columns = "".join(
            f", coalesce(sum(finished_at - started_at <= :b{i}), 0)" for i in range(len(bounds))
        )
        sql = self._queries["run_times"].text.replace("/*buckets*/", columns)
        row = self._execute(sql, {f"b{i}": ms(bound) for i, bound in enumerate(bounds)})
        count, total_ms, cpu_user, cpu_system, *buckets = row.fetchone()
        return RunTimes(count, total_ms / 1000.0, list(buckets), cpu_user, cpu_system)

    # --- wake-up -----------------------------------------------------------------------

    def wake_workers(self) -> None:
        self._ring({"wake"})

    def _ring(self, reasons: set[str]) -> None:
        """Ring every doorbell of this host, a datagram per reason (its text)."""
        rows = self._rows("doorbells", {"host": self._hostname()})
        if not rows:
            return
        import socket  # only when there is a doorbell to ring: `run` starts faster

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for row in rows:
                for reason in reasons:
                    with contextlib.suppress(OSError):  # a hint: the store stays the truth
                        sock.sendto(reason.encode(), ("127.0.0.1", row["doorbell"]))

    def waiter(self) -> Waiter:
        return _DoorbellWaiter(self._execute)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class _Header:
    """Reads the first bytes of a store's file without ever closing a descriptor of it
    while SQLite has it open: on POSIX, closing any descriptor of a file drops every lock
    the process holds on it, SQLite's too, and another connection may then change the WAL
    under it ("disk I/O error"; SQLite's "How To Corrupt An SQLite Database File", 2.2). So
    one descriptor is kept for the store's life and read with pread. Windows, whose locks
    belong to a handle, opens and closes one each time."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        if hasattr(os, "pread"):
            with contextlib.suppress(OSError):  # then the header is not looked at
                self._fd = os.open(path, os.O_RDONLY)

    def read(self, size: int) -> bytes | None:
        if not hasattr(os, "pread"):
            with open(self._path, "rb") as handle:
                return handle.read(size)
        return None if self._fd is None else os.pread(self._fd, size, 0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _file_identity(path: str) -> tuple[int, int]:
    """(device, inode): what tells the file opened from another put at the same path."""
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _read_only_reason(place: str, name: str) -> str | None:
    """Why `place` (the store's file or folder, called `name`) cannot be written, or None
    if it can or does not exist."""
    if not os.path.exists(place) or os.access(place, os.W_OK):
        return None
    if platform.read_only_filesystem(place):
        return "it is on a read-only file system"
    return f"this user may not write to {name}"


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
        self.reasons = frozenset()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready, _, _ = self._select([self._sock], [], [], min(remaining, DATA_VERSION_INTERVAL))
            if ready:
                self.reasons = self._drain()
                return True
            if interrupted():
                return True
            version = self._data_version()
            if version != self._version:
                self._version = version
                return True

    def _drain(self) -> frozenset[str]:
        """What the datagrams waiting said (the reasons they were rung for)."""
        reasons = set()
        while True:
            try:
                reasons.add(self._sock.recv(64).decode(errors="replace"))
            except OSError:  # BlockingIOError: nothing left
                return frozenset(reasons)

    def close(self) -> None:
        self._sock.close()
