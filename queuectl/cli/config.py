"""The config commands: show, get, set and unset the settings kept in the store."""

from __future__ import annotations

import argparse

from queuectl import service
from queuectl.cli.common import open_store
from queuectl.cli.output import print_json
from queuectl.config import format_value, setting


def cmd_config_show(args: argparse.Namespace) -> int:
    store = open_store(args, only_reads=True)
    values = service.config_show(store)
    if args.json:
        print_json(values)
        return 0
    stored = service.config_stored(store)
    for key, value in values.items():
        print(f"{key} = {format_value(value)}{'' if key in stored else '  (default)'}")
    return 0


def cmd_config_get(args: argparse.Namespace) -> int:
    value = service.config_get(open_store(args, only_reads=True), args.key)
    if args.json:
        print_json(value)
    else:
        print(format_value(value))
    return 0


def cmd_config_set(args: argparse.Namespace) -> int:
    value = service.config_set(open_store(args), args.key, args.value)
    print(f"{setting(args.key).name} = {format_value(value)}")
    return 0


def cmd_config_unset(args: argparse.Namespace) -> int:
    store = open_store(args)
    service.config_unset(store, args.key)
    name = setting(args.key).name
    print(f"{name} = {format_value(service.config_get(store, name))}  (default)")
    return 0
