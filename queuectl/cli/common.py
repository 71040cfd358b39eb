"""What every command needs besides printing: the store that its --db names."""

from __future__ import annotations

import argparse

from queuectl import service
from queuectl.cli.output import say
from queuectl.errors import UserError


def store_location(args: argparse.Namespace) -> str:
    return service.locate(args.db)


def open_store(args: argparse.Namespace, durable: bool = True, only_reads: bool = False):
    """The store; `only_reads` for a command that only reads it, which then works on a
    store this user may only read."""
    return service.open_location(store_location(args), durable=durable, only_reads=only_reads)


def ids_or_group(args: argparse.Namespace) -> None:
    """A verb that takes job ids or --group takes one of them."""
    if bool(args.job_ids) == (args.group is not None):
        raise UserError("give job ids or --group G, one of them")


def say_skipped(skipped: int, why: str) -> None:
    if skipped:
        say(f"skipped {skipped} job(s) of the group: {why}")
