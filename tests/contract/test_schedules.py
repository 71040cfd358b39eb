"""The Store contract for schedules (SPEC §8), driven by an injected clock: `fire_due` is
called with the moments chosen here, as a pool supervisor would call it. Every backend."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from queuectl import cron
from queuectl.config import Config
from queuectl.errors import Conflict, NotFound
from queuectl.model import Firing, Schedule
from queuectl.store import open_store
from queuectl.worker.schedules import CATCH_UP_MOST, MISSED_AFTER, fire_due, job_of
from tests.contract.test_store import T0, claim, finish

CONFIG = Config.from_stored({})

MINUTE = 60.0


def add(store, name="every", expression="* * * * *", created=T0, zone="UTC", **options):
    schedule = Schedule(
        name=name,
        expression=expression,
        zone=zone,
        spec={"command": "echo tick", "queue": "default", "priority": 0, "cwd": "/tmp"},
        created_at=created,
        fired_through=created,
        next_fire_at=cron.parse_cron(expression).next_fire(created, cron.load_zone(zone)),
        **options,
    )
    store.add_schedule(schedule)
    return schedule


def runs(store, name="every") -> list[float]:
    """The run_at of each job of the schedule, oldest first: its ticks."""
    return sorted(job.run_at for job in store.list_jobs(schedule=name, limit=1000))


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def test_a_tick_is_enqueued_once_as_a_job_of_the_schedule(store):
    add(store)
    assert fire_due(store, T0 + 30) == []
    ticks = fire_due(store, T0 + MINUTE + 0.2)
    assert [(tick.tick, tick.outcome) for tick in ticks] == [(T0 + MINUTE, "enqueued")]
    assert fire_due(store, T0 + MINUTE + 0.7) == []
    job = store.get_job(ticks[0].job)
    assert (job.schedule, job.command, job.run_at) == ("every", "echo tick", T0 + 60)
    assert job.max_retries == 3  # config max_retries: the schedule does not set it
    schedule = store.get_schedule("every")
    assert schedule.last_job == job.id
    assert schedule.fired_through == T0 + MINUTE + 0.2
    assert schedule.next_fire_at == T0 + 2 * MINUTE
    assert runs(store) == [T0 + MINUTE]


def test_a_firing_that_another_pool_overtook_does_nothing(store):
    schedule = add(store)
    fire_due(store, T0 + MINUTE + 1)
    stale = Firing(
        schedule="every",
        seen_through=schedule.fired_through,
        through=T0 + MINUTE + 2,
        next_fire_at=T0 + 2 * MINUTE,
        runs=[(T0 + MINUTE, job_of(schedule, T0 + MINUTE, CONFIG))],
        skipped=[],
        skip_if_running=False,
    )
    assert store.fire_schedule(stale, T0 + MINUTE + 2) == []
    assert runs(store) == [T0 + MINUTE]


def test_pools_racing_for_the_same_ticks_enqueue_each_once(location):
    """Four pools (each its own store connection) fire every tick at the same moment."""
    stores = [open_store(location) for _ in range(4)]
    try:
        add(stores[0], overlap="allow")
        barrier = threading.Barrier(len(stores))
        errors: list[BaseException] = []

        def pool(store) -> None:
            try:
                for minute in range(1, 6):
                    barrier.wait()
                    fire_due(store, T0 + minute * MINUTE + 0.1)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=pool, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert runs(stores[0]) == [T0 + minute * MINUTE for minute in range(1, 6)]
    finally:
        for store in stores:
            store.close()


def test_overlap_skip_skips_a_tick_while_the_last_run_is_unfinished(store):
    add(store)
    first = fire_due(store, T0 + MINUTE)[0]
    skipped = fire_due(store, T0 + 2 * MINUTE)
    assert [(tick.outcome, tick.reason) for tick in skipped] == [("skipped", "overlap")]
    job = claim(store, now=T0 + 2 * MINUTE + 1)  # processing: still unfinished
    assert job.id == first.job
    assert fire_due(store, T0 + 3 * MINUTE)[0].reason == "overlap"
    finish(store, job, 0, None, T0 + 3 * MINUTE + 1)
    assert fire_due(store, T0 + 4 * MINUTE)[0].outcome == "enqueued"
    assert runs(store) == [T0 + MINUTE, T0 + 4 * MINUTE]
    told = store.schedule_ticks("every", "skipped", 10)
    assert [tick.tick for tick in told] == [T0 + 3 * MINUTE, T0 + 2 * MINUTE]  # newest first


def test_overlap_allow_enqueues_every_tick(store):
    add(store, overlap="allow")
    for minute in (1, 2, 3):
        fire_due(store, T0 + minute * MINUTE)
    assert runs(store) == [T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE]


# Ten ticks (T0 + 1 min ... T0 + 10 min), all older than MISSED_AFTER when a pool comes back.
BACK = T0 + 10 * MINUTE + MISSED_AFTER + 5


def test_catch_up_latest_runs_the_latest_missed_tick_only(store):
    add(store)
    assert [tick.outcome for tick in fire_due(store, BACK)].count("skipped") == 9
    assert runs(store) == [T0 + 10 * MINUTE]


def test_catch_up_none_runs_no_missed_tick(store):
    add(store, catch_up="none")
    assert {(tick.outcome, tick.reason) for tick in fire_due(store, BACK)} == {
        ("skipped", "missed")
    }
    assert runs(store) == []
    assert store.get_schedule("every").next_fire_at == T0 + 11 * MINUTE


def test_catch_up_all_runs_every_missed_tick_oldest_first(store):
    add(store, catch_up="all")  # overlap skip: checked against the run before the gap
    fire_due(store, BACK)
    assert runs(store) == [T0 + minute * MINUTE for minute in range(1, 11)]
    ids = [job.id for job in reversed(store.list_jobs(schedule="every"))]
    assert [store.get_job(job_id).run_at for job_id in ids] == runs(store)  # in enqueue order


def test_catch_up_all_runs_the_most_recent_hundred_missed_ticks(store):
    add(store, catch_up="all")
    fire_due(store, T0 + 250 * MINUTE + MISSED_AFTER + 5)
    assert runs(store) == [T0 + minute * MINUTE for minute in range(251 - CATCH_UP_MOST, 251)]


def test_a_tick_of_a_pool_that_is_a_little_late_is_on_time_not_missed(store):
    add(store, catch_up="none")
    fire_due(store, T0 + MINUTE + MISSED_AFTER - 1)
    assert runs(store) == [T0 + MINUTE]


def test_a_paused_schedule_enqueues_nothing_and_its_resume_makes_nothing_up(store):
    add(store)
    assert store.pause_schedule("every", True, T0 + 10, None) is False
    assert store.due_schedules(T0 + 10 * MINUTE) == []
    assert fire_due(store, T0 + 10 * MINUTE) == []
    assert store.pause_schedule("every", True, T0 + 10 * MINUTE, None) is True
    assert store.pause_schedule("every", False, T0 + 10 * MINUTE + 5, T0 + 11 * MINUTE) is True
    assert fire_due(store, T0 + 10 * MINUTE + 30) == []
    fire_due(store, T0 + 11 * MINUTE)
    assert runs(store) == [T0 + 11 * MINUTE]
    assert store.pause_schedule("every", False, T0 + 11 * MINUTE, None) is False  # not paused


def test_a_name_is_taken_once_and_a_removed_schedule_leaves_its_jobs(store):
    add(store)
    with pytest.raises(Conflict, match="every"):
        add(store, expression="@daily")
    assert store.get_schedule("every").expression == "* * * * *"
    fire_due(store, T0 + MINUTE)
    store.remove_schedule("every")
    with pytest.raises(NotFound):
        store.remove_schedule("every")
    with pytest.raises(NotFound):
        store.get_schedule("every")
    assert store.schedules() == [] and store.due_schedules(T0 + 1e6) == []
    assert runs(store) == [T0 + MINUTE]  # its job stays
    add(store, created=T0 + 5 * MINUTE)  # the name is free again, with no ticks of the old
    assert store.schedule_ticks("every", "enqueued", 10) == []


def test_schedule_run_enqueues_a_run_now_that_a_tick_then_overlaps(store):
    schedule = add(store)
    job = job_of(schedule, T0 + 10, CONFIG)
    store.run_schedule("every", job, T0 + 10)
    assert store.get_job(job.id).schedule == "every"
    assert store.get_schedule("every").last_job == job.id
    assert fire_due(store, T0 + MINUTE)[0].reason == "overlap"
    with pytest.raises(NotFound):
        store.run_schedule("nope", job_of(schedule, T0, CONFIG), T0)


def test_ticks_follow_the_wall_clock_of_the_zone_across_dst(store):
    # New York, 2027: 02:30 does not exist on March 14 (fires at 03:00 EDT, 07:00Z), and
    # 01:30 occurs twice on November 7 (fires once, at the first, 05:30Z).
    add(store, "spring", "30 2 * * *", utc("2027-03-13T12:00"), "America/New_York", catch_up="all")
    add(store, "fall", "30 1 * * *", utc("2027-11-06T12:00"), "America/New_York", catch_up="all")
    fire_due(store, utc("2027-03-15T12:00"))
    fire_due(store, utc("2027-11-08T12:00"))
    assert runs(store, "spring") == [utc("2027-03-14T07:00"), utc("2027-03-15T06:30")]
    assert runs(store, "fall") == [utc("2027-11-07T05:30"), utc("2027-11-08T06:30")]


def test_the_store_lists_schedules_by_name_with_their_settings(store):
    add(store, "b", "@hourly", zone="Europe/Berlin", overlap="allow", catch_up="none")
    add(store, "a")
    assert [s.name for s in store.schedules()] == ["a", "b"]
    b = store.get_schedule("b")
    assert (b.zone, b.overlap, b.catch_up, b.paused, b.created_at) == (
        "Europe/Berlin",
        "allow",
        "none",
        False,
        T0,
    )
    assert b.spec["command"] == "echo tick" and b.next_fire_at == T0 + 3600


def test_a_firing_that_fails_half_way_leaves_nothing_and_the_next_one_does_the_tick(
    store, monkeypatch
):
    add(store)

    def crash(*args, **kwargs):
        raise RuntimeError("the pool died here")

    monkeypatch.setattr(store, "_insert_jobs", crash)  # after the tick's row was written
    with pytest.raises(RuntimeError):
        fire_due(store, T0 + MINUTE)
    monkeypatch.undo()
    assert store.schedule_ticks("every", "enqueued", 10) == []
    assert store.get_schedule("every").fired_through == T0
    fire_due(store, T0 + MINUTE + 0.5)
    assert runs(store) == [T0 + MINUTE]
    assert [tick.job for tick in store.schedule_ticks("every", "enqueued", 10)] == [
        store.get_schedule("every").last_job
    ]


def test_a_run_is_built_as_an_enqueue_builds_a_job(store):
    # Every job key a schedule keeps reaches its runs (here the failure policy), and config
    # max_retries and no_retry_on apply as they are when a run is enqueued.
    policed = add(store, "policed")
    policed.spec.update(retry_on=["75", "timeout"], timeout=30.0)
    config = Config.from_stored({"max_retries": 7, "no_retry_on": "2"})
    job = job_of(policed, T0 + MINUTE, config)
    assert (job.retry_on, job.no_retry_on, job.timeout) == (["75", "timeout"], None, 30.0)
    assert (job.max_retries, job.run_at, job.schedule, job.cwd) == (
        7,
        T0 + MINUTE,
        "policed",
        "/tmp",
    )
    plain = job_of(add(store, "plain"), T0 + MINUTE, config)
    assert plain.no_retry_on == ["2"] and plain.id != job.id


def test_a_run_whose_job_id_is_taken_stores_nothing_and_is_a_conflict(store):
    schedule = add(store)
    run = job_of(schedule, T0 + MINUTE, CONFIG)
    store.run_schedule("every", job_of(schedule, T0 + 1, CONFIG), T0 + 1)
    taken = store.list_jobs(schedule="every", limit=1)[0].id
    run.id = taken
    firing = Firing(
        schedule="every",
        seen_through=schedule.fired_through,
        through=T0 + MINUTE + 1,
        next_fire_at=T0 + 2 * MINUTE,
        runs=[(T0 + MINUTE, run)],
        skipped=[],
        skip_if_running=False,
    )
    with pytest.raises(Conflict, match="got a job id in use"):
        store.fire_schedule(firing, T0 + MINUTE + 1)
    assert store.schedule_ticks("every", "enqueued", 10) == []
    assert store.get_schedule("every").fired_through == schedule.fired_through
