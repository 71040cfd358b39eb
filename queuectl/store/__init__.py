"""Open the store a location names: a file path, or a URL whose scheme names a backend.

Every backend is registered here, in one line of `BACKENDS`, so that a location can be
checked and a backend's capabilities asked for without importing it: its module, and any
driver it needs (psycopg), is imported when a store of it is opened.
"""

from __future__ import annotations

import importlib
import os
import re

from queuectl.errors import StoreError, StoreMissing, UserError
from queuectl.records import record
from queuectl.store.base import Store

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Callable

DB_ENV = "QUEUECTL_DB"
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_CONNINFO = re.compile(
    r"\s*(host|hostaddr|port|dbname|user|password|service|sslmode)\s*=", re.IGNORECASE
)


@record(frozen=True)
class Backend:
    """A kind of store: how a location names it, where its code is, and what it can do
    (its capabilities, as River's drivers declare theirs)."""

    name: str  # what tests call it: test_claim[sqlite]
    title: str  # as messages call it
    store: str  # "module:class" of its `Store`, whose constructor takes (location,
    # durable=..., only_reads=...) as `open_store` does
    schemes: tuple[str, ...] = ()  # the URL schemes that name it; none: file paths do
    driver: str = ""  # the module it needs beyond the standard library...
    extra: str = ""  # ...and the extra that installs it: pip install 'queuectl[extra]'
    # Capabilities:
    local_disk: bool = False  # its file's locks hold only on a local disk, not on NFS or SMB


BACKENDS = (
    Backend("sqlite", "SQLite", "queuectl.store.sqlite:SqliteStore", local_disk=True),
    Backend(
        "postgres",
        "PostgreSQL",
        "queuectl.store.postgres:PostgresStore",
        schemes=("postgresql", "postgres"),
        driver="psycopg",
        extra="postgres",
    ),
)
_FILES = next(backend for backend in BACKENDS if not backend.schemes)


def backend_of(location: str) -> Backend:
    """The backend that `location` names: by its URL scheme, else the one of file paths."""
    url = _URL.match(location)
    scheme = url.group(1).lower() if url else None
    return next((backend for backend in BACKENDS if scheme in backend.schemes), _FILES)


def resolve_location(given: str | None = None) -> str:
    """--db, else $QUEUECTL_DB, else the per-user default file."""
    location = given or os.environ.get(DB_ENV)
    if not location:
        return default_location()
    if backend_of(location).schemes:
        return location
    if _URL.match(location):  # mysql://..., file://...: not a path to create a file at
        raise UserError(
            f"unsupported store URL {display_location(location)!r}: give {_ways_to_name_a_store()}"
        )
    if _CONNINFO.match(location):  # not echoed: it may hold a password
        raise UserError(
            "a key=value connection string is not supported: give a "
            "postgresql:// URL (options after '?', such as ?sslmode=require)"
        )
    return os.path.realpath(os.path.expanduser(location))


def default_location() -> str:
    """The per-user default file, which any command creates on first use."""
    from queuectl.platform import data_dir

    return os.path.join(data_dir(), "queuectl.db")


def _ways_to_name_a_store() -> str:
    """What names a store of each backend: "a file path (SQLite) or a postgresql:// URL"."""
    *others, last = [
        f"a {backend.schemes[0]}:// URL" if backend.schemes else f"a file path ({backend.title})"
        for backend in BACKENDS
    ]
    return f"{', '.join(others)} or {last}" if others else last


def display_location(location: str) -> str:
    """The location with any password masked (``user:PASSWORD@`` or ``?password=``)."""
    masked = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", location)
    if backend_of(location).schemes:
        masked = re.sub(r"([?&]password=)[^&]*", r"\1***", masked, flags=re.IGNORECASE)
    return masked


def open_store(location: str, durable: bool = True, only_reads: bool = False) -> Store:
    """Open (creating or upgrading if needed) the store at `location`.

    `durable` syncs every commit to disk before it returns (for commands that accept user
    input); workers open with durable=False. `only_reads` is for callers that only read
    (status, list, the dashboard's pages): a SQLite store that cannot be written (a
    read-only file system, a file this user may not write) is then opened read-only
    instead of refused with `StoreReadOnly`, and its writes raise `StoreReadOnly`. Nor
    does it create a store: a file that does not exist, other than the per-user default,
    raises `StoreMissing` (a --db with a typo must not leave an empty store behind).
    """
    backend = backend_of(location)
    # Only files for now: a PostgreSQL schema without queuectl's tables is still created.
    missing = not backend.schemes and not os.path.exists(location)
    if only_reads and missing and location != default_location():
        raise StoreMissing(display_location(location))
    store_class = _store_class(backend)
    return store_class(location, durable=durable, only_reads=only_reads)


def _store_class(backend: Backend) -> Callable[..., Store]:
    module, _, name = backend.store.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        if not backend.driver or backend.driver not in str(exc):
            raise
        raise StoreError(
            f"the {backend.title} backend needs {backend.driver}: "
            f"pip install 'queuectl[{backend.extra}]'"
        ) from None
