"""The CLI's entry points, store selection and --json shapes (SPEC §3)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.unit.test_job_fields import SPEC_FIELDS

STATES = ["pending", "processing", "completed", "failed", "dead", "canceled"]
JOB_FIELDS = set(SPEC_FIELDS)


def test_version_from_every_entry_point(cli):
    from queuectl import __version__

    for argv in ([sys.executable, "-m", "queuectl"], [sys.executable, str(ROOT / "queuectl.py")]):
        out = subprocess.run(
            argv + ["--version"], capture_output=True, text=True, env=cli.env, cwd=cli.home
        )
        assert out.returncode == 0 and out.stdout.strip() == f"queuectl {__version__}"


def test_db_option_before_or_after_the_command_beats_the_environment(cli, tmp_path):
    other = str(tmp_path / "other.db")
    cli.ok("run", "echo c", "--id", "c")
    cli.ok("--db", other, "run", "echo a", "--id", "a")
    cli.ok("run", "echo b", "--id", "b", "--db", other)
    assert [j["id"] for j in cli.json("list", "--db", other)] == ["b", "a"]
    assert [j["id"] for j in cli.json("list")] == ["c"]  # QUEUECTL_DB's store is untouched
    assert cli.json("status", "--db", other)["store"] == other


def test_default_store_is_in_the_per_user_data_folder(cli):
    env = {k: v for k, v in cli.env.items() if k != "QUEUECTL_DB"}
    out = subprocess.run(
        cli.argv("status", "--json"), capture_output=True, text=True, env=env, cwd=cli.home
    )
    assert json.loads(out.stdout)["store"] == str(cli.home / "queuectl" / "queuectl.db")
    assert (cli.home / "queuectl" / "queuectl.db").exists()


def test_json_shapes(cli):
    # cli.json puts --json last, where run would take it as a word of the command
    assert json.loads(cli.ok("run", "--json", "--id", "one", "true")) == {
        "id": "one",
        "created": True,
    }
    assert cli.json("enqueue", '{"command":"true","id":"two"}') == {"id": "two", "created": True}
    assert cli.json(
        "enqueue", "-", input='{"command":"true","id":"three"}\n{"command":"true","id":"four"}\n'
    ) == {"ids": ["three", "four"], "created": [True, True]}
    assert cli.json("enqueue", "--file", "-", input='{"command":"true","id":"five"}\n') == {
        "id": "five",
        "created": True,
    }
    status = cli.json("status")
    assert set(status) == {"counts", "queues", "workers", "store"}
    assert list(status["counts"]) == STATES and status["counts"]["pending"] == 5
    assert status["queues"] == {"default": {s: 5 if s == "pending" else 0 for s in STATES}}
    assert status["workers"] == []
    listed = cli.json("list")
    assert isinstance(listed, list) and set(listed[0]) == JOB_FIELDS
    shown = cli.json("show", "one")
    assert set(shown) == {"job", "attempts"} and set(shown["job"]) == JOB_FIELDS
    assert shown["job"]["created_at"].endswith("Z") and "." in shown["job"]["created_at"]
    assert cli.json("dlq", "list") == [] and cli.json("worker", "list") == []
    assert set(cli.json("config", "show")) == {
        "max_retries",
        "backoff_base",
        "backoff_max",
        "backoff_jitter",
        "no_retry_on",
        "on_success",
        "on_failure",
        "job_timeout",
        "lease_seconds",
        "poll_interval",
        "output_limit",
        "kill_grace",
        "log_max_size",
    }


def test_run_options_land_in_the_job(cli, tmp_path):
    cli.ok(
        "run",
        "--id",
        "j",
        "--max-retries",
        "7",
        "--timeout",
        "90s",
        "--priority",
        "4",
        "--queue",
        "builds",
        "--delay",
        "1h",
        "--cwd",
        "sub",
        "--env",
        "A=1",
        "--env",
        "B=x=y",
        "make",
    )
    job = cli.job("j")
    assert (job["max_retries"], job["timeout"], job["priority"], job["queue"]) == (
        7,
        90.0,
        4,
        "builds",
    )
    assert job["cwd"] == str(cli.home / "sub") and job["env"] == {"A": "1", "B": "x=y"}
    assert job["run_at"] > job["created_at"]


def test_config_commands(cli):
    assert cli.ok("config", "get", "max-retries").strip() == "3"
    assert cli.json("config", "get", "backoff_base") == 2.0
    assert cli.ok("config", "set", "max-retries", "5").strip() == "max_retries = 5"
    assert cli.ok("config", "get", "max_retries").strip() == "5"
    cli.ok("run", "--id", "uses-config", "true")
    assert cli.job("uses-config")["max_retries"] == 5  # fixed at enqueue
    assert "max_retries = 5\n" in cli.ok("config", "show")
    assert "(default)" in cli.ok("config", "unset", "max_retries")
    assert cli.json("config", "show")["max_retries"] == 3
    assert cli.job("uses-config")["max_retries"] == 5
