"""The dead letter queue commands: dlq list, retry and purge."""

from __future__ import annotations

import argparse

from queuectl import service
from queuectl.cli.common import open_store
from queuectl.cli.output import ago, print_json, say, shorten, table
from queuectl.errors import UserError


def cmd_dlq_list(args: argparse.Namespace) -> int:
    store = open_store(args, only_reads=True)
    jobs, total = service.dlq_list(store, args.limit)
    if total > len(jobs):
        say(f"showing the newest {len(jobs)} of {total} dead jobs (see --limit)")
    if args.json:
        print_json([job.to_dict() for job in jobs])
    else:
        now = service.clock(store)
        table(
            [
                (
                    j.id,
                    j.attempts,
                    j.exit_code,
                    j.last_error or "",
                    ago(j.finished_at, now),
                    shorten(j.command),
                )
                for j in jobs
            ],
            ("ID", "ATTEMPTS", "EXIT", "LAST ERROR", "DIED", "COMMAND"),
        )
    return 0


def cmd_dlq_retry(args: argparse.Namespace) -> int:
    if args.all and args.job_ids:
        raise UserError("give job ids or --all, not both")
    moved = service.dlq_retry(open_store(args), None if args.all else args.job_ids)
    if args.json:
        print_json({"ids": moved})
    else:
        print(f"moved {len(moved)} job(s) back to pending" if moved else "no dead jobs")
    return 0


def cmd_dlq_purge(args: argparse.Namespace) -> int:
    count = service.purge(open_store(args), "dead")
    if args.json:
        print_json({"purged": count})
    else:
        print(f"purged {count} dead job(s)")
    return 0
