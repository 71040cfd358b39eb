"""Reading commands do not create stores; duration settings take the DUR forms; delayed
jobs show when they will run (issue 11, points 8 to 10)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import Cli

MISSING = "no queue store at {}; it is created by the first run/enqueue/worker start"
READS = [
    ["status"],
    ["list"],
    ["show", "x"],
    ["logs", "x"],
    ["wait", "x"],
    ["stats"],
    ["dlq", "list"],
    ["config", "show"],
    ["config", "get", "max_retries"],
    ["worker", "list"],
    ["dashboard", "--port", "0"],
]


@pytest.fixture
def sqlite_cli(tmp_path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(str(tmp_path / "store" / "queue.db"), home)


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_reading_command_does_not_create_a_missing_store(sqlite_cli, tmp_path, command):
    other = tmp_path / "elsewhere" / "other.db"
    result = sqlite_cli("--db", str(other), *command, timeout=30)
    assert result.returncode == 1, result
    assert result.stderr.strip() == f"queuectl: error: {MISSING.format(other)}"
    assert not other.parent.exists()  # neither the file nor its folder


def test_the_environments_missing_store_is_not_created_either(sqlite_cli, tmp_path):
    result = sqlite_cli("list", "--json")
    assert result.returncode == 1 and "no queue store at" in result.stderr
    assert not (tmp_path / "store").exists()
    sqlite_cli.ok("run", "true", "--id", "made")  # a writing command creates it
    assert [job["id"] for job in sqlite_cli.json("list")] == ["made"]


def test_a_missing_store_in_the_working_folder(sqlite_cli):
    result = sqlite_cli("--db", "other.db", "list")
    assert result.returncode == 1
    assert MISSING.format(sqlite_cli.home / "other.db") in result.stderr
    assert not (sqlite_cli.home / "other.db").exists()


def test_the_default_store_is_still_made_by_a_reading_command(sqlite_cli):
    env = {k: v for k, v in sqlite_cli.env.items() if k != "QUEUECTL_DB"}
    out = subprocess.run(sqlite_cli.argv("list", "--json"), capture_output=True, text=True, env=env)
    assert out.returncode == 0 and json.loads(out.stdout) == []
    assert (sqlite_cli.home / "queuectl" / "queuectl.db").exists()


@pytest.mark.parametrize(
    "key, given, shown",
    [
        ("job_timeout", "5m", "300"),
        ("job-timeout", "90s", "90"),
        ("kill_grace", "0.5s", "0.5"),
        ("lease_seconds", "1m", "60"),
        ("backoff_max", "2h", "7200"),
        ("poll_interval", "0.25", "0.25"),
    ],
)
def test_duration_settings_take_the_dur_forms(cli, key, given, shown):
    name = key.replace("-", "_")
    assert cli.ok("config", "set", key, given).strip() == f"{name} = {shown}"
    assert cli.ok("config", "get", key).strip() == shown
    assert f"{name} = {shown}\n" in cli.ok("config", "show")
    assert cli.json("config", "get", key) == float(shown)


def test_a_bad_duration_setting_is_refused_and_changes_nothing(cli):
    cli.ok("config", "set", "job_timeout", "1m")
    result = cli("config", "set", "job_timeout", "5x")
    assert result.returncode == 1
    assert "must be a duration from 0 to 604800 seconds" in result.stderr
    assert cli.ok("config", "get", "job_timeout").strip() == "60"


def test_settings_print_without_a_needless_fraction(cli):
    shown = cli.ok("config", "show")
    assert "backoff_base = 2  (default)" in shown
    assert "job_timeout = 0  (default)" in shown
    assert ".0" not in shown


def _row(listing: str, job_id: str) -> dict[str, str]:
    """One row of `list`'s table, by column: the columns are found from the header."""
    header, *rows = listing.splitlines()
    names = ["ID", "STATE", "QUEUE", "PRI", "TRIES", "EXIT", "UPDATED", "RUN AT", "COMMAND"]
    starts = [header.index(name) for name in names]
    line = next(row for row in rows if row.startswith(job_id + " "))
    ends = [*starts[1:], None]
    return {name: line[a:b].strip() for name, a, b in zip(names, starts, ends)}


def test_list_shows_when_a_delayed_job_will_run(cli):
    cli.ok("run", "true", "--id", "later", "--delay", "2h")
    cli.ok("run", "true", "--id", "soon", "--delay", "90s")
    cli.ok("run", "true", "--id", "now")
    listing = cli.ok("list")
    assert _row(listing, "later")["RUN AT"] == "in 2h"
    assert re.fullmatch(r"in 1m[0-9]+s|in 1m", _row(listing, "soon")["RUN AT"])
    assert _row(listing, "now")["RUN AT"] == ""
    assert _row(listing, "later")["STATE"] == "pending"


def test_a_run_at_in_the_past_is_accepted_with_a_word_on_stderr(cli):
    result = cli("run", "true", "--id", "late", "--run-at", "2020-01-01T00:00:00Z")
    assert result.returncode == 0 and result.stdout == "late\n"
    assert result.stderr.startswith("queuectl: --run-at 2020-01-01T00:00:00Z is ")
    assert "in the past" in result.stderr
    future = cli("run", "true", "--id", "ahead", "--run-at", "2999-01-01T00:00:00Z")
    assert future.returncode == 0 and future.stderr == ""
    assert "in " in _row(cli.ok("list"), "ahead")["RUN AT"]
