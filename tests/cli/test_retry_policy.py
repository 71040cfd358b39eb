"""The failure policy (SPEC §9) end to end: real pools run the commands, on both backends;
bad input is one stderr line and stores nothing."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

WAIT = ("--timeout", "120")  # generous: the machine is shared


def run(cli, *args: str) -> str:
    return cli.ok("run", *args).strip()


def ended(cli, job_id: str) -> dict:
    """The job once it is terminal, with the number of attempts it made."""
    cli("wait", job_id, *WAIT)
    shown = cli.json("show", job_id)
    return {**shown["job"], "made": len(shown["attempts"])}


def test_retry_on_retries_what_matches_and_ends_the_rest_at_once(fast_config, pool):
    cli = fast_config
    # Exit 75 once, then succeed: the matching failure is retried.
    flaky = run(cli, "--retry-on", "75", "test -f once && exit 0; touch once; exit 75")
    other = run(cli, "--retry-on", "75", "--max-retries", "3", "exit 1")
    pool(2)
    assert ended(cli, flaky)["state"] == "completed"
    job = ended(cli, other)
    assert (job["state"], job["made"], job["exit_code"]) == ("dead", 1, 1)
    assert job["last_error"] == "exit code 1, not retried"
    assert job["retry_on"] == ["75"] and job["no_retry_on"] is None


def test_no_retry_on_ends_what_matches_at_once(fast_config, pool):
    cli = fast_config
    usage = run(cli, "--no-retry-on", "2,64-78", "--max-retries", "3", "exit 65")
    other = run(cli, "--no-retry-on", "2,64-78", "--max-retries", "1", "exit 3")
    pool(2)
    job = ended(cli, usage)
    assert (job["state"], job["made"], job["last_error"]) == (
        "dead",
        1,
        "exit code 65, not retried",
    )
    job = ended(cli, other)
    assert (job["state"], job["made"], job["last_error"]) == ("dead", 2, "exit code 3")


def test_the_timeout_word_matches_an_attempt_stopped_by_its_timeout(fast_config, pool):
    cli = fast_config
    retried = run(cli, "--retry-on", "timeout", "--timeout", "0.5", "--max-retries=1", "sleep 60")
    ended_now = run(cli, "--no-retry-on", "timeout", "--timeout", "0.5", "sleep 60")
    # A command killed by a signal of its own is no timeout.
    not_a_timeout = run(cli, "--retry-on", "timeout", "--max-retries", "2", "kill -TERM $$")
    pool(3)
    job = ended(cli, retried)
    assert (job["state"], job["made"], job["last_error"]) == ("dead", 2, "timed out after 0.5 s")
    job = ended(cli, ended_now)
    assert (job["state"], job["made"]) == ("dead", 1)
    assert job["last_error"] == "timed out after 0.5 s, not retried"
    job = ended(cli, not_a_timeout)
    assert (job["made"], job["last_error"]) == (1, "killed by signal 15, not retried")


def test_the_signal_word_matches_a_command_killed_by_a_signal(fast_config, pool):
    cli = fast_config
    terminated = run(cli, "--no-retry-on", "signal", "--max-retries", "3", "kill -TERM $$")
    killed = run(cli, "--retry-on", "signal", "--max-retries", "1", "kill -KILL $$")
    # `exit 143` reports what SIGTERM would, but is an exit: no signal.
    exited = run(cli, "--no-retry-on", "signal", "--max-retries", "1", "exit 143")
    # A code matches the recorded exit code, so 137 matches a SIGKILL too.
    by_code = run(cli, "--no-retry-on", "137", "--max-retries", "3", "kill -KILL $$")
    pool(2)
    job = ended(cli, terminated)
    assert (job["state"], job["made"], job["exit_code"]) == ("dead", 1, 143)
    assert job["last_error"] == "killed by signal 15, not retried"
    job = ended(cli, killed)
    assert (job["made"], job["exit_code"], job["last_error"]) == (2, 137, "killed by signal 9")
    job = ended(cli, exited)
    assert (job["made"], job["last_error"]) == (2, "exit code 143")
    job = ended(cli, by_code)
    assert (job["made"], job["last_error"]) == (1, "killed by signal 9, not retried")


def test_config_no_retry_on_is_copied_at_enqueue(fast_config, pool):
    cli = fast_config
    cli.ok("config", "set", "no_retry_on", "2")
    assert cli.json("config", "get", "no_retry_on") == ["2"]
    before = run(cli, "--max-retries", "1", "exit 2")
    own = run(cli, "--retry-on", "2", "--max-retries", "1", "exit 2")
    opted_out = run(cli, "--no-retry-on", "", "--max-retries", "1", "exit 2")
    assert cli.ok("config", "unset", "no_retry_on") == "no_retry_on =   (default)\n"
    after = run(cli, "--max-retries", "1", "exit 2")
    assert cli.job(before)["no_retry_on"] == ["2"]  # as the config was, not as it is
    assert [cli.job(i)["no_retry_on"] for i in (own, opted_out, after)] == [None, [], []]
    pool(2)
    job = ended(cli, before)
    assert (job["made"], job["last_error"]) == (1, "exit code 2, not retried")
    for job_id in (own, opted_out, after):
        job = ended(cli, job_id)
        assert (job["made"], job["last_error"]) == (2, "exit code 2")


def test_json_enqueue_and_edit_take_a_policy(cli):
    batch = "\n".join(
        json.dumps({"command": "true", "id": job_id, **policy})
        for job_id, policy in (
            ("listed", {"retry_on": [1, 75, "64-78", "timeout"]}),
            ("text", {"no_retry_on": "signal, 2"}),
        )
    )
    cli.ok("enqueue", "-", input=batch)
    assert cli.job("listed")["retry_on"] == ["1", "64-78", "timeout"]
    assert cli.job("text")["no_retry_on"] == ["2", "signal"]
    assert "retry_on:     1,64-78,timeout" in cli.ok("show", "listed")
    edited = cli.json("edit", "listed", "--no-retry-on", "3")
    assert (edited["retry_on"], edited["no_retry_on"]) == (None, ["3"])
    assert cli.json("edit", "listed", "--priority", "4")["no_retry_on"] == ["3"]  # kept


@pytest.mark.parametrize(
    "args, code, message",
    [
        (
            ("run", "true", "--retry-on", "75", "--no-retry-on", "2"),
            2,
            "argument --no-retry-on: not allowed with argument --retry-on",
        ),
        (("run", "true", "--retry-on", "256"), 1, "exit code 256 is out of range: use 0 to 255"),
        (("run", "true", "--no-retry-on", "1-300"), 1, "exit code 300 is out of range"),
        (("run", "true", "--retry-on", "timeout,kill"), 1, "'kill' is not an exit code"),
        (("run", "true", "--retry-on", "78-64"), 1, "the range '78-64' runs backwards"),
        (("run", "true", "--retry-on", ""), 1, "'retry_on' names no exit code"),
        (
            ("enqueue", '{"command": "true", "retry_on": [1], "no_retry_on": [2]}'),
            1,
            "give 'retry_on' or 'no_retry_on', not both",
        ),
        (("enqueue", '{"command": "true", "retry_on": [true]}'), 1, "True is not an exit code"),
        (("enqueue", '{"command": "true", "no_retry_on": 2}'), 1, "'no_retry_on': give exit"),
        (
            ("enqueue", '{"command": "true", "no_retry_on": ["-1"]}'),
            1,
            "'-1' is not an exit code",
        ),
        (("config", "set", "no_retry_on", "999"), 1, "invalid value '999' for no_retry_on"),
        (("config", "set", "backoff_jitter", "2"), 1, "must be a number from 0 to 1"),
    ],
)
def test_bad_policy_input_is_one_line_and_stores_nothing(cli, args, code, message):
    result = cli(*args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if code == 1:
        assert result.stderr.count("\n") == 1
    assert cli.json("list") == []
    assert cli.json("config", "get", "no_retry_on") == []


def test_a_bad_policy_in_edit_changes_nothing(cli):
    job_id = run(cli, "--retry-on", "75", "true")
    both = cli("edit", job_id, "--retry-on", "1", "--no-retry-on", "2")
    assert both.returncode == 2
    bad = cli("edit", job_id, "--no-retry-on", "signal,300")
    assert (bad.returncode, bad.stderr.count("\n")) == (1, 1)
    assert "exit code 300 is out of range" in bad.stderr
    job = cli.job(job_id)
    assert (job["retry_on"], job["no_retry_on"]) == (["75"], None)


def test_backoff_jitter_spreads_each_delay_within_its_bounds(fast_config, pool):
    cli = fast_config
    cli.ok("config", "set", "backoff_base", "4")
    cli.ok("config", "set", "backoff_jitter", "0.5")
    ids = [run(cli, "--max-retries", "1", "exit 1") for _ in range(3)]
    pool(3)
    delays = []
    for job_id in ids:
        cli("wait", job_id, *WAIT)
        shown = cli.json("show", job_id)
        # run_at stays where the first failure put it: its end plus the delay.
        first_end = datetime.fromisoformat(shown["attempts"][0]["finished_at"][:-1])
        run_at = datetime.fromisoformat(shown["job"]["run_at"][:-1])
        delays.append((run_at - first_end).total_seconds())
    assert all(2 - 0.002 <= delay <= 6 + 0.002 for delay in delays), delays  # 4 s × [0.5, 1.5]
    assert any(abs(delay - 4) > 0.002 for delay in delays), delays  # drawn, not fixed
