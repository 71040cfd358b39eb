"""Bad input: one clear stderr line and exit 1 (exit 2 for arguments argparse rejects),
never a traceback, and the store exactly as it was."""

from __future__ import annotations

import os
import subprocess

import pytest


@pytest.fixture
def seeded(cli):
    cli.ok("enqueue", '{"id":"done","command":"true"}')
    cli.ok("enqueue", '{"id":"waiting","command":"true","delay":"1h"}')
    cli.ok("config", "set", "max_retries", "4")
    return cli


def snapshot(cli):
    """Everything a command could have changed, read straight from the store."""
    from queuectl.store import open_store

    store = open_store(cli.location)
    try:
        jobs = store.list_jobs(limit=1000)
        return (
            [(job, store.attempts(job.id)) for job in jobs],
            store.config_values(),
            store.list_workers(),
        )
    finally:
        store.close()


USER_ERRORS = [
    (["enqueue", "{not json"], "invalid JSON"),
    (["enqueue", '{"id":"waiting","command":"true"}'], "already exists"),
    (["enqueue", '{"command":"true","state":"completed"}'], "unknown key 'state'"),
    (["enqueue", '{"command":"true","attempts":2}'], "unknown key 'attempts'"),
    (["enqueue", '{"command":""}'], "non-empty"),
    (["enqueue", '{"id":"x"}'], "non-empty"),
    (["enqueue", '{"command":"true","max_retries":"3"}'], "'max_retries' must be an integer"),
    (["enqueue", '{"command":"true","max_retries":-1}'], "from 0 to 1000"),
    (["enqueue", '{"command":"true","priority":"high"}'], "'priority' must be an integer"),
    (["enqueue", '{"command":"true","delay":"5x"}'], "invalid duration"),
    (["enqueue", '{"command":"true","id":"bad id"}'], "invalid id"),
    (["enqueue", '[{"command":"true"}]'], "JSON object"),
    (["enqueue", "--file", "/nonexistent/jobs.jsonl"], "cannot read"),
    (["show", "nope"], "no job with id 'nope'"),
    (["logs", "nope"], "no job with id 'nope'"),
    (["logs", "waiting"], "has not run yet"),
    (["dlq", "retry", "waiting"], "not dead"),
    (["dlq", "retry", "nope"], "no job with id"),
    (["dlq", "retry"], "--all"),
    (["config", "set", "retries", "5"], "valid keys"),
    (["config", "set", "max-retries", "-1"], "from 0 to 1000"),
    (["config", "set", "max_retries", "many"], "must be an integer"),
    (["config", "set", "poll_interval", "0"], "from 0.01 to 60"),
    (["config", "get", "nope"], "unknown config key"),
    (["config", "unset", "nope"], "unknown config key"),
    (["cancel", "nope"], "no job with id"),
    (["wait", "nope"], "no job with id"),
    (["enqueue", '{"command":"true","delay":1e300}'], "from 0 seconds to 100 years"),
    (["enqueue", '{"command":"true","timeout":-1}'], "more than 0 seconds and at most 364"),
    (["enqueue", '{"command":"true","timeout":0}'], "more than 0 seconds and at most 364"),
    (["run", "--timeout", "400d", "true"], "more than 0 seconds and at most 364"),
    (["enqueue", '{"command":"echo \\ud800"}'], "'command' must be UTF-8 text"),
    (["enqueue", '{"command":"true","env":{"K":"\\ud800"}}'], "'env' entry 'K'"),
    (["enqueue", '{"command":"true","run_at":"0001-01-01T00:00+01:00"}'], "from 1970 to 9999"),
    (["enqueue", '{"command":"true","run_at":"2026-01-01T00:00+99:00"}'], "offset runs from"),
    (["run", "--id", "abc\n", "true"], "invalid id"),
    (["run", "--queue", "q\n", "true"], "invalid queue"),
    (["show", os.fsdecode(b"\xff")], "is not valid UTF-8"),
    (["cancel", "waiting", os.fsdecode(b"bad\xfe")], "is not valid UTF-8"),
]


@pytest.mark.parametrize(
    "args, message", USER_ERRORS, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_user_errors(seeded, args, message):
    before = snapshot(seeded)
    result = seeded(*args)
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert lines[0].startswith("queuectl: error: ")
    assert snapshot(seeded) == before


def test_cancel_of_a_finished_job_is_an_error(seeded):
    seeded.ok("cancel", "waiting")
    result = seeded("cancel", "waiting")
    assert result.returncode == 1 and "is canceled" in result.stderr


USAGE_ERRORS = [
    ["run", "--delay", "5x", "true"],
    ["run", "--delay", "99999999999999999d", "true"],
    ["list", "--limit", "99999999999999999999"],
    ["run", "--timeout", "soon", "true"],
    ["run", "--priority", "high", "true"],
    ["run", "--run-at", "tomorrow", "true"],
    ["run", "--run-at", "9999-12-31T23:59:59-12:00", "true"],
    ["run", "--delay", "5s", "--run-at", "2030-01-01T00:00", "true"],
    ["run", "--env", "NOEQUALS", "true"],
    ["run"],
    ["worker", "start", "--count", "0"],
    ["worker", "start", "--count", "two"],
    ["purge", "--state", "pending"],
    ["list", "--state", "bogus"],
    ["worker", "start", "--queue", "a b"],
    ["stats", "--since", "forever"],
    ["stats", "--since", "0"],
    ["frobnicate"],
    [],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda v: " ".join(v) or "nothing")
def test_usage_errors(seeded, args):
    before = snapshot(seeded)
    result = seeded(*args)
    assert result.returncode == 2, result
    assert "usage: queuectl" in result.stderr and "error:" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(seeded) == before


def test_a_file_that_is_not_utf8_is_refused(seeded, tmp_path):
    batch = tmp_path / "jobs.jsonl"
    batch.write_bytes(b'{"command":"echo \xff"}\n')
    before = snapshot(seeded)
    result = seeded("enqueue", "--file", str(batch))
    assert result.returncode == 1 and "is not valid UTF-8" in result.stderr
    piped = subprocess.run(
        seeded.argv("enqueue", "-"),
        input=batch.read_bytes(),
        capture_output=True,
        env=seeded.env,
        cwd=seeded.home,
    )
    assert piped.returncode == 1 and b"stdin is not valid UTF-8" in piped.stderr
    assert snapshot(seeded) == before


def test_duplicate_ids_in_a_batch_name_their_line(seeded, tmp_path):
    batch = tmp_path / "jobs.jsonl"
    before = snapshot(seeded)
    for lines, message in (
        (
            ['{"id":"b1","command":"true"}', '{"id":"b1","command":"true"}'],
            "line 2: job id 'b1' is used twice in this batch",
        ),
        (
            ['{"id":"b2","command":"true"}', '{"id":"waiting","command":"true"}'],
            "line 2: job id 'waiting' already exists",
        ),
    ):
        batch.write_text("\n".join(lines) + "\n")
        result = seeded("enqueue", "--file", str(batch))
        assert result.returncode == 1 and result.stderr.splitlines() == [
            f"queuectl: error: {message}"
        ]
    assert snapshot(seeded) == before


def test_a_url_of_another_database_is_refused_and_creates_nothing(tmp_path):
    from tests.conftest import Cli

    home = tmp_path / "home"
    home.mkdir()
    result = Cli("mysql://user:secret@db/jobs", home)("status")
    assert result.returncode == 1 and result.stderr.splitlines() == [
        "queuectl: error: unsupported store URL 'mysql://user:***@db/jobs': give a file "
        "path (SQLite) or a postgresql:// URL"
    ]
    assert list(home.iterdir()) == []
    conninfo = Cli("host=db dbname=jobs password=secret", home)("status")
    assert conninfo.returncode == 1 and "key=value connection string" in conninfo.stderr
    assert "secret" not in conninfo.stderr and list(home.iterdir()) == []


def test_a_store_that_is_not_a_database_is_one_line(tmp_path):
    from tests.conftest import Cli

    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, " * 100)
    home = tmp_path / "home"
    home.mkdir()
    for location in (str(junk), str(tmp_path)):  # a file that is not SQLite; a directory
        result = Cli(location, home)("status")
        assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
        assert "cannot open the store" in result.stderr


def test_a_batch_with_one_bad_line_inserts_nothing(seeded, tmp_path):
    batch = tmp_path / "jobs.jsonl"
    batch.write_text('{"command":"echo 1"}\n{"command":"echo 2"}\n{"command":"echo 3","bogus":1}\n')
    before = snapshot(seeded)
    result = seeded("enqueue", "--file", str(batch))
    assert result.returncode == 1 and "line 3: unknown key 'bogus'" in result.stderr
    assert snapshot(seeded) == before


def test_a_store_from_a_newer_release_is_refused(tmp_path):
    import sqlite3

    from tests.conftest import Cli

    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(str(tmp_path / "queue.db"), home)  # SQLite: the version is in the file header
    cli.ok("config", "set", "max_retries", "3")
    with sqlite3.connect(cli.location) as conn:
        conn.execute("PRAGMA user_version = 99")
    result = cli("status")
    assert result.returncode == 1 and "schema version 99" in result.stderr
