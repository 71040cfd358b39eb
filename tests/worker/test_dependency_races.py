"""Dependencies under concurrency, on every backend: several real workers end jobs while
other processes enqueue jobs that wait for them. Nothing may be left waiting for a job that
has ended, and no job may start before what it waits for has ended (read from the times the
jobs themselves wrote)."""

from __future__ import annotations

import concurrent.futures
import time

from tests.conftest import wait_for

ROOTS = 20
WAITERS_PER_ROOT = 6


def _stamp(folder, name: str) -> str:
    # A file per job: the lines of processes appending to one file at once can interleave.
    return f'python3 -c "import time; print(time.time())" >> {folder / name}'


def test_jobs_enqueued_while_their_dependency_ends_are_never_stranded(cli, pool, tmp_path):
    log = tmp_path / "stamps"
    log.mkdir()
    pool(4)
    for i in range(ROOTS):
        cli.ok("run", "--id", f"root{i}", "--", f"sleep 0.{i % 5}; {_stamp(log, f'root{i}')}")

    def enqueue_waiters(i: int) -> None:
        time.sleep(0.05 * (i % 7))  # land around the ends of the roots
        for k in range(WAITERS_PER_ROOT):
            on = ("--after", "--after-any")[k % 2]
            result = cli("run", "--id", f"w{i}-{k}", on, f"root{i}", "--", _stamp(log, f"w{i}-{k}"))
            assert result.returncode == 0, result.stderr

    with concurrent.futures.ThreadPoolExecutor(4) as threads:
        list(threads.map(enqueue_waiters, range(ROOTS)))
    waiters = [f"w{i}-{k}" for i in range(ROOTS) for k in range(WAITERS_PER_ROOT)]
    assert cli("wait", *waiters, "--timeout", "120").returncode == 0
    stamps = {}
    for path in log.iterdir():
        (moment,) = path.read_text().split()  # one line: it ran once
        stamps[path.name] = float(moment)
    for i in range(ROOTS):
        for k in range(WAITERS_PER_ROOT):
            assert stamps[f"w{i}-{k}"] >= stamps[f"root{i}"]


def test_jobs_that_share_dependents_end_at_once_without_losing_a_release(cli, pool):
    # Every join waits for all the parts; the parts end on several workers at once.
    parts = [f"part{i}" for i in range(24)]
    for part in parts:
        cli.ok("run", "--id", part, "true")
    for j in range(8):
        cli.ok("run", "--id", f"join{j}", "--after", ",".join(parts), "true")
    cli.ok("run", "--id", "last", "--after", ",".join(f"join{j}" for j in range(8)), "true")
    pool(4)
    assert cli("wait", "last", "--timeout", "120").returncode == 0
    wait_for(lambda: cli.json("status")["counts"]["completed"] == len(parts) + 9)
