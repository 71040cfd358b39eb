"""The Store contract: every backend must pass these unchanged (River's "exerciser" idea).

Time is passed in, so the tests control the clock.
"""

from __future__ import annotations

import multiprocessing
import time

import pytest

from queuectl import lifecycle
from queuectl.config import Config
from queuectl.errors import Conflict, NotFound
from queuectl.model import Attempt, Lease, NewJob, WorkerInfo

CONFIG = Config.from_stored({})
T0 = 1_800_000_000.0


def new(job_id: str, **fields) -> NewJob:
    return NewJob(
        **{"id": job_id, "command": "true", "max_retries": 2, "cwd": "/tmp", "run_at": T0, **fields}
    )


def claim(store, worker="w1", queues=None, now=T0, lease=30.0):
    return store.claim(worker, queues, now, lease)


def ending(job, exit_code, error, now, worker, output):
    """What a worker writes when `job`'s command ends: (lease, transition, attempt)."""
    transition = lifecycle.after_attempt(job, exit_code, error, now, CONFIG)
    record = Attempt(
        job.id,
        job.attempt_number,
        worker,
        job.started_at,
        now,
        exit_code,
        error,
        output=output,
        output_total=len(output),
    )
    return Lease(job.id, worker, job.attempt_number), transition, record


def finish(store, job, exit_code, error, now, worker="w1", output=b""):
    return store.finish(*ending(job, exit_code, error, now, worker, output), now)


def finish_and_claim(
    store, job, exit_code, error, now, worker="w1", output=b"", queues=None, lease=30.0
):
    return store.finish_and_claim(
        *ending(job, exit_code, error, now, worker, output), now, queues, lease
    )


# --- enqueue and claim ---------------------------------------------------------------------


def test_enqueue_then_get(store):
    store.enqueue([new("a", env={"X": "1"}, timeout=2.5, priority=3, queue="q")], T0)
    job = store.get_job("a")
    assert (job.state, job.attempts, job.env, job.timeout, job.priority, job.queue) == (
        "pending",
        0,
        {"X": "1"},
        2.5,
        3,
        "q",
    )
    assert job.created_at == T0 and job.started_at is None


def test_timestamps_keep_milliseconds(store):
    store.enqueue([new("a", run_at=T0 + 0.123)], T0 + 0.456)
    job = store.get_job("a")
    assert job.created_at == pytest.approx(T0 + 0.456, abs=1e-6)
    assert job.run_at == pytest.approx(T0 + 0.123, abs=1e-6)


def test_duplicate_id_is_a_conflict_and_inserts_nothing(store):
    store.enqueue([new("a")], T0)
    with pytest.raises(Conflict, match="'a'"):
        store.enqueue([new("b"), new("a"), new("c")], T0)
    with pytest.raises(Conflict, match="'d'"):
        store.enqueue([new("d"), new("d")], T0)
    assert [j.id for j in store.list_jobs()] == ["a"]


def test_unknown_job_is_not_found(store):
    with pytest.raises(NotFound):
        store.get_job("nope")


def test_an_id_that_no_job_can_have_is_not_found(store):
    """PostgreSQL text cannot hold NUL or a lone surrogate: such an id (from a URL or a JSON
    body, say) matches nothing there, exactly as on SQLite, instead of failing."""
    store.enqueue([new("a")], T0)
    with pytest.raises(NotFound):
        store.get_job("a\x00")
    with pytest.raises(NotFound):
        store.cancel(["a", "a\x00"], T0)
    with pytest.raises(NotFound):
        store.retry_dead(["a\x00"], T0)
    assert store.attempts("a\x00") == [] and store.output_chunks("a\x00", 1, 0) == []
    assert store.list_jobs(queue="default\x00") == [] and store.get_job("a").state == "pending"
    with pytest.raises(NotFound):  # a lone surrogate, as JSON "\ud800" decodes
        store.retry_dead(["\ud800"], T0)
    with pytest.raises(NotFound):
        store.cancel(["a", "a\ud800"], T0)
    assert store.get_job("a").state == "pending"


def test_claim_order_priority_then_run_at_then_fifo(store):
    store.enqueue(
        [
            new("low1"),
            new("high", priority=5),
            new("low2"),
            new("early", run_at=T0 - 10),
            new("later", run_at=T0 - 5, priority=5),
        ],
        T0,
    )
    order = [claim(store).id for _ in range(5)]
    assert order == ["later", "high", "early", "low1", "low2"]
    assert claim(store) is None


def test_claim_marks_processing_and_counts_the_attempt(store):
    store.enqueue([new("a")], T0)
    job = claim(store, worker="w9", now=T0 + 1, lease=30)
    assert (job.state, job.attempts, job.attempt_number, job.worker_id) == (
        "processing",
        1,
        1,
        "w9",
    )
    assert job.started_at == T0 + 1 and job.lease_until == T0 + 31


def test_delayed_job_is_not_claimed_early(store):
    store.enqueue([new("later", run_at=T0 + 60)], T0)
    assert claim(store, now=T0 + 59.999) is None
    assert store.next_run_at(None) == T0 + 60
    assert claim(store, now=T0 + 60).id == "later"
    assert store.next_run_at(None) is None


def test_claim_filters_by_queue(store):
    store.enqueue([new("a", queue="alpha"), new("b", queue="beta", priority=9)], T0)
    assert claim(store, queues=["alpha"]).id == "a"
    assert claim(store, queues=["alpha", "gamma"]) is None
    assert store.next_run_at(["alpha"]) is None
    assert store.next_run_at(["beta"]) == T0
    assert claim(store, queues=["beta"]).id == "b"


# --- finishing -----------------------------------------------------------------------------


def test_success_records_the_attempt(store):
    store.enqueue([new("a")], T0)
    job = claim(store)
    assert finish(store, job, 0, None, T0 + 2, output=b"hello\n")
    done = store.get_job("a")
    assert (done.state, done.exit_code, done.finished_at, done.worker_id) == (
        "completed",
        0,
        T0 + 2,
        None,
    )
    [attempt] = store.attempts("a")
    assert (attempt.number, attempt.outcome, attempt.output, attempt.worker_id) == (
        1,
        "completed",
        b"hello\n",
        "w1",
    )


def test_failure_schedules_a_retry_then_dead_then_dlq_retry(store):
    store.enqueue([new("a", max_retries=1)], T0)
    job = claim(store)
    finish(store, job, 3, "exit code 3", T0)
    failed = store.get_job("a")
    assert (failed.state, failed.run_at, failed.last_error) == ("failed", T0 + 2, "exit code 3")
    assert claim(store, now=T0 + 1) is None
    job = claim(store, now=T0 + 2)
    finish(store, job, 3, "exit code 3", T0 + 2)
    assert store.get_job("a").state == "dead"
    assert store.retry_dead(["a"], T0 + 3) == ["a"]
    again = store.get_job("a")
    assert (again.state, again.attempts, again.run_at) == ("pending", 0, T0 + 3)
    job = claim(store, now=T0 + 3)
    assert (job.attempts, job.attempt_number) == (1, 3)  # attempt numbers are never reused
    assert [a.number for a in store.attempts("a")] == [1, 2]


def test_finish_is_fenced_by_worker_and_attempt(store):
    store.enqueue([new("a")], T0)
    job = claim(store, worker="w1")
    assert not finish(store, job, 0, None, T0, worker="w2")
    stale = Lease("a", "w1", job.attempt_number + 1)
    t = lifecycle.after_attempt(job, 0, None, T0, CONFIG)
    assert not store.finish(stale, t, Attempt("a", 2, "w1", T0), T0)
    assert store.get_job("a").state == "processing"
    assert store.attempts("a") == [] or all(a.finished_at is None for a in store.attempts("a"))
    assert finish(store, job, 0, None, T0)
    assert not finish(store, job, 0, None, T0)  # only once


def test_dlq_retry_of_a_job_that_is_not_dead_changes_nothing(store):
    store.enqueue([new("a"), new("b", max_retries=0)], T0)
    finish(store, claim(store), 1, "exit code 1", T0)  # a: failed
    finish(store, claim(store), 1, "exit code 1", T0)  # b: dead
    assert store.get_job("b").state == "dead"
    with pytest.raises(Conflict, match="'a' is failed"):
        store.retry_dead(["b", "a"], T0)
    with pytest.raises(NotFound):
        store.retry_dead(["b", "zzz"], T0)
    assert store.get_job("b").state == "dead"
    assert store.retry_dead(None, T0) == ["b"]


def test_finish_and_claim_records_the_attempt_then_claims_the_next_job(store):
    store.enqueue([new("a"), new("b"), new("elsewhere", queue="other", priority=9)], T0)
    first = claim(store, queues=["default"])
    store.record_start(Lease("a", "w1", first.attempt_number), "host1", 4242, T0)
    applied, second = finish_and_claim(
        store, first, 0, None, T0 + 2, output=b"done\n", queues=["default"], lease=10
    )
    assert applied
    assert (second.id, second.state, second.worker_id, second.attempts, second.attempt_number) == (
        "b",
        "processing",
        "w1",
        1,
        1,
    )
    assert (second.started_at, second.lease_until) == (T0 + 2, T0 + 12)
    assert store.get_job("a").state == "completed"
    [attempt] = store.attempts("a")
    assert (attempt.number, attempt.outcome, attempt.finished_at, attempt.output) == (
        1,
        "completed",
        T0 + 2,
        b"done\n",
    )
    assert store.stray_attempts("host1") == []  # a finish forgets the process group
    assert store.get_job("elsewhere").state == "pending"  # not in the worker's queues
    assert finish_and_claim(store, second, 0, None, T0 + 3, queues=["default"]) == (True, None)


def test_finish_and_claim_takes_a_retry_only_once_it_is_due(store):
    store.enqueue([new("a", max_retries=1)], T0)
    assert finish_and_claim(store, claim(store), 3, "exit code 3", T0) == (True, None)
    assert store.get_job("a").run_at == T0 + 2  # the backoff: not claimed at once
    store.enqueue([new("b")], T0 + 1)
    applied, retry = finish_and_claim(store, claim(store, now=T0 + 1), 0, None, T0 + 2)
    assert applied and store.get_job("b").state == "completed"
    assert (retry.id, retry.attempts, retry.attempt_number, retry.started_at) == ("a", 2, 2, T0 + 2)


def test_finish_and_claim_with_a_lost_lease_changes_nothing_but_still_claims(store):
    store.enqueue([new("a"), new("b")], T0)
    job = claim(store, lease=5)
    [expired] = store.expired_jobs(T0 + 6)
    record = Attempt(
        "a", expired.attempt_number, "w1", expired.started_at, T0 + 6, error=lifecycle.WORKER_LOST
    )
    assert store.finish(
        Lease("a", "w1", expired.attempt_number),
        lifecycle.after_worker_lost(expired, T0 + 6, CONFIG),
        record,
        T0 + 6,
    )
    applied, next_job = finish_and_claim(store, job, 0, None, T0 + 7)
    assert not applied and next_job.id == "b"  # "a" retries at T0 + 8
    recovered = store.get_job("a")
    assert (recovered.state, recovered.last_error) == ("failed", "worker lost")
    [attempt] = store.attempts("a")
    assert (attempt.outcome, attempt.error) == ("failed", "worker lost")


# --- leases and recovery -------------------------------------------------------------------


def test_heartbeat_extends_the_lease_and_reports_flags(store):
    store.register_worker(WorkerInfo("w1", "h", 1, "p", None, T0, T0))
    store.enqueue([new("a")], T0)
    job = claim(store, lease=10)
    lease = Lease("a", "w1", job.attempt_number)
    beat = store.heartbeat("w1", lease, T0 + 8, 10)
    assert (beat.registered, beat.lease_held, beat.cancel_requested, beat.stop_requested) == (
        True,
        True,
        False,
        False,
    )
    assert store.expired_jobs(T0 + 12) == []
    assert [j.id for j in store.expired_jobs(T0 + 18.001)] == ["a"]
    assert store.job_flags(lease) == (True, False)
    assert store.job_flags(Lease("a", "w2", job.attempt_number)) == (False, False)
    assert not store.heartbeat("gone", None, T0, 10).registered


def test_expired_lease_is_recovered_once_as_worker_lost(store):
    store.enqueue([new("a")], T0)
    job = claim(store, lease=5)
    [expired] = store.expired_jobs(T0 + 6)
    transition = lifecycle.after_worker_lost(expired, T0 + 6, CONFIG)
    record = Attempt(
        "a", expired.attempt_number, "w1", expired.started_at, T0 + 6, error=lifecycle.WORKER_LOST
    )
    lease = Lease("a", expired.worker_id, expired.attempt_number)
    assert store.finish(lease, transition, record, T0 + 6)
    assert not store.finish(lease, transition, record, T0 + 6)  # a second reaper: no-op
    recovered = store.get_job("a")
    assert (recovered.state, recovered.last_error) == ("failed", "worker lost")
    assert not finish(store, job, 0, None, T0 + 7)  # the lost worker's late result is dropped


def test_held_jobs_are_the_running_jobs_of_that_worker(store):
    store.enqueue([new("a"), new("b"), new("c"), new("d"), new("waiting")], T0)
    a, b, c, d = (claim(store, worker=worker) for worker in ("w1", "w2", "w1", "w1"))
    finish(store, c, 3, "exit code 3", T0)  # failed: no longer held
    finish(store, d, 0, None, T0)
    [held] = store.held_jobs("w1")
    assert (held.id, held.state, held.worker_id, held.attempt_number) == (
        "a",
        "processing",
        "w1",
        1,
    )
    assert [job.id for job in store.held_jobs("w2")] == ["b"]
    assert store.held_jobs("w3") == []


def test_process_groups_are_remembered_until_forgotten(store):
    store.enqueue([new("a")], T0)
    job = claim(store)
    store.record_start(Lease("a", "w1", job.attempt_number), "host1", 4242, T0)
    [stray] = store.stray_attempts("host1")
    assert (stray.job_id, stray.number, stray.pgid, stray.worker_id) == ("a", 1, 4242, "w1")
    assert store.stray_attempts("host2") == []
    assert finish(store, job, 0, None, T0)  # a normal finish forgets the group
    assert store.stray_attempts("host1") == []


def test_a_claim_records_the_host_of_the_claiming_worker(store):
    store.enqueue([new("a"), new("b")], T0)
    store.register_worker(WorkerInfo("w1", "host1", 1, "p", None, T0, T0))
    assert claim(store).host == "host1"  # known before the command starts
    assert store.get_job("a").host == "host1"
    assert claim(store, worker="unregistered").host is None


def test_a_kept_tree_never_recorded_is_a_stray_of_its_host_to_find_by_tags(store):
    store.enqueue([new("a"), new("b")], T0)
    for job in (claim(store), claim(store)):  # "b"'s group was recorded, "a"'s not
        lease = Lease(job.id, "w1", job.attempt_number)
        if job.id == "b":
            store.record_start(lease, "host1", 4242, T0)
        record = Attempt(
            job.id, job.attempt_number, "w1", T0, T0 + 1, error=lifecycle.WORKER_LOST, host="host1"
        )
        assert store.finish(
            lease, lifecycle.after_worker_lost(job, T0 + 1, CONFIG), record, T0 + 1, keep_pgid=True
        )
    strays = sorted(store.stray_attempts("host1"), key=lambda stray: stray.job_id)
    assert [(s.job_id, s.number, s.worker_id, s.pgid) for s in strays] == [
        ("a", 1, "w1", 0),
        ("b", 1, "w1", 4242),
    ]
    store.forget_pgid("a", 1)
    assert [s.job_id for s in store.stray_attempts("host1")] == ["b"]


def test_forget_pgid_forgets_that_attempt_only(store):
    store.enqueue([new("a"), new("b")], T0)
    first = claim(store)  # "a", attempt 1: its worker is lost, its tree kept on record
    lease = Lease("a", "w1", first.attempt_number)
    store.record_start(lease, "host1", 4242, T0)
    assert store.finish(
        lease,
        lifecycle.after_worker_lost(first, T0, CONFIG),
        Attempt("a", 1, "w1", T0, T0, error=lifecycle.WORKER_LOST),
        T0,
        keep_pgid=True,
    )
    other = claim(store)  # "b", running
    store.record_start(Lease("b", "w1", other.attempt_number), "host1", 5151, T0)
    again = claim(store, now=T0 + 2)  # "a", attempt 2
    store.record_start(Lease("a", "w1", again.attempt_number), "host1", 6161, T0 + 2)
    store.forget_pgid("a", 1)
    assert sorted((s.job_id, s.number, s.pgid) for s in store.stray_attempts("host1")) == [
        ("a", 2, 6161),
        ("b", 1, 5151),
    ]
    store.forget_pgid("a", 2)
    assert [s.job_id for s in store.stray_attempts("host1")] == ["b"]
    assert [(a.number, a.pgid) for a in store.attempts("a")] == [(1, None), (2, None)]


def test_an_attempt_records_its_host_even_when_it_ends_at_once(store):
    store.enqueue([new("a")], T0)
    job = claim(store)
    record = Attempt("a", job.attempt_number, "w1", T0, T0, 0, None, host="host1")
    assert store.finish(
        Lease("a", "w1", job.attempt_number),
        lifecycle.after_attempt(job, 0, None, T0, CONFIG),
        record,
        T0,
    )
    [attempt] = store.attempts("a")
    assert (attempt.host, attempt.pgid) == ("host1", None)


def test_live_output_chunks_then_final_output(store):
    store.enqueue([new("a")], T0)
    job = claim(store)
    lease = Lease("a", "w1", job.attempt_number)
    store.record_start(lease, "h", 1, T0)
    store.append_output(lease, 0, b"abc", 0)
    store.append_output(lease, 3, b"def", 0)
    assert store.output_chunks("a", job.attempt_number, 4) == [(3, b"def")]
    assert store.live_output("a", job.attempt_number) == (b"abcdef", 6)
    store.append_output(lease, 6, b"ghi", 5)  # keep from byte 5: "abc" is dropped
    assert [c[0] for c in store.output_chunks("a", job.attempt_number, 0)] == [3, 6]
    assert store.attempts("a")[0].output == b"defghi"
    finish(store, job, 0, None, T0, output=b"fghi")
    assert store.output_chunks("a", job.attempt_number, 0) == []
    assert store.attempts("a")[0].output == b"fghi"


# --- cancel, purge -------------------------------------------------------------------------


def test_cancel_waiting_and_running_jobs(store):
    store.enqueue([new("p"), new("r")], T0)
    running = claim(store)  # "p"
    assert store.cancel(["r", "p"], T0) == {"r": "canceled", "p": "requested"}
    assert store.get_job("r").state == "canceled"
    assert store.job_flags(Lease("p", "w1", running.attempt_number)) == (True, True)


def test_cancel_of_a_terminal_job_changes_nothing(store):
    store.enqueue([new("a"), new("b")], T0)
    finish(store, claim(store), 0, None, T0)
    with pytest.raises(Conflict, match="'a' is completed"):
        store.cancel(["b", "a"], T0)
    with pytest.raises(NotFound):
        store.cancel(["b", "nope"], T0)
    assert store.get_job("b").state == "pending"


def test_purge_terminal_jobs_older_than(store):
    store.enqueue([new("old"), new("new"), new("waiting")], T0)
    finish(store, claim(store), 0, None, T0)
    finish(store, claim(store), 0, None, T0 + 100)
    assert store.purge(["completed"], T0 + 50) == 1
    assert [j.id for j in store.list_jobs()] == ["waiting", "new"]
    assert store.attempts("old") == []
    assert store.purge(["completed"], None) == 1


# --- reads ---------------------------------------------------------------------------------


def test_list_counts_and_stats(store):
    store.enqueue([new(f"j{i}", queue="even" if i % 2 == 0 else "odd") for i in range(5)], T0)
    finish(store, claim(store), 0, None, T0 + 1)
    assert store.counts() == {"even": {"pending": 2, "completed": 1}, "odd": {"pending": 2}}
    assert [j.id for j in store.list_jobs(limit=2)] == ["j4", "j3"]
    assert [j.id for j in store.list_jobs(limit=2, offset=2)] == ["j2", "j1"]
    assert [j.id for j in store.list_jobs(state="pending", queue="even")] == ["j4", "j2"]
    [item] = store.finished_attempts(T0)
    assert (item.queue, item.outcome, item.finished_at - item.started_at) == (
        "even",
        "completed",
        1,
    )
    assert store.finished_attempts(T0 + 2) == []


def test_throughput_buckets_and_run_time_totals(store):
    store.enqueue([new(f"j{i}", max_retries=0) for i in range(4)], T0)
    finish(store, claim(store, now=T0), 0, None, T0 + 0.5)  # 0.5 s, minute 0
    finish(store, claim(store, now=T0), 0, None, T0 + 2)  # 2 s, minute 0
    finish(store, claim(store, now=T0 + 60), 1, "x", T0 + 70)  # 10 s, minute 1, dead
    bucket = (T0 // 60) * 60
    assert store.throughput(T0 - 60, 60) == [(bucket, "completed", 2), (bucket + 60, "dead", 1)]
    assert store.throughput(T0 + 65, 60) == [(bucket + 60, "dead", 1)]
    assert store.attempt_counts() == {"completed": 2, "dead": 1}
    times = store.run_times([1, 5, 60])
    assert (times.count, times.total_seconds, times.buckets) == (3, 12.5, [1, 2, 3])


# --- workers and config --------------------------------------------------------------------


def test_workers_register_show_their_job_and_take_stop_requests(store):
    store.register_worker(WorkerInfo("w1", "h", 11, "p", ["a"], T0, T0, doorbell=None))
    store.register_worker(WorkerInfo("w2", "h", 12, "p", None, T0, T0))
    store.enqueue([new("a", queue="a")], T0)
    claim(store, worker="w1")
    listed = {w.id: w for w in store.list_workers()}
    assert (listed["w1"].job_id, listed["w1"].queues, listed["w2"].job_id) == ("a", ["a"], None)
    store.request_stop(["w1"])
    assert store.stop_requested("w1") and not store.stop_requested("w2")
    store.deregister_worker("w2")
    assert [w.id for w in store.list_workers()] == ["w1"]


def test_a_pool_stop_reaches_pools_started_before_it(store):
    assert not store.pool_stop_requested("p1", T0)
    store.request_pool_stop("p1", T0 + 10)
    assert store.pool_stop_requested("p1", T0) and store.pool_stop_requested("p1", T0 + 10)
    assert not store.pool_stop_requested("p1", T0 + 11)  # a pool started after the request
    assert not store.pool_stop_requested("p2", T0)
    store.request_pool_stop(None, T0 + 20)  # every pool
    assert store.pool_stop_requested("p2", T0 + 15)
    store.request_pool_stop("p1", T0 + 5)  # an older request does not undo a newer one
    assert store.pool_stop_requested("p1", T0 + 10)


def test_config_round_trip(store):
    assert store.config_values() == {}
    store.config_set("max_retries", 5)
    store.config_set("backoff_base", 2.5)
    assert store.config_values() == {"max_retries": 5, "backoff_base": 2.5}
    store.config_unset("max_retries")
    assert store.config_values() == {"backoff_base": 2.5}


def test_waiter_wakes_on_enqueue(location, store):
    from queuectl.store import open_store

    waiter = store.waiter()
    store.register_worker(WorkerInfo("w1", _host(), 1, "p", None, T0, T0, doorbell=waiter.port))
    assert not waiter.wait(0.05, lambda: False)
    other = open_store(location)
    try:
        started = time.monotonic()
        other.enqueue([new("a")], T0)
        assert waiter.wait(5, lambda: False)
        assert time.monotonic() - started < 1
    finally:
        other.close()
        waiter.close()


def test_a_waiter_tells_a_wake_up_for_work_from_a_stop_request(location, store):
    from queuectl.store import open_store

    waiter = store.waiter()
    store.register_worker(WorkerInfo("w1", _host(), 1, "p", None, T0, T0, doorbell=waiter.port))
    other = open_store(location)
    try:
        other.enqueue([new("a")], T0)
        assert waiter.wait(5, lambda: False) and waiter.reasons == {"enqueue"}
        other.request_stop(["w1"])
        assert waiter.wait(5, lambda: False) and waiter.reasons == {"stop"}
        assert waiter.wait(0.3, lambda: True) and not waiter.reasons  # interrupted
    finally:
        other.close()
        waiter.close()


def _host() -> str:
    from queuectl.platform import hostname

    return hostname()


# --- concurrency ---------------------------------------------------------------------------


def _claim_all(location: str, worker: str, out) -> None:
    from queuectl.store import open_store

    store = open_store(location, durable=False)
    claimed = []
    while True:
        job = store.claim(worker, None, time.time(), 30)
        if job is None:
            break
        claimed.append(job.id)
        finish(store, job, 0, None, time.time(), worker=worker)
    store.close()
    out.put(claimed)


def test_concurrent_claims_hand_out_each_job_once(location, store):
    store.enqueue([new(f"j{i}", run_at=0) for i in range(400)], time.time())
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(location, f"w{i}", out)) for i in range(4)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    claimed = [job_id for result in results for job_id in result]
    assert sorted(claimed) == sorted(f"j{i}" for i in range(400))
    assert store.counts() == {"default": {"completed": 400}}
