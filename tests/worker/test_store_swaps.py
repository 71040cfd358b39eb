"""A SQLite store deleted, replaced or overwritten under a running pool: the pool notices
within seconds, lets its running job finish into the file it opened, and stops with one
log line saying why; no process of it lives on."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from queuectl.store import open_store
from tests.conftest import Cli, wait_for
from tests.worker.test_pool import process_running, read_pid

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file semantics")


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(str(tmp_path / "store" / "queue.db"), home)
    cli.ok("config", "set", "poll_interval", "0.2")
    return cli


def delete(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def replace_with_another_store(path: Path) -> None:
    other = path.with_name("other.db")
    open_store(str(other)).close()
    os.replace(other, path)


def overwrite_with_garbage(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.write(b"not a queue store " * 4096)


@pytest.mark.parametrize("swap", [delete, replace_with_another_store, overwrite_with_garbage])
def test_a_pool_stops_when_its_store_file_is_swapped(sqlite_cli, pool_of, tmp_path, swap):
    cli = sqlite_cli
    pidfile, done = tmp_path / "pid", tmp_path / "done"
    started = pool_of(cli, 2)
    cli.ok("run", f"echo $$ > {pidfile}; sleep 2; touch {done}")
    read_pid(pidfile)
    swap(Path(cli.location))
    assert started.wait(30) == 1  # it stopped by itself, and says so by its exit status
    assert done.exists(), "the running job was cut short"
    log = Path(started.log.name).read_text()
    # Said by the supervisor's own check, or by a worker that met the garbage first.
    assert "stops: the store file" in log or "found the store unusable" in log, log
    assert "Traceback" not in log, log
    assert not any(process_running(pid) for pid in started.workers.values())


def test_a_job_enqueued_into_the_new_file_runs_under_a_new_pool(sqlite_cli, pool_of):
    cli = sqlite_cli
    started = pool_of(cli, 1)
    replace_with_another_store(Path(cli.location))
    started.wait(30)
    job_id = cli.ok("run", "true").strip()
    pool_of(cli, 1)
    wait_for(lambda: cli.state(job_id) == "completed")


def test_the_wal_is_kept_small_once_checkpointed(tmp_path, monkeypatch):
    from queuectl.store import sqlite

    monkeypatch.setattr(sqlite, "WAL_LIMIT", 256 * 1024)
    path = tmp_path / "queue.db"
    open_store(str(path)).close()
    worker_store = open_store(str(path), durable=False)  # as the pool opens it
    try:
        for number in range(64):
            worker_store.config_set(f"filler_{number}", "x" * 16384)
        assert os.path.getsize(f"{path}-wal") > sqlite.WAL_LIMIT
        worker_store.housekeeping()
        assert os.path.getsize(f"{path}-wal") <= sqlite.WAL_LIMIT
    finally:
        worker_store.close()


def test_recovery_does_not_wait_for_a_delayed_restart(fast_config, pool, tmp_path):
    """Replacements that die young are started later and later; the recovery of a busy
    worker killed meanwhile must not wait for that delay."""
    cli = fast_config
    pidfile = tmp_path / "pid"
    started = pool(2)
    job_id = cli.ok("run", f"echo $$ > {pidfile}; sleep 60").strip()
    command_pid = read_pid(pidfile)
    busy = cli.job(job_id)["worker_id"]
    killed = {busy}
    for _ in range(4):  # each replacement dies young: the next one waits 2, 4, 8, 16 s
        [idle] = wait_for(
            lambda: [w for w in cli.json("worker", "list") if w["id"] not in killed],
            timeout=30,
            message="the idle worker's replacement",
        )
        killed.add(idle["id"])
        os.kill(idle["pid"], signal.SIGKILL)
    os.kill(started.workers[busy], signal.SIGKILL)
    wait_for(lambda: cli.state(job_id) != "processing", message="the killed worker's job recovered")
    # Recovery came with the reaping, before the delayed restart (8 s after the last kill):
    # only the busy worker's replacement, started at once, may be there yet.
    assert len([w for w in cli.json("worker", "list") if w["id"] not in killed]) <= 1
    assert not process_running(command_pid)
    [attempt] = cli.json("show", job_id)["attempts"][:1]
    assert attempt["error"] == "worker lost"
