"""The Store's hook duties (SPEC §9), on every backend: recorded by the transaction that
ends a job, whichever way it ends, and given out once."""

from __future__ import annotations

import threading

from queuectl import lifecycle
from queuectl.hooks import HookDuty
from queuectl.model import Attempt, Lease
from queuectl.store import open_store
from tests.contract.test_store import CONFIG, T0, claim, finish, new


def test_each_end_records_the_duty_of_its_hook_with_the_outcome(store):
    store.enqueue(
        [
            new("ok", on_success="notify ok", on_failure="never", env={"A": "1"}),
            new("bad", max_retries=0, on_failure="notify bad"),
            new("quiet", on_failure="never"),  # completes: no failure hook
            new("waiting", on_failure="notify waiting", run_at=T0 + 3600),
        ],
        T0,
    )
    for expected in (0, 1, 0):
        job = claim(store)
        finish(store, job, expected, None if expected == 0 else "exit code 1", T0 + 1)
    store.cancel(["waiting"], T0 + 2)
    duties = store.take_hook_duties(10)
    assert duties == [
        HookDuty("ok", "notify ok", "/tmp", {"A": "1"}, "completed", 0, 1, None, T0 + 1),
        HookDuty("bad", "notify bad", "/tmp", {}, "dead", 1, 1, "exit code 1", T0 + 1),
        HookDuty("waiting", "notify waiting", "/tmp", {}, "canceled", None, 0, None, T0 + 2),
    ]
    assert duties[0].environment() == {
        "A": "1",
        "QUEUECTL_JOB_ID": "ok",
        "QUEUECTL_STATE": "completed",
        "QUEUECTL_EXIT_CODE": "0",
        "QUEUECTL_ATTEMPT": "1",
        "QUEUECTL_LAST_ERROR": "",
    }
    assert store.take_hook_duties(10) == []  # taken once: never given out again


def test_a_retry_and_a_dependencys_fail_fast_are_ends_or_not_as_they_are(store):
    store.enqueue([new("flaky", on_failure="notify flaky")], T0)
    store.enqueue([new("after", after=[{"id": "flaky", "on": "success"}], on_failure="x")], T0)
    finish(store, claim(store), 1, "exit code 1", T0 + 1)  # failed, retried: no end yet
    assert store.take_hook_duties(10) == []
    store.cancel(["flaky"], T0 + 2)  # canceled: the dependent fails fast
    assert sorted((d.job_id, d.state) for d in store.take_hook_duties(10)) == [
        ("after", "canceled"),
        ("flaky", "canceled"),
    ]


def test_duties_are_taken_oldest_first_and_at_most_the_limit(store):
    store.enqueue([new(f"j{i}", on_failure=f"hook {i}", run_at=T0 + 60) for i in range(5)], T0)
    store.cancel([f"j{i}" for i in range(5)], T0 + 1)
    first = store.take_hook_duties(3)
    rest = store.take_hook_duties(3)
    assert [d.command for d in first + rest] == [f"hook {i}" for i in range(5)]
    assert len(first) == 3


def test_a_lost_job_that_goes_dead_records_its_duty(store):
    store.enqueue([new("lost", max_retries=0, on_failure="notify lost")], T0)
    claim(store, lease=5)
    [expired] = store.expired_jobs(T0 + 6)
    transition = lifecycle.after_worker_lost(expired, T0 + 6, CONFIG)
    record = Attempt("lost", 1, "w1", expired.started_at, T0 + 6, error=lifecycle.WORKER_LOST)
    assert store.finish(Lease("lost", "w1", 1), transition, record, T0 + 6)
    [duty] = store.take_hook_duties(10)
    assert (duty.state, duty.attempt, duty.last_error) == ("dead", 1, "worker lost")


def test_takers_at_once_take_each_duty_once(store, location):
    count = 60
    store.enqueue([new(f"j{i}", on_failure="h", run_at=T0 + 60) for i in range(count)], T0)
    store.cancel([f"j{i}" for i in range(count)], T0 + 1)
    takers = [open_store(location) for _ in range(3)]
    start = threading.Barrier(len(takers))
    taken: list[list[str]] = [[] for _ in takers]

    def take_all(index: int) -> None:
        start.wait()
        while duties := takers[index].take_hook_duties(2):
            taken[index] += [duty.job_id for duty in duties]

    threads = [threading.Thread(target=take_all, args=(i,)) for i in range(len(takers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for taker in takers:
        taker.close()
    every = [job_id for ids in taken for job_id in ids]
    assert sorted(every) == sorted(f"j{i}" for i in range(count))  # each once, none lost
