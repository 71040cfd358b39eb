"""Accounting (SPEC §9): what each attempt's command used, from wait4, and the signal
that ended it; shown by show, stats, /metrics and the job log (`queuectl attempts`)."""

from __future__ import annotations

import csv
import io
import shlex
import subprocess
import sys

from queuectl.service import LOG_COLUMNS
from tests.conftest import wait_for

MIB = 2**20
PYTHON = shlex.quote(sys.executable)
# 0.6 s of CPU, nearly all in user mode, however long the machine makes it take.
BURN = PYTHON + (
    " -c 'import time\nt = time.process_time()\n"
    "while time.process_time() - t < 0.6: sum(range(100000))'"
)
ALLOCATE = PYTHON + " -c 'b = bytearray(200 * 2**20)'"


def _run_all(cli, *commands: str) -> list[str]:
    ids = [
        cli.ok("run", "--max-retries", "0", "--queue", "acct", command).strip()
        for command in commands
    ]
    for job_id in ids:
        wait_for(lambda job_id=job_id: cli.state(job_id) in ("completed", "dead"), timeout=60)
    return ids


def test_an_attempt_records_its_cpu_memory_and_signal(fast_config, pool):
    cli = fast_config
    pool(1)
    burn, allocate, killed = _run_all(cli, BURN, ALLOCATE, "kill -KILL $$")
    [burnt] = cli.json("show", burn)["attempts"]
    assert burnt["cpu_user"] >= 0.3 and burnt["cpu_system"] >= 0, burnt
    assert burnt["signal"] is None and burnt["max_rss"] > 0
    [allocated] = cli.json("show", allocate)["attempts"]
    assert allocated["max_rss"] >= 150 * MIB, allocated
    [self_killed] = cli.json("show", killed)["attempts"]
    assert (self_killed["signal"], self_killed["exit_code"]) == (9, 137)
    shown = cli.ok("show", allocate)
    assert "MAX RSS" in shown and "MiB" in shown and "CPU" in shown

    stats = cli.json("stats")["queues"]["acct"]
    assert stats["cpu_seconds"] >= 0.3
    assert stats["p95_max_rss"] >= 150 * MIB  # the largest of three: nearest rank


def test_a_timeout_records_the_signal_that_stopped_the_command(fast_config, pool):
    cli = fast_config
    pool(1)
    job_id = cli.ok("run", "--max-retries", "0", "--timeout", "0.5", "sleep 30").strip()
    wait_for(lambda: cli.state(job_id) == "dead", timeout=60)
    [attempt] = cli.json("show", job_id)["attempts"]
    assert attempt["signal"] == 15 and attempt["error"].startswith("timed out")


def test_the_job_log_is_newest_first_with_filters_json_and_csv(fast_config, pool):
    cli = fast_config
    pool(1)
    ok, failed = _run_all(cli, "echo 'a, \"quoted\"'", "echo x; exit 3")
    grouped = cli.ok("run", "--group", "g1", "true").strip()
    wait_for(lambda: cli.state(grouped) == "completed", timeout=60)

    rows = cli.json("attempts")
    assert [row["job_id"] for row in rows] == [grouped, failed, ok]
    assert list(rows[0]) == list(LOG_COLUMNS)
    assert rows[1]["outcome"] == "dead" and rows[1]["exit_code"] == 3
    assert rows[1]["error"] == "exit code 3" and rows[1]["queue"] == "acct"
    assert rows[0]["group"] == "g1" and rows[0]["host"] and rows[0]["worker_id"]
    assert rows[0]["wall_seconds"] >= 0 and rows[0]["cpu_user"] is not None
    assert [r["job_id"] for r in cli.json("attempts", "--outcome", "dead")] == [failed]
    assert [r["job_id"] for r in cli.json("attempts", "--queue", "acct")] == [failed, ok]
    assert [r["job_id"] for r in cli.json("attempts", "--group", "g1")] == [grouped]
    assert [r["job_id"] for r in cli.json("attempts", "--limit", "1")] == [grouped]
    assert len(cli.json("attempts", "--since", "1h")) == 3

    raw = subprocess.run(cli.argv("attempts", "--csv"), env=cli.env, capture_output=True)
    text = raw.stdout.decode()
    assert text.startswith(",".join(LOG_COLUMNS) + "\r\n")  # RFC 4180: a header, CRLF
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["job_id"] for row in parsed] == [grouped, failed, ok]
    assert parsed[1]["error"] == "exit code 3" and parsed[0]["group"] == "g1"
    table = cli.ok("attempts", "--outcome", "dead")
    assert table.splitlines()[0].split()[:3] == ["JOB", "ATTEMPT", "QUEUE"] and failed in table


def test_the_job_log_rejects_bad_options_in_one_line(cli):
    for args in (
        ("--since", "soon"),
        ("--outcome", "processing"),
        ("--outcome", "bogus"),
        ("--json", "--csv"),
        ("--limit", "0"),
    ):
        result = cli("attempts", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert len([line for line in result.stderr.splitlines() if "error" in line]) == 1
    assert cli.json("attempts") == []
