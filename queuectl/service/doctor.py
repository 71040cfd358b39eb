"""`queuectl doctor` (SPEC §10): what may keep a store from working as it should, each
checked as `ok`, `warn` or `fail`, with what to do when it is not ok.

Each check is a function of what it looks at (a version, a mount table, a disk's usage,
the store), so that a test can give it a condition this machine does not have: a full disk,
a store on NFS, a server whose clock is off. A check that breaks is a failure of its own,
never a crash of the command.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from typing import Any, Callable

from queuectl import platform
from queuectl.errors import SchemaTooNew, StoreError
from queuectl.model import WorkerInfo
from queuectl.records import record
from queuectl.service.stores import load_config, open_location
from queuectl.service.workers import workers
from queuectl.store import backend_of
from queuectl.store.base import ServerFacts, Store
from queuectl.store.sqlite import MIN_SQLITE

OK, WARN, FAIL = "ok", "warn", "fail"
MIB = 1024**2
DISK_WARN = 1024 * MIB  # free bytes below which a busy store may soon fill its disk
DISK_FAIL = 100 * MIB  # ... and below which the next WAL checkpoint or big output may not fit
CLOCK_WARN = 1.0  # seconds between the server's clock and this host's
CLOCK_FAIL = 60.0
NOTIFY_TIMEOUT = 5.0  # seconds for a NOTIFY to reach a listener
CONNECTIONS_NEAR = 0.8  # of max_connections: a warning from there
# What a pool holds on a server (worker/launch.py, worker/loop.py): each worker its store
# connection and its LISTEN connection, the supervisor one store connection.
CONNECTIONS_PER_WORKER = 2
CONNECTIONS_PER_POOL = 1
SHOWN = 5  # ids a message lists


@record(frozen=True)
class Check:
    """One line of `queuectl doctor`."""

    name: str
    level: str  # ok, warn or fail
    message: str
    hint: str | None = None  # what to do, when not ok

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "message": self.message, "hint": self.hint}


def diagnose(location: str) -> list[Check]:
    """Every check that applies to the store at `location`, in a fixed order. A store that
    cannot be opened is one failed check; those that need it are then left out."""
    file_store = backend_of(location).local_disk
    try:
        store = open_location(location, only_reads=True)
    except StoreError as exc:
        before = _file_checks(location, None) if file_store else []
        if isinstance(exc, SchemaTooNew):
            return before + [_newer_schema(str(exc))]
        return before + [Check("store", FAIL, str(exc), _reach_hint(file_store))]
    try:
        return (_file_checks(location, store) if file_store else []) + [
            _guarded("schema", lambda: schema_check(store)),
            _guarded("workers", lambda: lost_workers_check(store)),
            _guarded("leases", lambda: expired_jobs_check(store)),
            *_server_checks(store),
        ]
    finally:
        store.close()


def _reach_hint(file_store: bool) -> str:
    if file_store:
        return "check the --db path (or QUEUECTL_DB)"
    return "check the URL, and that the server runs and takes connections from this host"


def has_failure(checks: list[Check]) -> bool:
    """Whether any check failed: `doctor` then exits 1."""
    return any(check.level == FAIL for check in checks)


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # any error: it is what this check found
        return _broken(name, exc)


def _broken(name: str, exc: Exception) -> Check:
    text = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return Check(name, FAIL, f"the check could not run: {text}", "fix what the error says")


def _file_checks(location: str, store: Store | None) -> list[Check]:
    """The checks of a store in a file; `store` None if it could not be opened."""
    version = sqlite3.sqlite_version_info
    return [
        _guarded("sqlite", lambda: sqlite_check(version, store.journal_mode() if store else None)),
        _guarded("filesystem", lambda: network_check(location)),
        _guarded("disk", lambda: disk_check(location)),
    ]


def _server_checks(store: Store) -> list[Check]:
    """The checks of a store on a database server; none for one without."""
    try:
        facts = store.server_facts()
    except Exception as exc:  # as in _guarded, for the checks that need the facts
        return [_broken("server", exc)]
    if facts is None:
        return []
    return [
        _guarded("clock", lambda: clock_check(facts)),
        _guarded("notify", lambda: notify_check(store)),
        _guarded("connections", lambda: connections_check(facts, store.list_workers())),
    ]


# --- a store in a file ------------------------------------------------------------------


def sqlite_check(version: tuple[int, int, int], journal_mode: str | None) -> Check:
    """The SQLite library's version and, if the store is open, its journal mode."""
    shown = ".".join(map(str, version))
    if version < MIN_SQLITE:
        return Check(
            "sqlite",
            FAIL,
            f"SQLite {shown} is too old: queuectl needs {'.'.join(map(str, MIN_SQLITE))}",
            "use a Python built with a newer SQLite",
        )
    if journal_mode is None:
        return Check("sqlite", OK, f"SQLite {shown}")
    if journal_mode != "wal":
        return Check(
            "sqlite",
            FAIL,
            f"SQLite {shown}, journal mode {journal_mode}: readers and the writer block "
            "each other, and writes may fail with 'database is locked'",
            "with no worker running: sqlite3 STORE 'PRAGMA journal_mode=WAL'",
        )
    return Check("sqlite", OK, f"SQLite {shown}, journal mode wal")


def network_check(path: str, mountinfo: list[str] | None = None) -> Check:
    """Whether the store's file is on a network file system (`mountinfo`: the lines of
    /proc/self/mountinfo, read from there if not given)."""
    kind = platform.network_filesystem(path, mountinfo)
    if kind is None:
        return Check("filesystem", OK, "the store is not on a network file system")
    return Check(
        "filesystem",
        FAIL,
        f"the store is on a network file system ({kind}): SQLite's locks and the shared "
        "memory of its WAL hold only on one host's local disk",
        "move the store to a local disk; for workers on several machines use PostgreSQL",
    )


def free_bytes(folder: str) -> int:
    return shutil.disk_usage(folder).free


def disk_check(path: str, free_space: Callable[[str], int] = free_bytes) -> Check:
    """The free space of the file system the store's file is on."""
    folder = _existing_folder(path)
    free = free_space(folder)
    message = f"{_size(free)} free on {folder}"
    hint = "free some space: a full disk stops every write (enqueues, results, output)"
    if free < DISK_FAIL:
        return Check("disk", FAIL, message, hint)
    if free < DISK_WARN:
        return Check("disk", WARN, message, hint)
    return Check("disk", OK, message)


def _existing_folder(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def _size(count: int) -> str:
    if count >= 1024 * MIB:
        return f"{count / (1024 * MIB):.1f} GiB"
    return f"{count / MIB:.0f} MiB"


# --- any store --------------------------------------------------------------------------


def schema_check(store: Store) -> Check:
    version, newest = store.schema_versions()
    if version > newest:  # another host's newer queuectl upgraded it since it was opened
        return _newer_schema(
            f"the store has schema version {version}; this queuectl knows {newest}"
        )
    if version < newest:
        return Check(
            "schema",
            WARN,
            f"schema version {version}, older than this queuectl's {newest}",
            "any command that writes to the store upgrades it",
        )
    return Check("schema", OK, f"schema version {version}, this queuectl's")


def _newer_schema(message: str) -> Check:
    return Check(
        "schema",
        FAIL,
        message,
        "a newer queuectl upgraded the store: install it here (on every host that uses it)",
    )


def lost_workers_check(store: Store) -> Check:
    """Registered workers that have not reported in for a whole lease."""
    listed = workers(store)
    lost = [w for w in listed if w["state"] == "lost"]
    if not lost:
        return Check("workers", OK, f"{len(listed)} worker(s) registered, none lost")
    shown = _first(
        [
            f"{w['id']} on host {w['host']}, pid {w['pid']}, silent for {w['heartbeat_age']:.0f} s"
            for w in lost
        ],
        "; ",
    )
    if len(lost) < len(listed):
        hint = (
            "the running pool removes them, and recovers their jobs: those of its own host "
            "once their process is gone, others after two silent leases"
        )
    else:
        hint = (
            "no pool runs to remove them: start one (queuectl worker start); it recovers "
            "their jobs and removes them, at once on their own host, after two silent "
            "leases elsewhere"
        )
    hint += "; a lost worker whose process still runs is hung: kill it"
    return Check("workers", WARN, f"{len(lost)} lost worker(s) still registered ({shown})", hint)


def expired_jobs_check(store: Store) -> Check:
    """Processing jobs whose lease ran out, and whether a pool is left to recover them."""
    expired = store.expired_jobs(store.clock())
    if not expired:
        return Check("leases", OK, "no processing job has outlived its lease")
    ids = _first([job.id for job in expired], ", ")
    live = [w for w in workers(store) if w["state"] != "lost"]
    if live:
        return Check(
            "leases",
            OK,
            f"{len(expired)} processing job(s) past their lease ({ids}): the running pool "
            "recovers them",
        )
    return Check(
        "leases",
        FAIL,
        f"{len(expired)} processing job(s) past their lease ({ids}) and no pool left to "
        "recover them",
        "start a pool (queuectl worker start): it ends their attempts as 'worker lost', "
        "and the retry rules apply",
    )


def _first(items: list[str], separator: str) -> str:
    """The first SHOWN of `items`, joined, with "..." for the rest."""
    return separator.join(items[:SHOWN] + (["..."] if len(items) > SHOWN else []))


# --- a store on a server ----------------------------------------------------------------


def clock_check(facts: ServerFacts) -> Check:
    """The server's clock against this host's. Leases use the server's clock alone, so
    they stay right; what this host reads of its own clock does not (--run-at times)."""
    offset = facts.clock_offset
    off = max(abs(offset) - facts.uncertainty, 0.0)
    side = "ahead of" if offset > 0 else "behind"
    message = f"the server's clock is {_seconds(abs(offset))} {side} this host's"
    hint = (
        "synchronise the clocks (NTP): leases use the server's clock, but times given "
        "on this host (--run-at) are off by that much"
    )
    if off > CLOCK_FAIL:
        return Check("clock", FAIL, message, hint)
    if off > CLOCK_WARN:
        return Check("clock", WARN, message, hint)
    return Check("clock", OK, message)


def notify_check(store: Store, timeout: float = NOTIFY_TIMEOUT) -> Check:
    """Whether a NOTIFY reaches a listening connection: how idle workers are woken."""
    delay = store.notify_delay(timeout)
    if delay is None:
        poll = load_config(store).poll_interval
        return Check(
            "notify",
            WARN,
            f"a NOTIFY did not reach a listening connection within {timeout:g} s: idle "
            f"workers find new jobs only at their poll, every {poll:g} s",
            "connect to the server directly or through a pooler in session mode "
            "(LISTEN needs a connection of its own)",
        )
    return Check("notify", OK, f"LISTEN/NOTIFY works: a NOTIFY arrived in {_seconds(delay)}")


def _seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.1f} s"


def connections_check(facts: ServerFacts, registered: list[WorkerInfo]) -> Check:
    """max_connections against what the registered workers and their pools hold."""
    pools = {worker.pool for worker in registered}
    needed = CONNECTIONS_PER_WORKER * len(registered) + CONNECTIONS_PER_POOL * len(pools)
    limit = facts.max_connections
    message = (
        f"the server takes {limit} client connections, {facts.connections} open now; "
        f"the {len(registered)} registered worker(s) of {len(pools)} pool(s) need {needed}"
    )
    hint = (
        f"raise max_connections or run fewer workers: each worker holds "
        f"{CONNECTIONS_PER_WORKER}, each pool {CONNECTIONS_PER_POOL}"
    )
    if needed > limit:
        return Check("connections", FAIL, message, hint)
    if max(needed, facts.connections) > CONNECTIONS_NEAR * limit:
        return Check("connections", WARN, message, hint)
    return Check("connections", OK, message)
