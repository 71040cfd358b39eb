"""A pool that dies in its command's first moments, before the worker recorded the command's
process group: the command is found by its tags (Linux) and stopped before the job runs
again, so that two copies never overlap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from queuectl import platform
from queuectl.config import Config
from queuectl.model import NewJob, WorkerInfo
from queuectl.worker.recovery import recover_lost_work, stop_stray_trees
from tests.conftest import wait_for
from tests.worker.test_pool import process_running, read_pid

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

CONFIG = Config.from_stored({"kill_grace": 1})


def _runs(path: Path) -> dict[int, dict[str, float]]:
    """{attempt: {"start": t, "stop" or "end": t, "pid": pid}} from the lines jobs wrote."""
    runs: dict[int, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        event, attempt, moment, pid = line.split()
        runs.setdefault(int(attempt), {"pid": int(pid)})[event] = float(moment)
    return runs


@pytest.mark.parametrize("delay_ms", [0, 20, 50, 80, 100])
def test_a_pool_killed_as_its_command_starts_never_runs_two_copies(
    fast_config, pool, tmp_path, delay_ms
):
    cli = fast_config
    runs = tmp_path / "runs"
    note = f'echo "$1 $QUEUECTL_ATTEMPT $(date +%s.%N) $$" >> {runs}'
    # The first attempt would run for 30 s if nobody stopped it; the rerun is quick. Its
    # output goes nowhere: the dead worker's pipe would end it by SIGPIPE, not by the stop.
    command = (
        f"exec > /dev/null 2>&1; note() {{ {note}; }}; note start; "
        "trap 'note stop; exit 143' TERM; "
        'if [ "$QUEUECTL_ATTEMPT" = 1 ]; then sleep 30; else sleep 0.2; fi; note end'
    )
    first = pool(1)
    # Delayed, so that this test watches for the start before it comes (a CLI's exit can
    # take longer than the 50 ms under test).
    job_id = cli.ok("run", "--max-retries", "1", "--delay", "1", command).strip()
    wait_for(lambda: runs.exists() and runs.read_text(), interval=0.001, message="started")
    started = _runs(runs)[1]["start"]
    # The moment under test, counted from the command's own start; not a wait for something.
    time.sleep(max(started + delay_ms / 1000 - time.time(), 0))
    os.killpg(first.proc.pid, signal.SIGKILL)  # supervisor and worker; the command lives
    first.wait()
    orphan = _runs(runs)[1]["pid"]
    pool(1)
    wait_for(lambda: cli.state(job_id) == "completed", timeout=30)
    done = _runs(runs)
    assert set(done[1]) == {"pid", "start", "stop"}, done  # stopped, not run to its end
    assert set(done[2]) == {"pid", "start", "end"}, done
    assert done[1]["stop"] < done[2]["start"], done  # the copies did not overlap
    assert not process_running(orphan)
    attempts = cli.json("show", job_id)["attempts"]
    assert [(a["outcome"], a["error"]) for a in attempts] == [
        ("failed", "worker lost"),
        ("completed", None),
    ]


def _claimed(store, tmp_path: Path, host: str):
    """A job claimed by a worker of `host` that is already dead, and the tagged process tree
    its command left (a setsid daemon beside it), with no process group on record."""
    now = store.clock()
    job_id = f"j-{os.getpid()}-{time.monotonic_ns()}"
    store.enqueue(
        [NewJob(id=job_id, command="sleep 60", max_retries=2, cwd=str(tmp_path), run_at=now)], now
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    store.register_worker(WorkerInfo("w1", host, dead.pid, "p", None, now, now))
    job = store.claim("w1", None, now, 30.0)
    pidfile = tmp_path / "daemon"
    tree = subprocess.Popen(
        ["sh", "-c", f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 60' & exec sleep 60"],
        env={**os.environ, **platform.attempt_tags(job_id, job.attempt_number, "w1")},
        start_new_session=True,
    )
    return job, tree, read_pid(pidfile)


def test_a_lost_attempt_with_no_group_on_record_is_found_by_its_tags(store, tmp_path):
    host = platform.hostname()
    job, tree, daemon = _claimed(store, tmp_path, host)
    try:
        assert recover_lost_work(store, CONFIG, host, store.clock()) == 1
        assert tree.wait(10) == -signal.SIGTERM
        assert not process_running(daemon)
        assert store.get_job(job.id).last_error == "worker lost"
        assert store.stray_attempts(host) == []
    finally:
        _kill(tree, daemon)


def test_a_lost_attempt_of_another_host_is_left_to_that_hosts_next_pool(store, tmp_path):
    """Recovered by another host (here, after its lease expired), the attempt is kept as a
    stray of its own host, group unknown; that host's next pool finds it by its tags."""
    job, tree, daemon = _claimed(store, tmp_path, "host-a")
    try:
        later = store.clock() + 31
        assert recover_lost_work(store, CONFIG, "host-b", later) == 1
        assert process_running(tree.pid) and process_running(daemon)
        [stray] = store.stray_attempts("host-a")
        assert (stray.job_id, stray.pgid) == (job.id, 0)
        assert stop_stray_trees(store, CONFIG, "host-a") == 1  # as host-a's next pool does
        assert tree.wait(10) == -signal.SIGTERM
        assert not process_running(daemon)
        assert store.stray_attempts("host-a") == []
    finally:
        _kill(tree, daemon)


def _kill(tree: subprocess.Popen, daemon: int) -> None:
    for pid in (tree.pid, daemon):
        if process_running(pid):
            os.kill(pid, signal.SIGKILL)
    tree.wait()
