"""What a new user meets in the first hour: typos that get help, `run` with the command as
words, and the small rough edges of issue 11."""

from __future__ import annotations

import json

import pytest

TYPOS = [
    (["list", "--sate", "dead"], "usage: queuectl list", "did you mean --state?"),
    (["list", "--limt=3"], "usage: queuectl list", "did you mean --limit?"),
    (["stauts"], "usage: queuectl [", "did you mean status?"),
    (["worker", "strat"], "usage: queuectl worker", "did you mean start?"),
    (["dlq", "retyr"], "usage: queuectl dlq", "did you mean retry?"),
    (["purge", "--state", "compleetd"], "usage: queuectl purge", "did you mean completed?"),
]


@pytest.mark.parametrize(
    "args,usage,hint", TYPOS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_a_typo_gets_the_commands_usage_and_a_suggestion(cli, args, usage, hint):
    result = cli(*args)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(usage), result.stderr
    assert lines[-1].endswith(hint) or f"{hint} (choose from" in lines[-1], result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_word_with_nothing_close_gets_no_suggestion(cli):
    result = cli("show", "a", "b")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: queuectl show")
    assert result.stderr.strip().splitlines()[-1] == (
        "queuectl show: error: unrecognized arguments: b"
    )


def test_logs_json_is_the_attempt_and_its_output(cli, pool):
    pool(1)
    cli.ok("run", "--id", "hello", "--wait", "echo hi; echo there >&2")
    assert cli.json("logs", "hello") == {"id": "hello", "attempt": 1, "output": "hi\nthere\n"}
    assert cli.json("logs", "hello", "--attempt", "1")["attempt"] == 1
    result = cli("logs", "hello", "--json", "--follow")
    assert result.returncode == 2 and "not allowed with" in result.stderr


RUN_FORMS = [
    (["echo", "hi"], "echo hi"),
    (["echo hi"], "echo hi"),
    (["--priority", "3", "--", "echo", "--foo"], "echo --foo"),
    (["echo", "hi", "--id", "x"], "echo hi"),  # SPEC §3: run "CMD" [--id ID] ...
    (["echo hi", "--priority", "3"], "echo hi"),
    (["--queue", "q", "--", "-x", "y"], "-x y"),
    (["--", "echo", "--"], "echo --"),
]


@pytest.mark.parametrize(
    "words,command", RUN_FORMS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_run_takes_the_command_as_one_argument_or_as_words(cli, words, command):
    job_id = cli.ok("run", *words).strip()
    assert cli.job(job_id)["command"] == command


@pytest.mark.parametrize("args", [["--dealy", "5s", "echo"], ["echo", "--dealy", "5s"]])
def test_an_unknown_option_is_an_error_not_a_command(cli, args):
    result = cli("run", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: queuectl run")
    assert result.stderr.strip().splitlines()[-1].endswith("did you mean --delay?")
    assert cli.json("list") == []


def test_run_with_no_command_is_a_usage_error(cli):
    for args in (["run"], ["run", "--"], ["run", "--id", "x"]):
        result = cli(*args)
        assert result.returncode == 2 and "expected the command to run" in result.stderr, args


def test_enqueue_of_a_command_points_at_run(cli):
    result = cli("enqueue", "echo hi")
    assert result.returncode == 1
    assert "invalid JSON" in result.stderr and "queuectl run CMD" in result.stderr
    assert "queuectl run" not in cli("enqueue", "{bad").stderr


def test_list_says_on_stderr_when_it_stops_at_the_limit(cli):
    for number in range(3):
        cli.ok("run", "--id", f"j{number}", "--delay", "1h", "true")
    result = cli("list", "--limit", "2", "--json")
    assert len(json.loads(result.stdout)) == 2
    assert "showing the newest 2 jobs; there are more (see --limit)" in result.stderr
    assert cli("list", "--limit", "3").stderr == ""


def test_cancel_json_names_each_id_under_ids(cli):
    cli.ok("run", "--id", "later", "--delay", "1h", "true")
    assert cli.json("cancel", "later") == {"ids": {"later": "canceled"}}


def test_show_gives_each_time_its_age(cli):
    cli.ok("run", "--id", "later", "--delay", "1h", "true")
    lines = cli.ok("show", "later").splitlines()
    shown = {key: value.strip() for key, _, value in (line.partition(" ") for line in lines)}
    assert shown["created_at:"].endswith(" ago)") and shown["created_at:"].startswith("20")
    assert shown["run_at:"].endswith(("(in 59m)", "(in 1h)"))


def test_help_has_examples_and_every_option_says_what_it_does(cli):
    assert "examples:" in cli.ok("--help") and "queuectl run echo hi" in cli.ok("--help")
    for args in (["list"], ["dlq", "list"], ["purge"]):
        assert "at most N jobs" in cli.ok(*args, "--help") or args == ["purge"]
    assert "delete the jobs in this state" in cli.ok("purge", "--help")
    assert "keys: max_retries, backoff_base" in cli.ok("config", "set", "--help")
