"""The commands about jobs: run, enqueue, status, list, show, attempts, logs, cancel, wait,
purge, stats."""

from __future__ import annotations

import argparse
import os
import sys

from queuectl import service
from queuectl.cli.common import ids_or_group, job_spec, open_store, say_skipped
from queuectl.cli.output import (
    ago,
    cpu_seconds,
    print_json,
    print_workers,
    relative,
    say,
    shorten,
    size,
    table,
)
from queuectl.errors import UserError, quote
from queuectl.inputs import load_json
from queuectl.model import FAILED, PUBLIC_JOB_FIELDS, STATES
from queuectl.policy import KEYS as POLICY_KEYS
from queuectl.visible import LINE_BREAKS, visible

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any

SHOWN_LEFT = 5  # the jobs `wait` names when it times out; it counts the rest


def cmd_run(args: argparse.Namespace) -> int:
    spec = job_spec(args)
    for key in ("id", "delay", "run_at"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    after = [
        {"id": job_id, "on": on}
        for option, on in (("after", "success"), ("after_any", "any"), ("after_failure", "failure"))
        for ids in getattr(args, option)
        for job_id in ids
    ]
    if after:
        spec["after"] = after
    if args.unique_key is not None:
        spec["unique_key"] = args.unique_key
    if args.max_running is not None and args.array is None and args.each_line is None:
        raise UserError("--max-running limits the jobs of --array or --each-line")
    store = open_store(args)
    if args.array is not None or args.each_line is not None:
        return _run_array(args, store, spec)
    enqueued = service.enqueue(store, [spec], os.getcwd(), environ=os.environ)[0]
    job_id = enqueued.id
    if args.json:
        print_json({"id": job_id, "created": enqueued.created})
    else:
        print(job_id, flush=True)
    _say_if_held(enqueued)
    if not enqueued.created and args.wait and not args.quiet:
        say(f"waiting for {job_id}, which holds the key")
    if args.run_at is not None:
        _warn_if_past(args.run_at, service.clock(store))
    if not args.wait:
        return 0
    if args.quiet:
        return service.wait(store, [job_id], on_no_worker=_no_worker_hint)
    # With --json, stdout is the JSON document alone: the output stays for `logs`.
    write = _stdout_writer() if not args.json else lambda data: None
    job = service.follow_job(
        store, job_id, write, on_attempt=_say_retry, on_no_worker=_no_worker_hint
    )
    say(_ended(job))
    return service.exit_status([job])


def _run_array(args: argparse.Namespace, store, spec: dict[str, Any]) -> int:
    """`run --array RANGE` / `run --each-line FILE`: one job per index or line, a group."""
    items = None
    if args.each_line is not None:
        text = _read_text(args.each_line)
        items = service.each_line_items(text, "stdin" if args.each_line == "-" else args.each_line)
        indices, limit = list(range(1, len(items) + 1)), None
    else:
        indices, limit = service.parse_array(args.array)
    if args.max_running is not None:
        if limit is not None:
            raise UserError("give the limit once: --array RANGE%N or --max-running N")
        limit = args.max_running
    group, ids = service.enqueue_array(store, spec, os.getcwd(), indices, items, os.environ, limit)
    if args.json:
        print_json({"group": group, "ids": ids})
    else:
        print(group, flush=True)
    if not args.wait:
        return 0
    return service.wait(store, ids, on_no_worker=_no_worker_hint)


def _read_text(path: str) -> str:
    """The UTF-8 text of a file, or of stdin for "-"."""
    if path == "-":
        return _utf8(sys.stdin.buffer.read(), "stdin")
    try:
        with open(path, "rb") as handle:
            return _utf8(handle.read(), path)
    except OSError as exc:
        raise UserError(f"cannot read {quote(path)}: {exc.strerror}") from None


def _stdout_writer():
    """Writes a job's output to stdout as it comes, byte for byte."""
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    return write


def _say_retry(attempt) -> None:
    if attempt.outcome == FAILED:
        say(f"attempt {attempt.number} failed ({attempt.error}); it will be retried")


def _ended(job) -> str:
    """How a job ended, as `run --wait` and `wait` say it: "ID completed (exit 0)"."""
    code = "no exit code" if job.exit_code is None else f"exit {job.exit_code}"
    return f"{job.id} {job.state} ({code})"


def _warn_if_past(run_at: str, now: float) -> None:
    from queuectl.durations import format_age, parse_time

    late = now - parse_time(run_at)
    if late > 0:
        say(f"--run-at {run_at} is {format_age(late)} in the past: the job may run at once")


def _no_worker_hint() -> None:
    say("no worker is running for this store; start one with: queuectl worker start")


def cmd_enqueue(args: argparse.Namespace) -> int:
    if args.file is not None or args.json_text == "-":
        path = "-" if args.file is None else args.file
        specs, label = _parse_jobs(_read_text(path), batch=True)
    else:
        specs, label = _parse_jobs(args.json_text, batch=False)
    enqueued = service.enqueue(open_store(args), specs, os.getcwd(), label, os.environ)
    ids = [job.id for job in enqueued]
    if args.json:
        print_json(
            {"id": ids[0], "created": enqueued[0].created}
            if len(ids) == 1 and not isinstance(specs, _JsonLines)
            else {"ids": ids, "created": [job.created for job in enqueued]}
        )
    else:
        sys.stdout.write("".join(f"{job_id}\n" for job_id in ids))
    for job in enqueued:
        _say_if_held(job)
    return 0


def _say_if_held(job: service.Enqueued) -> None:
    """One stderr line for a job not created because its unique key is held (SPEC §8)."""
    if not job.created:
        say(f"a job with unique key {quote(job.unique_key or '')} is already live: {job.id}")


def _utf8(data: bytes, source: str) -> str:
    try:
        # utf-8-sig: a leading byte-order mark (Windows PowerShell 5 writes one) is skipped.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source} is not valid UTF-8 (byte {exc.start})") from None


class _JsonLines(list):
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
            hint = "" if stripped[0] in "{[" else " (to enqueue a shell command: queuectl run CMD)"
            raise UserError(f"invalid JSON: {exc}{hint}") from None
    jobs, numbers = _JsonLines(), []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            jobs.append(load_json(line))
        except ValueError as exc:
            raise UserError(f"line {number}: invalid JSON: {exc}") from None
        numbers.append(number)
    return jobs, lambda index: f"line {numbers[index]}: "


def cmd_status(args: argparse.Namespace) -> int:
    if args.group is not None:
        return _group_status(args)
    status = service.status(open_store(args, only_reads=True))
    if args.json:
        print_json(status)
        return 0
    print(f"store: {status['store']}")
    table(
        [["jobs", *status["counts"].values()]]
        + [[f"  {queue}", *counts.values()] for queue, counts in status["queues"].items()],
        ("", *STATES),
    )
    workers = status["workers"]
    print(
        f"workers: {len(workers)} running"
        if workers
        else "workers: none running (start them with: queuectl worker start)"
    )
    if workers:
        print_workers(workers)
    return 0


def _group_status(args: argparse.Namespace) -> int:
    status = service.group_status(open_store(args, only_reads=True), args.group)
    if args.json:
        print_json(status)
        return 0
    print(f"group: {status['group']}")
    table([["jobs", *status["counts"].values()]], ("", *STATES))
    print(f"finished: {status['finished']} of {status['total']} ({status['progress'] * 100:.0f}%)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = open_store(args, only_reads=True)
    # One more than asked for tells whether there are more, without counting them all.
    jobs = service.list_jobs(
        store, args.state, args.queue, args.limit + 1, args.offset, args.group, args.schedule
    )
    if len(jobs) > args.limit:
        jobs = jobs[: args.limit]
        say(f"showing the newest {len(jobs)} jobs; there are more (see --limit)")
    if args.json:
        print_json([job.to_dict() for job in jobs])
    else:
        _jobs_table(jobs, service.clock(store))
    return 0


def _jobs_table(jobs, now: float) -> None:
    table(
        [
            (
                j.id,
                j.state,
                j.queue,
                j.priority,
                f"{j.attempts}/{j.max_retries + 1}",
                j.exit_code,
                ago(j.updated_at, now),
                _runs_in(j, now),
                shorten(j.command),
            )
            for j in jobs
        ],
        ("ID", "STATE", "QUEUE", "PRI", "TRIES", "EXIT", "UPDATED", "RUN AT", "COMMAND"),
    )


def _runs_in(job, now: float) -> str:
    """In how long a job that waits for its run_at (a delay, a backoff) will run: "in 2h"."""
    from queuectl.durations import format_span

    if job.state in ("pending", "failed") and job.run_at > now:
        return f"in {format_span(job.run_at - now)}"
    return ""


def cmd_show(args: argparse.Namespace) -> int:
    store = open_store(args, only_reads=True)
    job, attempts = service.show(store, args.job_id)
    if args.json:
        print_json({"job": job.to_dict(), "attempts": [a.to_dict() for a in attempts]})
        return 0
    now = service.clock(store)
    moments = {item.name for item in PUBLIC_JOB_FIELDS if item.moment}
    for key, value in job.to_dict().items():
        if key == "env":
            value = " ".join(f"{k}={v}" for k, v in value.items())
        elif key == "after":
            value = ", ".join(
                entry["id"] + ("" if entry["on"] == "success" else f" ({entry['on']})")
                for entry in value
            )
        elif key == "held":
            value = "yes" if value else "no"
        elif key in POLICY_KEYS and value is not None:
            value = ",".join(value)
        elif key in moments and value is not None:
            value = f"{value} ({relative(getattr(job, key), now)})"
        print(f"{key + ':':13} {'' if value is None else visible(str(value), LINE_BREAKS)}")
    if attempts:
        print()
        table(
            [
                (
                    a.number,
                    a.outcome or "running",
                    a.exit_code,
                    a.error or "",
                    a.signal,
                    a.worker_id or "",
                    _run_time(a),
                    cpu_seconds(a.cpu_user, a.cpu_system),
                    size(a.max_rss),
                    a.output_total,
                )
                for a in attempts
            ],
            (
                *("ATTEMPT", "OUTCOME", "EXIT", "ERROR", "SIGNAL", "WORKER", "TIME", "CPU"),
                *("MAX RSS", "OUTPUT BYTES"),
            ),
        )
    return 0


def cmd_attempts(args: argparse.Namespace) -> int:
    rows = service.attempt_log(
        open_store(args, only_reads=True),
        args.since,
        args.queue,
        args.group,
        args.outcome,
        args.limit,
    )
    if args.json:
        print_json(rows)
    elif args.csv:
        import csv  # RFC 4180: CRLF line ends, fields quoted where they need it

        writer = csv.DictWriter(sys.stdout, service.LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    else:
        table(
            [
                (
                    r["job_id"],
                    r["number"],
                    r["queue"],
                    r["group"],
                    r["host"],
                    r["worker_id"],
                    r["started_at"],
                    r["finished_at"],
                    _secs(r["wall_seconds"]),
                    cpu_seconds(r["cpu_user"], r["cpu_system"]),
                    size(r["max_rss"]),
                    r["exit_code"],
                    r["signal"],
                    shorten(r["error"] or "", 40),
                    r["outcome"],
                )
                for r in rows
            ],
            (
                *("JOB", "ATTEMPT", "QUEUE", "GROUP", "HOST", "WORKER", "START", "END", "WALL"),
                *("CPU", "MAX RSS", "EXIT", "SIGNAL", "ERROR", "OUTCOME"),
            ),
        )
    return 0


def _run_time(attempt) -> str:
    if attempt.started_at is None or attempt.finished_at is None:
        return ""
    return f"{attempt.finished_at - attempt.started_at:.3f}s"


def cmd_logs(args: argparse.Namespace) -> int:
    store = open_store(args, only_reads=True)
    if args.follow:
        service.follow(store, args.job_id, _stdout_writer())
        return 0
    out = sys.stdout.buffer
    attempt = service.attempt(store, args.job_id, args.attempt)
    if args.json:
        print_json({"id": args.job_id, "attempt": attempt.number, "output": attempt.text()})
        return 0
    out.write(attempt.text().encode("utf-8"))
    out.flush()
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    store = open_store(args)
    ids_or_group(args)
    if args.group is not None:
        results, skipped = service.cancel_group(store, args.group)
        say_skipped(skipped, "already finished")
    else:
        results = service.cancel(store, args.job_ids)
    if args.json:
        print_json({"ids": results})
    else:
        for job_id, result in results.items():
            print(
                f"{job_id} {result}"
                if result != "requested"
                else f"{job_id} cancel requested (its worker has not stopped it yet)"
            )
    late = service.late_cancels(results)
    if late:
        say(f"error: {late}")
        return 1
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    def say_ended(job) -> None:
        if not args.quiet:
            say(_ended(job))

    def say_timeout(left) -> None:
        named = ", ".join(f"{job.id} ({job.state})" for job in left[:SHOWN_LEFT])
        more = f" and {len(left) - SHOWN_LEFT} more" if len(left) > SHOWN_LEFT else ""
        total = len(set(args.job_ids))
        say(f"timeout: {len(left)} of {total} job(s) have not ended: {named}{more}")

    store = open_store(args, only_reads=True)
    ids_or_group(args)
    if args.group is not None:
        args.job_ids = [job_id for job_id, _ in service.group_members(store, args.group)]
    return service.wait(
        store,
        args.job_ids,
        args.timeout,
        on_no_worker=_no_worker_hint,
        on_end=say_ended,
        on_timeout=say_timeout,
    )


def cmd_purge(args: argparse.Namespace) -> int:
    count = service.purge(open_store(args), args.state, args.older_than)
    if args.json:
        print_json({"purged": count})
    else:
        print(f"purged {count} {args.state} job(s)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = service.stats(open_store(args, only_reads=True), args.since)
    if args.json:
        print_json(stats)
        return 0
    print(f"from {stats['since']} to {stats['until']}")
    rows = [("(all)", stats["total"])] + list(stats["queues"].items())
    table(
        [
            (
                name,
                s["completed"],
                s["failed_attempts"],
                s["dead"],
                s["canceled"],
                s["jobs_per_minute"],
                _secs(s["mean_seconds"]),
                _secs(s["p95_seconds"]),
                _secs(s["cpu_seconds"]),
                size(s["p95_max_rss"]),
            )
            for name, s in rows
        ],
        (
            *("QUEUE", "COMPLETED", "FAILED", "DEAD", "CANCELED", "JOBS/MIN", "MEAN", "P95"),
            *("CPU", "P95 MAX RSS"),
        ),
    )
    return 0


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}s"
