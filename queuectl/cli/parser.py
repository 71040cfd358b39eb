"""The argument parser: every command, its options, and the types that check their values."""

from __future__ import annotations

import argparse
import importlib
import re

from queuectl import __version__
from queuectl.errors import QueuectlError, UserError, quote
from queuectl.inputs import integer, whole_number

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any, Callable, NoReturn

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
    import difflib

    names = {name.lstrip("-"): name for name in known}
    bare = word.lstrip("-")
    close = difflib.get_close_matches(bare, list(names), n=3, cutoff=0.6)
    if not close:
        return ""
    best = next((name for name in close if sorted(name) == sorted(bare)), close[0])
    return f"; did you mean {names[best]}?"


if TYPE_CHECKING:
    _Build = Callable[[_Parser], None]  # adds a command's arguments to its parser


class _Commands(argparse._SubParsersAction):
    """Sub-commands whose parsers are built when one is first used: `queuectl run` builds
    run's parser and none of the 44 others, which together cost a third of its start-up.
    Help and the "invalid choice" error need only each command's name and help."""

    def add(
        self,
        name: str,
        handler: str | None,
        help: str,
        json_out: bool = False,
        build: _Build | None = None,
    ) -> None:
        """Register a command: `handler` is its function ("module.function", see Command),
        `build` adds its arguments to its parser, called when that parser is needed."""

        def make() -> argparse.ArgumentParser:
            sub = self._parser_class(prog=f"{self._prog_prefix} {name}", description=help)
            _add_db(sub, default=argparse.SUPPRESS)
            if json_out:
                sub.add_argument("--json", action="store_true", help="print JSON on stdout")
            if handler:
                sub.set_defaults(handler=Command(handler))
            if build is not None:
                build(sub)
            return sub

        self._choices_actions.append(self._ChoicesPseudoAction(name, (), help))
        self._name_parser_map[name] = make  # type: ignore[assignment] # see parser()

    def parser(self, name: str) -> argparse.ArgumentParser:
        """The parser of command `name`, built now if it was not yet."""
        sub = self._name_parser_map[name]
        if not isinstance(sub, argparse.ArgumentParser):
            sub = self._name_parser_map[name] = sub()
        return sub

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        self.parser(values[0])  # argparse has checked that it is one of the choices
        super().__call__(parser, namespace, values, option_string)


# queuectl's own commands, in the order its help lists them: (name, handler, help,
# json_out, build), registered by @command.
_COMMANDS: list[tuple[str, str | None, str, bool, _Build]] = []


def command(
    name: str, handler: str | None, help: str, json_out: bool = False
) -> Callable[[_Build], _Build]:
    """Register the decorated function as the one that adds command `name`'s arguments."""

    def register(build: _Build) -> _Build:
        _COMMANDS.append((name, handler, help, json_out, build))
        return build

    return register


def build_parser(lazy: bool = False) -> argparse.ArgumentParser:
    """queuectl's parser; with `lazy`, each command's parser is built only when the
    command is parsed (main's way), else every one is built (to walk the tree)."""
    parser = _Parser(
        prog="queuectl",
        description="Run shell commands in the background, reliably.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"queuectl {__version__}")
    _add_db(parser, default=None)
    commands = _subcommands(parser, "command", "COMMAND")
    for registered in _COMMANDS:
        commands.add(*registered)
    if not lazy:
        _build_every(parser)
    return parser


def _build_every(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, _Commands):
            for name in action.choices:
                _build_every(action.parser(name))


@command("run", "jobs.cmd_run", "enqueue a shell command", json_out=True)
def _run(run: _Parser) -> None:
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


@command("enqueue", "jobs.cmd_enqueue", "enqueue jobs from JSON", json_out=True)
def _enqueue(enqueue: _Parser) -> None:
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


@command("worker", None, "start, stop and list workers")
def _worker(worker: _Parser) -> None:
    actions = _subcommands(worker, "worker_command", "ACTION")
    actions.add("start", "workers.cmd_worker_start", "start a pool of workers", True, _worker_start)
    actions.add(
        "stop",
        "workers.cmd_worker_stop",
        "stop every worker gracefully, on every host",
        build=_worker_stop,
    )
    actions.add("list", "workers.cmd_worker_list", "list workers", json_out=True)


def _worker_start(start: _Parser) -> None:
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


def _worker_stop(stop: _Parser) -> None:
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


@command("status", "jobs.cmd_status", "job counts per state and queue, workers", json_out=True)
def _status(status: _Parser) -> None:
    _add_group(status, "the counts and progress of this group's jobs")


@command("list", "jobs.cmd_list", "list jobs, newest first", json_out=True)
def _list(listing: _Parser) -> None:
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


@command("attempts", "jobs.cmd_attempts", "the job log: finished attempts, newest first")
def _attempts(log: _Parser) -> None:
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


@command("show", "jobs.cmd_show", "show a job and its attempts", json_out=True)
def _show(show: _Parser) -> None:
    show.add_argument("job_id", metavar="ID")


@command("logs", "jobs.cmd_logs", "print the output of a job's attempt")
def _logs(logs: _Parser) -> None:
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


@command("queue", None, "pause, resume and limit queues")
def _queue(queue: _Parser) -> None:
    actions = _subcommands(queue, "queue_command", "ACTION")
    actions.add(
        "list",
        "queues.cmd_queue_list",
        "each queue: its counts, paused or not, its limit, its workers",
        json_out=True,
    )
    for name, help in (
        ("pause", "claim no job of these queues until resumed (running ones finish)"),
        ("resume", "claim the jobs of these paused queues again"),
    ):
        actions.add(name, f"queues.cmd_queue_{name}", help, build=_queue_names)
    actions.add(
        "limit",
        "queues.cmd_queue_limit",
        "at most N of the queue's jobs processing at once (none: no limit)",
        build=_queue_limit,
    )


def _queue_names(verb: _Parser) -> None:
    verb.add_argument("queues", nargs="+", metavar="Q")


def _queue_limit(limit: _Parser) -> None:
    limit.add_argument("queue", metavar="Q")
    limit.add_argument("limit", metavar="N|none")


@command("schedule", None, "run commands on a cron schedule")
def _schedule(schedule: _Parser) -> None:
    actions = _subcommands(schedule, "schedule_command", "ACTION")
    actions.add(
        "add",
        "schedules.cmd_schedule_add",
        "add a schedule: a job enqueued at each tick of a cron expression",
        True,
        _schedule_add,
    )
    actions.add(
        "list",
        "schedules.cmd_schedule_list",
        "every schedule: its cron, zone, next run, last run, paused or not",
        json_out=True,
    )
    for name, help, json_out in (
        ("show", "a schedule's settings, recent runs and skipped ticks", True),
        ("pause", "enqueue no run of a schedule until it is resumed", False),
        ("resume", "fire a paused schedule again, from its next tick on", False),
        ("remove", "delete a schedule (its jobs stay)", False),
        ("run", "enqueue one run of a schedule now", True),
    ):
        actions.add(name, f"schedules.cmd_schedule_{name}", help, json_out, _schedule_name)


def _schedule_name(verb: _Parser) -> None:
    verb.add_argument("name", metavar="NAME")


def _schedule_add(add: _Parser) -> None:
    from queuectl.model import CATCH_UPS, OVERLAPS

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


@command("dlq", None, "the dead letter queue")
def _dlq(dlq: _Parser) -> None:
    actions = _subcommands(dlq, "dlq_command", "ACTION")
    actions.add("list", "dlq.cmd_dlq_list", "list dead jobs, newest first", True, _dlq_list)
    actions.add("retry", "dlq.cmd_dlq_retry", "move dead jobs back to pending", True, _dlq_retry)
    actions.add("purge", "dlq.cmd_dlq_purge", "delete every dead job", json_out=True)


def _dlq_list(dead: _Parser) -> None:
    dead.add_argument(
        "--limit",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="at most N jobs (default 1000; says so on stderr when there are more)",
    )


def _dlq_retry(retry: _Parser) -> None:
    retry.add_argument("job_ids", nargs="*", metavar="ID")
    retry.add_argument("--all", action="store_true", help="every dead job")
    _add_group(retry, "the dead jobs of this group")


@command("cancel", "jobs.cmd_cancel", "cancel jobs", json_out=True)
def _cancel(cancel: _Parser) -> None:
    cancel.add_argument("job_ids", nargs="*", metavar="ID")
    _add_group(cancel, "every unfinished job of this group")


@command("wait", "jobs.cmd_wait", "wait for jobs to end; exit with their status")
def _wait(wait: _Parser) -> None:
    wait.add_argument("job_ids", nargs="*", metavar="ID")
    _add_group(wait, "every job of this group, in index order")
    wait.add_argument(
        "--timeout", type=_duration, metavar="DUR", help="give up after this long (exit 124)"
    )
    _add_quiet(wait, "do not say on stderr how each job ended")


def _jobs_verb(group_help: str) -> _Build:
    """hold's, release's and requeue's arguments: job ids, or the jobs of a group."""

    def build(verb: _Parser) -> None:
        verb.add_argument("job_ids", nargs="*", metavar="ID")
        _add_group(verb, f"the jobs of this group that apply: {group_help}")

    return build


command("hold", "workflows.cmd_hold", "keep pending or failed jobs from being claimed", True)(
    _jobs_verb("its pending and failed jobs")
)
command("release", "workflows.cmd_release", "let held jobs be claimed again", True)(
    _jobs_verb("its held jobs")
)


@command(
    "requeue",
    "workflows.cmd_requeue",
    "run finished jobs again (attempts start over; history stays)",
    json_out=True,
)
def _requeue(verb: _Parser) -> None:
    _jobs_verb("its dead and canceled jobs (or --state)")(verb)
    verb.add_argument(
        "--state",
        type=_state_list,
        metavar="S[,S]",
        help="with --group: the finished states to requeue (default dead,canceled)",
    )


@command(
    "edit",
    "workflows.cmd_edit",
    "change a pending or failed job (held or not), validated as at enqueue",
    json_out=True,
)
def _edit(edit: _Parser) -> None:
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


@command("explain", "workflows.cmd_explain", "say every reason a job is not running", True)
def _explain(explain: _Parser) -> None:
    explain.add_argument("job_id", metavar="ID")


@command("purge", "jobs.cmd_purge", "delete finished jobs", json_out=True)
def _purge(purge: _Parser) -> None:
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


@command("stats", "jobs.cmd_stats", "throughput, failures and run times", json_out=True)
def _stats(stats: _Parser) -> None:
    stats.add_argument(
        "--since",
        type=_window,
        default=3600.0,
        metavar="DUR",
        help="the window to look at (default 1h)",
    )


@command(
    "doctor",
    "doctor.cmd_doctor",
    "check the store and what runs on it: ok, warn or fail, with what to do",
    json_out=True,
)
def _doctor(doctor: _Parser) -> None:
    """No arguments but --db and --json."""


@command(
    "export",
    "porting.cmd_export",
    "write jobs, attempts, settings and schedules to stdout as JSON lines",
)
def _export(export: _Parser) -> None:
    export.add_argument(
        "--state", type=_state_list, metavar="S[,S]", help="only jobs in these states"
    )
    _add_group(export, "only the jobs of this group")
    export.add_argument("--with-output", action="store_true", help="with each attempt's output")


@command(
    "import",
    "porting.cmd_import",
    "read an export into this store, all or nothing; its config and queue settings "
    "replace the store's",
)
def _import(load: _Parser) -> None:
    load.add_argument("file", metavar="FILE", help="an export's file, or - for stdin")


@command("config", None, "settings, stored in the store")
def _config(config: _Parser) -> None:
    actions = _subcommands(config, "config_command", "ACTION")
    actions.add("show", "config.cmd_config_show", "show every setting", json_out=True)
    actions.add("get", "config.cmd_config_get", "print one setting", True, _config_key)
    actions.add("set", "config.cmd_config_set", "change one setting", build=_config_set)
    actions.add(
        "unset", "config.cmd_config_unset", "reset one setting to its default", build=_config_key
    )


def _config_key(verb: _Parser) -> None:
    verb.add_argument("key", metavar="KEY")


def _config_set(put: _Parser) -> None:
    put.add_argument("key", metavar="KEY", help="a setting's name (listed below)")
    put.add_argument("value", metavar="VALUE", help="its new value")
    put.late_epilog = _config_keys


@command(
    "dashboard",
    "dashboard.cmd_dashboard",
    "serve the web dashboard, its JSON API and Prometheus metrics",
)
def _dashboard(dashboard: _Parser) -> None:
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


@command(
    "completion",
    "completion.cmd_completion",
    "print a shell completion script for bash, zsh or fish",
)
def _completion(completion: _Parser) -> None:
    completion.add_argument("shell", nargs="?", choices=("bash", "zsh", "fish"))
    # The job ids a script offers: `--ids PREFIX` prints those of the store, one a line.
    completion.add_argument("--ids", metavar="PREFIX", help=argparse.SUPPRESS)


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


def _subcommands(parser: argparse.ArgumentParser, dest: str, metavar: str) -> _Commands:
    """The sub-commands of `parser`. Not `required=True`: argparse would then report a
    missing COMMAND ahead of an unknown option (`queuectl --bogus` said "required:
    COMMAND"); a missing one is reported when the command runs, after those."""

    def missing(args: argparse.Namespace) -> NoReturn:
        parser.error(f"the following arguments are required: {metavar}")

    parser.set_defaults(handler=missing)
    # One of `action`'s class, which typeshed does not tell.
    return parser.add_subparsers(  # type: ignore[return-value]
        dest=dest, metavar=metavar, action=_Commands
    )


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
