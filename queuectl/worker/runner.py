"""Run one command: spawn it in its own process group, capture its output, enforce its
timeout, and stop its whole tree when asked. Knows nothing of the store."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from queuectl import lifecycle, platform

TICK = 0.05  # seconds between checks while a command runs
READER_JOIN = 1.0  # seconds to wait for the last output once the command's group is gone

# Why a command was stopped before it ended by itself.
TIMEOUT = "timeout"
CANCEL = "cancel"
LEASE_LOST = "lease lost"
COLD_STOP = "cold stop"


@dataclass
class RunResult:
    started_at: float
    finished_at: float
    exit_code: int | None
    error: str | None  # None when the command succeeded
    output: bytes
    output_total: int
    stopped: str | None = None  # TIMEOUT, CANCEL, LEASE_LOST, COLD_STOP or None


class OutputTail:
    """Reads a pipe on a thread, keeping the last `limit` bytes and the total count."""

    def __init__(self, stream, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._fd = stream.fileno()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.total += len(data)
                if self.limit:
                    self._buffer += data
                    # Trim in large steps so that a chatty command costs O(1) per byte.
                    if len(self._buffer) > 2 * self.limit + 65536:
                        del self._buffer[:-self.limit]

    def since(self, offset: int) -> tuple[int, bytes]:
        """(start, bytes) of what arrived after byte `offset`, within the kept tail."""
        with self._lock:
            kept = min(len(self._buffer), self.limit)
            start = max(offset, self.total - kept)
            return start, bytes(self._buffer[len(self._buffer) - (self.total - start):])

    def tail(self) -> bytes:
        with self._lock:
            return bytes(self._buffer[-self.limit:]) if self.limit else b""

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


Tick = Callable[[OutputTail], Optional[str]]


def run_command(command: str, cwd: str, env: dict[str, str], timeout: float | None,
                output_limit: int, kill_grace: float, on_spawn: Callable[[int], None],
                on_tick: Tick) -> RunResult:
    """Run `command` to its end, or until `timeout` or until `on_tick` (called every
    TICK seconds with the output so far) returns a reason to stop it."""
    started = time.time()
    if not os.path.isdir(cwd):
        return RunResult(started, time.time(), None, f"no such directory: {cwd}", b"", 0)
    try:
        proc = platform.spawn(command, cwd, env)
    except OSError as exc:
        error = f"cannot start the command: {exc.strerror or exc}"
        return RunResult(started, time.time(), None, error, b"", 0)
    pgid = proc.pid  # the leader of its own new session / process group
    on_spawn(pgid)
    output = OutputTail(proc.stdout, output_limit)
    stopped = _supervise(proc, timeout, kill_grace, output, on_tick)
    # A command may leave background processes in its group: stop them too, so that a job
    # owns its whole tree and nothing outlives its attempt.
    if platform.tree_alive(pgid):
        platform.stop_tree(pgid, kill_grace)
    output.join(READER_JOIN)
    proc.stdout.close()
    exit_code, error = lifecycle.exit_status(proc.returncode)
    if stopped == TIMEOUT:
        error = lifecycle.timed_out_error(timeout or 0)
    elif stopped is not None:
        error = stopped if stopped != CANCEL else lifecycle.CANCELED_ERROR
    return RunResult(started, time.time(), exit_code, error, output.tail(), output.total, stopped)


def _supervise(proc: subprocess.Popen, timeout: float | None, kill_grace: float,
               output: OutputTail, on_tick: Tick) -> str | None:
    deadline = None if not timeout else time.monotonic() + timeout
    while True:
        step = TICK if deadline is None else max(min(TICK, deadline - time.monotonic()), 0)
        try:
            proc.wait(step)
            return None
        except subprocess.TimeoutExpired:
            pass
        reason = TIMEOUT if deadline is not None and time.monotonic() >= deadline else None
        reason = reason or on_tick(output)
        if reason is not None:
            platform.stop_tree(proc.pid, kill_grace, reap=proc.poll)
            proc.wait()
            return reason
