"""Job control through the real CLI and real pools: priorities, queues, delayed jobs,
timeouts, cancel, wait, logs --follow, purge and stats."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from queuectl.durations import parse_time
from tests.conftest import wait_for
from tests.worker.test_pool import process_running, read_pid

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")


def marked_processes(job_id: str) -> list:
    """Live processes that carry the job's QUEUECTL_JOB_ID (Linux /proc)."""
    marker = f"QUEUECTL_JOB_ID={job_id}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read() + b"\0"
        except OSError:
            continue
        if marker in environ and process_running(int(entry)):
            found.append(int(entry))
    return found


def test_priority_then_fifo_with_one_worker(fast_config, pool, tmp_path):
    cli = fast_config
    log = tmp_path / "order.log"
    for job_id, priority in [("low-a", 0), ("high", 5), ("low-b", 0), ("mid", 2), ("high-2", 5)]:
        cli.ok("run", "--id", job_id, "--priority", str(priority), f"echo {job_id} >> {log}")
    pool(1)
    wait_for(lambda: cli.json("status")["counts"]["completed"] == 5)
    assert log.read_text().split() == ["high", "high-2", "mid", "low-a", "low-b"]


def test_workers_serve_only_their_queues(fast_config, pool):
    cli = fast_config
    cli.ok("run", "--id", "a1", "--queue", "alpha", "true")
    cli.ok("run", "--id", "b1", "--queue", "beta", "true")
    cli.ok("run", "--id", "c1", "--queue", "gamma", "true")
    pool(1, "--queue", "alpha,gamma")
    wait_for(lambda: cli.state("a1") == "completed" and cli.state("c1") == "completed")
    assert cli.state("b1") == "pending"  # one worker, FIFO: it passed b1 over to reach c1
    queues = cli.json("status")["queues"]
    assert queues["beta"]["pending"] == 1 and queues["alpha"]["completed"] == 1
    assert cli.json("worker", "list")[0]["queues"] == ["alpha", "gamma"]


def test_delayed_jobs_run_when_due_never_early(cli, pool):
    cli.ok("config", "set", "poll_interval", "30")  # only the run_at-aware sleep is prompt
    pool(1)
    soon = (datetime.now() + timedelta(seconds=2)).isoformat(timespec="milliseconds")
    cli.ok("run", "--id", "delayed", "--delay", "1.5s", "true")
    cli.ok("run", "--id", "at", "--run-at", soon, "true")
    cli.ok("enqueue", '{"id":"json-delay","command":"true","delay":1}')
    wait_for(
        lambda: all(cli.state(i) == "completed" for i in ("delayed", "at", "json-delay")),
        timeout=15,
    )
    for job_id, delay in (("delayed", 1.5), ("json-delay", 1.0)):
        job = cli.job(job_id)
        waited = parse_time(job["started_at"]) - parse_time(job["created_at"])
        assert delay <= waited < delay + 0.5, (job_id, waited)
    at = cli.job("at")
    assert 0 <= parse_time(at["started_at"]) - parse_time(soon) < 0.5


def test_timeout_stops_the_whole_tree(fast_config, pool, tmp_path):
    cli = fast_config
    pidfile = tmp_path / "pid"
    pool(1)
    job_id = cli.ok(
        "run",
        "--timeout",
        "1",
        "--max-retries",
        "0",
        f"echo $$ > {pidfile}; sh -c 'sleep 60 & sleep 60'",
    ).strip()
    pgid = read_pid(pidfile)
    wait_for(lambda: len(marked_processes(job_id)) >= 3, message="grandchildren started")
    wait_for(lambda: cli.state(job_id) == "dead", timeout=15)
    job = cli.job(job_id)
    assert job["last_error"] == "timed out after 1 s"
    assert job["exit_code"] == 128 + 15  # stopped by SIGTERM
    assert marked_processes(job_id) == []
    assert not process_running(pgid)


def test_config_job_timeout_applies_when_the_job_has_none(fast_config, pool):
    cli = fast_config
    cli.ok("config", "set", "job_timeout", "0.5")
    pool(1)
    capped = cli.ok("run", "--max-retries", "0", "sleep 30").strip()
    own = cli.ok("run", "--timeout", "10", "sleep 1; echo ok").strip()
    wait_for(lambda: cli.state(capped) == "dead" and cli.state(own) == "completed", timeout=20)
    assert cli.job(capped)["last_error"] == "timed out after 0.5 s"


def test_timeout_is_retried_like_any_failure(fast_config, pool):
    cli = fast_config
    pool(1)
    job_id = cli.ok("run", "--timeout", "0.3", "--max-retries", "1", "sleep 10").strip()
    wait_for(lambda: cli.state(job_id) == "dead", timeout=20)
    attempts = cli.json("show", job_id)["attempts"]
    assert [a["outcome"] for a in attempts] == ["failed", "dead"]


def test_cancel_a_running_job_from_another_process(fast_config, pool, tmp_path):
    cli = fast_config
    pidfile = tmp_path / "pid"
    pool(1)
    job_id = cli.ok("run", f"echo $$ > {pidfile}; sleep 60 & sleep 60").strip()
    pid = read_pid(pidfile)
    began = time.monotonic()
    assert cli.ok("cancel", job_id).strip() == f"{job_id} canceled"
    assert time.monotonic() - began < 1 + 5  # kill_grace + 5 s at the most
    job = cli.job(job_id)
    assert (job["state"], job["last_error"]) == ("canceled", "canceled")
    assert not process_running(pid) and marked_processes(job_id) == []
    [attempt] = cli.json("show", job_id)["attempts"]
    assert attempt["outcome"] == "canceled"


def test_cancel_waiting_jobs_at_once(fast_config, pool):
    cli = fast_config
    cli.ok("run", "--id", "queued", "true")
    cli.ok("run", "--id", "retrying", "--max-retries", "5", "exit 1")
    cli.ok("config", "set", "backoff_base", "60")
    pool(1)
    wait_for(lambda: cli.state("retrying") == "failed")
    assert cli.json("cancel", "retrying") == {"ids": {"retrying": "canceled"}}
    assert cli.state("retrying") == "canceled"
    assert cli.state("queued") == "completed"


def test_cancel_is_finished_by_recovery_when_the_worker_is_dead(fast_config, pool, tmp_path):
    """A cancel recorded for a job whose worker then dies ends as canceled, not retried."""
    from queuectl.store import open_store

    cli = fast_config
    pidfile = tmp_path / "pid"
    started = pool(1)
    job_id = cli.ok("run", f"echo $$ > {pidfile}; sleep 60").strip()
    read_pid(pidfile)
    store = open_store(cli.location)
    try:
        started.signal(signal.SIGSTOP)  # the pool and its worker cannot act on it...
        [worker_pid] = started.workers.values()
        os.kill(worker_pid, signal.SIGSTOP)
        store.cancel([job_id], store.clock())
        os.kill(worker_pid, signal.SIGKILL)  # ...then lose the worker with the cancel pending
        started.signal(signal.SIGCONT)
        wait_for(lambda: cli.state(job_id) == "canceled", timeout=20)
        assert cli.job(job_id)["last_error"] == "worker lost"
    finally:
        store.close()


def test_run_wait_and_wait_exit_statuses(fast_config, pool):
    cli = fast_config
    pool(2)
    ok = cli("run", "--wait", "echo hi")
    assert ok.returncode == 0 and ok.stdout.strip()  # prints the id, then waits
    failed = cli("run", "--wait", "exit 7", "--max-retries", "0")
    assert failed.returncode == 7
    slow = cli.ok("run", "sleep 30").strip()
    timed = cli("wait", slow, "--timeout", "0.5")
    assert timed.returncode == 124
    done = cli.ok("run", "true").strip()
    cli.ok("wait", done)
    assert cli("wait", done, "--timeout", "5").returncode == 0
    dead = cli.ok("run", "--max-retries", "0", "exit 3").strip()
    assert cli("wait", done, dead).returncode == 3  # the first one that did not complete
    cli.ok("cancel", slow)
    assert cli("wait", slow).returncode == 143  # canceled: its last exit code (SIGTERM)


def test_wait_says_once_when_no_worker_is_running(cli):
    job_id = cli.ok("run", "true").strip()
    result = cli("wait", job_id, "--timeout", "0.6")
    assert result.returncode == 124
    assert result.stderr.count("no worker is running") == 1
    canceled = cli.ok("run", "true").strip()
    cli.ok("cancel", canceled)
    assert cli("wait", canceled).returncode == 1  # canceled without an exit code


def test_logs_follow_streams_a_running_attempt(fast_config, pool):
    cli = fast_config
    pool(1)
    job_id = cli.ok("run", "for i in 1 2 3 4; do echo line$i; sleep 0.6; done").strip()
    follower = cli.popen("logs", job_id, "--follow")
    first = follower.stdout.readline()
    assert first == "line1\n"
    assert cli.state(job_id) == "processing"  # it arrived while the job still ran
    rest, _ = follower.communicate(timeout=20)
    assert follower.returncode == 0
    assert first + rest == "line1\nline2\nline3\nline4\n"
    assert cli.state(job_id) == "completed"


def test_output_is_capped_to_its_tail(fast_config, pool):
    cli = fast_config
    cli.ok("config", "set", "output_limit", "10")
    pool(1)
    job_id = cli.ok("run", "seq 1 1000").strip()
    wait_for(lambda: cli.state(job_id) == "completed")
    assert cli.ok("logs", job_id) == "\n998\n999\n1000\n"[-10:]
    assert cli.json("show", job_id)["attempts"][0]["output_bytes"] == len(
        "".join(f"{i}\n" for i in range(1, 1001))
    )


def test_purge_finished_jobs(fast_config, pool):
    cli = fast_config
    pool(1)
    for job_id, command in (("ok1", "true"), ("ok2", "true"), ("bad", "exit 1")):
        cli.ok("run", "--id", job_id, "--max-retries", "0", command)
    cli.ok("run", "--id", "later", "--delay", "1h", "true")
    wait_for(lambda: cli.json("status")["counts"]["completed"] == 2 and cli.state("bad") == "dead")
    assert cli.json("purge", "--state", "completed", "--older-than", "1h") == {"purged": 0}
    assert cli.json("purge", "--state", "completed") == {"purged": 2}
    assert "purged 1 dead job(s)" in cli.ok("dlq", "purge")
    assert [job["id"] for job in cli.json("list")] == ["later"]
    assert cli("show", "ok1").returncode == 1


def test_stats_on_a_known_workload(fast_config, pool):
    cli = fast_config
    pool(2)
    for i in range(3):
        cli.ok("run", "--queue", "fast", "--id", f"ok{i}", "sleep 0.2")
    cli.ok("run", "--queue", "flaky", "--id", "bad", "--max-retries", "1", "exit 1")
    wait_for(
        lambda: cli.json("status")["counts"]["completed"] == 3 and cli.state("bad") == "dead",
        timeout=20,
    )
    stats = cli.json("stats", "--since", "1h")
    assert stats["total"]["completed"] == 3
    assert stats["total"]["failed_attempts"] == 2 and stats["total"]["dead"] == 1
    assert stats["total"]["jobs_per_minute"] == pytest.approx(4 / 60, abs=0.001)
    fast = stats["queues"]["fast"]
    assert fast["completed"] == 3 and fast["failed_attempts"] == 0
    assert 0.2 <= fast["mean_seconds"] < 1.0 and 0.2 <= fast["p95_seconds"] < 1.0
    assert stats["queues"]["flaky"]["dead"] == 1
    assert "fast" in cli.ok("stats")


def test_batch_from_a_file_in_one_go(fast_config, tmp_path):
    cli = fast_config
    batch = tmp_path / "jobs.jsonl"
    batch.write_text(
        "".join(json.dumps({"command": f"echo {i}", "priority": i % 3}) + "\n" for i in range(1000))
    )
    ids = cli.ok("enqueue", "--file", str(batch)).split()
    assert len(ids) == len(set(ids)) == 1000
    assert cli.json("status")["counts"]["pending"] == 1000
    single = tmp_path / "one.json"
    single.write_text('{\n  "command": "true",\n  "id": "pretty"\n}\n')
    assert cli.json("enqueue", "--file", str(single)) == {"id": "pretty", "created": True}
    with_bom = tmp_path / "bom.jsonl"  # as Windows PowerShell 5's Out-File writes it
    with_bom.write_bytes(b'\xef\xbb\xbf{"command": "true", "id": "bom"}\r\n')
    assert cli.json("enqueue", "--file", str(with_bom)) == {"id": "bom", "created": True}


def test_pending_job_output_follow_waits_for_the_start(fast_config, pool):
    cli = fast_config
    job_id = cli.ok("run", "echo started").strip()
    follower = cli.popen("logs", job_id, "--follow")
    # A bounded sleep, not a wait: giving up early is a non-event, with nothing to poll for.
    # A second covers the follower's start and a few of its 0.2 s polls.
    time.sleep(1)
    assert follower.poll() is None  # still waiting: the job has not started
    pool(1)
    out, _ = follower.communicate(timeout=20)
    assert (follower.returncode, out) == (0, "started\n")


def test_wait_with_no_worker_then_one_starts(cli, pool, tmp_path):
    job_id = cli.ok("run", "true").strip()
    said = tmp_path / "wait.err"  # a file: read while the waiter runs, without blocking
    with said.open("w") as stderr:
        waiter = subprocess.Popen(
            cli.argv("wait", job_id), env=cli.env, cwd=cli.home, stderr=stderr
        )
    wait_for(lambda: "no worker is running" in said.read_text(), message="the no-worker hint")
    pool(1)
    assert waiter.wait(20) == 0
