"""Hooks (SPEC §9) end to end: real pools run the jobs and their hooks, on both backends.
Each hook appends to a file in the job's cwd, so a test counts the runs by its lines."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.conftest import wait_for

WAIT = ("--timeout", "120")  # generous: the machine is shared
PATIENCE = 60.0  # seconds to wait for a hook to have run


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def ran(path: Path, count: int = 1) -> list[str]:
    """The file's lines once it has `count` of them (a hook appends one)."""
    return wait_for(
        lambda: len(lines(path)) >= count and lines(path),
        PATIENCE,
        0.1,
        f"{count} lines in {path.name}",
    )


def environment_hook(name: str) -> str:
    """A hook that appends one line: its own QUEUECTL_ variables."""
    told = ["JOB_ID", "STATE", "EXIT_CODE", "ATTEMPT", "LAST_ERROR"]
    fields = "|".join(f"${{QUEUECTL_{key}}}" for key in told)
    return f'echo "{fields}" >> {name}'


def test_hooks_run_once_in_the_jobs_cwd_with_its_outcome(fast_config, pool):
    cli = fast_config
    done = cli.ok("run", "--on-success", environment_hook("ok"), "true").strip()
    broken = cli.ok(
        "run", "--max-retries", "1", "--on-failure", environment_hook("bad"), "exit 3"
    ).strip()
    # A hook for the other outcome is not run.
    cli.ok("run", "--on-failure", environment_hook("never"), "true")
    pool(2)
    assert ran(cli.home / "ok") == [f"{done}|completed|0|1|"]
    assert ran(cli.home / "bad") == [f"{broken}|dead|3|2|exit code 3"]
    cli("wait", "--all", *WAIT)
    shown = cli.job(done)
    assert shown["on_success"] == environment_hook("ok") and shown["on_failure"] is None
    assert not (cli.home / "never").exists()


def test_config_hooks_serve_jobs_that_set_none_each_on_its_own(fast_config, pool):
    cli = fast_config
    cli.ok("config", "set", "on_success", "echo config >> ok")
    cli.ok("config", "set", "on_failure", "echo config >> bad")
    own = cli.ok("run", "--on-success", "echo own >> ok", "--max-retries", "0", "exit 1").strip()
    silent = cli.ok("run", "--on-failure", "", "--max-retries", "0", "exit 1").strip()
    assert cli.job(own)["on_failure"] == "echo config >> bad"  # copied at enqueue
    assert cli.job(silent)["on_failure"] is None  # '' is none, whatever config says
    cli.ok("config", "unset", "on_failure")  # a change later leaves enqueued jobs as they are
    pool(1)
    cli("wait", own, silent, *WAIT)
    assert ran(cli.home / "bad") == ["config"]
    cli.ok("run", "--on-success", "echo last >> bad", "true")  # run after the others
    assert ran(cli.home / "bad", 2) == ["config", "last"]
    assert not (cli.home / "ok").exists()


def test_a_cancel_and_a_dependencys_fail_fast_run_the_failure_hook(fast_config, pool):
    cli = fast_config
    hook = ("--on-failure", environment_hook("canceled"))
    waiting = cli.ok("run", *hook, "--delay", "1h", "true").strip()
    running = cli.ok("run", *hook, "sleep 60").strip()
    broken = cli.ok("run", "--max-retries", "0", "exit 1").strip()
    dependent = cli.ok("run", *hook, "--after", broken, "true").strip()
    cli.ok("cancel", waiting)  # no pool runs yet: its duty waits in the store
    pool(2)
    wait_for(lambda: cli.state(running) == "processing", 60, 0.1, "the job to run")
    cli.ok("cancel", running)
    found = set(ran(cli.home / "canceled", 3))
    assert found == {
        f"{waiting}|canceled||0|",
        f"{running}|canceled|143|1|canceled",
        f"{dependent}|canceled||0|{cli.job(dependent)['last_error']}",
    }


def test_a_failing_hook_is_logged_and_changes_nothing(fast_config, pool):
    cli = fast_config
    job_id = cli.ok("run", "--on-success", "echo from the hook; exit 7", "true").strip()
    started = pool(1)
    log = Path(started.log.name)
    wait_for(lambda: "failed: exit code 7" in log.read_text(), PATIENCE, 0.1, "the hook's end")
    text = log.read_text()
    assert f"hook of job {job_id} (completed): from the hook" in text
    assert f"hook of job {job_id} (completed) failed: exit code 7" in text
    job = cli.job(job_id)
    assert (job["state"], job["exit_code"], job["last_error"]) == ("completed", 0, None)


def test_a_hanging_hook_blocks_neither_other_hooks_nor_claims(fast_config, pool):
    cli = fast_config
    cli.ok("run", "--on-success", "echo hangs >> hung; sleep 600", "true")
    pool(1)
    ran(cli.home / "hung")
    later = cli.ok("run", "--on-success", "echo later >> ok", "true").strip()
    cli.ok("wait", later, *WAIT)  # claimed and run while the first hook hangs
    assert cli.state(later) == "completed"
    assert ran(cli.home / "ok") == ["later"]
    assert lines(cli.home / "hung") == ["hangs"]


def test_a_pool_killed_while_hooks_wait_leaves_them_to_the_next_one(fast_config, pool, store):
    cli = fast_config
    count = 12  # more than one pool runs at once (8): some wait while it is killed
    for index in range(count):
        cli.ok("run", "--group", "g", "--on-failure", f"echo {index} >> runs; sleep 10", "true")
    cli.ok("cancel", "--group", "g")
    first = pool(1)
    ran(cli.home / "runs", 8)
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.wait()
    pool(1)
    found = ran(cli.home / "runs", count)
    assert sorted(found, key=int) == [str(index) for index in range(count)]  # none twice
    assert store.take_hook_duties(count) == []


def test_a_schedules_runs_carry_its_hooks_and_configs_for_the_others(cli):
    cli.ok("schedule", "add", "--on-failure", "echo own", "nightly", "0 3 * * *", "true")
    cli.ok("config", "set", "on_success", "echo config")  # read as each run is enqueued
    job = cli.job(cli.ok("schedule", "run", "nightly").strip())
    assert (job["on_success"], job["on_failure"]) == ("echo config", "echo own")
