"""Queues, limits and locks end to end (SPEC §8): the real CLI and real pools on every
backend."""

from __future__ import annotations

import time

import pytest

from tests.conftest import (
    MAX_SPIN_CPU,
    SPIN_WINDOW,
    cpu_seconds,
    linux_only,
    one_at_a_time,
    wait_for,
)


def queues(cli) -> dict[str, dict]:
    return {entry["queue"]: entry for entry in cli.json("queue", "list")}


def test_queue_list_shows_counts_paused_limit_and_workers(cli, pool):
    cli.ok("run", "--queue", "images", "true")
    cli.ok("queue", "pause", "images")
    cli.ok("queue", "limit", "gpu", "2")  # a queue may be limited before it has jobs
    pool(1, "--queue", "images")
    listed = queues(cli)
    assert set(listed) == {"gpu", "images"}
    assert listed["images"]["paused"] and listed["images"]["counts"]["pending"] == 1
    assert listed["images"]["limit"] is None and len(listed["images"]["workers"]) == 1
    assert not listed["gpu"]["paused"] and listed["gpu"]["limit"] == 2
    assert listed["gpu"]["workers"] == []
    text = cli.ok("queue", "list")
    assert "images" in text and "paused" in text and "gpu" in text


def test_a_paused_queue_waits_and_explain_says_so_until_resumed(cli, pool):
    cli.ok("queue", "pause", "images")
    job_id = cli.ok("run", "--queue", "images", "true").strip()
    pool(1)
    explained = cli.json("explain", job_id)
    assert explained["runnable"] is False
    assert "queue_paused" in [reason["code"] for reason in explained["reasons"]]
    assert cli("wait", job_id, "--timeout", "1").returncode == 124  # not claimed
    resumed = cli("queue", "resume", "images")
    assert resumed.returncode == 0 and "resumed images" in resumed.stdout
    assert cli("wait", job_id, "--timeout", "60").returncode == 0


def test_pause_of_a_paused_queue_is_a_noop_with_a_note(cli):
    cli.ok("queue", "pause", "images")
    result = cli("queue", "pause", "images", "gpu")
    assert result.returncode == 0 and result.stdout.strip() == "paused gpu"
    assert result.stderr.strip() == "queuectl: queue images is paused already"
    assert queues(cli)["images"]["paused"] and queues(cli)["gpu"]["paused"]


def test_resume_of_a_queue_not_paused_is_a_noop_with_a_note(cli):
    result = cli("queue", "resume", "idle")
    assert result.returncode == 0
    assert result.stderr.strip() == "queuectl: queue idle is not paused: nothing to resume"
    assert queues(cli) == {}


@pytest.mark.parametrize(
    "args, code",
    [
        (("limit", "gpu", "0"), 1),
        (("limit", "gpu", "-1"), 1),
        (("limit", "gpu", "lots"), 1),
        (("limit", "bad queue!", "2"), 1),
        (("pause", "bad queue!"), 1),
        (("limit", "gpu"), 2),
        (("pause",), 2),
    ],
)
def test_bad_queue_input_says_one_line_and_changes_nothing(cli, args, code):
    cli.ok("queue", "limit", "gpu", "3")
    before = queues(cli)
    result = cli("queue", *args)
    assert result.returncode == code, result.stderr
    if code == 1:
        assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert queues(cli) == before


def test_limit_none_lifts_a_queue_limit(cli):
    cli.ok("queue", "limit", "gpu", "1")
    assert "at most 1" in cli.ok("queue", "limit", "gpu", "1")
    assert cli.ok("queue", "limit", "gpu", "none").strip() == "queue gpu: no limit"
    assert queues(cli) == {}


def test_a_lock_is_shown_held_by_its_job_and_edit_changes_it(cli, pool, tmp_path):
    gate = tmp_path / "gate"
    first = cli.ok("run", "--lock", "deploy", "--", f"while ! test -e {gate}; do sleep 0.05; done")
    second = cli.json("run", "--lock", "deploy", "--queue", "other", "true")["id"]
    first = first.strip()
    assert cli.job(second)["lock"] == "deploy"
    pool(2, "--queue", "default,other")
    wait_for(lambda: cli.state(first) == "processing", message="the first to run")
    explained = cli.json("explain", second)
    [lock] = [reason for reason in explained["reasons"] if reason["code"] == "lock"]
    assert lock["message"] == f"its lock deploy is held by {first}"
    assert explained["runnable"] is False
    assert cli("wait", second, "--timeout", "1").returncode == 124  # not claimed
    assert cli.json("edit", second, "--lock", "elsewhere")["lock"] == "elsewhere"
    assert cli("wait", second, "--timeout", "60").returncode == 0
    gate.touch()
    assert cli("wait", first, "--timeout", "60").returncode == 0
    # Once no live job takes them, a pool prunes the locks' gates: claims look into each.
    wait_for(lambda: not gate_names(cli.location), timeout=30, message="the locks pruned")


def gate_names(location: str) -> list[str]:
    from queuectl.store import open_store

    store = open_store(location)
    try:
        return [gate.name for gate in store.gates()]
    finally:
        store.close()


def test_explain_names_a_full_queue_limit_and_its_running_jobs(cli, pool, tmp_path):
    gate = tmp_path / "gate"
    cli.ok("queue", "limit", "gpu", "1")
    busy = cli.ok("run", "--queue", "gpu", "--", f"while ! test -e {gate}; do sleep 0.05; done")
    waiting = cli.ok("run", "--queue", "gpu", "true").strip()
    pool(2, "--queue", "gpu")
    wait_for(lambda: cli.state(busy.strip()) == "processing", message="the first to run")
    explained = cli.json("explain", waiting)
    [limit] = [reason for reason in explained["reasons"] if reason["code"] == "limit"]
    assert limit["message"] == f"its queue gpu runs at most 1 at once and 1 run: {busy.strip()}"
    gate.touch()
    assert cli("wait", waiting, "--timeout", "60").returncode == 0


@linux_only
@one_at_a_time
def test_a_worker_whose_only_jobs_a_limit_blocks_sleeps_until_a_slot_frees(cli, pool, tmp_path):
    # Issue 13: a claim a limit refuses must not spin. One of two workers runs the queue's
    # only slot; the other has nothing it may claim and must sleep, yet start the waiting
    # job once the slot frees (the finish wakes it).
    gate = tmp_path / "gate"
    cli.ok("queue", "limit", "gpu", "1")
    busy = cli.ok("run", "--queue", "gpu", "--", f"while ! test -e {gate}; do sleep 0.05; done")
    waiting = cli.ok("run", "--queue", "gpu", "true").strip()
    workers = pool(2, "--queue", "gpu").workers.values()
    wait_for(lambda: cli.state(busy.strip()) == "processing", message="the first to run")
    before = sum(cpu_seconds(pid) for pid in workers)
    time.sleep(SPIN_WINDOW)
    assert sum(cpu_seconds(pid) for pid in workers) - before < MAX_SPIN_CPU
    assert cli.state(waiting) == "pending"
    gate.touch()
    assert cli("wait", waiting, "--timeout", "60").returncode == 0
