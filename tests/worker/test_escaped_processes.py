"""Processes that leave their command's process group (setsid, a double fork, a cleared
environment) are stopped when their attempt ends, and when a lost attempt is recovered.
Linux only: elsewhere such processes are not found (see the README)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from queuectl import platform
from tests.conftest import wait_for
from tests.worker.test_pool import process_running, read_pid

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")


def zombie_children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def wait_file(path: Path) -> str:
    """Shell: wait (inside the job) until `path` holds a pid."""
    return f"while [ ! -s {path} ]; do sleep 0.01; done"


def test_daemons_that_left_the_group_are_stopped_when_the_attempt_ends(fast_config, pool, tmp_path):
    cli = fast_config
    setsid, double, no_env = (tmp_path / name for name in ("setsid", "double", "no-env"))
    command = "\n".join(
        [
            f"setsid sh -c 'echo $$ > {setsid}; exec sleep 60' &",
            # Double fork: the subshell exits at once, its setsid child is orphaned.
            f"(setsid sh -c 'sleep 60 & echo $! > {double}; wait' &)",
            # No tags left to find it by: caught as an orphan the worker adopted.
            f"setsid env -i sh -c 'echo $$ > {no_env}; exec sleep 60' > /dev/null 2>&1 &",
            wait_file(setsid),
            wait_file(double),
            wait_file(no_env),
            "exit 3",
        ]
    )
    [worker_pid] = pool(1).workers.values()
    job_id = cli.ok("run", "--max-retries", "0", command).strip()
    wait_for(lambda: cli.state(job_id) == "dead")
    pids = [read_pid(path) for path in (setsid, double, no_env)]
    # Stopped before the attempt was recorded: no waiting for them here.
    assert [pid for pid in pids if process_running(pid)] == []
    job = cli.job(job_id)
    assert (job["exit_code"], job["last_error"]) == (3, "exit code 3")  # not taken by a reap
    assert zombie_children(worker_pid) == []


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return None


def test_orphans_that_end_while_their_command_runs_are_reaped_at_once(fast_config, pool, tmp_path):
    cli = fast_config
    pids, go, ready = tmp_path / "pids", tmp_path / "go", tmp_path / "ready"
    [worker_pid] = pool(1).workers.values()
    # Each subshell exits at once: its child, left an orphan, ends once `go` exists.
    orphan = f"(sh -c 'while [ ! -e {go} ]; do sleep 0.01; done' & echo $! >> {pids})"
    job_id = cli.ok(
        "run",
        f"for i in 1 2 3 4 5; do {orphan}; done; while [ ! -e {go} ]; do sleep 0.01; done; "
        f"sleep 0.2; touch {ready}; sleep 60",
    ).strip()
    wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 5)
    orphans = [int(pid) for pid in pids.read_text().split()]
    # Adopted by the worker (its subreaper), not by init: the worker is the one to reap them.
    wait_for(lambda: [parent_of(pid) for pid in orphans] == [worker_pid] * 5, message="adopted")
    go.touch()
    wait_for(ready.exists)
    wait_for(lambda: zombie_children(worker_pid) == [], message="orphans reaped")
    assert not any(process_running(pid) for pid in orphans)
    assert cli.state(job_id) == "processing"
    cli.ok("cancel", job_id)
    wait_for(lambda: cli.state(job_id) == "canceled")


def test_a_daemon_of_a_killed_worker_is_stopped_before_its_job_runs_again(
    fast_config, pool, tmp_path
):
    """The worker dies, so the daemon it adopted goes to init: recovery finds it by its
    tags."""
    cli = fast_config
    daemon_file, marker = tmp_path / "daemon", tmp_path / "ran-once"
    started = pool(1)
    command = (
        f"if [ -e {marker} ]; then exit 0; fi; touch {marker}; "
        f"setsid sh -c 'echo $$ > {daemon_file}; exec sleep 60' & sleep 60"
    )
    job_id = cli.ok("run", command).strip()
    daemon = read_pid(daemon_file)
    [worker_pid] = started.workers.values()
    os.kill(worker_pid, signal.SIGKILL)
    wait_for(lambda: cli.state(job_id) == "completed", timeout=30)
    assert not process_running(daemon)
    assert [a["error"] for a in cli.json("show", job_id)["attempts"]] == ["worker lost", None]


def _tagged(tags: dict[str, str], tmp_path: Path, name: str) -> subprocess.Popen:
    """A process tree of `tags` in a session of its own, with a setsid daemon beside it."""
    pidfile = tmp_path / name
    return subprocess.Popen(
        ["sh", "-c", f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 60' & exec sleep 60"],
        env={**os.environ, **tags},
        start_new_session=True,
    )


def test_an_attempts_processes_are_found_by_all_of_its_tags(tmp_path):
    ours = platform.attempt_tags(f"j-{os.getpid()}", 1, "w-ours")
    theirs = {**ours, platform.WORKER_ID_VAR: "w-theirs"}  # same job id in another store
    mine, other = _tagged(ours, tmp_path, "mine"), _tagged(theirs, tmp_path, "other")
    try:
        daemon, stranger = read_pid(tmp_path / "mine"), read_pid(tmp_path / "other")
        assert sorted(platform.attempt_processes(ours)) == sorted([mine.pid, daemon])
        assert sorted(platform.stop_attempt(ours, 1.0)) == sorted([mine.pid, daemon])
        assert mine.wait(10) == -signal.SIGTERM
        assert not process_running(daemon)
        assert process_running(other.pid) and process_running(stranger)
    finally:
        for pid in platform.attempt_processes(ours) + platform.attempt_processes(theirs):
            os.kill(pid, signal.SIGKILL)
        mine.wait()
        other.wait()
