"""What every command needs besides printing: the store that its --db names."""

from __future__ import annotations

import argparse

from queuectl import service
from queuectl.cli.output import say
from queuectl.errors import UserError
from queuectl.hooks import KEYS as HOOK_KEYS
from queuectl.policy import KEYS as POLICY_KEYS

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any


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


def job_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The job object of the options that describe a job (parser._add_job_options) and
    the command: run's, and each run of a schedule's."""
    spec: dict[str, Any] = {"command": args.cmd, "queue": args.queue, "priority": args.priority}
    for key in ("max_retries", "timeout", "cwd", "group", "lock", *POLICY_KEYS, *HOOK_KEYS):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    if args.env:
        spec["env"] = dict(args.env)
    if args.inherit_env:
        spec["inherit_env"] = ",".join(args.inherit_env)
    return spec
