"""The worker commands: start, stop and list."""

from __future__ import annotations

import argparse
import sys

from queuectl import service
from queuectl.cli import collect_garbage_as_usual
from queuectl.cli.common import open_store, store_location
from queuectl.cli.output import print_json, print_workers, say


def cmd_worker_start(args: argparse.Namespace) -> int:
    from queuectl.worker import launch

    if args.db_stdin:
        args.db = sys.stdin.readline().rstrip("\n")
    warning = launch.check_count(args.count)
    if warning:
        say(warning)
    location = store_location(args)
    network = launch.network_filesystem(location)
    if network:
        say(
            f"warning: the store {location} is on a network file system ({network}); "
            "SQLite's locking is not reliable there: keep it on a local disk, and use "
            "PostgreSQL for workers on several machines"
        )
    if args.foreground:
        return _run_pool(args, location)
    started, log_path = launch.start_detached(location, args.count, args.queue)
    _print_workers_started(started, args.json)
    say(f"workers run in the background; log: {log_path}")
    return 0


def _run_pool(args: argparse.Namespace, location: str) -> int:
    from queuectl.logs import log_to
    from queuectl.worker import launch

    collect_garbage_as_usual()
    if not args.log_file:  # else the pool logs to that file once it has opened the store
        log_to()

    def announce(started) -> None:
        if not args.log_file:  # a detached pool's starter reads its workers from the store
            _print_workers_started(started, args.json)
            sys.stdout.flush()

    return launch.run_attached(
        location, args.count, args.queue, args.pool_id, announce, args.log_file
    )


def _print_workers_started(started, as_json: bool) -> None:
    if as_json:
        print_json([{"id": worker_id, "pid": pid} for worker_id, pid in started])
    else:
        sys.stdout.write("".join(f"{worker_id} {pid}\n" for worker_id, pid in started))


def cmd_worker_stop(args: argparse.Namespace) -> int:
    store = open_store(args)
    ids = service.stop_workers(store, args.pool, args.queue)
    if not ids:
        say("no worker is running" + (" that matches" if args.pool or args.queue else ""))
        return 0
    say(f"asked {len(ids)} worker(s) to stop after their current job")
    if not args.wait:
        return 0
    remaining = service.await_workers_gone(store, ids, args.timeout)
    if remaining:
        say(f"{len(remaining)} worker(s) still running: {', '.join(remaining)}")
        return 124
    say("all workers stopped")
    return 0


def cmd_worker_list(args: argparse.Namespace) -> int:
    workers = service.workers(open_store(args, only_reads=True))
    if args.json:
        print_json(workers)
        return 0
    print_workers(workers)
    return 0
