"""The argument parser: every command, its options, and the types that check their values."""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
from typing import Any, Callable, NoReturn

from queuectl import __version__
from queuectl.errors import QueuectlError, UserError, quote
from queuectl.inputs import integer, whole_number
from queuectl.model import CATCH_UPS, OVERLAPS

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
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, not {quote(text)}"
            )
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


def _name_patterns(text: str) -> str:
    from queuectl.service import name_patterns

    return _usage_check(name_patterns, text)


def _queue_list(text: str) -> list[str]:
    from queuectl.service import check_queue

    queues = [q.strip() for q in text.split(",") if q.strip()]
    if not queues:
        raise argparse.ArgumentTypeError("expected one or more queue names, comma-separated")
    return [_usage_check(check_queue, queue) for queue in queues]


def _id_list(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("expected one or more job ids, comma-separated")
    return ids


def _state_list(text: str) -> list[str]:
    return [_state(part.strip()) for part in text.split(",") if part.strip()] or [_state(text)]


def _array(text: str) -> str:
    from queuectl.service import parse_array

    return _usage_check(parse_array, text)


def _add_lock(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--lock", metavar="NAME", help=help)


def _add_group(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--group", metavar="G", help=help)


def _add_failure_policy(parser: argparse.ArgumentParser) -> None:
    policy = parser.add_mutually_exclusive_group()
    words = "exit codes and ranges, timeout (stopped by its timeout), signal (killed by another)"
    policy.add_argument(
        "--retry-on",
        metavar="LIST",
        help=f"retry only a failed attempt that matches LIST (1,75,64-78,timeout): {words}",
    )
    policy.add_argument(
        "--no-retry-on",
        metavar="LIST",
        help=f"a failed attempt that matches LIST goes dead at once: {words} "
        "(default: config no_retry_on)",
    )


def _add_hooks(parser: argparse.ArgumentParser) -> None:
    for key, ended in (("success", "completed"), ("failure", "ended dead or canceled")):
        parser.add_argument(
            f"--on-{key}",
            metavar="CMD",
            help=f"a shell command a pool runs once after the job {ended}, in its cwd "
            f"(default: config on_{key}; '' for none)",
        )


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    """The options that describe a job (not when it runs, nor what it waits for): run's,
    and schedule add's for each of its runs (SPEC §8)."""
    parser.add_argument(
        "--max-retries",
        type=_integer,
        metavar="N",
        help="retries after the first run (default: config max_retries)",
    )
    parser.add_argument(
        "--timeout", type=_duration, metavar="DUR", help=f"per-attempt time limit, {DUR_HELP}"
    )
    parser.add_argument(
        "--priority", type=_integer, default=0, metavar="P", help="higher runs first"
    )
    parser.add_argument("--queue", default="default", metavar="Q", help="named queue")
    parser.add_argument("--cwd", metavar="DIR", help="working directory (default: this one)")
    parser.add_argument(
        "--env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="K=V",
        help="add a variable to the command's environment (repeatable)",
    )
    parser.add_argument(
        "--inherit-env",
        type=_name_patterns,
        action="append",
        default=[],
        metavar="PATTERN[,PATTERN]",
        help="copy this shell's variables whose names match into the job's env "
        "(e.g. PATH,LANG,AWS_*; repeatable; --env wins)",
    )
    _add_group(parser, "tag the job with a group (an array's jobs: their group's name)")
    _add_lock(parser, "at most one job holding this lock runs at a time, across every queue")
    _add_failure_policy(parser)
    _add_hooks(parser)


def _state(text: str) -> str:
    from queuectl.service import check_state

    return _usage_check(check_state, text)


def _outcome(text: str) -> str:
    from queuectl.service import check_outcome

    return _usage_check(check_outcome, text)


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

    late_epilog: Callable[[], str] | None = None

    def format_help(self) -> str:
        if self.late_epilog is not None:
            self.epilog = self.late_epilog()
        return super().format_help()

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """Words this command does not know are its own error, shown with its own usage:
        argparse hands a sub-command's leftovers up to `queuectl`, whose usage says
        nothing about the option that was mistyped (`queuectl list --sate dead`)."""
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            message = f"unrecognized arguments: {' '.join(extras)}"
            option = next((word for word in extras if word.startswith("-")), None)
            if option is not None:
                known = [
                    name
                    for action in self._actions
                    if action.help is not argparse.SUPPRESS
                    for name in action.option_strings
                    if name.startswith("--")
                ]
                message += _did_you_mean(option.partition("=")[0], known)
            self.error(message)
        return namespace, extras

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = [str(choice) for choice in action.choices]
            raise argparse.ArgumentError(
                action,
                f"invalid choice: {quote(str(value))}{_did_you_mean(str(value), choices)}"
                f" (choose from {', '.join(choices)})",
            )


class _CommandWords(argparse.Action):
    """`run`'s command, as one quoted argument or as words (`queuectl run echo hi`, the
    pueue and task-spooler habit), joined with spaces as pueue joins them. run's own
    options may come before or after it (SPEC §3: `run "CMD" --id ID`); an unknown option
    is an error, never part of the command (`run --dealy 5s echo`, `run echo --foo`);
    after `--` every word is the command's (`run -- grep --count x f`)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        words = list(values)
        if words[:1] == ["--"]:
            words = words[1:]
        if not words:
            raise argparse.ArgumentError(self, "expected the command to run")
        setattr(namespace, self.dest, " ".join(words))


# run's options that `schedule add` refuses (SPEC §8): when a run starts is the schedule's
# to say, and each run is one job of its own.
_REFUSED_BY_SCHEDULES = (
    "--id",
    "--wait",
    "--delay",
    "--run-at",
    "--array",
    "--each-line",
    "--max-running",
    "--after",
    "--after-any",
    "--after-failure",
    "--unique-key",
)


class _Refused(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None) -> None:
        raise argparse.ArgumentError(
            self,
            "not an option of schedule add: the schedule says when each run starts, "
            "and each run is a job of its own",
        )


def _did_you_mean(word: str, known: list[str]) -> str:
    """The known word closest to a mistyped one, as "; did you mean X?", or "". Options
    are compared without their dashes, which would make every pair look alike; of the
    close ones, a word with the same letters (two swapped: `stauts`) comes first, since
    difflib alone finds `stats` closer than `status`."""
    names = {name.lstrip("-"): name for name in known}
    bare = word.lstrip("-")
    close = difflib.get_close_matches(bare, list(names), n=3, cutoff=0.6)
    if not close:
        return ""
    best = next((name for name in close if sorted(name) == sorted(bare)), close[0])
    return f"; did you mean {names[best]}?"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="queuectl",
        description="Run shell commands in the background, reliably.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"queuectl {__version__}")
    _add_db(parser, default=None)
    commands = _subcommands(parser, "command", "COMMAND")

    def command(name: str, handler: str | None, help: str, parent=commands, json_out=False):
        sub = parent.add_parser(name, help=help, description=help)
        _add_db(sub, default=argparse.SUPPRESS)
        if json_out:
            sub.add_argument("--json", action="store_true", help="print JSON on stdout")
        if handler:
            sub.set_defaults(handler=Command(handler))
        return sub

    run = command("run", "jobs.cmd_run", "enqueue a shell command", json_out=True)
    run.usage = "%(prog)s [options] [--] CMD..."
    run.add_argument(
        "cmd",
        nargs="*",
        action=_CommandWords,
        metavar="CMD",
        help="the shell command line: one quoted argument, or words joined with spaces; "
        "run's options may come before or after it; after -- every word is the command's",
    )
    run.add_argument("--id", help="job id (default: generated)")
    _add_job_options(run)
    when = run.add_mutually_exclusive_group()
    when.add_argument("--delay", type=_duration, metavar="DUR", help=f"run after {DUR_HELP}")
    when.add_argument(
        "--run-at",
        type=_time,
        metavar="TIME",
        help="run at an ISO-8601 time (local time without an offset)",
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="stream the job's output until it ends, say how it ended on stderr, "
        "and exit with its exit code",
    )
    _add_quiet(run, "with --wait: print neither the output nor how the job ended")
    for option, condition in (
        ("--after", "completed"),
        ("--after-any", "ended, whatever the outcome"),
        ("--after-failure", "ended dead or canceled"),
    ):
        run.add_argument(
            option,
            type=_id_list,
            action="append",
            default=[],
            metavar="ID[,ID]",
            help=f"run only once each of these jobs has {condition} (repeatable; "
            "group:NAME is every job of that group)",
        )
    # A unique key names one job: it is a usage error with --array or --each-line.
    many = run.add_mutually_exclusive_group()
    many.add_argument(
        "--unique-key",
        metavar="K",
        help="create no job while one with key K is pending, failed or processing: "
        "print that job's id",
    )
    many.add_argument(
        "--array",
        type=_array,
        metavar="RANGE[%N]",
        help="one job per index: 1-100, 0-98:2, 1,3,5-7; ids GROUP.INDEX, "
        "$QUEUECTL_ARRAY_INDEX in each one's environment; %%N: at most N running at once",
    )
    many.add_argument(
        "--each-line",
        metavar="FILE",
        help="one job per non-empty line of FILE (- for stdin), {} in the command "
        "replaced by the line, shell-quoted; $QUEUECTL_ITEM holds it",
    )
    run.add_argument(
        "--max-running",
        type=_positive_int,
        metavar="N",
        help="with --array or --each-line: at most N of its jobs running at once, "
        "on every worker and host",
    )

    enqueue = command("enqueue", "jobs.cmd_enqueue", "enqueue jobs from JSON", json_out=True)
    source = enqueue.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "json_text",
        nargs="?",
        metavar="JSON",
        help="a job object, or - to read one object or JSON lines from stdin",
    )
    source.add_argument(
        "--file", metavar="F", help="read one object or JSON lines from F (- for stdin)"
    )

    worker = command("worker", None, "start, stop and list workers")
    worker_commands = _subcommands(worker, "worker_command", "ACTION")
    start = command(
        "start",
        "workers.cmd_worker_start",
        "start a pool of workers",
        parent=worker_commands,
        json_out=True,
    )
    start.add_argument(
        "--count", type=_positive_int, default=1, metavar="N", help="worker processes (default 1)"
    )
    start.add_argument(
        "--queue",
        type=_queue_list,
        metavar="Q[,Q...]",
        help="serve only these queues (default: all)",
    )
    start.add_argument(
        "--foreground",
        action="store_true",
        help="stay attached; Ctrl-C stops gracefully, twice stops at once",
    )
    start.add_argument("--pool-id", help=argparse.SUPPRESS)
    start.add_argument("--db-stdin", action="store_true", help=argparse.SUPPRESS)
    start.add_argument("--log-file", help=argparse.SUPPRESS)  # set by a detached start
    stop = command(
        "stop",
        "workers.cmd_worker_stop",
        "stop every worker gracefully, on every host",
        parent=worker_commands,
    )
    stop.add_argument("--pool", metavar="ID", help="only the workers of this pool")
    stop.add_argument(
        "--queue", metavar="Q", help="only the workers started with --queue serving Q"
    )
    stop.add_argument("--wait", action="store_true", help="wait until they have exited")
    stop.add_argument(
        "--timeout",
        type=_duration,
        metavar="DUR",
        help="with --wait: give up after this long (exit 124)",
    )
    command(
        "list", "workers.cmd_worker_list", "list workers", parent=worker_commands, json_out=True
    )

    status = command(
        "status", "jobs.cmd_status", "job counts per state and queue, workers", json_out=True
    )
    _add_group(status, "the counts and progress of this group's jobs")

    listing = command("list", "jobs.cmd_list", "list jobs, newest first", json_out=True)
    listing.add_argument("--state", type=_state, help="only jobs in this state")
    listing.add_argument("--queue", metavar="Q", help="only jobs in this queue")
    _add_group(listing, "only jobs of this group")
    listing.add_argument("--schedule", metavar="NAME", help="only the runs of this schedule")
    listing.add_argument(
        "--limit",
        type=_positive_int,
        default=50,
        metavar="N",
        help="at most N jobs (default 50; says so on stderr when there are more)",
    )
    listing.add_argument("--offset", type=_count, default=0, metavar="N", help=argparse.SUPPRESS)

    log = command("attempts", "jobs.cmd_attempts", "the job log: finished attempts, newest first")
    log.add_argument(
        "--since", type=_window, metavar="DUR", help="only attempts that ended in the last DUR"
    )
    log.add_argument("--queue", metavar="Q", help="only attempts of jobs in this queue")
    _add_group(log, "only attempts of this group's jobs")
    log.add_argument(
        "--outcome",
        type=_outcome,
        metavar="O",
        help="only attempts that led to this state: completed, failed, dead, canceled, pending",
    )
    log.add_argument(
        "--limit", type=_positive_int, default=50, metavar="N", help="at most N (default 50)"
    )
    log_format = log.add_mutually_exclusive_group()
    log_format.add_argument("--json", action="store_true", help="print JSON on stdout")
    log_format.add_argument(
        "--csv", action="store_true", help="print CSV on stdout, a header row first"
    )

    show = command("show", "jobs.cmd_show", "show a job and its attempts", json_out=True)
    show.add_argument("job_id", metavar="ID")

    logs = command("logs", "jobs.cmd_logs", "print the output of a job's attempt")
    logs.add_argument("job_id", metavar="ID")
    logs.add_argument(
        "--attempt", type=_positive_int, metavar="N", help="attempt number (default: the latest)"
    )
    logs_how = logs.add_mutually_exclusive_group()
    logs_how.add_argument(
        "--json", action="store_true", help='print {"id", "attempt", "output"} on stdout'
    )
    logs_how.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="stream a running attempt's output until it ends",
    )

    queue = command("queue", None, "pause, resume and limit queues")
    queue_commands = _subcommands(queue, "queue_command", "ACTION")
    command(
        "list",
        "queues.cmd_queue_list",
        "each queue: its counts, paused or not, its limit, its workers",
        parent=queue_commands,
        json_out=True,
    )
    for name, help in (
        ("pause", "claim no job of these queues until resumed (running ones finish)"),
        ("resume", "claim the jobs of these paused queues again"),
    ):
        verb = command(name, f"queues.cmd_queue_{name}", help, parent=queue_commands)
        verb.add_argument("queues", nargs="+", metavar="Q")
    limit = command(
        "limit",
        "queues.cmd_queue_limit",
        "at most N of the queue's jobs processing at once (none: no limit)",
        parent=queue_commands,
    )
    limit.add_argument("queue", metavar="Q")
    limit.add_argument("limit", metavar="N|none")
    schedule = command("schedule", None, "run commands on a cron schedule")
    schedule_commands = _subcommands(schedule, "schedule_command", "ACTION")
    add = command(
        "add",
        "schedules.cmd_schedule_add",
        "add a schedule: a job enqueued at each tick of a cron expression",
        parent=schedule_commands,
        json_out=True,
    )
    add.usage = "%(prog)s [options] NAME CRON [--] CMD..."
    add.add_argument("name", metavar="NAME", help="the schedule's name")
    add.add_argument(
        "cron",
        metavar="CRON",
        help="minute hour day-of-month month day-of-week, quoted (e.g. '*/15 8-18 * * MON-FRI'),"
        " or @hourly, @daily, @weekly, @monthly, @yearly",
    )
    add.add_argument(
        "cmd",
        nargs="*",
        action=_CommandWords,
        metavar="CMD",
        help="the shell command line of each run, as for run",
    )
    add.add_argument(
        "--tz",
        metavar="ZONE",
        help="an IANA time zone, e.g. Europe/Berlin (default: this machine's)",
    )
    add.add_argument(
        "--overlap",
        choices=OVERLAPS,
        default="skip",
        help="skip (default): a tick whose previous run has not finished is skipped; "
        "allow: enqueue it anyway",
    )
    add.add_argument(
        "--catch-up",
        choices=CATCH_UPS,
        default="latest",
        help="ticks missed while no pool ran: latest (default) runs the latest of them, "
        "none none, all each of them (at most 100)",
    )
    _add_job_options(add)
    for refused in _REFUSED_BY_SCHEDULES:
        add.add_argument(refused, nargs="?", action=_Refused, help=argparse.SUPPRESS)
    command(
        "list",
        "schedules.cmd_schedule_list",
        "every schedule: its cron, zone, next run, last run, paused or not",
        parent=schedule_commands,
        json_out=True,
    )
    for name, help, json_out in (
        ("show", "a schedule's settings, recent runs and skipped ticks", True),
        ("pause", "enqueue no run of a schedule until it is resumed", False),
        ("resume", "fire a paused schedule again, from its next tick on", False),
        ("remove", "delete a schedule (its jobs stay)", False),
        ("run", "enqueue one run of a schedule now", True),
    ):
        verb = command(
            name,
            f"schedules.cmd_schedule_{name}",
            help,
            parent=schedule_commands,
            json_out=json_out,
        )
        verb.add_argument("name", metavar="NAME")

    dlq = command("dlq", None, "the dead letter queue")
    dlq_commands = _subcommands(dlq, "dlq_command", "ACTION")
    dead = command(
        "list",
        "dlq.cmd_dlq_list",
        "list dead jobs, newest first",
        parent=dlq_commands,
        json_out=True,
    )
    dead.add_argument(
        "--limit",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="at most N jobs (default 1000; says so on stderr when there are more)",
    )
    retry = command(
        "retry",
        "dlq.cmd_dlq_retry",
        "move dead jobs back to pending",
        parent=dlq_commands,
        json_out=True,
    )
    retry.add_argument("job_ids", nargs="*", metavar="ID")
    retry.add_argument("--all", action="store_true", help="every dead job")
    _add_group(retry, "the dead jobs of this group")
    command(
        "purge", "dlq.cmd_dlq_purge", "delete every dead job", parent=dlq_commands, json_out=True
    )

    cancel = command("cancel", "jobs.cmd_cancel", "cancel jobs", json_out=True)
    cancel.add_argument("job_ids", nargs="*", metavar="ID")
    _add_group(cancel, "every unfinished job of this group")

    wait = command("wait", "jobs.cmd_wait", "wait for jobs to end; exit with their status")
    wait.add_argument("job_ids", nargs="*", metavar="ID")
    _add_group(wait, "every job of this group, in index order")

    for name, help, group_help in (
        ("hold", "keep pending or failed jobs from being claimed", "its pending and failed jobs"),
        ("release", "let held jobs be claimed again", "its held jobs"),
        (
            "requeue",
            "run finished jobs again (attempts start over; history stays)",
            "its dead and canceled jobs (or --state)",
        ),
    ):
        verb = command(name, f"workflows.cmd_{name}", help, json_out=True)
        verb.add_argument("job_ids", nargs="*", metavar="ID")
        _add_group(verb, f"the jobs of this group that apply: {group_help}")
        if name == "requeue":
            verb.add_argument(
                "--state",
                type=_state_list,
                metavar="S[,S]",
                help="with --group: the finished states to requeue (default dead,canceled)",
            )
    edit = command(
        "edit",
        "workflows.cmd_edit",
        "change a pending or failed job (held or not), validated as at enqueue",
        json_out=True,
    )
    edit.add_argument("job_id", metavar="ID")
    edit.add_argument("--command", metavar="CMD", help="the new shell command line")
    edit.add_argument("--priority", type=_integer, metavar="P", help="higher runs first")
    edit.add_argument("--queue", metavar="Q", help="named queue")
    edit_when = edit.add_mutually_exclusive_group()
    edit_when.add_argument("--delay", type=_duration, metavar="DUR", help=f"run after {DUR_HELP}")
    edit_when.add_argument("--run-at", type=_time, metavar="TIME", help="run at an ISO-8601 time")
    edit.add_argument(
        "--timeout", type=_duration, metavar="DUR", help=f"per-attempt time limit, {DUR_HELP}"
    )
    edit.add_argument(
        "--max-retries", type=_integer, metavar="N", help="retries after the first run"
    )
    edit.add_argument("--cwd", metavar="DIR", help="working directory")
    edit.add_argument(
        "--env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="K=V",
        help="set a variable of the job's environment (repeatable)",
    )
    _add_group(edit, "move the job to this group")
    _add_lock(edit, "the lock the job holds while it runs")
    _add_failure_policy(edit)
    _add_hooks(edit)
    explain = command(
        "explain", "workflows.cmd_explain", "say every reason a job is not running", json_out=True
    )
    explain.add_argument("job_id", metavar="ID")
    wait.add_argument(
        "--timeout", type=_duration, metavar="DUR", help="give up after this long (exit 124)"
    )
    _add_quiet(wait, "do not say on stderr how each job ended")

    purge = command("purge", "jobs.cmd_purge", "delete finished jobs", json_out=True)
    purge.add_argument(
        "--state",
        required=True,
        choices=("completed", "dead", "canceled"),
        help="delete the jobs in this state",
    )
    purge.add_argument(
        "--older-than",
        type=_duration,
        metavar="DUR",
        help="only jobs that finished longer ago than this",
    )

    stats = command("stats", "jobs.cmd_stats", "throughput, failures and run times", json_out=True)
    stats.add_argument(
        "--since",
        type=_window,
        default=3600.0,
        metavar="DUR",
        help="the window to look at (default 1h)",
    )

    command(
        "doctor",
        "doctor.cmd_doctor",
        "check the store and what runs on it: ok, warn or fail, with what to do",
        json_out=True,
    )

    export = command(
        "export",
        "porting.cmd_export",
        "write jobs, attempts, settings and schedules to stdout as JSON lines",
    )
    export.add_argument(
        "--state", type=_state_list, metavar="S[,S]", help="only jobs in these states"
    )
    _add_group(export, "only the jobs of this group")
    export.add_argument("--with-output", action="store_true", help="with each attempt's output")
    load = command(
        "import",
        "porting.cmd_import",
        "read an export into this store, all or nothing; its config and queue settings "
        "replace the store's",
    )
    load.add_argument("file", metavar="FILE", help="an export's file, or - for stdin")

    config = command("config", None, "settings, stored in the store")
    config_commands = _subcommands(config, "config_command", "ACTION")
    command(
        "show",
        "config.cmd_config_show",
        "show every setting",
        parent=config_commands,
        json_out=True,
    )
    get = command(
        "get", "config.cmd_config_get", "print one setting", parent=config_commands, json_out=True
    )
    get.add_argument("key", metavar="KEY")
    put = command("set", "config.cmd_config_set", "change one setting", parent=config_commands)
    put.add_argument("key", metavar="KEY", help="a setting's name (listed below)")
    put.add_argument("value", metavar="VALUE", help="its new value")
    put.late_epilog = _config_keys  # type: ignore[attr-defined]
    unset = command(
        "unset",
        "config.cmd_config_unset",
        "reset one setting to its default",
        parent=config_commands,
    )
    unset.add_argument("key", metavar="KEY")

    dashboard = command(
        "dashboard",
        "dashboard.cmd_dashboard",
        "serve the web dashboard, its JSON API and Prometheus metrics",
    )
    dashboard.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any address that "
        "is not loopback needs --token)",
    )
    dashboard.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="port to listen on (default 8000; 0 picks a free one)",
    )
    dashboard.add_argument(
        "--token",
        help="require this secret, sent as 'Authorization: "
        "Bearer TOKEN' or at the login form (default: "
        "$QUEUECTL_DASHBOARD_TOKEN)",
    )

    completion = command(
        "completion",
        "completion.cmd_completion",
        "print a shell completion script for bash, zsh or fish",
    )
    completion.add_argument("shell", nargs="?", choices=("bash", "zsh", "fish"))
    # The job ids a script offers: `--ids PREFIX` prints those of the store, one a line.
    completion.add_argument("--ids", metavar="PREFIX", help=argparse.SUPPRESS)

    return parser


def _config_keys() -> str:
    """The keys `config set` takes, for its help; read when help is shown, so that building
    the parser does not import the settings registry."""
    from queuectl.config import SETTINGS

    return "keys: " + ", ".join(SETTINGS) + " (queuectl config show prints their values)"


EXAMPLES = """examples:
  queuectl worker start --count 2        start two workers in the background
  queuectl run echo hi                   enqueue a command given as words
  queuectl run --delay 5m 'make > log'   quote a command that has > | ; * or $
  queuectl list --state dead             the jobs that ran out of retries
  queuectl logs ID --follow              stream a job's output
  queuectl COMMAND --help                a command's own options"""


class Command:
    """A command's function, named "module.function" in queuectl.cli and imported when the
    command runs, not when the parser is built: `queuectl run` then loads the modules of
    its own command family only."""

    def __init__(self, name: str) -> None:
        self.module, self.function = name.split(".")

    def load(self) -> Callable[[argparse.Namespace], int]:
        return getattr(importlib.import_module(f"queuectl.cli.{self.module}"), self.function)

    def __call__(self, args: argparse.Namespace) -> int:
        return self.load()(args)


def _subcommands(parser: argparse.ArgumentParser, dest: str, metavar: str):
    """The sub-commands of `parser`. Not `required=True`: argparse would then report a
    missing COMMAND ahead of an unknown option (`queuectl --bogus` said "required:
    COMMAND"); a missing one is reported when the command runs, after those."""

    def missing(args: argparse.Namespace) -> NoReturn:
        parser.error(f"the following arguments are required: {metavar}")

    parser.set_defaults(handler=missing)
    return parser.add_subparsers(dest=dest, metavar=metavar)


def _add_quiet(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help=help)


def _add_db(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--db",
        default=default,
        metavar="PATH_OR_URL",
        help="the store: a SQLite file or a postgresql:// URL "
        "(default: $QUEUECTL_DB, else a per-user file)",
    )
