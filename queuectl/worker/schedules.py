"""Firing schedules (SPEC §8): every pool supervisor calls `fire_due` twice a second.

Each due schedule's ticks since its fired_through are planned here, from its cron and zone,
and applied by the store in one transaction that holds the schedule's row and moves
fired_through on only if no other pool did meanwhile: each tick is enqueued exactly once,
however many pools on however many hosts race for it, and a pool that dies half-way leaves
nothing behind (the transaction rolls back; the next pool does the tick).

A tick older than MISSED_AFTER was missed while no pool ran; what is done about missed ticks
is the schedule's catch-up: `latest` runs the latest of them, `none` none, `all` each of the
most recent CATCH_UP_MOST, oldest first. The others are recorded as skipped (missed).
"""

from __future__ import annotations

import logging

from queuectl import cron
from queuectl.config import Config
from queuectl.errors import UserError
from queuectl.jobspec import build_job
from queuectl.model import Firing, NewJob, Schedule, Tick
from queuectl.store.base import Store

log = logging.getLogger("queuectl.schedules")

FIRE_INTERVAL = 0.5  # seconds between a pool's looks for due schedules
MISSED_AFTER = 30.0  # seconds: a tick this much older than now was missed
CATCH_UP_MOST = 100  # missed ticks looked at (and, with catch-up all, run) at most
_reported: set[tuple[str, str]] = set()  # (schedule, problem) already logged by this pool


def fire_due(store: Store, now: float, config: Config | None = None) -> list[Tick]:
    """Enqueue (or skip) the ticks of every due schedule up to `now`; the ticks this call
    recorded. `config` gives the max_retries of jobs whose schedule does not set it
    (read from the store if not given)."""
    recorded: list[Tick] = []
    for schedule in store.due_schedules(now):
        if config is None:
            config = Config.from_stored(store.config_values())
        try:
            recorded += store.fire_schedule(plan(schedule, now, config), now)
        except UserError as exc:  # a zone this host has no data for, a lock's name taken ...
            _report(schedule.name, str(exc))
    return recorded


def plan(schedule: Schedule, now: float, config: Config) -> Firing:
    """What to do with the schedule's ticks in (fired_through, now]."""
    expression = cron.parse_cron(schedule.expression)
    zone = cron.load_zone(schedule.zone)
    ticks = expression.fires_between(schedule.fired_through, now, zone, CATCH_UP_MOST)
    missed = [tick for tick in ticks if now - tick > MISSED_AFTER]
    on_time = ticks[len(missed) :]
    if schedule.catch_up == "all":
        caught_up = missed
    elif schedule.catch_up == "latest":
        caught_up = missed[-1:]
    else:
        caught_up = []
    skipped = [(tick, "missed") for tick in missed if tick not in caught_up]
    return Firing(
        schedule=schedule.name,
        seen_through=schedule.fired_through,
        through=now,
        next_fire_at=expression.next_fire(now, zone),
        runs=[(tick, job_of(schedule, tick, config)) for tick in caught_up + on_time],
        skipped=skipped,
        skip_if_running=schedule.overlap == "skip",
    )


def job_of(schedule: Schedule, run_at: float, config: Config) -> NewJob:
    """A run of the schedule, due at `run_at`: its job object (validated when it was
    added) built as an enqueue builds one, so config max_retries and no_retry_on apply
    as they are now to a run whose schedule does not set them."""
    job = build_job(schedule.spec, config, run_at, schedule.spec["cwd"])
    job.schedule = schedule.name
    return job


def _report(name: str, problem: str) -> None:
    if (name, problem) not in _reported:
        _reported.add((name, problem))
        log.error("schedule %s cannot fire: %s", name, problem)
