"""The workflow commands: hold, release, requeue, edit, explain."""

from __future__ import annotations

import argparse
import os
from typing import Any

from queuectl import service
from queuectl.cli.common import ids_or_group, open_store, say_skipped
from queuectl.cli.output import print_json
from queuectl.errors import UserError
from queuectl.hooks import KEYS as HOOK_KEYS
from queuectl.policy import KEYS as POLICY_KEYS


def cmd_hold(args: argparse.Namespace) -> int:
    ids_or_group(args)
    acted = service.hold(open_store(args), args.job_ids, args.group)
    return _report(args, acted, "held", "not pending or failed, or held already")


def cmd_release(args: argparse.Namespace) -> int:
    ids_or_group(args)
    acted = service.release(open_store(args), args.job_ids, args.group)
    return _report(args, acted, "released", "not held")


def cmd_requeue(args: argparse.Namespace) -> int:
    ids_or_group(args)
    acted = service.requeue(open_store(args), args.job_ids, args.group, args.state)
    return _report(args, acted, "requeued", "not in a state to requeue")


def _report(args: argparse.Namespace, acted: service.Acted, done: str, why: str) -> int:
    if args.json:
        print_json({"ids": acted.ids, "skipped": acted.skipped})
    else:
        print(f"{done} {len(acted.ids)} job(s)")
    say_skipped(acted.skipped, why)
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    for key in (
        "command",
        "priority",
        "queue",
        "delay",
        "run_at",
        "timeout",
        "max_retries",
        "cwd",
        "group",
        "lock",
        *POLICY_KEYS,
        *HOOK_KEYS,
    ):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.env:
        changes["env"] = dict(args.env)
    if not changes:
        raise UserError("nothing to change: give at least one option (see queuectl edit --help)")
    job = service.edit(open_store(args), args.job_id, changes, os.getcwd())
    if args.json:
        print_json(job.to_dict())
    else:
        print(f"edited {job.id}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    explained = service.explain(open_store(args, only_reads=True), args.job_id)
    if args.json:
        print_json(explained)
        return 0
    verdict = "runnable now" if explained["runnable"] else "not runnable now"
    print(f"{explained['id']}: {explained['state']}, {verdict}")
    for reason in explained["reasons"]:
        print(f"  {reason['code']}: {reason['message']}")
    return 0
