"""The queue commands: queue list, pause, resume and limit (SPEC §8)."""

from __future__ import annotations

import argparse

from queuectl import service
from queuectl.cli.common import open_store
from queuectl.cli.output import print_json, say, table


def cmd_queue_list(args: argparse.Namespace) -> int:
    queues = service.queue_list(open_store(args, only_reads=True))
    if args.json:
        print_json(queues)
        return 0
    table(
        [
            (
                q["queue"],
                *(q["counts"][state] for state in ("pending", "processing", "failed", "dead")),
                "paused" if q["paused"] else "active",
                "none" if q["limit"] is None else q["limit"],
                len(q["workers"]),
            )
            for q in queues
        ],
        ("QUEUE", "PENDING", "PROCESSING", "FAILED", "DEAD", "STATE", "LIMIT", "WORKERS"),
    )
    return 0


def cmd_queue_pause(args: argparse.Namespace) -> int:
    paused_already = service.pause(open_store(args), args.queues)
    for queue in paused_already:
        say(f"queue {queue} is paused already")
    paused = [queue for queue in args.queues if queue not in paused_already]
    if paused:
        print(f"paused {', '.join(paused)}")
    return 0


def cmd_queue_resume(args: argparse.Namespace) -> int:
    not_paused = service.resume(open_store(args), args.queues)
    for queue in not_paused:
        say(f"queue {queue} is not paused: nothing to resume")
    resumed = [queue for queue in args.queues if queue not in not_paused]
    if resumed:
        print(f"resumed {', '.join(resumed)}")
    return 0


def cmd_queue_limit(args: argparse.Namespace) -> int:
    max_running = service.parse_limit(args.limit)
    service.limit(open_store(args), args.queue, max_running)
    shown = "no limit" if max_running is None else f"at most {max_running} at once"
    print(f"queue {args.queue}: {shown}")
    return 0
