"""The schedule commands (SPEC §8) through the real CLI, on every backend: what they print,
their --json shapes, and their errors (exit 1, or 2 for an option argparse refuses), each
of which leaves the store as it was."""

from __future__ import annotations

import pytest

SCHEDULE_KEYS = [
    "name",
    "expression",
    "zone",
    "command",
    "job",
    "overlap",
    "catch_up",
    "paused",
    "created_at",
    "next_run",
    "last_job",
    "last_run",
]


def add_two(cli) -> None:
    cli.ok(
        "schedule",
        "add",
        "nightly",
        "30 2 * * *",
        "make backup > log",
        "--tz",
        "Europe/Berlin",
        "--queue",
        "ops",
        "--max-retries",
        "1",
        "--env",
        "API_TOKEN=hush",
        "--lock",
        "backup",
        "--overlap",
        "allow",
        "--catch-up",
        "none",
    )
    cli.ok("schedule", "add", "every", "*/5 * * * *", "echo", "tick", "--tz", "UTC")


def test_add_list_and_show_say_what_a_schedule_is(cli):
    add_two(cli)
    out = cli.ok("schedule", "list")
    assert out.splitlines()[0].split() == [
        "NAME",
        "CRON",
        "ZONE",
        "NEXT",
        "RUN",
        "LAST",
        "RUN",
        "COMMAND",
    ]
    assert "nightly" in out and "Europe/Berlin" in out and "make backup > log" in out
    listed = cli.json("schedule", "list")
    assert [s["name"] for s in listed] == ["every", "nightly"]
    nightly = listed[1]
    assert list(nightly) == SCHEDULE_KEYS
    assert nightly["job"] == {
        "queue": "ops",
        "priority": 0,
        "cwd": str(cli.home),
        "max_retries": 1,
        "env": {"API_TOKEN": "***"},  # a secret is not shown
        "lock": "backup",
    }
    assert (nightly["overlap"], nightly["catch_up"], nightly["paused"]) == ("allow", "none", False)
    assert nightly["next_run"].endswith(("T00:30:00.000Z", "T01:30:00.000Z"))  # 02:30 in Berlin
    assert nightly["last_run"] is None
    shown = cli.json("schedule", "show", "every")
    assert list(shown) == ["schedule", "runs", "skipped"]
    assert shown["schedule"]["command"] == "echo tick"
    assert (shown["runs"], shown["skipped"]) == ([], [])
    text = cli.ok("schedule", "show", "nightly")
    assert "cron:        30 2 * * *" in text and "API_TOKEN=***" in text


def test_schedule_run_enqueues_a_run_now_that_show_and_list_tell(cli):
    add_two(cli)
    job_id = cli.json("schedule", "run", "nightly")["id"]
    job = cli.job(job_id)
    assert (job["schedule"], job["command"], job["queue"], job["lock"]) == (
        "nightly",
        "make backup > log",
        "ops",
        "backup",
    )
    assert job["env"] == {"API_TOKEN": "***"} and job["max_retries"] == 1
    shown = cli.json("schedule", "show", "nightly")
    assert [run["id"] for run in shown["runs"]] == [job_id]
    assert shown["schedule"]["last_run"] == {"job": job_id, "state": "pending"}
    assert [job["id"] for job in cli.json("list", "--schedule", "nightly")] == [job_id]
    plain = cli.ok("schedule", "run", "every").strip()
    assert cli.job(plain)["schedule"] == "every"
    assert cli.job(plain)["max_retries"] == 3  # config max_retries, as the run is enqueued


def test_pause_resume_and_remove(cli):
    add_two(cli)
    assert cli.ok("schedule", "pause", "every").strip() == "paused schedule every"
    paused = cli.json("schedule", "list")[0]
    assert (paused["paused"], paused["next_run"]) == (True, None)
    assert "paused" in cli.ok("schedule", "list").splitlines()[1]
    again = cli("schedule", "pause", "every")
    assert again.returncode == 0 and "paused already" in again.stderr
    assert cli.ok("schedule", "resume", "every").strip() == "resumed schedule every"
    resumed = cli.json("schedule", "list")[0]
    assert resumed["paused"] is False and resumed["next_run"] is not None
    assert "not paused" in cli("schedule", "resume", "every").stderr
    job_id = cli.ok("schedule", "run", "every").strip()
    assert "its jobs stay" in cli.ok("schedule", "remove", "every")
    assert [s["name"] for s in cli.json("schedule", "list")] == ["nightly"]
    assert cli.job(job_id)["schedule"] == "every"  # the job stays, and says where it came from


def test_the_zone_defaults_to_this_machines(cli):
    cli.env["TZ"] = "America/New_York"
    cli.ok("schedule", "add", "local", "@daily", "true")
    assert cli.json("schedule", "show", "local")["schedule"]["zone"] == "America/New_York"
    cli.env["TZ"] = "EST+5"  # a POSIX rule: no zone name to keep, so the user must say
    refused = cli("schedule", "add", "posix", "@daily", "true")
    assert refused.returncode == 1 and "TZ='EST+5' names no IANA time zone" in refused.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("every", "0 24 * * *", "true"), "hour field '24': 24 is out of range 0-23"),
        (("x", "* * * JAN-FOO *", "true"), "month field 'JAN-FOO'"),
        (("x", "* * *", "true"), "expected 5 fields"),
        (("x", "@often", "true"), "unknown macro"),
        (("x", "* * * * *", "true", "--tz", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (("x", "* * * * *", "true", "--tz", ""), "unknown time zone ''"),
        (("x", "* * * * *", "true", "--tz", "localtime"), "unknown time zone 'localtime'"),
        (("every", "* * * * *", "true"), "a schedule named 'every' exists already"),
        (("bad name", "* * * * *", "true"), "invalid schedule name"),
        (("x", "* * * * *", "true", "--queue", "a b"), "invalid queue"),
        (("x", "* * * * *", "true", "--priority", "3000000000"), "'priority' must be an integer"),
    ],
)
def test_a_bad_schedule_is_one_line_exit_1_and_changes_nothing(cli, args, said):
    add_two(cli)
    before = cli.json("schedule", "list")
    result = cli("schedule", "add", *args)
    assert result.returncode == 1, result.stderr
    assert said in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert cli.json("schedule", "list") == before


@pytest.mark.parametrize("verb", ["show", "pause", "resume", "remove", "run"])
def test_an_unknown_name_is_exit_1(cli, verb):
    add_two(cli)
    before = cli.json("schedule", "list")
    result = cli("schedule", verb, "nope")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "queuectl: error: no schedule named 'nope' (queuectl schedule list shows them)"
    )
    assert cli.json("schedule", "list") == before
    assert cli.json("list") == []


@pytest.mark.parametrize(
    "refused",
    [
        ("--id", "x"),
        ("--wait",),
        ("--delay", "5m"),
        ("--run-at", "2030-01-01T00:00"),
        ("--array", "1-3"),
        ("--each-line", "f"),
        ("--after", "a"),
        ("--after-any", "a"),
        ("--after-failure", "a"),
        ("--unique-key", "k"),
        ("--overlap", "sometimes"),
        ("--catch-up", "most"),
    ],
)
def test_an_option_a_schedule_refuses_is_exit_2_naming_it(cli, refused):
    result = cli("schedule", "add", "x", "* * * * *", "true", *refused)
    assert result.returncode == 2
    assert f"argument {refused[0]}" in result.stderr.splitlines()[-1]
    assert cli.json("schedule", "list") == []


def test_a_schedule_added_again_under_its_name_shows_none_of_the_old_runs(cli):
    cli.ok("schedule", "add", "again", "@daily", "true")
    old_run = cli.ok("schedule", "run", "again").strip()
    cli.ok("schedule", "remove", "again")
    cli.ok("schedule", "add", "again", "@daily", "true")
    assert cli.json("schedule", "show", "again")["runs"] == []
    new_run = cli.ok("schedule", "run", "again").strip()
    assert [job["id"] for job in cli.json("schedule", "show", "again")["runs"]] == [new_run]
    assert cli.job(old_run)["schedule"] == "again"  # the old run keeps its name
