"""Opening a store: where it is, how it is shown, its settings."""

from __future__ import annotations

import os

from queuectl.config import Config
from queuectl.store import backend_of, display_location, open_store, resolve_location
from queuectl.store.base import Store


def locate(given: str | None) -> str:
    """The store's location: `given` (--db), else $QUEUECTL_DB, else the per-user file."""
    return resolve_location(given)


def open_location(location: str, durable: bool = True, only_reads: bool = False) -> Store:
    """The store at `location`, created or upgraded if need be: the one way the CLI and the
    dashboard open one (`durable` and `only_reads` as for `queuectl.store.open_store`)."""
    return open_store(location, durable=durable, only_reads=only_reads)


def existing_job_ids(location: str, prefix: str, limit: int) -> list[str]:
    """Of the `limit` newest jobs of the store at `location`, the ids that start with
    `prefix` (for shell completion). A store that does not exist is not created: no ids.
    Nor is a store on a server opened, since opening one creates its tables."""
    if backend_of(location).schemes or not os.path.isfile(location):
        return []
    store = open_store(location, only_reads=True)
    try:
        jobs = store.list_jobs(limit=limit)
    finally:
        store.close()
    return [job.id for job in jobs if job.id.startswith(prefix)]


def shown_location(location: str) -> str:
    """The location as it may be shown: a password in it masked."""
    return display_location(location)


def load_config(store: Store) -> Config:
    return Config.from_stored(store.config_values())
