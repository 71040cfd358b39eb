"""Opening a store: where it is, how it is shown, its settings."""

from __future__ import annotations

from queuectl.config import Config
from queuectl.store import display_location, open_store, resolve_location
from queuectl.store.base import Store


def locate(given: str | None) -> str:
    """The store's location: `given` (--db), else $QUEUECTL_DB, else the per-user file."""
    return resolve_location(given)


def open_location(location: str, durable: bool = True, only_reads: bool = False) -> Store:
    """The store at `location`, created or upgraded if need be: the one way the CLI and the
    dashboard open one (`durable` and `only_reads` as for `queuectl.store.open_store`)."""
    return open_store(location, durable=durable, only_reads=only_reads)


def shown_location(location: str) -> str:
    """The location as it may be shown: a password in it masked."""
    return display_location(location)


def load_config(store: Store) -> Config:
    return Config.from_stored(store.config_values())
