"""A store in a read-only place: reading commands (and the dashboard's pages) work, and
every command that would write says so in one line, exit 1, no traceback (SQLite only).

Root ignores file permissions, so the read-only place is a small tmpfs remounted
read-only: these tests need root and mount(8), and are skipped without them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl.store import queries
from tests.conftest import Cli, Pool, wait_for

READ_ONLY_FS = "it is on a read-only file system"
READS = [
    ["status", "--json"],
    ["list", "--json"],
    ["list", "--state", "dead", "--json"],
    ["show", "done", "--json"],
    ["logs", "done"],
    ["logs", "done", "--follow"],
    ["dlq", "list", "--json"],
    ["config", "show", "--json"],
    ["config", "get", "max_retries", "--json"],
    ["worker", "list", "--json"],
    ["wait", "done"],
]
WRITES = [
    ["run", "true"],
    ["enqueue", '{"command": "true"}'],
    ["enqueue", "-"],
    ["cancel", "later"],
    ["dlq", "retry", "--all"],
    ["dlq", "purge"],
    ["purge", "--state", "completed"],
    ["config", "set", "max_retries", "5"],
    ["config", "unset", "max_retries"],
    ["worker", "stop"],
    ["worker", "start"],
    ["worker", "start", "--foreground"],
]
BATCH = '{"command": "echo 1"}\n{"command": "echo 2"}\n'


class Mount:
    """A tmpfs of its own, to be made read-only and writable again."""

    def __init__(self, point: Path) -> None:
        self.point = point

    def _mount(self, *options: str) -> None:
        subprocess.run(["mount", *options, str(self.point)], check=True, capture_output=True)

    def read_only(self) -> None:
        self._mount("-o", "remount,ro")

    def writable(self) -> None:
        self._mount("-o", "remount,rw")

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.point)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(self.point)], capture_output=True)


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Mount]:
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only tmpfs (chmod does not stop root)")
    point = tmp_path / "mnt"
    point.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs: {made.stderr.strip()}")
    place = Mount(point)
    yield place
    place.unmount()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    made = tmp_path / "home"
    made.mkdir()
    return made


@pytest.fixture
def seeded(mount: Mount, home: Path) -> Cli:
    """A store on the mount with a completed, a dead and a pending job, made by a real
    worker that has exited since (so no -wal or -shm file is left)."""
    cli = Cli(str(mount.point / "queue.db"), home)
    cli.ok("config", "set", "max_retries", "0")
    cli.ok(
        "enqueue",
        "-",
        input='{"id": "done", "command": "echo hello"}\n'
        '{"id": "broken", "command": "exit 3"}\n'
        '{"id": "later", "command": "true", "delay": "1h"}\n',
    )
    pool = Pool(cli, 1)
    try:
        wait_for(
            lambda: cli.state("done") == "completed" and cli.state("broken") == "dead",
            message="the jobs to end",
        )
    finally:
        pool.stop()
    assert sorted(item.name for item in mount.point.iterdir()) == ["queue.db"]
    return cli


def assert_one_line(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [f"queuectl: error: {message}"], result.stderr


def test_reading_commands_read_a_store_on_a_read_only_file_system(seeded, mount):
    before = {" ".join(args): seeded.ok(*args) for args in READS}
    mount.read_only()
    for args in READS:
        assert seeded.ok(*args) == before[" ".join(args)], args
    stats = json.loads(seeded.ok("stats", "--json"))
    assert stats["total"]["completed"] == 1 and stats["total"]["dead"] == 1


@pytest.mark.parametrize("args", WRITES, ids=" ".join)
def test_writing_commands_say_the_store_is_read_only(seeded, mount, args):
    mount.read_only()
    result = seeded(*args, input=BATCH)
    assert_one_line(result, f"the store {seeded.location} is read-only: {READ_ONLY_FS}")


def test_changes_a_writer_left_in_the_wal_are_read(seeded, mount):
    # A writer that dies leaves its -wal and -shm files: the change is only in the -wal.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sqlite3, sys; "
            "conn = sqlite3.connect(sys.argv[1]); "
            "conn.execute(\"UPDATE config SET value = '9' WHERE key = 'max_retries'\"); "
            "conn.commit(); os._exit(0)",
            seeded.location,
        ],
        check=True,
    )
    assert (mount.point / "queue.db-wal").stat().st_size > 0
    mount.read_only()
    assert seeded.ok("config", "get", "max_retries") == "9\n"
    assert_one_line(
        seeded("run", "true"), f"the store {seeded.location} is read-only: {READ_ONLY_FS}"
    )
    mount.writable()
    (mount.point / "queue.db-shm").unlink()  # then SQLite cannot read the -wal
    mount.read_only()
    assert_one_line(
        seeded("status"),
        f"cannot read the store {seeded.location}: SQLite needs "
        f"{seeded.location}-shm for it and cannot make it: {READ_ONLY_FS}",
    )


def test_nothing_can_be_created_in_a_read_only_place(mount, home):
    mount.read_only()
    new = mount.point / "new.db"
    assert_one_line(
        Cli(str(new), home)("run", "true"), f"cannot create the store {new}: {READ_ONLY_FS}"
    )
    deeper = mount.point / "sub" / "new.db"
    assert_one_line(
        Cli(str(deeper), home)("run", "true"),
        f"cannot create the store {deeper}: Read-only file system",
    )
    # A reading command would not create one anywhere (tests/cli/test_reads_and_durations.py).
    assert_one_line(
        Cli(str(new), home)("status"),
        f"no queue store at {new}; it is created by the first run/enqueue/worker start",
    )
    assert list(mount.point.iterdir()) == []


def test_an_empty_file_in_a_read_only_place_is_one_line(mount, home):
    empty = mount.point / "empty.db"
    empty.touch()
    mount.read_only()
    assert_one_line(
        Cli(str(empty), home)("status"), f"the store {empty} is empty and read-only: {READ_ONLY_FS}"
    )


def test_a_read_only_store_that_needs_an_upgrade_is_one_line(seeded, mount):
    with sqlite3.connect(seeded.location) as conn:
        conn.execute("PRAGMA user_version = 1")  # as a store of an older release
    conn.close()
    mount.read_only()
    assert_one_line(
        seeded("status"),
        f"the store {seeded.location} has schema version 1 and is read-only "
        f"({READ_ONLY_FS}): open it once where it can be written, to upgrade it "
        f"to version {queries.schema_version('sqlite')}",
    )


def test_worker_start_with_a_read_only_data_folder_is_one_line(mount, tmp_path, home):
    cli = Cli(str(tmp_path / "store" / "queue.db"), home)
    cli.env["XDG_DATA_HOME"] = str(mount.point)
    mount.read_only()
    log = cli.pool_log()
    assert_one_line(
        cli("worker", "start"), f"cannot write the worker log {log}: Read-only file system"
    )


def test_the_dashboard_reads_a_read_only_store_and_refuses_changes(seeded, mount):
    from tests.dashboard.conftest import Dashboard

    mount.read_only()
    dash = Dashboard(seeded)
    try:
        assert dash.get_json("/api/status")["counts"]["completed"] == 1
        assert dash.get_json("/api/jobs/done")["job"]["state"] == "completed"
        assert dash.get("/metrics").status == 200
        for path, body in (("/api/jobs/later/cancel", None), ("/api/dlq/retry", {"all": True})):
            refused = dash.post(path, body)
            assert refused.status == 503, refused
            assert refused.json()["error"] == (
                f"the store {seeded.location} is read-only: {READ_ONLY_FS}"
            )
    finally:
        assert dash.stop() == 0
