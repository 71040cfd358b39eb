"""What every command needs besides printing: the store that its --db names."""

from __future__ import annotations

import argparse

from queuectl import service


def store_location(args: argparse.Namespace) -> str:
    return service.locate(args.db)


def open_store(args: argparse.Namespace, durable: bool = True, only_reads: bool = False):
    """The store; `only_reads` for a command that only reads it, which then works on a
    store this user may only read."""
    return service.open_location(store_location(args), durable=durable, only_reads=only_reads)
