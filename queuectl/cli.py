"""The command line: parse the arguments, call a service function, print the result as
text or (with --json) as JSON. Modules a command does not need are imported inside it, so
that `queuectl run` starts quickly."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, Callable, NoReturn

from queuectl import __version__
from queuectl.errors import QueuectlError, UserError, quote
from queuectl.inputs import integer, load_json, whole_number

DUR_HELP = "a duration: 30, 30s, 5m, 2h, 1d, 0.5s"


# --- argument types (a bad value is a usage error: exit 2) -------------------------------

def _duration(text: str) -> float:
    from queuectl.durations import parse_duration

    try:
        return parse_duration(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _window(text: str) -> float:
    seconds = _duration(text)
    if not seconds:
        raise argparse.ArgumentTypeError("the window must be longer than 0 seconds")
    return seconds


def _time(text: str) -> str:
    from queuectl.durations import parse_time

    try:
        parse_time(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _integer(text: str) -> int:
    value = integer(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"must be an integer, not {quote(text)}")
    return value


def _whole_number(low: int, high: int = 2**31 - 1) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = whole_number(text)
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to "
                                             f"{high}, not {quote(text)}")
        return value

    return parse


_positive_int = _whole_number(1)
_count = _whole_number(0)
_port = _whole_number(0, 65535)


def _env_pair(text: str) -> tuple:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {quote(text)}")
    return name, value


def _queue_list(text: str) -> list[str]:
    from queuectl.service import check_queue

    queues = [q.strip() for q in text.split(",") if q.strip()]
    if not queues:
        raise argparse.ArgumentTypeError("expected one or more queue names, comma-separated")
    return [_usage_check(check_queue, queue) for queue in queues]


def _state(text: str) -> str:
    from queuectl.service import check_state

    return _usage_check(check_state, text)


def _usage_check(check: Callable[[str], object], text: str) -> str:
    """Run a service check on an option's value; what it rejects is a usage error."""
    try:
        check(text)
    except QueuectlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


# --- parser ------------------------------------------------------------------------------

_NEGATIVE_VALUE = re.compile(r"-(?:\.?[0-9]|(?:inf|infinity|nan)$)", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """argparse, except that a word such as "-5s", "-.5", "-1e3" or "-inf" is a value, not
    an unknown option. argparse only takes "-5" and "-1.5" so: "--delay -5s" and "config
    set backoff_max -inf" failed with "expected one argument" before the check that names
    the range could answer. Its private `_negative_number_matcher` is the one hook for
    this; no option of ours looks like a negative number."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_VALUE


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="queuectl", description="Run shell commands in the background, reliably.")
    parser.add_argument("--version", action="version", version=f"queuectl {__version__}")
    _add_db(parser, default=None)
    commands = _subcommands(parser, "command", "COMMAND")

    def command(name: str, handler: Callable, help: str, parent=commands, json_out=False):
        sub = parent.add_parser(name, help=help, description=help)
        _add_db(sub, default=argparse.SUPPRESS)
        if json_out:
            sub.add_argument("--json", action="store_true", help="print JSON on stdout")
        sub.set_defaults(handler=handler)
        return sub

    run = command("run", cmd_run, "enqueue a shell command", json_out=True)
    run.add_argument("cmd", metavar="CMD", help="the shell command line")
    run.add_argument("--id", help="job id (default: generated)")
    run.add_argument("--max-retries", type=_integer, metavar="N",
                     help="retries after the first run (default: config max_retries)")
    run.add_argument("--timeout", type=_duration, metavar="DUR",
                     help=f"per-attempt time limit, {DUR_HELP}")
    run.add_argument("--priority", type=_integer, default=0, metavar="P", help="higher runs first")
    run.add_argument("--queue", default="default", metavar="Q", help="named queue")
    when = run.add_mutually_exclusive_group()
    when.add_argument("--delay", type=_duration, metavar="DUR", help=f"run after {DUR_HELP}")
    when.add_argument("--run-at", type=_time, metavar="TIME",
                      help="run at an ISO-8601 time (local time without an offset)")
    run.add_argument("--cwd", metavar="DIR", help="working directory (default: this one)")
    run.add_argument("--env", type=_env_pair, action="append", default=[], metavar="K=V",
                     help="add a variable to the command's environment (repeatable)")
    run.add_argument("--wait", action="store_true",
                     help="wait for the job to end and exit with its exit code")

    enqueue = command("enqueue", cmd_enqueue, "enqueue jobs from JSON", json_out=True)
    source = enqueue.add_mutually_exclusive_group(required=True)
    source.add_argument("json_text", nargs="?", metavar="JSON",
                        help="a job object, or - to read one object or JSON lines from stdin")
    source.add_argument("--file", metavar="F", help="read one object or JSON lines from F")

    worker = command("worker", None, "start, stop and list workers")
    worker_commands = _subcommands(worker, "worker_command", "ACTION")
    start = command("start", cmd_worker_start, "start a pool of workers",
                    parent=worker_commands, json_out=True)
    start.add_argument("--count", type=_positive_int, default=1, metavar="N",
                       help="worker processes (default 1)")
    start.add_argument("--queue", type=_queue_list, metavar="Q[,Q...]",
                       help="serve only these queues (default: all)")
    start.add_argument("--foreground", action="store_true",
                       help="stay attached; Ctrl-C stops gracefully, twice stops at once")
    start.add_argument("--pool-id", help=argparse.SUPPRESS)
    start.add_argument("--db-stdin", action="store_true", help=argparse.SUPPRESS)
    stop = command("stop", cmd_worker_stop, "stop every worker gracefully, on every host",
                   parent=worker_commands)
    stop.add_argument("--wait", action="store_true", help="wait until they have exited")
    stop.add_argument("--timeout", type=_duration, metavar="DUR",
                      help="with --wait: give up after this long (exit 124)")
    command("list", cmd_worker_list, "list workers", parent=worker_commands, json_out=True)

    command("status", cmd_status, "job counts per state and queue, workers", json_out=True)

    listing = command("list", cmd_list, "list jobs, newest first", json_out=True)
    listing.add_argument("--state", type=_state, help="only jobs in this state")
    listing.add_argument("--queue", metavar="Q", help="only jobs in this queue")
    listing.add_argument("--limit", type=_positive_int, default=50, metavar="N")
    listing.add_argument("--offset", type=_count, default=0, metavar="N", help=argparse.SUPPRESS)

    show = command("show", cmd_show, "show a job and its attempts", json_out=True)
    show.add_argument("job_id", metavar="ID")

    logs = command("logs", cmd_logs, "print the output of a job's attempt")
    logs.add_argument("job_id", metavar="ID")
    logs.add_argument("--attempt", type=_positive_int, metavar="N",
                      help="attempt number (default: the latest)")
    logs.add_argument("--follow", "-f", action="store_true",
                      help="stream a running attempt's output until it ends")

    dlq = command("dlq", None, "the dead letter queue")
    dlq_commands = _subcommands(dlq, "dlq_command", "ACTION")
    dead = command("list", cmd_dlq_list, "list dead jobs, newest first", parent=dlq_commands,
                   json_out=True)
    dead.add_argument("--limit", type=_positive_int, default=1000, metavar="N")
    retry = command("retry", cmd_dlq_retry, "move dead jobs back to pending",
                    parent=dlq_commands, json_out=True)
    retry.add_argument("job_ids", nargs="*", metavar="ID")
    retry.add_argument("--all", action="store_true", help="every dead job")
    command("purge", cmd_dlq_purge, "delete every dead job", parent=dlq_commands,
            json_out=True)

    cancel = command("cancel", cmd_cancel, "cancel jobs", json_out=True)
    cancel.add_argument("job_ids", nargs="+", metavar="ID")

    wait = command("wait", cmd_wait, "wait for jobs to end; exit with their status")
    wait.add_argument("job_ids", nargs="+", metavar="ID")
    wait.add_argument("--timeout", type=_duration, metavar="DUR",
                      help="give up after this long (exit 124)")

    purge = command("purge", cmd_purge, "delete finished jobs", json_out=True)
    purge.add_argument("--state", required=True, choices=("completed", "dead", "canceled"))
    purge.add_argument("--older-than", type=_duration, metavar="DUR",
                       help="only jobs that finished longer ago than this")

    stats = command("stats", cmd_stats, "throughput, failures and run times", json_out=True)
    stats.add_argument("--since", type=_window, default=3600.0, metavar="DUR",
                       help="the window to look at (default 1h)")

    config = command("config", None, "settings, stored in the store")
    config_commands = _subcommands(config, "config_command", "ACTION")
    command("show", cmd_config_show, "show every setting", parent=config_commands,
            json_out=True)
    get = command("get", cmd_config_get, "print one setting", parent=config_commands,
                  json_out=True)
    get.add_argument("key", metavar="KEY")
    put = command("set", cmd_config_set, "change one setting", parent=config_commands)
    put.add_argument("key", metavar="KEY")
    put.add_argument("value", metavar="VALUE")
    unset = command("unset", cmd_config_unset, "reset one setting to its default",
                    parent=config_commands)
    unset.add_argument("key", metavar="KEY")

    dashboard = command("dashboard", cmd_dashboard,
                        "serve the web dashboard, its JSON API and Prometheus metrics")
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default 127.0.0.1; any address that "
                                "is not loopback needs --token)")
    dashboard.add_argument("--port", type=_port, default=8000,
                           help="port to listen on (default 8000; 0 picks a free one)")
    dashboard.add_argument("--token", help="require this secret, sent as 'Authorization: "
                                           "Bearer TOKEN' or at the login form (default: "
                                           "$QUEUECTL_DASHBOARD_TOKEN)")

    return parser


def _subcommands(parser: argparse.ArgumentParser, dest: str, metavar: str):
    """The sub-commands of `parser`. Not `required=True`: argparse would then report a
    missing COMMAND ahead of an unknown option (`queuectl --bogus` said "required:
    COMMAND"); a missing one is reported when the command runs, after those."""
    def missing(args: argparse.Namespace) -> NoReturn:
        parser.error(f"the following arguments are required: {metavar}")

    parser.set_defaults(handler=missing)
    return parser.add_subparsers(dest=dest, metavar=metavar)


def _add_db(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--db", default=default, metavar="PATH_OR_URL",
                        help="the store: a SQLite file or a postgresql:// URL "
                             "(default: $QUEUECTL_DB, else a per-user file)")


# --- plumbing ----------------------------------------------------------------------------

def _location(args: argparse.Namespace) -> str:
    from queuectl import service

    return service.locate(args.db)


def _open(args: argparse.Namespace, durable: bool = True, only_reads: bool = False):
    """The store; `only_reads` for a command that only reads it, which then works on a
    store this user may only read."""
    from queuectl import service

    return service.open_location(_location(args), durable=durable, only_reads=only_reads)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    cells = [list(header)] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _shorten(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _ago(moment: float | None, now: float) -> str:
    from queuectl.durations import format_age

    return "" if moment is None else format_age(now - moment) + " ago"


def _jobs_table(jobs, now: float) -> None:
    _table([(j.id, j.state, j.queue, j.priority, f"{j.attempts}/{j.max_retries + 1}",
             j.exit_code, _ago(j.updated_at, now), _shorten(j.command)) for j in jobs],
           ("ID", "STATE", "QUEUE", "PRI", "TRIES", "EXIT", "UPDATED", "COMMAND"))


def _say(message: str) -> None:
    print(f"queuectl: {message}", file=sys.stderr)


# --- commands ----------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    from queuectl import service

    spec: dict[str, Any] = {"command": args.cmd, "queue": args.queue, "priority": args.priority}
    for key in ("id", "max_retries", "timeout", "cwd", "delay", "run_at"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    if args.env:
        spec["env"] = dict(args.env)
    store = _open(args)
    job_id = service.enqueue(store, [spec], os.getcwd())[0]
    if args.json:
        _print_json({"id": job_id})
    else:
        print(job_id, flush=True)
    if not args.wait:
        return 0
    return service.wait(store, [job_id], on_no_worker=_no_worker_hint)


def _no_worker_hint() -> None:
    _say("no worker is running for this store; start one with: queuectl worker start")


def cmd_enqueue(args: argparse.Namespace) -> int:
    from queuectl import service

    if args.file is not None:
        try:
            with open(args.file, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise UserError(f"cannot read {quote(args.file)}: {exc.strerror}") from None
        specs, label = _parse_jobs(_utf8(data, args.file), batch=True)
    elif args.json_text == "-":
        specs, label = _parse_jobs(_utf8(sys.stdin.buffer.read(), "stdin"), batch=True)
    else:
        specs, label = _parse_jobs(args.json_text, batch=False)
    ids = service.enqueue(_open(args), specs, os.getcwd(), label)
    if args.json:
        _print_json({"id": ids[0]} if len(ids) == 1 and not isinstance(specs, _Lines)
                    else {"ids": ids})
    else:
        sys.stdout.write("".join(f"{job_id}\n" for job_id in ids))
    return 0


def _utf8(data: bytes, source: str) -> str:
    try:
        # utf-8-sig: a leading byte-order mark (Windows PowerShell 5 writes one) is skipped.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source} is not valid UTF-8 (byte {exc.start})") from None


class _Lines(list):
    """Jobs read as JSON lines: a batch even when there is one line."""


def _parse_jobs(text: str, batch: bool):
    """One JSON object, or (for files and stdin) JSON lines, one job per line."""
    stripped = text.strip()
    if not stripped:
        raise UserError("no job given: expected a JSON object or JSON lines")
    try:
        return [load_json(stripped)], lambda index: ""
    except ValueError as exc:
        if not batch:
            raise UserError(f"invalid JSON: {exc}") from None
    jobs, numbers = _Lines(), []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            jobs.append(load_json(line))
        except ValueError as exc:
            raise UserError(f"line {number}: invalid JSON: {exc}") from None
        numbers.append(number)
    return jobs, lambda index: f"line {numbers[index]}: "


def cmd_worker_start(args: argparse.Namespace) -> int:
    from queuectl.worker import launch

    if args.db_stdin:
        args.db = sys.stdin.readline().rstrip("\n")
    location = _location(args)
    network = launch.network_filesystem(location)
    if network:
        _say(f"warning: the store {location} is on a network file system ({network}); "
             "SQLite's locking is not reliable there: keep it on a local disk, and use "
             "PostgreSQL for workers on several machines")
    if args.foreground:
        return _run_pool(args, location)
    started, log_path = launch.start_detached(location, args.count, args.queue)
    _print_workers_started(started, args.json)
    _say(f"workers run in the background; log: {log_path}")
    return 0


def _run_pool(args: argparse.Namespace, location: str) -> int:
    import logging

    from queuectl.worker import launch

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s [%(process)d] %(message)s")

    def announce(started) -> None:
        _print_workers_started(started, args.json)
        sys.stdout.flush()

    return launch.run_attached(location, args.count, args.queue, args.pool_id, announce)


def _print_workers_started(started, as_json: bool) -> None:
    if as_json:
        _print_json([{"id": worker_id, "pid": pid} for worker_id, pid in started])
    else:
        sys.stdout.write("".join(f"{worker_id} {pid}\n" for worker_id, pid in started))


def cmd_worker_stop(args: argparse.Namespace) -> int:
    from queuectl import service

    store = _open(args)
    ids = service.stop_workers(store)
    if not ids:
        _say("no worker is running")
        return 0
    _say(f"asked {len(ids)} worker(s) to stop after their current job")
    if not args.wait:
        return 0
    remaining = service.await_workers_gone(store, ids, args.timeout)
    if remaining:
        _say(f"{len(remaining)} worker(s) still running: {', '.join(remaining)}")
        return 124
    _say("all workers stopped")
    return 0


def cmd_worker_list(args: argparse.Namespace) -> int:
    from queuectl import service

    workers = service.workers(_open(args, only_reads=True))
    if args.json:
        _print_json(workers)
        return 0
    _print_workers(workers)
    return 0


def _print_workers(workers: list[dict[str, Any]]) -> None:
    from queuectl.durations import format_age

    _table([(w["id"], w["host"], w["pid"], w["state"], w["job_id"] or "",
             ",".join(w["queues"]) if w["queues"] else "*",
             format_age(w["heartbeat_age"]) + " ago") for w in workers],
           ("ID", "HOST", "PID", "STATE", "JOB", "QUEUES", "HEARTBEAT"))


def cmd_status(args: argparse.Namespace) -> int:
    from queuectl import service
    from queuectl.model import STATES

    status = service.status(_open(args, only_reads=True))
    if args.json:
        _print_json(status)
        return 0
    print(f"store: {status['store']}")
    _table([["jobs", *status["counts"].values()]] +
           [[f"  {queue}", *counts.values()] for queue, counts in status["queues"].items()],
           ("", *STATES))
    workers = status["workers"]
    print(f"workers: {len(workers)} running" if workers else
          "workers: none running (start them with: queuectl worker start)")
    if workers:
        _print_workers(workers)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from queuectl import service

    store = _open(args, only_reads=True)
    jobs = service.list_jobs(store, args.state, args.queue, args.limit, args.offset)
    if args.json:
        _print_json([job.to_dict() for job in jobs])
    else:
        _jobs_table(jobs, service.now(store))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from queuectl import service

    store = _open(args, only_reads=True)
    job, attempts = service.show(store, args.job_id)
    if args.json:
        _print_json({"job": job.to_dict(), "attempts": [a.to_dict() for a in attempts]})
        return 0
    for key, value in job.to_dict().items():
        if key == "env":
            value = " ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key + ':':13} {'' if value is None else value}")
    if attempts:
        print()
        _table([(a.number, a.outcome or "running", a.exit_code, a.error or "",
                 a.worker_id or "", _run_time(a), a.output_total) for a in attempts],
               ("ATTEMPT", "OUTCOME", "EXIT", "ERROR", "WORKER", "TIME", "OUTPUT BYTES"))
    return 0


def _run_time(attempt) -> str:
    if attempt.started_at is None or attempt.finished_at is None:
        return ""
    return f"{attempt.finished_at - attempt.started_at:.3f}s"


def cmd_logs(args: argparse.Namespace) -> int:
    from queuectl import service

    store = _open(args, only_reads=True)
    out = sys.stdout.buffer
    if args.follow:
        def write(data: bytes) -> None:
            out.write(data)
            out.flush()

        service.follow(store, args.job_id, write)
        return 0
    out.write(service.attempt(store, args.job_id, args.attempt).text().encode("utf-8"))
    out.flush()
    return 0


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from queuectl import service

    store = _open(args, only_reads=True)
    jobs, total = service.dlq_list(store, args.limit)
    if total > len(jobs):
        _say(f"showing the newest {len(jobs)} of {total} dead jobs (see --limit)")
    if args.json:
        _print_json([job.to_dict() for job in jobs])
    else:
        now = service.now(store)
        _table([(j.id, j.attempts, j.exit_code, j.last_error or "", _ago(j.finished_at, now),
                 _shorten(j.command)) for j in jobs],
               ("ID", "ATTEMPTS", "EXIT", "LAST ERROR", "DIED", "COMMAND"))
    return 0


def cmd_dlq_retry(args: argparse.Namespace) -> int:
    from queuectl import service

    if args.all and args.job_ids:
        raise UserError("give job ids or --all, not both")
    moved = service.dlq_retry(_open(args), None if args.all else args.job_ids)
    if args.json:
        _print_json({"ids": moved})
    else:
        print(f"moved {len(moved)} job(s) back to pending" if moved else "no dead jobs")
    return 0


def cmd_dlq_purge(args: argparse.Namespace) -> int:
    from queuectl import service

    count = service.purge(_open(args), "dead")
    if args.json:
        _print_json({"purged": count})
    else:
        print(f"purged {count} dead job(s)")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from queuectl import service

    results = service.cancel(_open(args), args.job_ids)
    if args.json:
        _print_json(results)
    else:
        for job_id, result in results.items():
            print(f"{job_id} {result}" if result != "requested" else
                  f"{job_id} cancel requested (its worker has not stopped it yet)")
    late = service.late_cancels(results)
    if late:
        _say(f"error: {late}")
        return 1
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    from queuectl import service

    return service.wait(_open(args, only_reads=True), args.job_ids, args.timeout,
                        on_no_worker=_no_worker_hint)


def cmd_purge(args: argparse.Namespace) -> int:
    from queuectl import service

    count = service.purge(_open(args), args.state, args.older_than)
    if args.json:
        _print_json({"purged": count})
    else:
        print(f"purged {count} {args.state} job(s)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from queuectl import service

    stats = service.stats(_open(args, only_reads=True), args.since)
    if args.json:
        _print_json(stats)
        return 0
    print(f"from {stats['since']} to {stats['until']}")
    rows = [("(all)", stats["total"])] + list(stats["queues"].items())
    _table([(name, s["completed"], s["failed_attempts"], s["dead"], s["canceled"],
             s["jobs_per_minute"], _secs(s["mean_seconds"]), _secs(s["p95_seconds"]))
            for name, s in rows],
           ("QUEUE", "COMPLETED", "FAILED", "DEAD", "CANCELED", "JOBS/MIN", "MEAN", "P95"))
    return 0


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}s"


def cmd_config_show(args: argparse.Namespace) -> int:
    from queuectl import service

    store = _open(args, only_reads=True)
    values = service.config_show(store)
    if args.json:
        _print_json(values)
        return 0
    stored = service.config_stored(store)
    for key, value in values.items():
        print(f"{key} = {value}{'' if key in stored else '  (default)'}")
    return 0


def cmd_config_get(args: argparse.Namespace) -> int:
    from queuectl import service

    value = service.config_get(_open(args, only_reads=True), args.key)
    if args.json:
        _print_json(value)
    else:
        print(value)
    return 0


def cmd_config_set(args: argparse.Namespace) -> int:
    from queuectl import config, service

    value = service.config_set(_open(args), args.key, args.value)
    print(f"{config.setting(args.key).name} = {value}")
    return 0


def cmd_config_unset(args: argparse.Namespace) -> int:
    from queuectl import config, service

    store = _open(args)
    service.config_unset(store, args.key)
    name = config.setting(args.key).name
    print(f"{name} = {service.config_get(store, name)}  (default)")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from queuectl.dashboard.server import serve

    token = args.token if args.token is not None else \
        os.environ.get("QUEUECTL_DASHBOARD_TOKEN") or None
    return serve(_location(args), args.host, args.port, token)


# --- entry point ---------------------------------------------------------------------------

def _check_text(args: argparse.Namespace) -> None:
    """Arguments that are not valid UTF-8 (undecodable bytes in argv) cannot name anything
    in the store: say so, instead of failing somewhere deeper."""
    for name, value in vars(args).items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise UserError(f"{name.replace('_', ' ')}: {quote(text)} is not valid "
                                    "UTF-8") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_text(args)
        return args.handler(args) or 0
    except QueuectlError as exc:
        _say(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `queuectl list | head`
        sys.stderr.close()
        return 0
