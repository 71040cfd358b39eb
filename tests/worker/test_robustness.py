"""Edges where a queue loses work, runs it twice or leaks: settings changed under running
jobs, cancels racing stops, busy pools, leftovers, and what a job's environment holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from queuectl.model import Attempt, Lease
from tests.conftest import ROOT, wait_for
from tests.worker.test_pool import process_running, read_pid, wait_for_recorded_group

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def cold_stop(started) -> None:
    """Two stop signals, the second once the first is handled (the kernel merges a signal
    that arrives while the same one is still pending)."""
    log = Path(started.log.name)
    for sig_number, phase in enumerate(("warm stop", "cold stop"), start=1):
        started.signal(signal.SIGTERM)
        wait_for(lambda phase=phase: phase in log.read_text(), message=f"{phase} #{sig_number}")


def test_a_shorter_lease_does_not_kill_running_jobs(fast_config, pool):
    cli = fast_config
    pool(2)
    job_id = cli.ok("run", "sleep 3; echo done").strip()
    wait_for(lambda: cli.state(job_id) == "processing")
    cli.ok("config", "set", "lease_seconds", "1")  # the running job's heartbeat was 10 s
    wait_for(lambda: cli.state(job_id) == "completed", timeout=30)
    [attempt] = cli.json("show", job_id)["attempts"]
    assert (attempt["outcome"], attempt["error"]) == ("completed", None)


def test_a_cancel_that_meets_a_cold_stop_still_cancels(fast_config, pool, tmp_path):
    from queuectl.store import open_store

    cli = fast_config
    pidfile = tmp_path / "pid"
    started = pool(1)
    [worker_pid] = started.workers.values()
    job_id = cli.ok("run", f"echo $$ > {pidfile}; sleep 60").strip()
    read_pid(pidfile)
    os.kill(worker_pid, signal.SIGSTOP)  # it cannot see the cancel before the cold stop
    store = open_store(cli.location)
    try:
        store.cancel([job_id], store.clock())
    finally:
        store.close()
    cold_stop(started)
    os.kill(worker_pid, signal.SIGCONT)
    assert started.wait(30) != 0
    job = cli.job(job_id)
    assert (job["state"], job["last_error"]) == ("canceled", "canceled")


def test_a_job_handed_back_before_its_cancel_is_canceled_by_the_command(
    fast_config, pool, tmp_path
):
    cli = fast_config
    pidfile = tmp_path / "pid"
    started = pool(1)
    [worker_pid] = started.workers.values()
    job_id = cli.ok("run", f"echo $$ > {pidfile}; sleep 60").strip()
    read_pid(pidfile)
    os.kill(worker_pid, signal.SIGSTOP)
    canceling = cli.popen("cancel", job_id)
    wait_for(lambda: cli.job(job_id)["state"] == "processing")
    cold_stop(started)
    os.kill(worker_pid, signal.SIGCONT)
    out, _ = canceling.communicate(timeout=30)
    assert canceling.returncode == 0 and out.strip() == f"{job_id} canceled"
    assert cli.state(job_id) == "canceled"


def test_cancel_of_a_job_that_finishes_first_is_an_error(fast_config, pool, tmp_path):
    from queuectl.store import open_store

    cli = fast_config
    pidfile = tmp_path / "pid"
    started = pool(1)
    [worker_pid] = started.workers.values()
    job_id = cli.ok("run", f"echo $$ > {pidfile}; sleep 0.5").strip()
    pid = read_pid(pidfile)
    os.kill(worker_pid, signal.SIGSTOP)  # the command runs on; its worker cannot look
    canceling = cli.popen("cancel", job_id)
    wait_for(lambda: not process_running(pid))
    store = open_store(cli.location)
    try:
        wait_for(lambda: store.get_job(job_id).cancel_requested, message="the cancel request")
    finally:
        store.close()
    os.kill(worker_pid, signal.SIGCONT)
    out, err = canceling.communicate(timeout=30)
    assert canceling.returncode == 1
    assert out.strip() == f"{job_id} completed"
    assert "finished (completed) before the cancel reached it" in err


def test_a_busy_pool_recovers_a_lost_job_of_another_pool(fast_config, pool, tmp_path):
    cli = fast_config
    cli.ok("config", "set", "lease_seconds", "2")
    doomed = pool(1)
    lost_id = cli.ok("run", "--max-retries", "0", "sleep 60").strip()
    wait_for(lambda: cli.state(lost_id) == "processing")
    pool(1)
    busy_id = cli.ok("run", "sleep 60").strip()
    wait_for(lambda: cli.state(busy_id) == "processing")
    os.killpg(doomed.proc.pid, signal.SIGKILL)  # its worker never reports again
    doomed.wait()
    wait_for(lambda: cli.state(lost_id) == "dead", timeout=15)  # lease 2 s + one poll
    assert cli.job(lost_id)["last_error"] == "worker lost"
    assert cli.state(busy_id) == "processing"  # the only live worker stayed busy
    [lost] = cli.json("show", lost_id)["attempts"]  # nobody waited for its command
    assert [lost[key] for key in ("cpu_user", "cpu_system", "max_rss", "signal")] == [None] * 4


def test_background_processes_a_command_leaves_are_stopped(fast_config, pool, tmp_path):
    cli = fast_config
    pidfile = tmp_path / "pid"
    pool(1)
    job_id = cli.ok("run", f"sleep 60 & echo $! > {pidfile}; exit 0").strip()
    wait_for(lambda: cli.state(job_id) == "completed")
    assert not process_running(read_pid(pidfile))


def test_a_new_pool_stops_a_tree_whose_job_was_already_recovered(fast_config, pool, tmp_path):
    """The job was recovered elsewhere (its attempt closed, the tree left on record for its
    host); only the next pool started on that host can stop the tree."""
    from queuectl import lifecycle
    from queuectl.config import Config
    from queuectl.store import open_store

    cli = fast_config
    pidfile = tmp_path / "pid"
    first = pool(1)
    job_id = cli.ok("run", "--max-retries", "0", f"echo $$ > {pidfile}; sleep 60").strip()
    pid = read_pid(pidfile)
    wait_for_recorded_group(cli, job_id)
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.wait()
    store = open_store(cli.location)
    try:
        job = store.get_job(job_id)
        now = store.clock()
        record = Attempt(
            job_id,
            job.attempt_number,
            job.worker_id,
            job.started_at,
            now,
            error=lifecycle.WORKER_LOST,
        )
        assert store.finish(
            Lease(job_id, job.worker_id, job.attempt_number),
            lifecycle.after_worker_lost(job, now, Config.from_stored({})),
            record,
            now,
            keep_pgid=True,
        )
    finally:
        store.close()
    assert process_running(pid) and cli.state(job_id) == "dead"
    pool(1)
    wait_for(lambda: not process_running(pid), timeout=10, message="stray tree stopped")


def test_a_background_pool_adds_nothing_to_its_jobs_environment(tmp_path):
    """No store URL (it may hold a password) and no PYTHONPATH of queuectl's own."""
    home = tmp_path / "home"
    home.mkdir()
    store = str(tmp_path / "q.db")
    env = {k: v for k, v in os.environ.items() if k not in ("QUEUECTL_DB", "PYTHONPATH")}
    env["XDG_DATA_HOME"] = str(home)

    def queuectl(*args: str) -> str:
        # The shim: queuectl need not be installed, and nothing sets PYTHONPATH for it.
        result = subprocess.run(
            [sys.executable, str(ROOT / "queuectl.py"), "--db", store, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    started = json.loads(queuectl("worker", "start", "--json"))
    try:
        assert [set(w) for w in started] == [{"id", "pid"}]
        job_id = queuectl("run", "env").strip()
        queuectl("wait", job_id)
        variables = dict(
            line.partition("=")[::2] for line in queuectl("logs", job_id).split("\n") if "=" in line
        )
        assert "QUEUECTL_DB" not in variables and "PYTHONPATH" not in variables
        assert variables["QUEUECTL_JOB_ID"] == job_id
    finally:
        queuectl("worker", "stop", "--wait", "--timeout", "30")


def test_a_worker_dead_before_its_command_tree_reached_the_store_still_has_it_stopped(
    store, tmp_path
):
    """The pool publishes a command's process group the moment it starts; the store learns
    it later. Recovery of a worker that died in between must use the pool's copy."""
    from queuectl import platform
    from queuectl.config import Config
    from queuectl.model import NewJob, WorkerInfo
    from queuectl.worker.recovery import recover_lost_work

    now = store.clock()
    store.enqueue(
        [NewJob(id="j", command="sleep 60", max_retries=2, cwd=str(tmp_path), run_at=now)], now
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = platform.hostname()
    store.register_worker(WorkerInfo("w1", host, dead.pid, "p", None, now, now))
    job = store.claim("w1", None, now, 30.0)
    env = {**os.environ, **platform.attempt_tags("j", job.attempt_number, "w1")}
    tree = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60"], env=env, start_new_session=True)
    try:
        assert recover_lost_work(store, Config.from_stored({}), host, now, {"w1": tree.pid}) == 1
        assert tree.wait(10) is not None
        assert not platform.tree_alive(tree.pid)
        assert store.get_job("j").last_error == "worker lost"
    finally:
        if platform.tree_alive(tree.pid):
            os.killpg(tree.pid, signal.SIGKILL)
