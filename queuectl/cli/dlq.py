"""The dead letter queue commands: dlq list, retry and purge."""

from __future__ import annotations

import argparse

from queuectl import service
from queuectl.cli.common import open_store, say_skipped
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
    if (args.all, bool(args.job_ids), args.group is not None).count(True) > 1:
        raise UserError("give job ids, --group G or --all, one of them")
    store = open_store(args)
    if args.group is not None:
        acted = service.retry_group(store, args.group)
        say_skipped(acted.skipped, "not dead")
        moved = acted.ids
    else:
        moved = service.dlq_retry(store, None if args.all else args.job_ids)
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
