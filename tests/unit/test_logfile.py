"""The pool log's file name, and appending with rotation (worker/logfile.py)."""

from __future__ import annotations

import re

import pytest

from queuectl.worker import logfile

SAFE_NAME = re.compile(r"worker-[A-Za-z0-9_.-]+-[0-9a-f]{8}\.log")


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_a_sqlite_log_is_named_after_the_file(tmp_path):
    path = logfile.log_path(str(tmp_path / "jobs" / "my queue.db"))
    assert path.parent == tmp_path / "data" / "queuectl"
    assert SAFE_NAME.fullmatch(path.name) and path.name.startswith("worker-my_queue-")
    assert logfile.log_path(str(tmp_path / "jobs" / "my queue.db")) == path  # stable
    assert logfile.log_path(str(tmp_path / "other" / "my queue.db")) != path


def test_a_postgres_log_name_never_holds_the_password():
    url = "postgresql://me:s3cret@db.example:5433/jobs?password=hidden&sslmode=require"
    path = logfile.log_path(url)
    assert SAFE_NAME.fullmatch(path.name) and path.name.startswith("worker-jobs-")
    assert "s3cret" not in str(path) and "hidden" not in str(path)
    # The same store whatever its password: one log.
    assert logfile.log_path(url.replace("s3cret", "other")) == path
    assert logfile.log_path(url.replace("password=hidden&", "")) == path
    # Another schema or database: another log.
    assert logfile.log_path(url + "&options=-csearch_path%3Dt_1") != path
    assert logfile.log_path(url.replace("/jobs?", "/other?")) != path


def test_an_odd_name_is_made_safe():
    assert SAFE_NAME.fullmatch(logfile.log_path("postgresql://h/").name)
    assert SAFE_NAME.fullmatch(logfile.log_path("/tmp/..../ü*?:.db").name)


def test_append_renames_a_full_log_to_dot_one(tmp_path):
    log = str(tmp_path / "pool.log")
    for n in range(10):
        logfile.append(log, f"line {n}\n".encode(), 20)
    with open(log) as current, open(log + ".1") as old:
        assert current.read() == "line 8\nline 9\n"  # 7 bytes each: two fit in 20
        assert old.read() == "line 6\nline 7\n"


def test_a_size_of_zero_never_renames(tmp_path):
    log = str(tmp_path / "pool.log")
    for n in range(10):
        logfile.append(log, f"line {n}\n".encode(), 0)
    assert not (tmp_path / "pool.log.1").exists()
    assert (tmp_path / "pool.log").read_text().count("\n") == 10


def test_stray_output_is_appended_in_whole_lines(tmp_path):
    log = tmp_path / "pool.log"
    writer = logfile._LineWriter(logfile.SharedLogHandler(str(log), 0))
    writer.write("Traceback (most")
    assert not log.exists()  # half a line waits for its end
    writer.write(" recent call last):\n  File")
    assert log.read_text() == "Traceback (most recent call last):\n"
    writer.flush()
    assert log.read_text().endswith("\n  File\n")


def test_stray_output_to_a_log_that_cannot_be_written_is_dropped(tmp_path):
    writer = logfile._LineWriter(logfile.SharedLogHandler(str(tmp_path / "no" / "pool.log"), 0))
    assert writer.write("lost\n") == 5
