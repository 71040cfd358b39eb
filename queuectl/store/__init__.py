"""Open the store a location names: a SQLite file path, or a ``postgresql://`` URL."""

from __future__ import annotations

import os
import re

from queuectl.errors import StoreError, UserError
from queuectl.store.base import Store

DB_ENV = "QUEUECTL_DB"
_PG_SCHEMES = ("postgresql://", "postgres://")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CONNINFO = re.compile(r"\s*(host|hostaddr|port|dbname|user|password|service|sslmode)\s*=",
                       re.IGNORECASE)


def resolve_location(given: str | None = None) -> str:
    """--db, else $QUEUECTL_DB, else the per-user default file."""
    location = given or os.environ.get(DB_ENV)
    if not location:
        from queuectl.platform import data_dir

        return os.path.join(data_dir(), "queuectl.db")
    if is_postgres(location):
        return location
    if _URL.match(location):  # mysql://..., file://...: not a path to create a file at
        raise UserError(f"unsupported store URL {display_location(location)!r}: give a file "
                        "path (SQLite) or a postgresql:// URL")
    if _CONNINFO.match(location):  # not echoed: it may hold a password
        raise UserError("a key=value connection string is not supported: give a "
                        "postgresql:// URL (options after '?', such as ?sslmode=require)")
    return os.path.realpath(os.path.expanduser(location))


def is_postgres(location: str) -> bool:
    return location.lower().startswith(_PG_SCHEMES)


def display_location(location: str) -> str:
    """The location with any password masked (``user:PASSWORD@`` or ``?password=``)."""
    masked = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", location)
    if is_postgres(location):
        masked = re.sub(r"([?&]password=)[^&]*", r"\1***", masked, flags=re.IGNORECASE)
    return masked


def open_store(location: str, durable: bool = True, only_reads: bool = False) -> Store:
    """Open (creating or upgrading if needed) the store at `location`.

    `durable` syncs every commit to disk before it returns (for commands that accept user
    input); workers open with durable=False. `only_reads` is for callers that only read
    (status, list, the dashboard's pages): a SQLite store that cannot be written (a
    read-only file system, a file this user may not write) is then opened read-only
    instead of refused with `StoreReadOnly`, and its writes raise `StoreReadOnly`.
    """
    if is_postgres(location):
        try:
            from queuectl.store.postgres import PostgresStore
        except ImportError as exc:
            if "psycopg" not in str(exc):
                raise
            raise StoreError("the PostgreSQL backend needs psycopg: "
                             "pip install 'queuectl[postgres]'") from None
        return PostgresStore(location, durable=durable)
    from queuectl.store.sqlite import SqliteStore

    return SqliteStore(location, durable=durable, only_reads=only_reads)
