"""The job body every peer runs (workload 7): the same shell command through `subprocess`,
then one fixed-size line with the moment the body started appended to a "done" file, which
the benchmark polls (its size says how many jobs are done)."""

from __future__ import annotations

import os
import subprocess
import time

LINE = 18  # b"%17.6f\n" % time.time(): 10 digits, a dot, 6 digits, a newline


def body(done_path: str) -> None:
    started = time.time()
    subprocess.run("true", shell=True)
    record(done_path, started)


def record(done_path: str, started: float) -> None:
    fd = os.open(done_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"%17.6f\n" % started)  # one write under O_APPEND: atomic
    finally:
        os.close(fd)


def done_count(done_path: str) -> int:
    try:
        return os.stat(done_path).st_size // LINE
    except FileNotFoundError:
        return 0


def started_at(done_path: str, index: int) -> float:
    with open(done_path, "rb") as handle:
        handle.seek(index * LINE)
        return float(handle.read(LINE))
