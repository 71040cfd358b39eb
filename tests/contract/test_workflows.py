"""The Store contract for workflows (SPEC §7): dependencies that release or cancel in the
transaction of the end that decides them, holds, requeue, groups. Every backend."""

from __future__ import annotations

import pytest

from queuectl.errors import Conflict, NotFound
from tests.contract.test_store import T0, claim, finish, new


def after(*ids: str, on: str = "success") -> list[dict[str, str]]:
    return [{"id": job_id, "on": on} for job_id in ids]


def states(store, *ids: str) -> list[str]:
    return [store.get_job(job_id).state for job_id in ids]


def run_next(store, exit_code: int, now: float = T0 + 1):
    """Claim the next job and end it with `exit_code` (0: completed, else dead)."""
    job = claim(store, now=now)
    assert job is not None
    finish(store, job, exit_code, None if exit_code == 0 else f"exit code {exit_code}", now)
    return job


def test_a_job_waits_for_its_dependency_then_runs(store):
    store.enqueue([new("a", max_retries=0), new("b", after=after("a"), priority=9)], T0)
    assert store.get_job("b").after == after("a")
    assert run_next(store, 0).id == "a"  # b has the higher priority but waits
    assert store.get_job("b").state == "pending"
    assert claim(store, now=T0 + 2).id == "b"


def test_the_three_conditions(store):
    store.enqueue([new("ok", max_retries=0), new("bad", max_retries=0)], T0)
    store.enqueue(
        [
            new("on-ok", after=after("ok")),
            new("any-ok", after=after("ok", on="any")),
            new("fail-ok", after=after("ok", on="failure")),
            new("on-bad", after=after("bad")),
            new("any-bad", after=after("bad", on="any")),
            new("fail-bad", after=after("bad", on="failure")),
        ],
        T0,
    )
    assert run_next(store, 0).id == "ok"
    assert run_next(store, 3).id == "bad"
    assert states(store, "on-ok", "any-ok", "fail-ok") == ["pending", "pending", "canceled"]
    assert states(store, "on-bad", "any-bad", "fail-bad") == ["canceled", "pending", "pending"]
    assert store.get_job("fail-ok").last_error == "dependency 'ok' ended completed"
    assert store.get_job("on-bad").last_error == "dependency 'bad' ended dead"
    ran = {claim(store, now=T0 + 3).id for _ in range(4)}
    assert ran == {"on-ok", "any-ok", "any-bad", "fail-bad"}
    assert claim(store, now=T0 + 3) is None


def test_a_failure_cancels_everything_downstream_in_one_transaction(store):
    store.enqueue(
        [
            new("a", max_retries=0),
            new("b", after=after("a")),
            new("c", after=after("b")),
            new("cleanup", after=after("c", on="failure")),
            new("report", after=after("b", on="any")),
        ],
        T0,
    )
    run_next(store, 1)
    assert states(store, "b", "c") == ["canceled", "canceled"]
    assert store.get_job("c").last_error == "dependency 'b' ended canceled"
    # A canceled dependency meets "failure" and "any": those run.
    assert {claim(store, now=T0 + 2).id, claim(store, now=T0 + 2).id} == {"cleanup", "report"}


def test_a_diamond_runs_its_join_once_both_sides_completed(store):
    store.enqueue(
        [
            new("a", max_retries=0),
            new("b", after=after("a")),
            new("c", after=after("a")),
            new("d", after=after("b", "c")),
        ],
        T0,
    )
    assert run_next(store, 0).id == "a"
    first = run_next(store, 0)
    assert first.id in ("b", "c")
    assert store.get_job("d").state == "pending"
    nxt = claim(store, now=T0 + 2)
    assert nxt.id in ("b", "c") and nxt.id != first.id  # d still waits for the other side
    finish(store, nxt, 0, None, T0 + 2)
    assert claim(store, now=T0 + 3).id == "d"


def test_a_dependency_on_a_finished_job_is_met_or_refused(store):
    store.enqueue([new("done", max_retries=0), new("gone", max_retries=0)], T0)
    run_next(store, 0)
    store.cancel(["gone"], T0 + 1)
    store.enqueue([new("x", after=after("done")), new("y", after=after("gone", on="any"))], T0)
    assert {claim(store, now=T0 + 2).id, claim(store, now=T0 + 2).id} == {"x", "y"}
    with pytest.raises(Conflict, match="'z' can never run.*'gone' is canceled"):
        store.enqueue([new("z", after=after("gone"))], T0)
    with pytest.raises(Conflict, match="'z' can never run.*'done' is completed"):
        store.enqueue([new("z", after=after("done", on="failure"))], T0)
    with pytest.raises(NotFound, match="no job with id 'nope'"):
        store.enqueue([new("z", after=after("nope"))], T0)
    with pytest.raises(NotFound):
        store.get_job("z")  # nothing was inserted


def test_a_cycle_in_a_batch_is_refused_and_nothing_is_inserted(store):
    with pytest.raises(Conflict, match="cycle"):
        store.enqueue(
            [new("a", after=after("c")), new("b", after=after("a")), new("c", after=after("b"))],
            T0,
        )
    assert store.list_jobs() == []


def test_a_group_dependency_means_every_job_of_the_group_as_it_commits(store):
    store.enqueue([new("f.1", group="f"), new("f.2", group="f")], T0)
    store.enqueue([new("f.3", group="f"), new("join", after=after("group:f"))], T0)
    assert [entry["id"] for entry in store.get_job("join").after] == ["f.1", "f.2", "f.3"]
    with pytest.raises(NotFound, match="no job in group 'empty'"):
        store.enqueue([new("lonely", after=after("group:empty"))], T0)
    for _ in range(3):
        run_next(store, 0)
    assert claim(store, now=T0 + 2).id == "join"


def test_a_user_cancel_of_a_dependency_settles_its_dependents(store):
    store.enqueue([new("a"), new("b", after=after("a")), new("c", after=after("a", on="any"))], T0)
    store.cancel(["a"], T0 + 1)
    assert states(store, "a", "b", "c") == ["canceled", "canceled", "pending"]
    assert claim(store, now=T0 + 2).id == "c"


def test_a_canceled_waiting_job_no_longer_counts_its_dependencies(store):
    store.enqueue([new("a", max_retries=0), new("b", after=after("a"))], T0)
    store.cancel(["b"], T0)
    run_next(store, 0)
    assert states(store, "a", "b") == ["completed", "canceled"]


def test_ten_thousand_dependents_released_by_one_end(store):
    store.enqueue([new("root", max_retries=0)], T0)
    store.enqueue([new(f"d{i}", after=after("root")) for i in range(10_000)], T0)
    assert claim(store, now=T0 + 1).id == "root"
    assert claim(store, now=T0 + 1) is None  # the waiting ones are not claimable
    finish(store, store.get_job("root"), 0, None, T0 + 1)
    assert store.counts()["default"]["pending"] == 10_000
    assert claim(store, now=T0 + 2).id.startswith("d")


def test_hold_and_release(store):
    store.enqueue([new("a"), new("b")], T0)
    store.hold(["a"], True, T0)
    assert store.get_job("a").held is True
    assert claim(store, now=T0 + 1).id == "b"
    assert claim(store, now=T0 + 1) is None
    with pytest.raises(Conflict, match="'b' is processing: only pending or failed"):
        store.hold(["a", "b"], False, T0 + 1)
    assert store.get_job("a").held is True  # all or nothing
    store.hold(["a"], False, T0 + 1)
    assert claim(store, now=T0 + 2).id == "a"


def test_requeue_of_finished_jobs_keeps_their_history(store):
    store.enqueue([new("a", max_retries=0), new("b", run_at=T0 + 100)], T0)
    first = run_next(store, 3)
    with pytest.raises(Conflict, match="'b' is pending: only completed, dead or canceled"):
        store.requeue(["a", "b"], T0 + 2)
    assert store.get_job("a").state == "dead"
    assert store.requeue(["a"], T0 + 2) == ["a"]
    job = store.get_job("a")
    assert (job.state, job.attempts, job.run_at) == ("pending", 0, T0 + 2)
    again = claim(store, now=T0 + 3)
    assert again.id == "a" and again.attempt_number == first.attempt_number + 1


def test_requeue_waits_again_and_refuses_a_condition_that_cannot_be_met(store):
    store.enqueue([new("a", max_retries=0), new("b", after=after("a"))], T0)
    run_next(store, 1)
    assert states(store, "a", "b") == ["dead", "canceled"]
    with pytest.raises(Conflict, match="'b' can never run.*'a' is dead"):
        store.requeue(["b"], T0 + 2)
    # Both at once: the dependency first, so b waits for a again.
    assert sorted(store.requeue(["b", "a"], T0 + 2)) == ["a", "b"]
    assert claim(store, now=T0 + 3).id == "a"
    assert claim(store, now=T0 + 3) is None
    finish(store, store.get_job("a"), 0, None, T0 + 3)
    assert claim(store, now=T0 + 4).id == "b"


def test_dlq_retry_is_requeue_of_dead_jobs(store):
    store.enqueue([new("a", max_retries=0), new("b", max_retries=0)], T0)
    run_next(store, 1)
    run_next(store, 1)
    assert sorted(store.retry_dead(None, T0 + 2)) == ["a", "b"]
    assert states(store, "a", "b") == ["pending", "pending"]


def test_groups_list_count_and_members_in_index_order(store):
    store.enqueue([new(f"g.{i}", group="g", index=i) for i in (3, 1, 2)] + [new("other")], T0)
    assert store.group_members("g") == [("g.1", "pending"), ("g.2", "pending"), ("g.3", "pending")]
    assert store.group_counts("g") == {"pending": 3}
    assert {job.id for job in store.list_jobs(group="g")} == {"g.1", "g.2", "g.3"}
    assert store.job_states(["g.1", "nope"]) == {"g.1": "pending"}


def test_edit_replaces_what_a_waiting_job_runs_and_keeps_its_dependencies(store):
    store.enqueue([new("a"), new("b", after=after("a"), priority=1)], T0)
    changed = new("b", command="echo new", priority=5, queue="q", run_at=T0 + 9)
    store.edit(changed, T0 + 1)
    job = store.get_job("b")
    assert (job.command, job.priority, job.queue, job.run_at) == ("echo new", 5, "q", T0 + 9)
    assert job.after == after("a") and job.waiting_on == 1
    claim(store, now=T0 + 2)
    with pytest.raises(Conflict, match="'a' is processing"):
        store.edit(new("a", command="x"), T0 + 2)
    with pytest.raises(NotFound):
        store.edit(new("nope"), T0 + 2)


def test_every_group_is_listed_with_its_counts_per_state(store):
    assert store.groups() == {}
    store.enqueue([new(f"b.{i}", group="b", index=i, max_retries=0) for i in (1, 2)], T0)
    store.enqueue([new("a.1", group="a", index=1), new("loose")], T0)
    assert run_next(store, 3).id == "b.1"
    assert store.groups() == {"a": {"pending": 1}, "b": {"dead": 1, "pending": 1}}
    assert list(store.groups()) == ["a", "b"]


def test_dependents_are_every_job_whose_after_names_it_met_or_not(store):
    store.enqueue([new("a", max_retries=0), new("a2"), new("a%")], T0)
    store.enqueue(
        [
            new("ok", after=after("a")),
            new("any", after=after("a2", "a", on="any")),
            new("near", after=after("a2", "a%")),  # ids that a text match would confuse
        ],
        T0,
    )
    assert store.dependents("a", 10) == ["ok", "any"]
    assert run_next(store, 0).id == "a"  # met: no longer in the dependencies table
    assert store.dependents("a", 10) == ["ok", "any"]
    assert store.dependents("a", 1) == ["ok"]
    assert store.dependents("a%", 10) == ["near"]
    assert store.dependents("ok", 10) == []


def limited_group(store, group: str, count: int, limit: int) -> None:
    jobs = [new(f"{group}.{i}", group=group, index=i) for i in range(1, count + 1)]
    store.enqueue(jobs, T0, {group: limit})


def test_a_limited_group_never_has_more_than_its_limit_processing(store):
    limited_group(store, "g", 5, 2)
    store.enqueue([new("plain", priority=-1)], T0)
    first, second = claim(store, now=T0 + 1), claim(store, now=T0 + 1)
    assert {first.id, second.id} == {"g.1", "g.2"}
    assert claim(store, now=T0 + 1).id == "plain"  # the full group is passed over
    assert claim(store, now=T0 + 1) is None
    assert store.next_run_at(None) is None  # its waiting jobs do not wake anyone
    finish(store, first, 0, None, T0 + 2)
    assert claim(store, now=T0 + 3).id == "g.3"
    assert claim(store, now=T0 + 3) is None
    finish(store, second, 1, "exit code 1", T0 + 3)  # a retry frees its slot too
    assert claim(store, now=T0 + 4).id in ("g.2", "g.4")


def test_a_job_enqueued_into_a_limited_group_is_limited_and_a_late_limit_refused(store):
    limited_group(store, "g", 1, 1)
    store.enqueue([new("g.extra", group="g")], T0)
    assert claim(store, now=T0 + 1).id == "g.1"
    assert claim(store, now=T0 + 1) is None
    store.enqueue([new("loose.1", group="loose")], T0)
    with pytest.raises(Conflict, match="has unfinished jobs and no limit"):
        store.enqueue([new("loose.2", group="loose")], T0, {"loose": 1})
    with pytest.raises(NotFound):
        store.get_job("loose.2")


def test_a_limited_groups_limit_and_count_are_read_back(store):
    limited_group(store, "g", 3, 2)
    assert store.group_limit("g") == (2, 0)
    claim(store, now=T0 + 1)
    assert store.group_limit("g") == (2, 1)
    assert store.group_limit("other") is None
