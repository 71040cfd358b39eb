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
import math
import re
import secrets
import select
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Callable
from urllib.parse import unquote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row

from queuectl.errors import SchemaTooNew, StoreError, StoreUnavailable
from queuectl.store import display_location, queries
from queuectl.store.base import RunTimes, ServerFacts, Waiter
from queuectl.store.rows import ms
from queuectl.store.sqlstore import GatesBusy, Row, SqlStore

# pg_advisory_xact_lock(MIGRATION_LOCK, hashtext(schema)): taken by the transaction that
# creates or upgrades the schema, so hosts that start at once migrate one after the other.
MIGRATION_LOCK = 0x71756575  # "queu"
CONNECT_TIMEOUT = 10  # seconds, unless the URL sets connect_timeout
CLOCK_REFRESH = 30.0  # seconds between readings of the server's clock
NOTIFY_SLICE = 0.1  # seconds between checks of `interrupted` while waiting for a NOTIFY
RELISTEN_INTERVAL = 1.0  # seconds between attempts to restore a lost LISTEN connection
GATES_WAIT_MS = 50  # how long a chore (pruning locks' gates) waits for the gates' lock

DatabaseErrors = (psycopg.OperationalError, psycopg.InterfaceError)
# The server's clock and connection figures, for `server_facts`: what superusers (and, from
# PostgreSQL 16, roles with pg_use_reserved_connections) hold back is not for queuectl.
_SERVER_FACTS = (
    "SELECT extract(epoch FROM clock_timestamp())::float8 AS now,"
    " current_setting('max_connections')::int AS max_connections,"
    " current_setting('superuser_reserved_connections')::int"
    " + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,"
    " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
    " AS connections"
)
_USERINFO_PASSWORD = re.compile(r"^[^:/]+://[^:/@]*:([^@]*)@")


Connection = psycopg.Connection[DictRow]  # rows as dicts: dict_row in _connect


def _connect(url: str) -> Connection:
    settings = conninfo_to_dict(url)
    extra: dict[str, Any] = {}
    if "connect_timeout" not in settings:
        extra["connect_timeout"] = CONNECT_TIMEOUT
    if "application_name" not in settings:
        extra["application_name"] = "queuectl"
    return psycopg.connect(url, autocommit=True, row_factory=dict_row, **extra)


@contextmanager
def _closed_on_failure(conn: Connection) -> Iterator[None]:
    """Close a new connection whose setting up failed: nothing else holds it."""
    try:
        yield
    except BaseException:
        conn.close()
        raise


def _one_line(exc: BaseException, url: str) -> str:
    """The first line of a psycopg error, with the URL's password (if any) masked."""
    text = next(
        (line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__
    )
    passwords = set(_USERINFO_PASSWORD.findall(url))
    with suppress(psycopg.Error):
        passwords.add(conninfo_to_dict(url).get("password") or "")
    for password in sorted(passwords - {""}, key=len, reverse=True):
        text = text.replace(password, "***").replace(unquote(password), "***")
    return text


def _sendable(query: queries.Query, params: dict[str, Any]) -> dict[str, Any] | None:
    """The parameters `query` is sent: those of a :lookup as `_matchable` leaves them, or
    None if it can match no row; any other's as given, so that a value the server cannot
    store fails the statement instead of being left out of a write."""
    return _matchable(params) if query.lookup else params


def _matchable(params: dict[str, Any]) -> dict[str, Any] | None:
    """`params` of a statement that looks rows up, without the strings no row can hold:
    PostgreSQL text cannot contain NUL or a lone surrogate (from JSON such as "\\ud800"),
    so such a value matches nothing (SQLite would find nothing either). None if a
    single-value parameter holds one: the statement matches no row at all."""
    cleaned = dict(params)
    for key, value in params.items():
        if _unstorable(value):
            return None
        if isinstance(value, list) and any(_unstorable(v) for v in value):
            cleaned[key] = [v for v in value if not _unstorable(v)]
    return cleaned


def _unstorable(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\0" in value


def _readable(conn: Connection) -> bool:
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


class PostgresStore(SqlStore):
    dialect = "postgres"
    _queue_filter = "AND queue = ANY(%(queues)s::text[])"
    _jobs_table = "queuectl_jobs"
    _duplicate_key = psycopg.errors.UniqueViolation

    def __init__(self, location: str, durable: bool = True, only_reads: bool = False) -> None:
        # `durable` makes no difference here: every commit is flushed (see _open). Nor does
        # `only_reads`, which is about files that cannot be written.
        self.location = location
        self._closed = False
        self._depth = 0  # open transactions: a broken connection is not replaced inside one
        self._clock_at = (0.0, -math.inf)  # (server epoch seconds, local monotonic)
        self._last_now = 0.0
        try:
            self._conn = self._open()
        except psycopg.Error as exc:
            # A server that cannot be reached now may be reached later: workers wait for it.
            kind = StoreUnavailable if isinstance(exc, DatabaseErrors) else StoreError
            raise kind(
                f"cannot open the store {self._display()}: {_one_line(exc, location)}"
            ) from None
        try:
            schema = self._value("SELECT current_schema() AS value")
            if schema is None:
                raise StoreError(
                    f"cannot open the store {self._display()}: no schema of its search_path exists"
                )
            self._channel = _channel(schema)
            self._migrate()
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, psycopg.Error):
                kind = StoreUnavailable if isinstance(exc, DatabaseErrors) else StoreError
                raise kind(
                    f"cannot open the store {self._display()}: {_one_line(exc, location)}"
                ) from None
            raise

    # --- plumbing ----------------------------------------------------------------------

    def _display(self) -> str:
        return display_location(self.location)

    def _open(self) -> Connection:
        conn = _connect(self.location)
        # Workers too commit with their WAL flushed (about 0.15 ms here): with "off", a mere
        # restart of the server (-m immediate, a crashed backend), not only a power cut,
        # forgets the last few hundred milliseconds of claims and outcomes, and jobs that
        # ran would run again. (SQLite's synchronous=NORMAL loses nothing to a crash of a
        # process, only to a power cut, so SQLite workers keep it.)
        with _closed_on_failure(conn):
            conn.execute("SET synchronous_commit = on")
        return conn

    def _migrate(self) -> None:
        version = self._schema_version()
        if version == self._newest_schema:
            return
        if version > self._newest_schema:
            raise self._too_new(version)
        with self._conn.transaction():
            self._conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [MIGRATION_LOCK]
            )
            version = self._schema_version()  # another host may have migrated meanwhile
            if version > self._newest_schema:
                raise self._too_new(version)
            for statement in queries.upgrade(self.dialect, version):
                self._conn.execute(statement)
            self._conn.execute(
                "INSERT INTO queuectl_meta (key, value) VALUES ('schema_version', %(v)s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                {"v": str(max(version, self._newest_schema))},
            )

    def _schema_version(self) -> int:
        # A catalog query, not to_regclass(): the latter may answer from this session's
        # cache, which still says "no such table" after another host's migration committed
        # while this one waited for the lock.
        if not self._value(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = 'queuectl_meta' AND n.nspname = current_schema())"
            " AS value"
        ):
            return 0
        row = self._conn.execute(
            "SELECT value FROM queuectl_meta WHERE key = 'schema_version'"
        ).fetchone()
        return int(row["value"]) if row else 0

    def _value(self, text: str) -> Any:
        """The `value` column of the one row a statement of the opening gives."""
        row = self._conn.execute(text).fetchone()
        assert row is not None  # such a SELECT always gives one row
        return row["value"]

    def _too_new(self, version: int) -> SchemaTooNew:
        return SchemaTooNew(
            f"the store {self._display()} has schema version {version}; this "
            f"queuectl knows {self._newest_schema}: upgrade queuectl"
        )

    @contextmanager
    def _guard(self) -> Iterator[Connection]:
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

    def _lost(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(
            f"cannot use the store {self._display()}: {_one_line(exc, self.location)}"
        )

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._guard() as conn:
            self._depth += 1
            try:
                with conn.transaction():
                    yield conn
            finally:
                self._depth -= 1

    def _lock_gates_briefly(self) -> None:
        # Called first in its transaction: the failed LOCK rolls back nothing else.
        with self._guard() as conn:
            conn.execute(f"SET LOCAL lock_timeout = '{GATES_WAIT_MS}ms'")
            try:
                conn.execute(self._queries["lock_gates"].text)
            except psycopg.errors.LockNotAvailable:
                raise GatesBusy from None

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        with self._transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def _rows(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        queues: Sequence[str] | None = None,
        where: str = "",
    ) -> list[Row]:
        query = self._queries[name]
        if params:
            params = _sendable(query, params)
            if params is None:
                return []
        return list(
            self._fetch(self._sql(name, queues, where), params, repeatable=query.repeatable)
        )

    def _fetch(
        self, text: str, params: dict[str, Any] | None = None, repeatable: bool = False
    ) -> list[dict[str, Any]]:
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

    def _many(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        with self._guard() as conn:
            conn.cursor().executemany(self._queries[name].text, rows)

    def _count(self, name: str, params: dict[str, Any]) -> int:
        query = self._queries[name]
        sent = _sendable(query, params)
        if sent is None:
            return 0
        with self._guard() as conn:
            return conn.execute(query.text, sent).rowcount

    def _list(self, values: Sequence[str]) -> list[str]:
        return list(values)

    def _param(self, name: str) -> str:
        return f"%({name})s"

    def _announce(self, reason: str) -> None:
        """One small NOTIFY, delivered when the enclosing transaction commits. (A commit that
        notifies takes a server-wide lock, so state changes of running jobs never do.)"""
        with self._guard() as conn:
            conn.execute(
                "SELECT pg_notify(%(channel)s, %(reason)s)",
                {"channel": self._channel, "reason": reason},
            )

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
            try:
                server, local = self._clock_at = self._read_clock()
            except StoreUnavailable:
                if local == -math.inf:
                    raise
                # The offset measured before the outage is as good as it was: a worker that
                # only needs the time keeps going until the server is back.
        self._last_now = max(self._last_now, server + time.monotonic() - local)
        return self._last_now

    def _read_clock(self) -> tuple[float, float]:
        before = time.monotonic()
        [row] = self._fetch(
            "SELECT extract(epoch FROM clock_timestamp())::float8 AS now", repeatable=True
        )
        return row["now"], (before + time.monotonic()) / 2

    # --- health ------------------------------------------------------------------------

    def schema_versions(self) -> tuple[int, int]:
        with self._guard():
            return self._schema_version(), self._newest_schema

    def server_facts(self) -> ServerFacts:
        before = time.time()
        [row] = self._fetch(_SERVER_FACTS, repeatable=True)
        after = time.time()
        return ServerFacts(
            clock_offset=row["now"] - (before + after) / 2,
            uncertainty=(after - before) / 2,
            max_connections=row["max_connections"] - row["reserved"],
            connections=row["connections"],
        )

    def notify_delay(self, timeout: float) -> float | None:
        channel = f"queuectl_doctor_{secrets.token_hex(8)}"  # its own: no worker wakes
        try:
            listener = _connect(self.location)
        except psycopg.Error as exc:
            raise self._lost(exc) from None
        try:
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            sent = time.monotonic()
            self._fetch("SELECT pg_notify(%(channel)s, 'doctor')", {"channel": channel})
            for _ in listener.notifies(timeout=timeout, stop_after=1):
                return time.monotonic() - sent
            return None
        except DatabaseErrors as exc:
            raise self._lost(exc) from None
        finally:
            listener.close()

    # --- reads -------------------------------------------------------------------------

    def run_times(self, bounds: Sequence[float]) -> RunTimes:
        columns = "".join(
            f", count(*) FILTER (WHERE finished_at - started_at <= %(b{i})s) AS b{i}"
            for i in range(len(bounds))
        )
        text = self._queries["run_times"].text.replace("/*buckets*/", columns)
        with self._guard() as conn:
            row = conn.execute(
                text,
                {f"b{i}": ms(bound) for i, bound in enumerate(bounds)},
            ).fetchone()
        assert row is not None  # an aggregate gives one row
        return RunTimes(
            row["n"],
            row["total_ms"] / 1000.0,
            [row[f"b{i}"] for i in range(len(bounds))],
            row["cpu_user"],
            row["cpu_system"],
        )

    # --- wake-up -----------------------------------------------------------------------

    def wake_workers(self) -> None:
        self._announce("wake")

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
        self._conn: Connection | None = None
        self._retry_at = 0.0
        # A server that is away now is listened to once it is back (see _receive); until
        # then the caller's poll finds the work.
        with suppress(psycopg.Error):
            self._conn = self._listen()

    def _listen(self) -> Connection:
        conn = _connect(self._location)
        with _closed_on_failure(conn):
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        return conn

    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> bool:
        self.reasons = frozenset()
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
            if ready:
                self.reasons = frozenset(note.payload for note in self._conn.notifies(timeout=0))
            return bool(ready and self.reasons)
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
