"""Controlling a pool while it starts, and part of the fleet (issue 11): the count bound,
signals and `worker stop` during start-up, stopping one pool or one queue's workers."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess

from tests.conftest import wait_for

STARTING = 12  # workers enough that a pool is still starting when the test acts


def _starting_pool(cli, count: int = STARTING) -> subprocess.Popen:
    proc = cli.popen(
        "worker",
        "start",
        "--foreground",
        "--count",
        str(count),
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(lambda: cli.json("worker", "list"), timeout=60, message="a first worker")
    return proc


def _ended(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def _drop_table(location: str, table: str) -> None:
    """Drop one of the store's tables behind the CLI's back."""
    if "://" in location:
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute(f"DROP TABLE queuectl_{table}")  # PostgreSQL's names have a prefix
    else:
        with contextlib.closing(sqlite3.connect(location)) as conn:
            conn.execute(f"DROP TABLE {table}")


def test_a_start_up_that_fails_stops_the_workers_it_started(fast_config):
    cli = fast_config
    proc = _starting_pool(cli)
    _drop_table(cli.location, "pool_stops")  # start-up's next look for `worker stop` fails
    assert _ended(proc) == 1  # before, its running workers kept it from exiting
    wait_for(lambda: cli.json("worker", "list") == [], timeout=15, message="no worker left")


def test_a_count_above_the_bound_is_refused(cli):
    result = cli("worker", "start", "--count", "101")
    assert result.returncode == 1
    assert "100" in result.stderr and "--count 101" in result.stderr
    assert cli.json("worker", "list") == []


# A worker that was still starting may outlive its pool by a moment (it stops when it sees
# the pool gone): what counts is that none is left, hence the waits below.


def test_a_signal_during_start_up_stops_the_pool(fast_config):
    cli = fast_config
    proc = _starting_pool(cli)
    proc.send_signal(signal.SIGTERM)
    assert _ended(proc) == 0
    wait_for(lambda: cli.json("worker", "list") == [], timeout=15, message="no worker left")


def test_worker_stop_reaches_a_pool_that_is_starting(fast_config):
    cli = fast_config
    proc = _starting_pool(cli)
    cli.ok("worker", "stop")
    assert _ended(proc) == 0
    wait_for(lambda: cli.json("worker", "list") == [], timeout=15, message="no worker left")


def test_worker_stop_before_any_worker_registered_stops_the_pool(fast_config):
    # The stop may come before the pool has started (then it is not for that pool): ask
    # again until the pool, having started, has seen one.
    cli = fast_config
    proc = cli.popen(
        "worker",
        "start",
        "--foreground",
        "--count",
        str(STARTING),
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(lambda: cli("worker", "stop") and proc.poll() is not None, timeout=60)
    assert _ended(proc) == 0
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
    assert [w["id"] for w in cli.json("worker", "list")] == [second]
    cli.ok("worker", "stop", "--queue", "mail", "--wait")
    assert images.wait() == 0
    assert cli.json("worker", "list") == []
