"""SQLite files queuectl did not make: another application's database, a file that is not
SQLite at all. queuectl refuses them in one line and leaves every byte as it was; it
creates its store only in a new or empty file (SQLite only: a file's bytes are the point)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import Cli


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of `folder` with its bytes: a -wal or -shm file left behind shows too."""
    return {item.name: item.read_bytes() for item in sorted(folder.iterdir())}


def sqlite_file(path: Path, *statements: str) -> Path:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "files"
    made.mkdir()
    return made


@pytest.fixture
def cli_for(tmp_path: Path) -> Callable[[Path], Cli]:
    """The real CLI on the store at a path, with a data folder of its own."""
    home = tmp_path / "home"
    home.mkdir()
    return lambda path: Cli(str(path), home)


FOREIGN = {
    "users table": ("CREATE TABLE users (name TEXT)", "INSERT INTO users VALUES ('ann')"),
    "jobs table": (
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, what TEXT)",
        "INSERT INTO jobs (what) VALUES ('backup')",
    ),
    "in WAL mode": ("PRAGMA journal_mode = WAL", "CREATE TABLE notes (body TEXT)"),
    "header only": ("PRAGMA user_version = 7",),
    "application id": ("PRAGMA application_id = 1234",),
}


@pytest.mark.parametrize("statements", FOREIGN.values(), ids=FOREIGN.keys())
@pytest.mark.parametrize("command", [["run", "true"], ["status"], ["config", "show"]], ids=" ".join)
def test_another_applications_database_is_refused_untouched(folder, cli_for, statements, command):
    path = sqlite_file(folder / "other-app.db", *statements)
    before = folder_bytes(folder)
    result = cli_for(path)(*command)
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"queuectl: error: {path} is not a queuectl store: ")
    assert lines[0].endswith("; queuectl creates a store only in a new or empty file")
    assert folder_bytes(folder) == before


def test_the_refusal_names_the_tables(folder, cli_for):
    path = sqlite_file(folder / "app.db", *(f"CREATE TABLE t{i} (x)" for i in range(5)))
    result = cli_for(path)("status")
    assert "it holds another application's tables (t0, t1, t2, ...)" in result.stderr


@pytest.mark.parametrize(
    "content",
    [b"hello", b"not a database at all, " * 100, b"SQLite format 3\x00" + b"\xff" * 200],
    ids=["short", "text", "damaged header"],
)
def test_a_file_that_is_not_sqlite_is_refused_untouched(folder, cli_for, content):
    path = folder / "notes.txt"
    path.write_bytes(content)
    before = folder_bytes(folder)
    result = cli_for(path)("run", "true")
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [
        f"queuectl: error: cannot open the store {path}: file is not a database"
    ]
    assert folder_bytes(folder) == before


def test_an_empty_file_becomes_a_store(folder, cli_for):
    path = folder / "empty.db"
    path.touch()
    cli = cli_for(path)
    job_id = cli.ok("run", "true").strip()
    assert cli.state(job_id) == "pending"


def test_a_new_file_becomes_a_store_marked_as_queuectl(folder, cli_for):
    from queuectl.store.sqlite import APPLICATION_ID

    path = folder / "sub" / "new.db"
    cli_for(path).ok("run", "true")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_store_made_before_the_marker_is_still_queuectl(folder, cli_for):
    path = folder / "old.db"
    cli = cli_for(path)
    job_id = cli.ok("run", "true").strip()
    sqlite_file(path, "PRAGMA application_id = 0")  # as every store made before it
    assert cli.state(job_id) == "pending"
    cli.ok("run", "true")


@pytest.mark.parametrize("below", ["q.db", "a/b/q.db"])
def test_a_path_through_a_file_says_which_part_is_not_a_folder(folder, cli_for, below):
    blocking = folder / "plain-file"
    blocking.write_text("x")
    path = blocking / below
    result = cli_for(path)("run", "true")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"queuectl: error: cannot create the store {path}: {blocking} is not a folder"
    ]


def test_a_worker_log_folder_through_a_file_is_one_line(folder, cli_for):
    blocking = folder / "plain-file"
    blocking.write_text("x")
    cli = cli_for(folder / "q.db")
    cli.env["XDG_DATA_HOME"] = str(blocking)
    result = cli("worker", "start")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"queuectl: error: cannot write the worker log {cli.pool_log()}: {blocking} is not a folder"
    ]
