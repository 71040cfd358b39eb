"""The Store contract for flow control (SPEC §8): paused and limited queues, locks, the
slots of every gate taken by the claim and freed when an attempt ends. Every backend."""

from __future__ import annotations

import multiprocessing

from queuectl import lifecycle
from queuectl.model import Attempt, Lease
from tests.contract.test_store import CONFIG, T0, claim, finish, new


def claimed_ids(store, count: int, now: float = T0 + 1) -> list[str]:
    jobs = [claim(store, now=now) for _ in range(count)]
    return [job.id for job in jobs if job is not None]


def test_a_paused_queue_stops_its_claims_only_and_resume_restores_them(store):
    store.enqueue([new("img", queue="images", priority=5), new("doc", queue="docs")], T0)
    store.pause_queues(["images"])
    assert store.gate("queue:images").paused
    assert claimed_ids(store, 2) == ["doc"]
    assert store.next_run_at(None) is None  # the paused job wakes no one
    assert store.resume_queues(["images"]) == []
    assert store.gate("queue:images") is None  # nothing left to gate: back to the plain index
    assert store.get_job("img").gate is None
    assert claimed_ids(store, 1) == ["img"]


def test_a_queue_may_be_paused_before_it_has_jobs(store):
    store.pause_queues(["later"])
    store.enqueue([new("a", queue="later")], T0)
    assert claim(store, now=T0 + 1) is None
    assert store.resume_queues(["later"]) == []
    assert claim(store, now=T0 + 1).id == "a"


def test_a_queue_limit_is_respected_and_a_finish_frees_a_slot(store):
    store.limit_queue("gpu", 2)
    store.enqueue([new(f"g{i}", queue="gpu") for i in range(4)] + [new("cpu", priority=-1)], T0)
    first, second = claim(store, now=T0 + 1), claim(store, now=T0 + 1)
    assert {first.id, second.id} == {"g0", "g1"}
    assert claimed_ids(store, 2) == ["cpu"]  # the full queue is passed over
    assert store.next_run_at(None) is None  # an idle worker sleeps: nothing it may claim
    assert store.gate("queue:gpu").running == 2
    assert sorted(store.gate_holders("queue:gpu")) == ["g0", "g1"]
    finish(store, first, 0, None, T0 + 2)
    assert claimed_ids(store, 2, T0 + 3) == ["g2"]


def test_a_limit_set_while_jobs_run_counts_them(store):
    store.enqueue([new(f"j{i}", queue="q") for i in range(4)], T0)
    running = [claim(store, now=T0 + 1) for _ in range(2)]
    store.limit_queue("q", 2)
    assert store.gate("queue:q").running == 2
    assert claim(store, now=T0 + 1) is None
    finish(store, running[0], 0, None, T0 + 2)
    assert store.gate("queue:q").running == 1
    assert claimed_ids(store, 2, T0 + 3) == ["j2"]


def test_a_lock_is_a_mutex_across_queues_and_jobs_behind_it_still_run(store):
    store.enqueue(
        [
            new("deploy-a", queue="a", lock="deploy", priority=9),
            new("deploy-b", queue="b", lock="deploy", priority=9),
            new("other", queue="a"),
        ],
        T0,
    )
    holder = claim(store, now=T0 + 1)
    assert holder.id == "deploy-a"
    assert claimed_ids(store, 2) == ["other"]  # behind the locked one, in the same queue
    assert store.next_run_at(None) is None
    assert store.gate_holders("lock:deploy") == ["deploy-a"]
    finish(store, holder, 0, None, T0 + 2)
    assert claimed_ids(store, 1, T0 + 3) == ["deploy-b"]


def test_a_job_passes_every_gate_of_its_own(store):
    store.pause_queues(["q"])
    store.enqueue([new("locked", queue="q", lock="L")], T0)
    assert claim(store, now=T0 + 1) is None  # its lock is free but its queue is paused
    assert store.resume_queues(["q"]) == []
    assert store.get_job("locked").gate == "lock:L"
    assert claim(store, now=T0 + 1).id == "locked"


def test_a_lost_workers_slot_is_freed_at_recovery_and_not_before(store):
    store.enqueue([new("a", lock="L"), new("b", lock="L")], T0)
    lost = claim(store, lease=5)
    assert claim(store, now=T0 + 6) is None  # the lease ran out, but a is not recovered yet
    assert store.gate("lock:L").running == 1
    [expired] = store.expired_jobs(T0 + 6)
    record = Attempt(
        "a", expired.attempt_number, "w1", expired.started_at, T0 + 6, error=lifecycle.WORKER_LOST
    )
    store.finish(
        Lease("a", lost.worker_id, expired.attempt_number),
        lifecycle.after_worker_lost(expired, T0 + 6, CONFIG),
        record,
        T0 + 6,
    )
    assert store.gate("lock:L").running == 0
    assert claim(store, now=T0 + 6).id == "b"


def test_a_requeued_job_enters_the_gate_its_queue_has_now(store):
    store.enqueue([new("a", queue="q")], T0)
    finish(store, claim(store, now=T0 + 1), 0, None, T0 + 2)
    store.pause_queues(["q"])
    store.requeue(["a"], T0 + 3)
    assert claim(store, now=T0 + 4) is None


def test_each_verb_changes_only_its_own_setting(store):
    store.limit_queue("q", 3)
    store.pause_queues(["q"])
    assert (store.gate("queue:q").paused, store.gate("queue:q").max_running) == (True, 3)
    store.limit_queue("q", None)
    assert (store.gate("queue:q").paused, store.gate("queue:q").max_running) == (True, None)
    store.limit_queue("q", 2)
    assert store.resume_queues(["q", "other"]) == ["other"]  # other was never paused
    assert (store.gate("queue:q").paused, store.gate("queue:q").max_running) == (False, 2)
    assert store.resume_queues(["q"]) == ["q"]
    store.limit_queue("q", None)
    assert store.gate("queue:q") is None


def test_a_gate_leaves_finished_jobs_as_they_are(store):
    store.enqueue([new("done", queue="q"), new("running", queue="q"), new("next", queue="q")], T0)
    finish(store, claim(store, now=T0 + 1), 0, None, T0 + 2)
    running = claim(store, now=T0 + 3)
    store.pause_queues(["q"])
    assert store.get_job("done").gate is None
    assert store.get_job("next").gate == "queue:q"
    assert store.get_job("running").gate == "queue:q"  # its end frees the slot it holds
    assert store.gate("queue:q").running == 1
    finish(store, running, 0, None, T0 + 4)
    assert store.gate("queue:q").running == 0


def test_a_gated_job_is_claimed_in_claim_order_with_the_plain_ones(store):
    store.limit_queue("gated", 5)
    store.enqueue(
        [
            new("gated-low", queue="gated", priority=-1),
            new("gated-early", queue="gated"),
            new("plain"),
            new("gated-late", queue="gated"),
            new("gated-high", queue="gated", priority=1),
        ],
        T0,
    )
    order = ["gated-high", "gated-early", "plain", "gated-late", "gated-low"]
    assert claimed_ids(store, 6) == order


def test_a_locks_gate_is_pruned_once_no_live_job_takes_it(store):
    store.enqueue([new("a", lock="L"), new("b", lock="L"), new("c", lock="M")], T0)
    store.cancel(["c"], T0)
    first = claim(store, now=T0 + 1)
    assert store.prune_lock_gates() == 1  # M's; L is held by a and waited for by b
    assert [gate.name for gate in store.gates()] == ["lock:L"]
    finish(store, first, 0, None, T0 + 2)
    assert store.prune_lock_gates() == 0  # b still waits
    finish(store, claim(store, now=T0 + 3), 0, None, T0 + 4)
    assert store.prune_lock_gates() == 1 and store.gates() == []


def test_a_pruned_locks_jobs_take_its_gate_again(store):
    store.enqueue([new("a", lock="L"), new("b", lock="M")], T0)
    store.cancel(["a", "b"], T0)
    assert store.prune_lock_gates() == 2
    store.requeue(["a"], T0 + 1)  # its gate is made again: it is claimed
    assert store.gate("lock:L").max_running == 1
    store.enqueue([new("c", lock="N")], T0 + 1)
    store.edit(new("c", lock="M"), T0 + 1)
    assert sorted(claimed_ids(store, 3, T0 + 2)) == ["a", "c"]
    assert {gate.name: gate.running for gate in store.gates()} == {
        "lock:L": 1,
        "lock:M": 1,
        "lock:N": 0,
    }


def _take_ended_locks(location: str, rounds: int) -> None:
    """Over and over: end a lock's only job, so that its gate may be pruned, and at once
    enqueue a job that takes the lock again."""
    from queuectl.store import open_store

    store = open_store(location)
    try:
        for i in range(rounds):
            store.enqueue([new(f"first{i}", lock=f"L{i}")], T0)
            store.cancel([f"first{i}"], T0)
            store.enqueue([new(f"again{i}", lock=f"L{i}")], T0)
    finally:
        store.close()


def _prune_until(location: str, ready, done) -> None:
    from queuectl.store import open_store

    store = open_store(location)
    try:
        store.prune_lock_gates()
        ready.put(True)
        while not done.is_set():
            store.prune_lock_gates()
    finally:
        store.close()


def test_pruning_beside_enqueues_never_leaves_a_locked_job_without_its_gate(store, location):
    rounds = 200
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Queue(), ctx.Event()
    pruners = [ctx.Process(target=_prune_until, args=(location, ready, done)) for _ in range(2)]
    for proc in pruners:
        proc.start()
    for _ in pruners:  # pruning before the first enqueue, and all along them
        ready.get(timeout=60)
    enqueuer = ctx.Process(target=_take_ended_locks, args=(location, rounds))
    enqueuer.start()
    enqueuer.join(120)
    done.set()
    for proc in pruners:
        proc.join(30)
        assert proc.exitcode == 0
    assert enqueuer.exitcode == 0
    # Every live job's lock has its gate, so each of them is claimed.
    assert store.prune_lock_gates() == 0
    assert len({gate.name for gate in store.gates()}) == rounds
    assert len(claimed_ids(store, rounds + 1)) == rounds
