"""A pool rides out a store it cannot use for a while: a PostgreSQL server that restarts,
refuses connections or kills its backends, and a full disk under SQLite. Through each one
no worker dies, nothing is lost and nothing runs twice: checked from what the jobs write."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, Pool, one_at_a_time, wait_for

# One worker runs the module, so the module's private cluster is made once; and where a
# restart lands among the pool's claims matters, so no load test runs beside it.
pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX file systems"),
    one_at_a_time,
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(message: str) -> None:
    """Skip a fault test that this machine cannot set up; in CI that is a failure."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- what the jobs record ----------------------------------------------------------------


def recording_command(runs: Path, seconds: float, output_bytes: int = 0) -> str:
    """A job that writes a start and an end line with its id and attempt to `runs` (and
    `output_bytes` of output, which its attempt's record then holds)."""
    line = '"$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT'
    output = f"head -c {output_bytes} /dev/zero | tr '\\0' x; " if output_bytes else ""
    return f'echo {line} start" >> {runs}; {output}sleep {seconds}; echo {line} end" >> {runs}'


def run_counts(runs: Path) -> Counter:
    """How many times each job's command ran to its end."""
    if not runs.exists():
        return Counter()
    return Counter(
        line.split()[0] for line in runs.read_text().splitlines() if line.endswith(" end")
    )


def enqueue_recording_jobs(
    cli: Cli, runs: Path, count: int, seconds: float, output_bytes: int = 0
) -> list[str]:
    command = recording_command(runs, seconds, output_bytes)
    lines = "".join(json.dumps({"id": f"job-{n}", "command": command}) + "\n" for n in range(count))
    return cli.ok("enqueue", "-", input=lines).split()


def assert_each_ran_once(cli: Cli, ids: list[str], runs: Path, started: Pool) -> None:
    wait_for(
        lambda: all(job["state"] == "completed" for job in cli.json("list", "--limit", "1000")),
        timeout=180,
        message="every job completed",
    )
    assert run_counts(runs) == Counter({job_id: 1 for job_id in ids})
    for job_id in ids:
        attempts = cli.json("show", job_id)["attempts"]
        assert [a["outcome"] for a in attempts] == ["completed"], (job_id, attempts)
    assert started.proc.poll() is None, "the pool died"
    log = Path(started.log.name).read_text()
    assert "Traceback" not in log, log


# --- a private PostgreSQL cluster ----------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


class PrivateCluster:
    """A PostgreSQL server of the test's own, run as the `postgres` user, that the test
    may restart, stop and start as it likes."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="queuectl-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def _ctl(self, action: str, *args: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
        )
        self._run(
            "pg_ctl",
            action,
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            *args,
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str) -> None:
        self._ctl("restart", "-m", mode)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    bin_dir = _postgres_bin()
    if bin_dir is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        unavailable("a private PostgreSQL cluster needs root, runuser and the server binaries")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed")
    started = PrivateCluster(bin_dir)
    yield started
    started.remove()


@pytest.fixture
def pg_cli(cluster: PrivateCluster, tmp_path: Path) -> Cli:
    """A CLI on a fresh database of the private cluster."""
    database = "t_" + uuid.uuid4().hex[:12]
    cluster.sql(f"CREATE DATABASE {database}")
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(cluster.url(database), home)
    cli.ok("config", "set", "poll_interval", "0.2")
    return cli


def wait_for_runs(runs: Path, count: int, timeout: float = 60) -> None:
    wait_for(
        lambda: sum(run_counts(runs).values()) >= count,
        timeout=timeout,
        message=f"{count} finished runs",
    )


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_pool_rides_out_a_server_restart(cluster, pg_cli, pool_of, tmp_path, mode):
    runs = tmp_path / "runs"
    ids = enqueue_recording_jobs(pg_cli, runs, 60, 0.1)
    started = pool_of(pg_cli, 2)
    wait_for_runs(runs, 10)
    cluster.restart(mode)
    wait_for_runs(runs, 30)
    cluster.restart(mode)
    assert_each_ran_once(pg_cli, ids, runs, started)


def test_a_pool_rides_out_a_ten_second_outage(cluster, pg_cli, pool_of, tmp_path):
    runs = tmp_path / "runs"
    ids = enqueue_recording_jobs(pg_cli, runs, 40, 0.2)
    started = pool_of(pg_cli, 2)
    wait_for_runs(runs, 5)
    cluster.stop("fast")
    time.sleep(10)  # the outage itself: connections are refused meanwhile
    cluster.start()
    assert_each_ran_once(pg_cli, ids, runs, started)
    log = Path(started.log.name).read_text()
    assert "trying again until it works" in log and "the store works again" in log


def test_a_pool_rides_out_killed_backends(cluster, pg_cli, pool_of, tmp_path):
    runs = tmp_path / "runs"
    ids = enqueue_recording_jobs(pg_cli, runs, 40, 0.1)
    started = pool_of(pg_cli, 2)
    database = pg_cli.location.rsplit("/", 1)[1]
    for done in (5, 15, 25):
        wait_for_runs(runs, done)
        cluster.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )
    assert_each_ran_once(pg_cli, ids, runs, started)


# --- a full disk -----------------------------------------------------------------------


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 4 MiB tmpfs, mounted for the test."""
    if os.geteuid() != 0 or sys.platform != "linux":
        unavailable("mounting a small tmpfs needs root on Linux")
    mount_point = Path(tempfile.mkdtemp(prefix="queuectl-full-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        mount_point.rmdir()
        unavailable(f"cannot mount a tmpfs: {result.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)
    mount_point.rmdir()


def fill(disk: Path) -> Path:
    """Write a file until the file system is full."""
    filler = disk / "filler"
    # The last write may fail in the flush that closing the file makes, past the loop.
    with contextlib.suppress(OSError), filler.open("wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def test_a_pool_rides_out_a_full_disk(small_disk, pool_of, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(str(small_disk / "queue.db"), home)
    cli.ok("config", "set", "poll_interval", "0.2")
    runs = tmp_path / "runs"  # on another file system: the jobs' record survives
    # Each attempt's record holds 64 KiB of output, so that the WAL must grow to take it.
    ids = enqueue_recording_jobs(cli, runs, 30, 0.1, output_bytes=65536)
    started = pool_of(cli, 2)
    wait_for_runs(runs, 5)
    filler = fill(small_disk)
    log = Path(started.log.name)
    wait_for(
        lambda: "database or disk is full" in log.read_text(),
        timeout=60,
        message="the pool to meet the full disk",
    )
    time.sleep(2)  # the disk stays full for a while, as it would for a person
    filler.unlink()
    assert_each_ran_once(cli, ids, runs, started)
    assert "the store works again" in log.read_text()
