"""Limits and locks under real concurrency, on every backend: 8 workers in two pools claim
200 short jobs at once, and the times the jobs themselves wrote show that the bound held at
every moment (a job's stamps lie inside the time it held its slot, so stamps that overlap
mean slots that overlapped)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.conftest import wait_for

JOBS = 200


def _stamped(folder, name: str) -> str:
    # One file per job: lines appended to one file by processes at once could interleave.
    return f"s=$(date +%s.%N); sleep 0.02; echo $s $(date +%s.%N) > {folder / name}"


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    # An end sorts before a start at the same moment: touching intervals do not overlap.
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


@pytest.mark.parametrize(
    "setup, fields, bound",
    [
        (("queue", "limit", "renders", "2"), {"queue": "renders"}, 2),
        ((), {"lock": "deploy", "queue": "default"}, 1),
    ],
    ids=["queue-limit-2", "lock"],
)
def test_limits_and_locks_hold_at_every_moment_under_8_workers(
    cli, pool, tmp_path, setup, fields, bound
):
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    if setup:
        cli.ok(*setup)
    lines = tmp_path / "jobs.jsonl"
    lines.write_text(
        "".join(
            json.dumps({"id": f"j{i}", "command": _stamped(stamps, f"j{i}"), **fields}) + "\n"
            for i in range(JOBS)
        )
    )
    cli.ok("enqueue", "--file", str(lines))
    queue = fields["queue"]
    pool(4, "--queue", queue)
    pool(4, "--queue", queue)
    wait_for(
        lambda: cli.json("status")["counts"].get("completed") == JOBS,
        timeout=60,
        interval=0.5,
        message=f"{JOBS} jobs completed",
    )
    intervals = []
    for path in stamps.iterdir():
        start, end = path.read_text().split()
        intervals.append((float(start), float(end)))
    assert len(intervals) == JOBS
    most = _most_at_once(intervals)
    print(f"most jobs running at once: {most} (bound {bound})")
    assert 1 <= most <= bound


class _Claims:
    """Each claim of the claiming thread: when the call began and ended (one clock, this
    process's) and the job it got, if any."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[float, float, str | None]] = []

    def add(self, began: float, ended: float, job_id: str | None) -> None:
        with self.lock:
            self.calls.append((began, ended, job_id))

    def begun_after(self, moment: float) -> int:
        with self.lock:
            return sum(1 for began, _, _ in self.calls if began > moment)


def _within(intervals: list[tuple[float, float]], began: float, ended: float) -> bool:
    return any(start < began and ended < end for start, end in intervals)


def _gates_agree(store, queue: str) -> None:
    """Every waiting job of the queue is in the queue's gate if it has one, and in none if
    it has not (its jobs have no lock or group). Only the calling thread changes the gate."""
    gated = "queue:" + queue if store.gate("queue:" + queue) is not None else None
    for state in ("pending", "failed"):
        for job in store.list_jobs(state=state, queue=queue, limit=100_000):
            assert job.gate == gated, (job.id, job.gate, gated)


def test_jobs_enqueued_during_pauses_and_limits_get_the_gate_of_that_moment(location):
    """Three threads enqueue into q (each on its own connection) while an operator pauses,
    resumes and limits q over and over and a worker claims from it. While q is paused and at
    the end, every waiting job's gate agrees with q's; and no claim made wholly while q was
    paused (after the pause returned, before the resume was called) got a job. On PostgreSQL
    this also finds a deadlock of a finish with a change of the queue's gate."""
    from queuectl.store import open_store
    from tests.contract.test_store import T0, finish, new

    stop, claims, paused = threading.Event(), _Claims(), []
    errors: list[BaseException] = []

    def enqueuer(number: int) -> None:
        store = open_store(location)
        try:
            for i in range(300):
                if stop.is_set():
                    break
                store.enqueue([new(f"e{number}.{i}", queue="q")], T0)
        finally:
            store.close()

    def claimer() -> None:
        store = open_store(location)
        try:
            while not stop.is_set():
                began = time.monotonic()
                job = store.claim("w1", ["q"], T0 + 1, 30.0)
                claims.add(began, time.monotonic(), job and job.id)
                if job is None:
                    time.sleep(0.005)
                else:
                    finish(store, job, 0, None, T0 + 2)
        finally:
            store.close()

    def guarded(target, *args) -> None:
        try:
            target(*args)
        except BaseException as exc:  # the test fails with it
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=guarded, args=(enqueuer, n)) for n in range(3)]
    threads.append(threading.Thread(target=guarded, args=(claimer,)))
    for thread in threads:
        thread.start()
    operator = open_store(location)
    try:

        def settle() -> float:
            """Q's gate agrees with its jobs' now and once the worker has tried twice to
            claim under the current setting; returns when that began."""
            since = time.monotonic()
            _gates_agree(operator, "q")
            wait_for(lambda: claims.begun_after(since) >= 2 or errors, timeout=60)
            _gates_agree(operator, "q")
            return since

        for _ in range(8):
            operator.pause_queues(["q"])
            paused.append((settle(), time.monotonic()))
            assert operator.resume_queues(["q"]) == []
            operator.limit_queue("q", 2)
            settle()
            operator.limit_queue("q", None)
            settle()
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        _gates_agree(operator, "q")
        under_pause = [
            job_id for began, ended, job_id in claims.calls if _within(paused, began, ended)
        ]
        got = [job_id for _, _, job_id in claims.calls if job_id is not None]
        print(f"{len(got)} jobs claimed; {len(under_pause)} claims wholly under a pause")
        assert got and len(under_pause) >= 2 * len(paused)
        assert under_pause == [None] * len(under_pause)
        waiting = len(operator.list_jobs(state="pending", queue="q", limit=100_000))
        claimed = iter(lambda: operator.claim("w2", ["q"], T0 + 3, 30.0), None)
        assert len(list(claimed)) == waiting  # none stuck behind a gate that is gone
    finally:
        stop.set()
        operator.close()
