"""Real pools running real commands: success, retries, the DLQ, persistence, graceful and
cold stops, crash recovery, exactly-once under load. Tests poll with deadlines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def process_running(pid: int) -> bool:
    """Alive and not a zombie (this machine's init does not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def read_pid(path: Path) -> int:
    wait_for(lambda: path.exists() and path.read_text().strip(), message=f"{path}")
    return int(path.read_text().split()[0])


def wait_for_recorded_group(cli, job_id: str) -> int:
    """The process group of the job's running attempt, once its worker has recorded it
    (the command runs, and may write a pid file, a moment before that)."""
    from queuectl.store import open_store

    store = open_store(cli.location)
    try:
        return wait_for(
            lambda: next(
                (
                    attempt.pgid
                    for attempt in store.attempts(job_id)
                    if attempt.finished_at is None and attempt.pgid
                ),
                None,
            ),
            message=f"the process group of {job_id} on record",
        )
    finally:
        store.close()


def test_success_output_and_attempt(fast_config, pool):
    cli = fast_config
    pool(1)
    job_id = cli.ok("run", "echo out; echo err >&2; pwd").strip()
    wait_for(lambda: cli.state(job_id) == "completed")
    shown = cli.json("show", job_id)
    assert shown["job"]["exit_code"] == 0 and shown["job"]["attempts"] == 1
    [attempt] = shown["attempts"]
    assert attempt["number"] == 1 and attempt["outcome"] == "completed"
    assert cli.ok("logs", job_id) == f"out\nerr\n{cli.home}\n"


def test_env_cwd_and_stdin(fast_config, pool, tmp_path):
    cli = fast_config
    pool(1)
    work = tmp_path / "work"
    work.mkdir()
    job_id = cli.ok(
        "run",
        "--env",
        "GREETING=hi there",
        "--cwd",
        str(work),
        'echo "$GREETING $QUEUECTL_JOB_ID"; pwd; cat; echo eof',
    ).strip()
    wait_for(lambda: cli.state(job_id) == "completed")
    assert cli.ok("logs", job_id) == f"hi there {job_id}\n{work}\neof\n"


def test_retry_with_exponential_backoff_then_dead(fast_config, pool):
    cli = fast_config
    cli.ok("config", "set", "backoff_base", "1.5")
    pool(1)
    cli.ok("enqueue", '{"id":"bad","command":"exit 3","max_retries":2}')
    wait_for(lambda: cli.state("bad") == "dead", timeout=30)
    shown = cli.json("show", "bad")
    assert shown["job"]["attempts"] == 3 and shown["job"]["exit_code"] == 3
    assert shown["job"]["last_error"] == "exit code 3"
    assert [a["outcome"] for a in shown["attempts"]] == ["failed", "failed", "dead"]
    starts = [_epoch(a["started_at"]) for a in shown["attempts"]]
    ends = [_epoch(a["finished_at"]) for a in shown["attempts"]]
    assert starts[1] - ends[0] >= 1.5 - 0.01  # 1.5 ** 1
    assert starts[2] - ends[1] >= 2.25 - 0.01  # 1.5 ** 2
    assert [job["id"] for job in cli.json("dlq", "list")] == ["bad"]


def _epoch(stamp: str) -> float:
    from queuectl.durations import parse_time

    return parse_time(stamp)


def test_dlq_retry_runs_the_job_again(fast_config, pool, tmp_path):
    cli = fast_config
    flag = tmp_path / "fixed"
    pool(1)
    cli.ok("enqueue", f'{{"id":"flaky","command":"test -e {flag}","max_retries":0}}')
    wait_for(lambda: cli.state("flaky") == "dead")
    flag.touch()
    assert "moved 1 job" in cli.ok("dlq", "retry", "flaky")
    wait_for(lambda: cli.state("flaky") == "completed")
    job = cli.job("flaky")
    assert job["attempts"] == 1  # reset by the retry, then one run
    assert [a["number"] for a in cli.json("show", "flaky")["attempts"]] == [1, 2]


def test_a_command_that_cannot_start_is_a_failed_attempt(fast_config, pool, tmp_path):
    cli = fast_config
    workers = pool(1).workers
    cli.ok(
        "enqueue",
        json.dumps(
            {"id": "nodir", "command": "true", "cwd": str(tmp_path / "missing"), "max_retries": 1}
        ),
    )
    cli.ok("enqueue", '{"id":"noprog","command":"no-such-program-xyz","max_retries":0}')
    wait_for(lambda: cli.state("nodir") == "dead" and cli.state("noprog") == "dead")
    assert cli.job("nodir")["last_error"] == f"no such directory: {tmp_path / 'missing'}"
    assert cli.job("noprog")["exit_code"] == 127
    assert "command not found" in cli.job("noprog")["last_error"]
    assert {w["id"] for w in cli.json("worker", "list")} == set(workers)  # nobody crashed


def test_jobs_survive_a_restart(fast_config, pool):
    cli = fast_config
    first = cli.ok("run", "true").strip()
    started = pool(1)
    wait_for(lambda: cli.state(first) == "completed")
    started.signal(signal.SIGTERM)
    assert started.wait() == 0
    queued = cli.ok("run", "echo later").strip()
    assert cli.json("worker", "list") == []  # nobody is left to claim it
    assert cli.state(queued) == "pending"
    pool(1)
    wait_for(lambda: cli.state(queued) == "completed")
    assert cli.state(first) == "completed"


def test_graceful_stop_lets_the_running_job_finish(fast_config, pool):
    cli = fast_config
    started = pool(1)
    job_id = cli.ok("run", "sleep 4; echo finished").strip()
    wait_for(lambda: cli.state(job_id) == "processing")
    started.signal(signal.SIGTERM)
    wait_for(
        lambda: [w["state"] for w in cli.json("worker", "list")] == ["stopping"],
        timeout=3,
        message="the worker shown as stopping while its job runs",
    )
    assert started.wait(30) == 0
    assert cli.state(job_id) == "completed"
    assert cli.ok("logs", job_id) == "finished\n"
    assert cli.json("worker", "list") == []


def test_one_ctrl_c_to_the_whole_group_is_one_warm_stop(fast_config, pool, tmp_path):
    cli = fast_config
    started = pool(2)
    gate = tmp_path / "gate"  # holds the job open: a `sleep 1` could end before it is seen
    job_id = cli.ok("run", f"while [ ! -e {gate} ]; do sleep 0.05; done; echo ok").strip()
    wait_for(lambda: cli.state(job_id) == "processing")
    os.killpg(started.proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    wait_for(lambda: "warm stop" in Path(started.log.name).read_text())
    assert cli.state(job_id) == "processing"  # a warm stop lets it run to its end
    gate.touch()
    assert started.wait(30) == 0
    assert cli.state(job_id) == "completed"


def test_second_signal_is_a_cold_stop(fast_config, pool, tmp_path):
    cli = fast_config
    pidfile = tmp_path / "pid"
    started = pool(1)
    job_id = cli.ok("run", f"echo $$ > {pidfile}; sleep 60").strip()
    pid = read_pid(pidfile)
    started.signal(signal.SIGTERM)
    log = Path(started.log.name)
    wait_for(lambda: "warm stop" in log.read_text())  # a second signal now is not merged
    assert cli.state(job_id) == "processing"
    began = time.monotonic()
    started.signal(signal.SIGTERM)
    assert started.wait(30) != 0
    assert time.monotonic() - began < 10
    assert not process_running(pid)
    job = cli.job(job_id)
    assert (job["state"], job["attempts"]) == ("pending", 0)  # the attempt was given back
    [attempt] = cli.json("show", job_id)["attempts"]
    assert attempt["error"] == "interrupted by a cold stop"


def test_kill_9_of_a_worker_mid_job_recovers_the_job(fast_config, pool, tmp_path):
    cli = fast_config
    pidfile, marker = tmp_path / "pid", tmp_path / "ran-once"
    started = pool(1)
    command = (
        f"if [ -e {marker} ]; then echo second; exit 0; fi; touch {marker}; "
        f"echo $$ > {pidfile}; sleep 60 & sleep 60"
    )
    job_id = cli.ok("run", command).strip()
    job_pid = read_pid(pidfile)
    [worker_pid] = started.workers.values()
    os.kill(worker_pid, signal.SIGKILL)
    wait_for(lambda: cli.state(job_id) == "completed", timeout=30)
    assert not process_running(job_pid)
    assert not _group_alive(job_pid)
    attempts = cli.json("show", job_id)["attempts"]
    assert [(a["outcome"], a["error"]) for a in attempts] == [
        ("failed", "worker lost"),
        ("completed", None),
    ]
    assert cli.ok("logs", job_id) == "second\n"
    assert len(cli.json("worker", "list")) == 1  # the supervisor replaced the worker


def _group_alive(pgid: int) -> bool:
    from queuectl.platform import tree_alive

    return tree_alive(pgid)


def test_a_pool_killed_outright_leaves_nothing_stuck(fast_config, pool, tmp_path):
    """kill -9 of the supervisor and its workers: a later pool stops the stray tree and the
    job is recovered (its worker's process is gone, or its lease expires)."""
    cli = fast_config
    cli.ok("config", "set", "lease_seconds", "3")
    pidfile, marker = tmp_path / "pid", tmp_path / "ran-once"
    first = pool(1)
    command = f"if [ -e {marker} ]; then exit 0; fi; touch {marker}; echo $$ > {pidfile}; sleep 60"
    job_id = cli.ok("run", command).strip()
    job_pid = read_pid(pidfile)
    assert wait_for_recorded_group(cli, job_id) == job_pid  # the command leads its group
    os.killpg(first.proc.pid, signal.SIGKILL)  # the pool's session; the job has its own
    first.wait()
    assert process_running(job_pid)
    pool(1)
    wait_for(lambda: not process_running(job_pid), timeout=10, message="stray tree stopped")
    wait_for(lambda: cli.state(job_id) == "completed", timeout=30)
    assert [a["error"] for a in cli.json("show", job_id)["attempts"]] == ["worker lost", None]


def test_four_workers_run_each_of_200_jobs_exactly_once(fast_config, pool, tmp_path):
    cli = fast_config
    log = tmp_path / "runs.log"
    batch = "".join(
        json.dumps({"id": f"j{i:03d}", "command": f"echo $QUEUECTL_JOB_ID >> {log}"}) + "\n"
        for i in range(200)
    )
    cli.ok("enqueue", "-", input=batch)
    pool(4)
    wait_for(lambda: cli.json("status")["counts"]["completed"] == 200, timeout=120)
    runs = log.read_text().split()
    assert sorted(runs) == [f"j{i:03d}" for i in range(200)]
    jobs = cli.json("list", "--limit", "200")
    assert {job["attempts"] for job in jobs} == {1}
    assert len({job["worker_id"] for job in jobs}) == 1  # cleared once done
    workers_used = {
        a["worker_id"] for job in jobs[:40] for a in cli.json("show", job["id"])["attempts"]
    }
    assert len(workers_used) > 1


def test_eight_concurrent_enqueuers_never_hit_a_locked_database(fast_config, pool):
    cli = fast_config
    pool(2)
    script = (
        "import subprocess, sys\n"
        "for i in range(15):\n"
        "    r = subprocess.run([sys.executable, '-m', 'queuectl', 'run',"
        " '--id', f'{sys.argv[1]}-{i}', 'true'], capture_output=True, text=True)\n"
        "    if r.returncode: print(r.stderr, file=sys.stderr); sys.exit(1)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, f"e{n}"], env=cli.env, stderr=subprocess.PIPE, text=True
        )
        for n in range(8)
    ]
    errors = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert not any("locked" in e for e in errors)
    wait_for(lambda: cli.json("status")["counts"]["completed"] == 120, timeout=60)


def test_detached_start_then_stop_wait(fast_config, tmp_path):
    cli = fast_config
    out = cli.ok("worker", "start", "--count", "2")
    lines = out.splitlines()
    assert len(lines) == 2 and all(len(line.split()) == 2 for line in lines)
    pids = [int(line.split()[1]) for line in lines]
    try:
        listed = cli.json("worker", "list")
        assert sorted(w["pid"] for w in listed) == sorted(pids)
        # The job runs until the gate opens (a `sleep 1` could end between two looks at its
        # state on a busy machine); the warm stop waits for it to end.
        gate = tmp_path / "gate"
        job_id = cli.ok("run", f"while [ ! -e {gate} ]; do sleep 0.05; done; echo done").strip()
        wait_for(lambda: cli.state(job_id) == "processing")
        stop = cli.popen("worker", "stop", "--wait")
        gate.touch()
        _, stderr = stop.communicate(timeout=60)
        assert stop.returncode == 0, stderr
        assert cli.state(job_id) == "completed"
        assert cli.json("worker", "list") == []
        wait_for(lambda: not any(process_running(pid) for pid in pids), timeout=10)
        assert cli.pool_log().exists()
    finally:
        for pid in pids:
            if process_running(pid):
                os.kill(pid, signal.SIGKILL)


def test_idle_worker_picks_up_a_job_within_milliseconds(cli, pool):
    # Not the 10 s poll: the doorbell (or the data_version check behind it; the doorbell
    # alone is tested in tests/contract/test_sqlite_plans.py).
    cli.ok("config", "set", "poll_interval", "10")
    pool(1)
    job_id = cli.ok("run", "true").strip()
    wait_for(lambda: cli.state(job_id) == "completed", timeout=5)
    job = cli.job(job_id)
    assert _epoch(job["started_at"]) - _epoch(job["created_at"]) < 1.0


def test_workers_of_a_killed_supervisor_finish_their_job_and_exit(fast_config, pool, tmp_path):
    cli = fast_config
    started = pool(1)
    [worker_pid] = started.workers.values()
    # The job runs until the gate opens: a `sleep 1` could end between two looks at its
    # state, each a CLI process, which take longer than that on a busy machine.
    gate = tmp_path / "gate"
    job_id = cli.ok("run", f"while [ ! -e {gate} ]; do sleep 0.05; done; echo done").strip()
    wait_for(lambda: cli.state(job_id) == "processing")
    os.kill(started.proc.pid, signal.SIGKILL)  # the supervisor alone
    gate.touch()
    wait_for(lambda: not process_running(worker_pid), timeout=20)
    assert cli.state(job_id) == "completed"
    assert cli.json("worker", "list") == []
