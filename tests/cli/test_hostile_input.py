"""Hostile input to the real CLI: other scripts' digits, values that look like options,
deep JSON, huge names. Each is refused in one line (after argparse's usage line for exit
2), never with a traceback, and leaves the store as it was."""

from __future__ import annotations

import pytest

from tests.cli.test_errors import snapshot


def refused(cli, *args: str, code: int, message: str, input: str | None = None) -> str:
    """Run a command that must fail; returns its error line."""
    before = snapshot(cli)
    result = cli(*args, input=input)
    lines = result.stderr.splitlines()
    assert result.returncode == code, result
    if code == 2:
        assert lines[0].startswith("usage: queuectl") and "Traceback" not in result.stderr
        lines = lines[-1:]
        assert ": error: " in lines[0], result.stderr
    else:
        assert len(lines) == 1 and lines[0].startswith("queuectl: error: "), result.stderr
    assert message in lines[0], lines[0]
    assert snapshot(cli) == before
    return lines[0]


# --- numbers: ASCII digits only ---------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--delay", "٥", "true"], "invalid duration '٥'"),
        (["run", "--delay", "５m", "true"], "invalid duration '５m'"),
        (["run", "--timeout", "1.٥s", "true"], "invalid duration"),
        (["run", "--delay", "5ſ", "true"], "invalid duration '5ſ'"),
        (["run", "--run-at", "２０３０-01-01T00:00", "true"], "invalid time"),
        (["run", "--priority", "٣", "true"], "must be an integer, not '٣'"),
        (["run", "--max-retries", "1_0", "true"], "must be an integer, not '1_0'"),
        (["list", "--limit", "٣"], "must be a whole number from 1"),
        (["worker", "start", "--count", "５"], "must be a whole number from 1"),
        (["dashboard", "--port", "８０８０"], "must be a whole number from 0 to 65535"),
        (["logs", "x", "--attempt", "١"], "must be a whole number from 1"),
        (["stats", "--since", "٥m"], "invalid duration"),
    ],
)
def test_options_take_ascii_digits_only(cli, args, message):
    refused(cli, *args, code=2, message=message)


@pytest.mark.parametrize(
    "args, message",
    [
        (["config", "set", "max_retries", "٣"], "invalid value '٣' for max_retries"),
        (["config", "set", "backoff_base", "٣.5"], "invalid value '٣.5' for backoff_base"),
        (["config", "set", "max_retries", "1_0"], "must be an integer from 0 to 1000"),
        (["enqueue", '{"command":"true","delay":"٥"}'], "'delay': invalid duration '٥'"),
        (["enqueue", '{"command":"true","run_at":"２０３０-01-01"}'], "'run_at': invalid time"),
    ],
)
def test_values_take_ascii_digits_only(cli, args, message):
    refused(cli, *args, code=1, message=message)


def test_ascii_numbers_still_work(cli):
    cli.ok("config", "set", "backoff_base", "2.5")
    cli.ok("config", "set", "max_retries", "7")
    job_id = cli.ok("run", "--priority", "+5", "--max-retries", "2", "true").strip()
    job = cli.job(job_id)
    assert (job["priority"], job["max_retries"]) == (5, 2)
    assert cli.json("config", "show")["backoff_base"] == 2.5


# --- values that start with "-" ---------------------------------------------------------


@pytest.mark.parametrize("value", ["-inf", "-5", "-1.5", "-1e3", "-nan", "inf", "nan"])
def test_config_values_out_of_range_reach_the_range_check(cli, value):
    refused(
        cli,
        "config",
        "set",
        "backoff_max",
        value,
        code=1,
        message=f"invalid value {value!r} for backoff_max: must be a duration from 0 to 604800",
    )


@pytest.mark.parametrize("option", ["--delay", "--timeout"])
def test_a_negative_duration_is_named_as_such(cli, option):
    refused(
        cli,
        "run",
        option,
        "-5s",
        "true",
        code=2,
        message=f"argument {option}: invalid duration '-5s': a duration must not be negative",
    )


def test_a_negative_priority_is_a_priority(cli):
    job_id = cli.ok("run", "--priority", "-5", "true").strip()
    assert cli.job(job_id)["priority"] == -5


def test_help_still_works_where_a_value_is_expected(cli):
    assert "usage: queuectl config set" in cli.ok("config", "set", "backoff_max", "--help")


# --- unknown options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["--bogus", "status"],
        ["worker", "--bogus"],
        ["config", "--bogus"],
        ["status", "--bogus"],
    ],
)
def test_an_unknown_option_is_named(cli, args):
    refused(cli, *args, code=2, message="unrecognized arguments: --bogus")


@pytest.mark.parametrize(
    "args, usage",
    [
        ([], "queuectl"),
        (["worker"], "queuectl worker"),
        (["dlq"], "queuectl dlq"),
        (["config"], "queuectl config"),
    ],
)
def test_a_missing_command_is_named(cli, args, usage):
    result = cli(*args)
    assert result.returncode == 2 and result.stderr.startswith(f"usage: {usage} [-h]")
    assert result.stderr.splitlines()[-1].endswith(
        "the following arguments are required: " + ("ACTION" if args else "COMMAND")
    )


# --- deep JSON ------------------------------------------------------------------------------

DEEP = "[" * 30000 + "]" * 30000
DEEP_JOB = '{"command": "true", "env": ' + DEEP + "}"


def test_deep_json_on_the_command_line_is_one_line(cli):
    for text in (DEEP, DEEP_JOB, '{"command": "true", "env": ' + "[" * 65 + "]" * 65 + "}"):
        refused(
            cli,
            "enqueue",
            text,
            code=1,
            message="error: invalid JSON: nested more than 64 levels deep",
        )


def test_deep_json_on_stdin_or_in_a_file_names_its_line(cli, tmp_path):
    for lines, line in (
        ([DEEP_JOB], 1),
        (['{"command": "true"}', DEEP_JOB], 2),
        (['{"command": "true"}', "", DEEP], 3),
    ):
        text = "\n".join(lines) + "\n"
        message = f"error: line {line}: invalid JSON: nested more than 64 levels deep"
        refused(cli, "enqueue", "-", input=text, code=1, message=message)
        (tmp_path / "jobs.jsonl").write_text(text)
        refused(cli, "enqueue", "--file", str(tmp_path / "jobs.jsonl"), code=1, message=message)


def test_an_integer_too_long_to_convert_is_one_line(cli):
    # "invalid JSON" where int() has a digit limit (3.11, and 3.9.14 and 3.10.7 on), else
    # an out-of-range priority.
    refused(
        cli,
        "enqueue",
        '{"command": "true", "priority": ' + "1" * 5000 + "}",
        code=1,
        message="queuectl: error: ",
    )


# --- huge names -------------------------------------------------------------------------

TEN_KB = "q" * 10240
SHOWN = f"'{'q' * 80}…' (10240 characters)"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["run", "--queue", TEN_KB, "true"], 1, f"invalid queue {SHOWN}: use 1 to 64"),
        (["run", "--id", TEN_KB, "true"], 1, f"invalid id {SHOWN}: use 1 to 128"),
        (["enqueue", f'{{"command": "true", "queue": "{TEN_KB}"}}'], 1, f"invalid queue {SHOWN}"),
        (["enqueue", f'{{"command": "true", "{TEN_KB}": 1}}'], 1, f"unknown key {SHOWN}"),
        (["cancel", TEN_KB], 1, f"no job with id {SHOWN}"),
        (["logs", TEN_KB], 1, f"no job with id {SHOWN}"),
        (["dlq", "retry", TEN_KB], 1, f"no job with id {SHOWN}"),
        (["config", "set", TEN_KB, "1"], 1, f"unknown config key {SHOWN}"),
        (["config", "set", "max_retries", TEN_KB], 1, f"invalid value {SHOWN} for max_retries"),
        (["config", "set", "no_retry_on", TEN_KB], 1, f"invalid value {SHOWN} for no_retry_on"),
        (["run", "--retry-on", TEN_KB, "true"], 1, f"{SHOWN} is not an exit code"),
        (["worker", "start", "--queue", TEN_KB], 2, f"invalid queue {SHOWN}"),
        (["run", "--delay", TEN_KB, "true"], 2, f"invalid duration {SHOWN}"),
        (["list", "--state", TEN_KB], 2, f"unknown state {SHOWN}"),
    ],
)
def test_an_error_quotes_a_huge_value_cut_short(cli, args, code, message):
    line = refused(cli, *args, code=code, message=message)
    assert len(line) < 400  # the value cut short; a list of valid keys may follow it


def test_show_of_a_100_kb_id_quotes_it_cut_short(cli):
    line = refused(
        cli,
        "show",
        "i" * 102400,
        code=1,
        message=f"no job with id '{'i' * 80}…' (102400 characters)",
    )
    assert len(line) < 150


# --- null values ----------------------------------------------------------------------------


def test_null_command_is_refused(cli):
    refused(
        cli,
        "enqueue",
        '{"command": null}',
        code=1,
        message="queuectl: error: 'command' must be a non-empty string",
    )


@pytest.mark.parametrize(
    "key", ["id", "queue", "max_retries", "priority", "run_at", "delay", "cwd", "env"]
)
def test_null_takes_the_default(cli, key):
    job_id = cli.ok("enqueue", f'{{"command": "true", "{key}": null}}').strip()
    job = cli.job(job_id)
    assert (job["queue"], job["priority"], job["env"]) == ("default", 0, {})


def test_a_null_timeout_is_the_config_job_timeout(cli):
    job_id = cli.ok("enqueue", '{"command": "true", "timeout": null}').strip()
    assert cli.job(job_id)["timeout"] is None


# --- job strings that hide what they are -------------------------------------------------


def test_list_and_show_print_a_bidi_override_as_an_escape(cli):
    """Issue 11, point 20: U+202E reversed the rest of the line, so `rm -rf ~ #gnp.exe`
    could read as an innocent command."""
    command = "echo \u202etxt.exe; rm -rf nothing-here \u200b#"
    cli.ok("run", "--id", "sneaky", "--delay", "1h", command)
    shown = "echo \\u202etxt.exe; rm -rf nothing-here \\u200b#"
    listed = cli.ok("list")
    assert shown in listed and "\u202e" not in listed
    details = cli.ok("show", "sneaky")
    assert f"command:      {shown}" in details.splitlines()
    assert cli.json("show", "sneaky", "--json")["job"]["command"] == command  # JSON keeps it
