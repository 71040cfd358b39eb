"""Issue 11, points 7 and 11: `run --wait` and `wait` say what happens, and a job takes
variables of the enqueuer's environment on request, their secrets masked wherever a job is
shown. Real pools, on every backend."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.dashboard.conftest import Dashboard

SECRET = "s3cret-value-42"


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
    assert json.loads(as_json.stdout) == {"id": "j", "created": True}
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


def _enqueuer_env(cli) -> None:
    """Variables of the enqueuing shell only: the pool, started before, has none of them."""
    cli.env.update({"FOO": "1", "API_TOKEN": SECRET, "db_password": SECRET, "OTHER": "x"})


def test_inherit_env_copies_matching_variables_and_masks_secrets(cli, pool, tmp_path: Path):
    started = pool(1)
    _enqueuer_env(cli)
    result = cli(
        "run",
        "--id",
        "env",
        "--inherit-env",
        "FOO,API_*",
        "--inherit-env",
        "db_*",
        "--wait",
        # In capitals: the job's own output, which `show --json` includes, keeps no secret.
        'echo "$FOO $API_TOKEN $db_password [$OTHER]" | tr a-z A-Z',
    )
    assert result.returncode == 0, result.stderr
    loud = SECRET.upper()
    assert result.stdout == f"env\n1 {loud} {loud} []\n"  # the job gets the real values
    masked = {"FOO": "1", "API_TOKEN": "***", "db_password": "***"}
    assert cli.job("env")["env"] == masked
    assert cli.json("list")[0]["env"] == masked
    shown = cli.ok("show", "env")
    env_line = next(line for line in shown.splitlines() if line.startswith("env:"))
    assert sorted(env_line.split()[1:]) == ["API_TOKEN=***", "FOO=1", "db_password=***"]
    dash = Dashboard(cli)
    try:
        assert dash.get_json("/api/jobs/env")["job"]["env"] == masked
        assert dash.get_json("/api/jobs")["jobs"][0]["env"] == masked
    finally:
        dash.stop()
    for text in (shown, cli.ok("list"), cli.ok("list", "--json"), cli.ok("show", "env", "--json")):
        assert SECRET not in text
    assert SECRET not in Path(started.log.name).read_text()  # nor in the worker's log


def test_explicit_env_wins_over_inherited(cli, pool):
    pool(1)
    _enqueuer_env(cli)
    result = cli("run", "--inherit-env", "FOO", "--env", "FOO=2", "--wait", 'echo "$FOO"')
    assert result.stdout.splitlines()[1:] == ["2"]


@pytest.mark.skipif(sys.platform == "win32", reason="Windows variable names ignore case")
def test_inherit_env_patterns_match_names_with_their_case(cli):
    _enqueuer_env(cli)
    cli.ok("run", "--id", "case", "--inherit-env", "foo,DB_*,OTHER", "true")
    assert cli.job("case")["env"] == {"OTHER": "x"}


def test_enqueue_takes_inherit_env_as_a_list_or_a_comma_string(cli):
    _enqueuer_env(cli)
    cli.ok("enqueue", '{"id": "listed", "command": "true", "inherit_env": ["FOO", "OTHER"]}')
    cli.ok("enqueue", '{"id": "comma", "command": "true", "inherit_env": "FOO, OTHER"}')
    both = {"FOO": "1", "OTHER": "x"}
    assert cli.job("listed")["env"] == cli.job("comma")["env"] == both
    for bad in ('{"command": "true", "inherit_env": 3}', '{"command": "true", "inherit_env": ""}'):
        result = cli("enqueue", bad)
        assert result.returncode == 1 and "'inherit_env'" in result.stderr, result
        assert "Traceback" not in result.stderr
    assert len(cli.json("list")) == 2  # the bad ones inserted nothing
    usage = cli("run", "--inherit-env", ",", "true")
    assert usage.returncode == 2 and "--inherit-env" in usage.stderr
