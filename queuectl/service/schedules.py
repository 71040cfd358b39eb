"""Schedules (SPEC §8): adding, reading, pausing, resuming, removing and running one now.
The pools fire them (worker/schedules.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from queuectl import cron
from queuectl.errors import UserError, quote
from queuectl.hooks import KEYS as HOOK_KEYS
from queuectl.jobspec import NO_ENVIRONMENT, build_job
from queuectl.model import CATCH_UPS, OVERLAPS, SKIPPED, Schedule
from queuectl.names import check_schedule
from queuectl.service.stores import load_config
from queuectl.store.base import Store
from queuectl.worker.schedules import job_of

# The keys of a job object that say when or how often a job runs, or tie it to other
# jobs: a schedule decides the first, and each of its runs is a job of its own.
REFUSED_KEYS = ("id", "delay", "run_at", "after", "unique_key")
RECENT = 10  # runs and skipped ticks that `schedule show` lists


def add_schedule(
    store: Store,
    name: str,
    expression: str,
    spec: Mapping[str, Any],
    base_cwd: str,
    zone: str | None = None,
    overlap: str = "skip",
    catch_up: str = "latest",
    environ: Mapping[str, str] = NO_ENVIRONMENT,
) -> Schedule:
    """Validate and store a schedule whose runs are the job object `spec` (the keys of
    `enqueue` but REFUSED_KEYS). Its cwd, env and inherit_env are resolved now, as at
    enqueue; a max_retries, failure policy or hook left out is config's as each run is
    enqueued."""
    check_schedule(name)
    expression_parsed = cron.parse_cron(expression)
    zone = cron.local_zone_name() if zone is None else zone
    tz = cron.load_zone(zone)
    for key, value, allowed in (("overlap", overlap, OVERLAPS), ("catch-up", catch_up, CATCH_UPS)):
        if value not in allowed:
            raise UserError(f"invalid {key} {quote(value)}: use {' or '.join(allowed)}")
    refused = [key for key in REFUSED_KEYS if key in spec]
    if refused:
        raise UserError(f"a schedule's jobs take no {quote(refused[0])}: the schedule says when")
    now = store.clock()
    job = build_job(spec, load_config(store), now, base_cwd, environ=environ)
    # Kept as validated, under the keys given (and command, queue, priority, cwd always);
    # inherit_env is resolved into env now, as at enqueue.
    given = [key for key, value in spec.items() if value is not None and key != "inherit_env"]
    kept: dict[str, Any] = {
        key: getattr(job, key) for key in ("command", "queue", "priority", "cwd", *given)
    }
    if job.env:
        kept["env"] = job.env
    else:
        kept.pop("env", None)
    for key in HOOK_KEYS:  # a hook given as "" (none, whatever config says) stays "":
        if key in kept:  # None would mean config's
            kept[key] = kept[key] or ""
    schedule = Schedule(
        name=name,
        expression=expression,
        zone=zone,
        spec=kept,
        overlap=overlap,
        catch_up=catch_up,
        created_at=now,
        fired_through=now,
        next_fire_at=expression_parsed.next_fire(now, tz),
    )
    store.add_schedule(schedule)
    return schedule


def schedule_list(store: Store) -> list[dict[str, Any]]:
    """Every schedule as an object, with its last run: {"job", "state"} or None."""
    schedules = store.schedules()
    states = store.job_states([s.last_job for s in schedules if s.last_job is not None])
    return [_with_last_run(schedule, states) for schedule in schedules]


def schedule_show(store: Store, name: str) -> dict[str, Any]:
    """{"schedule", "runs": its newest jobs, "skipped": its newest skipped ticks}."""
    schedule = store.get_schedule(name)
    states = store.job_states([schedule.last_job] if schedule.last_job else [])
    # A schedule removed and added again under its name: the old one's jobs are not its.
    runs = [
        job
        for job in store.list_jobs(limit=RECENT, schedule=name)
        if job.created_at >= schedule.created_at
    ]
    return {
        "schedule": _with_last_run(schedule, states),
        "runs": [job.to_dict() for job in runs],
        "skipped": [tick.to_dict() for tick in store.schedule_ticks(name, SKIPPED, RECENT)],
    }


def _with_last_run(schedule: Schedule, states: Mapping[str, str]) -> dict[str, Any]:
    shown = schedule.to_dict()
    job = schedule.last_job
    shown["last_run"] = None if job is None else {"job": job, "state": states.get(job, "purged")}
    return shown


def pause_schedule(store: Store, name: str) -> bool:
    """Pause it: no tick is enqueued until resumed. Returns whether it was paused already."""
    return store.pause_schedule(name, True, store.clock(), None)


def resume_schedule(store: Store, name: str) -> bool:
    """Resume it from now on (the ticks of the pause are not made up for). Returns whether
    it was paused."""
    schedule = store.get_schedule(name)
    now = store.clock()
    next_fire = cron.parse_cron(schedule.expression).next_fire(now, cron.load_zone(schedule.zone))
    return store.pause_schedule(name, False, now, next_fire)


def remove_schedule(store: Store, name: str) -> None:
    """Delete it; the jobs it made stay."""
    store.remove_schedule(name)


def run_schedule(store: Store, name: str) -> str:
    """Enqueue one run of it now (its last run from then on); the job's id."""
    schedule = store.get_schedule(name)
    now = store.clock()
    job = job_of(schedule, now, load_config(store))
    store.run_schedule(name, job, now)
    return job.id
