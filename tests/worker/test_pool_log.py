"""A background pool's log: one file per store, one line per finished attempt, rotated at
the `log_max_size` setting while real workers write to it."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.conftest import Cli, wait_for
from tests.worker.test_pool import process_running

ATTEMPT = re.compile(r"job (\S+) attempt (\d+) (.+) \(exit (\S+), ran ([0-9.e+-]+) s\)$")
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \[\d+\] ")


@pytest.fixture
def detached():
    """Starts background pools (``detached(cli, count)``, returning what `worker start`
    printed on stderr) and makes sure they are gone at teardown."""
    started: list[tuple[Cli, list[int]]] = []

    def start(cli: Cli, count: int = 1) -> str:
        result = cli("worker", "start", "--count", str(count))
        assert result.returncode == 0, result.stderr
        started.append((cli, [int(line.split()[1]) for line in result.stdout.splitlines()]))
        return result.stderr

    yield start
    for cli, pids in started:
        cli("worker", "stop", "--wait", "--timeout", "20")
        for pid in pids:
            if process_running(pid):
                os.kill(pid, signal.SIGKILL)


def attempts_logged(*logs: Path) -> list[tuple[str, int, str, str]]:
    """(job id, attempt, outcome, exit code) of each attempt line, in order."""
    return [line[:4] for line in attempt_lines(*logs)]


def attempt_lines(*logs: Path) -> list[tuple[str, int, str, str, float]]:
    """(job id, attempt, outcome, exit code, run time) of each attempt line, in order."""
    found = []
    for log in logs:
        for line in log.read_text().splitlines():
            match = ATTEMPT.search(line)
            if match:
                job_id, number, outcome, exit_code, ran = match.groups()
                found.append((job_id, int(number), outcome, exit_code, float(ran)))
    return found


def stop(cli: Cli) -> None:
    result = cli("worker", "stop", "--wait", "--timeout", "30")
    assert result.returncode == 0, result.stderr


def test_one_line_per_finished_attempt(fast_config, detached):
    cli = fast_config
    said = detached(cli, 2)
    assert f"log: {cli.pool_log()}" in said
    cli.ok("run", "--id", "ok", "true")
    cli.ok("run", "--id", "bad", "--max-retries", "0", "exit 3")
    cli.ok("run", "--id", "again", "--max-retries", "1", "exit 4")
    cli.ok("run", "--id", "slow", "--max-retries", "0", "--timeout", "0.2", "sleep 30")
    cli("wait", "ok", "bad", "again", "slow", timeout=60)
    stop(cli)
    logged = attempt_lines(cli.pool_log())
    assert sorted(line[:4] for line in logged if line[0] != "slow") == [
        ("again", 1, "failed, retry in 1s", "4"),
        ("again", 2, "failed, dead", "4"),
        ("bad", 1, "failed, dead", "3"),
        ("ok", 1, "completed", "0"),
    ]
    slow = [line for line in logged if line[0] == "slow"]
    assert [line[:3] for line in slow] == [("slow", 1, "timed out, dead")]
    assert slow[0][4] >= 0.2 and all(line[4] >= 0 for line in logged)


def test_two_stores_get_two_logs(cli, tmp_path, detached):
    other = Cli(str(tmp_path / "elsewhere" / "queue.db"), cli.home)
    assert cli.pool_log() != other.pool_log()
    for each, job_id in ((cli, "here"), (other, "there")):
        detached(each)
        each.ok("run", "--id", job_id, "true")
        each.ok("wait", job_id)
        stop(each)
    assert attempts_logged(cli.pool_log()) == [("here", 1, "completed", "0")]
    assert attempts_logged(other.pool_log()) == [("there", 1, "completed", "0")]
    assert other.pool_log().name.startswith("worker-queue-")


def test_the_log_is_renamed_at_its_size(cli, detached):
    cli.ok("config", "set", "log_max_size", "1K")
    detached(cli, 2)
    ids = [cli.ok("run", "true").strip() for _ in range(30)]
    cli.ok("wait", *ids, timeout=120)
    stop(cli)
    log = cli.pool_log()
    old = log.with_name(log.name + ".1")
    wait_for(old.exists, message="the rotated log")
    for each in (log, old):
        assert each.stat().st_size <= 1024
        lines = each.read_text().splitlines()
        assert lines and all(RECORD.match(line) for line in lines), lines
    # Only one old file is kept: the first attempts are gone, the last ones are there.
    kept = [job_id for job_id, *_ in attempts_logged(old, log)]
    assert ids[-1] in kept and ids[0] not in kept
    assert len(kept) == len(set(kept))


def test_a_foreground_pool_logs_attempts_to_stderr(cli, pool):
    started = pool(1)
    cli.ok("run", "--id", "seen", "exit 2", "--max-retries", "0")
    cli("wait", "seen")
    wait_for(
        lambda: (
            "job seen attempt 1 failed, dead (exit 2, ran " in Path(started.log.name).read_text()
        ),
        message="the attempt's line on stderr",
    )
    assert not cli.pool_log().exists()


def test_a_lost_attempt_has_its_line_too(fast_config, pool):
    cli = fast_config
    started = pool(1)
    cli.ok("run", "--id", "orphan", "--max-retries", "0", "sleep 30")
    wait_for(lambda: cli.state("orphan") == "processing")
    os.kill(next(iter(started.workers.values())), signal.SIGKILL)
    wait_for(lambda: cli.state("orphan") == "dead", timeout=60)
    log = Path(started.log.name)
    wait_for(
        lambda: "job orphan attempt 1 lost, dead (exit -, ran " in log.read_text(),
        message="the lost attempt's line",
    )
