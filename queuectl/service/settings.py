"""Settings as stored: show, get, set, unset."""

from __future__ import annotations

from typing import Any

from queuectl.config import SETTINGS, setting
from queuectl.service.stores import load_config
from queuectl.store.base import Store


def config_show(store: Store) -> dict[str, Any]:
    effective = load_config(store)
    return {name: getattr(effective, name) for name in SETTINGS}


def config_stored(store: Store) -> dict[str, Any]:
    return {k: v for k, v in store.config_values().items() if k in SETTINGS}


def config_get(store: Store, key: str) -> Any:
    return config_show(store)[setting(key).name]


def config_set(store: Store, key: str, raw: object) -> Any:
    item = setting(key)
    value = item.parse(raw)
    store.config_set(item.name, value)
    return value


def config_unset(store: Store, key: str) -> None:
    store.config_unset(setting(key).name)
