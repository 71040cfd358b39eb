"""Issue 11, point 7: `run --wait` and `wait` say what happens. Real pools, on every
backend."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import wait_for


def test_run_wait_streams_the_output_and_says_how_the_job_ended(cli, pool):
    pool(1)
    result = cli("run", "--id", "five", "--max-retries", "0", "--wait", "echo hi; exit 5")
    assert result.returncode == 5  # the job's outcome decides, as before
    assert result.stdout == "five\nhi\n"
    assert result.stderr.strip().splitlines()[-1] == "queuectl: five dead (exit 5)"


def test_run_wait_prints_output_while_the_job_runs(cli, pool, tmp_path: Path):
    pool(1)
    go = tmp_path / "go"
    waiter = cli.popen(
        "run", "--id", "slow", "--wait", f"echo started; while [ ! -e '{go}' ]; do sleep 0.1; done"
    )
    assert waiter.stdout.readline() == "slow\n"
    assert waiter.stdout.readline() == "started\n"
    assert cli.state("slow") == "processing"  # the line came before the job ended
    go.touch()
    rest, said = waiter.communicate(timeout=60)
    assert (waiter.returncode, rest) == (0, "")
    assert "queuectl: slow completed (exit 0)" in said


def test_run_wait_loses_no_tail_of_a_long_output(cli, pool):
    pool(1)
    result = cli("run", "--id", "long", "--wait", "seq 1 20000")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "long\n" + "".join(f"{n}\n" for n in range(1, 20001))


def test_run_wait_streams_every_attempt_and_says_which_failed(fast_config, pool):
    cli = fast_config
    pool(1)
    result = cli("run", "--id", "twice", "--max-retries", "1", "--wait", "echo try; exit 3")
    assert result.returncode == 3
    assert result.stdout == "twice\ntry\ntry\n"
    assert "queuectl: attempt 1 failed (exit code 3); it will be retried" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "queuectl: twice dead (exit 3)"


def test_run_wait_quiet_and_json_keep_stdout_clean(cli, pool):
    pool(1)
    quiet = cli("run", "--id", "q", "--wait", "--quiet", "echo hi; exit 4", "--max-retries", "0")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (4, "q\n", "")
    as_json = cli("run", "--id", "j", "--wait", "--json", "echo hi")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == {"id": "j"}
    assert "queuectl: j completed (exit 0)" in as_json.stderr


def test_wait_says_how_each_job_ended_and_what_is_left_on_timeout(cli, pool):
    pool(2)
    cli.ok("run", "--id", "good", "true")
    cli.ok("run", "--id", "bad", "--max-retries", "0", "exit 3")
    result = cli("wait", "good", "bad")
    assert result.returncode == 3
    assert sorted(result.stderr.strip().splitlines()) == [
        "queuectl: bad dead (exit 3)",
        "queuectl: good completed (exit 0)",
    ]
    quiet = cli("wait", "--quiet", "good", "bad")
    assert (quiet.returncode, quiet.stderr) == (3, "")
    cli.ok("run", "--id", "sleeper", "sleep 60")
    wait_for(lambda: cli.state("sleeper") == "processing", message="sleeper to start")
    timed = cli("wait", "good", "sleeper", "--timeout", "0.3")
    assert timed.returncode == 124
    assert timed.stderr.strip().splitlines() == [
        "queuectl: good completed (exit 0)",
        "queuectl: timeout: 1 of 2 job(s) have not ended: sleeper (processing)",
    ]
    cli.ok("cancel", "sleeper")
