"""The schedule commands: schedule add, list, show, pause, resume, remove, run (SPEC §8)."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from typing import Any

from queuectl import cron, service
from queuectl.cli.common import job_spec, open_store
from queuectl.cli.output import print_json, relative, say, shorten, table
from queuectl.durations import parse_time


def cmd_schedule_add(args: argparse.Namespace) -> int:
    store = open_store(args)
    schedule = service.add_schedule(
        store,
        args.name,
        args.cron,
        job_spec(args),
        os.getcwd(),
        zone=args.tz,
        overlap=args.overlap,
        catch_up=args.catch_up,
        environ=os.environ,
    )
    if args.json:
        print_json(schedule.to_dict())
    else:
        shown = schedule.to_dict()
        print(f"added schedule {schedule.name}: next run {_when(shown, service.clock(store))}")
    return 0


def cmd_schedule_list(args: argparse.Namespace) -> int:
    store = open_store(args, only_reads=True)
    schedules = service.schedule_list(store)
    if args.json:
        print_json(schedules)
        return 0
    now = service.clock(store)
    table(
        [
            (
                s["name"],
                s["expression"],
                s["zone"],
                "paused" if s["paused"] else _when(s, now),
                _last_run(s),
                shorten(s["command"], 40),
            )
            for s in schedules
        ],
        ("NAME", "CRON", "ZONE", "NEXT RUN", "LAST RUN", "COMMAND"),
    )
    return 0


def cmd_schedule_show(args: argparse.Namespace) -> int:
    store = open_store(args, only_reads=True)
    shown = service.schedule_show(store, args.name)
    if args.json:
        print_json(shown)
        return 0
    s, now = shown["schedule"], service.clock(store)
    for label, value in (
        ("name", s["name"]),
        ("cron", s["expression"]),
        ("zone", s["zone"]),
        ("command", s["command"]),
        ("job options", " ".join(f"{key}={_option(value)}" for key, value in s["job"].items())),
        ("overlap", s["overlap"]),
        ("catch-up", s["catch_up"]),
        ("next run", "paused" if s["paused"] else _when(s, now)),
        ("last run", _last_run(s) or "none yet"),
    ):
        print(f"{label + ':':13}{value}")
    print("\nrecent runs:" if shown["runs"] else "\nrecent runs: none")
    if shown["runs"]:
        table(
            [(job["id"], job["state"], job["created_at"]) for job in shown["runs"]],
            ("ID", "STATE", "ENQUEUED"),
        )
    print("\nskipped ticks:" if shown["skipped"] else "\nskipped ticks: none")
    if shown["skipped"]:
        table([(t["tick"], t["reason"]) for t in shown["skipped"]], ("TICK", "REASON"))
    return 0


def cmd_schedule_pause(args: argparse.Namespace) -> int:
    if service.pause_schedule(open_store(args), args.name):
        say(f"schedule {args.name} is paused already")
    else:
        print(f"paused schedule {args.name}")
    return 0


def cmd_schedule_resume(args: argparse.Namespace) -> int:
    if service.resume_schedule(open_store(args), args.name):
        print(f"resumed schedule {args.name}")
    else:
        say(f"schedule {args.name} is not paused: nothing to resume")
    return 0


def cmd_schedule_remove(args: argparse.Namespace) -> int:
    service.remove_schedule(open_store(args), args.name)
    print(f"removed schedule {args.name} (its jobs stay)")
    return 0


def cmd_schedule_run(args: argparse.Namespace) -> int:
    job_id = service.run_schedule(open_store(args), args.name)
    if args.json:
        print_json({"id": job_id})
    else:
        print(job_id)
    return 0


def _when(schedule: dict[str, Any], now: float) -> str:
    """The next run in the schedule's own wall time, and how far off it is."""
    moment = parse_time(schedule["next_run"])
    wall = datetime.fromtimestamp(moment, cron.load_zone(schedule["zone"]))
    return f"{wall:%Y-%m-%d %H:%M %Z} ({relative(moment, now)})"


def _option(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{name}={text}" for name, text in value.items())
    if isinstance(value, list):  # a failure policy
        return ",".join(value)
    return str(value)


def _last_run(schedule: dict[str, Any]) -> str:
    last = schedule["last_run"]
    return "" if last is None else f"{last['job']} {last['state']}"
