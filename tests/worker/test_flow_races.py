"""Limits and locks under real concurrency, on every backend: 8 workers in two pools claim
200 short jobs at once, and the times the jobs themselves wrote show that the bound held at
every moment (a job's stamps lie inside the time it held its slot, so stamps that overlap
mean slots that overlapped)."""

from __future__ import annotations

import json

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
