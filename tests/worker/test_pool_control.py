"""Controlling a pool while it starts, and part of the fleet (issue 11): the count bound,
signals and `worker stop` during start-up, stopping one pool or one queue's workers."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for

STARTING = 12  # workers enough that a pool is still starting when the test acts


LINUX_PROC = pytest.mark.skipif(sys.platform != "linux", reason="/proc lists children")


def _pool_process(cli, stderr=subprocess.DEVNULL, count: int = STARTING) -> subprocess.Popen:
    return cli.popen(
        "worker",
        "start",
        "--foreground",
        "--count",
        str(count),
        stderr=stderr,
        start_new_session=True,
    )


def _starting_pool(cli, count: int = STARTING) -> subprocess.Popen:
    proc = _pool_process(cli, count=count)
    wait_for(lambda: cli.json("worker", "list"), timeout=60, message="a first worker")
    return proc


def _ended(proc: subprocess.Popen) -> tuple[int, str]:
    """The pool's exit status and what it printed: the start announcement (a line per
    worker) comes only once every worker has registered."""
    try:
        announced, _ = proc.communicate(timeout=60)
        return proc.returncode, announced
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@contextlib.contextmanager
def _registration_blocked(location: str, then_drop: str | None = None) -> Iterator[None]:
    """No worker can register meanwhile: the SQLite write lock, or a PostgreSQL lock on
    the workers table (reads go on). With `then_drop`, that table of the store is dropped
    in the same transaction, as the lock ends."""
    postgres = "://" in location
    drop = f"DROP TABLE {'queuectl_' if postgres else ''}{then_drop}" if then_drop else None
    if postgres:
        import psycopg

        with psycopg.connect(location) as conn:  # one transaction
            conn.execute("LOCK TABLE queuectl_workers IN EXCLUSIVE MODE")
            yield
            if drop:
                conn.execute(drop)
            conn.commit()
    else:
        with contextlib.closing(sqlite3.connect(location, isolation_level=None)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            yield
            if drop:
                conn.execute(drop)
            conn.execute("COMMIT")


def _waiting_to_register(location: str, pool_pid: int) -> bool:
    """Whether a worker of the pool has opened the store (and so waits to register):
    PostgreSQL shows its INSERT waiting for the lock on this schema's table (tests in other
    schemas of the database, run alongside, wait for locks of their own), /proc its open
    SQLite file."""
    if "://" in location:
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_locks"
                " WHERE relation = 'queuectl_workers'::regclass AND NOT granted"
            ).fetchone()
        return bool(waiting and waiting[0])
    for worker in _worker_processes(pool_pid):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == location for fd in Path(f"/proc/{worker}/fd").iterdir()):
                return True
    return False


def _worker_processes(pid: int) -> list[int]:
    """The pool's worker processes (not multiprocessing's resource tracker, which its
    __init__ starts before the pool runs)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = path.read_text().split() if path.exists() else []
    found = []
    for child in children:
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


@LINUX_PROC
def test_a_start_up_that_fails_stops_the_workers_it_started(fast_config):
    cli = fast_config
    # Start-up's next look for `worker stop` fails, with its workers running.
    with _registration_blocked(cli.location, then_drop="pool_stops"):
        proc = _pool_process(cli)
        wait_for(
            lambda: _waiting_to_register(cli.location, proc.pid),
            timeout=60,
            message="a worker that waits to register",
        )
    assert _ended(proc)[0] == 1  # before, its running workers kept it from exiting
    wait_for(lambda: cli.json("worker", "list") == [], timeout=15, message="no worker left")


def test_a_count_above_the_bound_is_refused(cli):
    result = cli("worker", "start", "--count", "101")
    assert result.returncode == 1
    assert "100" in result.stderr and "--count 101" in result.stderr
    assert cli.json("worker", "list") == []


# A worker that was still starting may outlive its pool by a moment (it stops when it sees
# the pool gone): what counts is that none is left, hence the waits below.


@LINUX_PROC
def test_a_signal_during_start_up_stops_the_pool(fast_config, tmp_path):
    cli = fast_config
    log = tmp_path / "pool.log"
    with _registration_blocked(cli.location), log.open("w") as stderr:
        proc = _pool_process(cli, stderr)
        wait_for(lambda: _worker_processes(proc.pid), timeout=60, message="a worker process")
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "warm stop" in log.read_text(), message="the pool's warm stop")
    assert _ended(proc) == (0, "")  # stopped before its workers registered: no announcement
    wait_for(lambda: cli.json("worker", "list") == [], timeout=15, message="no worker left")


def test_worker_stop_reaches_a_pool_that_is_starting(fast_config):
    cli = fast_config
    proc = _starting_pool(cli)
    cli.ok("worker", "stop")
    assert _ended(proc)[0] == 0
    wait_for(lambda: cli.json("worker", "list") == [], timeout=15, message="no worker left")


@LINUX_PROC
def test_worker_stop_before_any_worker_registered_stops_the_pool(fast_config):
    cli = fast_config
    with _registration_blocked(cli.location):
        proc = _pool_process(cli)
        # A worker process exists, so the pool has started (a stop before that would be
        # for an earlier pool); freeze them all before any can register.
        wait_for(lambda: _worker_processes(proc.pid), timeout=60, message="a first worker process")
        os.killpg(proc.pid, signal.SIGSTOP)
    try:
        cli.ok("worker", "stop")  # once: no worker is registered to be asked
        assert cli.json("worker", "list") == []
    finally:
        os.killpg(proc.pid, signal.SIGCONT)
    assert _ended(proc) == (0, "")
    wait_for(lambda: cli.json("worker", "list") == [], timeout=15, message="no worker left")


def test_stop_one_pool_or_one_queue(fast_config, pool):
    cli = fast_config
    everything = pool(1)
    images = pool(1, "--queue", "images,mail")
    listed = {w["id"]: w for w in cli.json("worker", "list")}
    (first,) = everything.workers
    (second,) = images.workers
    assert listed[first]["pool"] != listed[second]["pool"]
    assert listed[first]["pool"] in cli.ok("worker", "list")

    result = cli("worker", "stop", "--pool", "nosuchpool")
    assert result.returncode == 0 and "no worker is running that matches" in result.stderr
    cli.ok("worker", "stop", "--pool", listed[first]["pool"], "--wait")
    assert everything.wait() == 0
    assert [w["id"] for w in cli.json("worker", "list")] == [second]

    cli.ok("worker", "stop", "--queue", "default")  # no worker was started for it alone
    [still] = cli.json("worker", "list")
    assert still["id"] == second and still["state"] != "stopping", still
    job_id = cli.ok("run", "--queue", "mail", "true").strip()
    wait_for(lambda: cli.state(job_id) == "completed", message="a job for the other worker")
    cli.ok("worker", "stop", "--queue", "mail", "--wait")
    assert images.wait() == 0
    assert cli.json("worker", "list") == []
