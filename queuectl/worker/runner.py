"""Run one command: spawn it in its own process group, capture its output, enforce its
timeout, stop its whole tree when asked, and account for what it used. Knows nothing of
the store."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Callable, Optional

from queuectl import lifecycle, platform
from queuectl.records import record
from queuectl.worker import spawning

TICK = 0.05  # seconds between checks while a command runs
DRAIN = 1.0  # seconds to wait for the last output once the command's group is gone
_REAP_POLL = 0.005  # seconds between looks at a leader without pidfd whose pipe is closed

# Why a command was stopped before it ended by itself.
TIMEOUT = "timeout"
CANCEL = "cancel"
LEASE_LOST = "lease lost"
COLD_STOP = "cold stop"


@record(frozen=True)
class Usage:
    """What the command used (SPEC §9): the rusage that wait4 reports for the shell, which
    covers the descendants it waited for. A grandchild the shell did not wait for (one left
    in the background, or escaped with setsid) is not counted."""

    cpu_user: float  # seconds
    cpu_system: float
    max_rss: int  # bytes: the largest resident set of the shell and its waited-for tree


# ru_maxrss is in KiB on Linux and the BSDs, in bytes on macOS.
_MAX_RSS_UNIT = 1 if sys.platform == "darwin" else 1024


@record
class RunResult:
    started_at: float
    finished_at: float
    exit_code: int | None
    error: str | None  # None when the command succeeded
    output: bytes
    output_total: int
    stopped: str | None = None  # TIMEOUT, CANCEL, LEASE_LOST, COLD_STOP or None
    signal: int | None = None  # the signal that ended the command, if one did (POSIX)
    usage: Usage | None = None  # None where the OS cannot tell (Windows, a start failure)


class OutputTail:
    """The last `limit` bytes of a command's output, and how many bytes it wrote in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._buffer = bytearray()
        self._lock = threading.Lock()  # the Windows reader thread feeds it

    def feed(self, data: bytes) -> None:
        with self._lock:
            self.total += len(data)
            if self.limit:
                self._buffer += data
                # Trim in large steps so that a chatty command costs O(1) per byte.
                if len(self._buffer) > 2 * self.limit + 65536:
                    del self._buffer[: -self.limit]

    def since(self, offset: int) -> tuple[int, bytes]:
        """(start, bytes) of what arrived after byte `offset`, within the kept tail."""
        with self._lock:
            kept = min(len(self._buffer), self.limit)
            start = max(offset, self.total - kept)
            return start, bytes(self._buffer[len(self._buffer) - (self.total - start) :])

    def tail(self) -> bytes:
        with self._lock:
            return bytes(self._buffer[-self.limit :]) if self.limit else b""


Tick = Callable[[OutputTail], Optional[str]]


def run_command(
    command: str,
    cwd: str,
    env: dict[str, str],
    tags: Mapping[str, str],
    timeout: float | None,
    output_limit: int,
    kill_grace: float,
    on_spawn: Callable[[int], None],
    on_tick: Tick,
    keep_alive: Callable[[], object] = lambda: None,
) -> RunResult:
    """Run `command` to its end, or until `timeout` or until `on_tick` (called every
    TICK seconds with the output so far) returns a reason to stop it. While a stop waits
    out the grace period, `keep_alive` is called instead of `on_tick`. `tags` (see
    `platform.attempt_tags`) join `env` and mark the processes of this run."""
    started = time.time()
    if not os.path.isdir(cwd):
        return RunResult(started, time.time(), None, f"no such directory: {cwd}", b"", 0)
    try:
        proc = spawning.start(command, cwd, {**env, **tags})
    except (OSError, ValueError) as exc:  # ValueError: text the OS cannot take (NUL, ...)
        reason = getattr(exc, "strerror", None) or exc
        return RunResult(started, time.time(), None, f"cannot start the command: {reason}", b"", 0)
    on_spawn(proc.pid)  # the leader of its own new session / process group
    output = OutputTail(output_limit)
    watcher = _watch(proc, output)
    stopped = _supervise(proc, watcher, timeout, kill_grace, output, on_tick, keep_alive)
    # A command may leave background processes in its group: stop them too, so that a job
    # owns its whole tree and nothing outlives its attempt.
    if platform.tree_alive(proc.pid):
        platform.stop_tree(proc.pid, kill_grace, keep_alive)
    _stop_escaped(proc.pid, tags, kill_grace, keep_alive)
    watcher.drain(DRAIN)
    assert proc.returncode is not None  # the watcher reaped it
    exit_code, error = lifecycle.exit_status(proc.returncode)
    if stopped == TIMEOUT:
        error = lifecycle.timed_out_error(timeout or 0)
    elif stopped is not None:
        error = stopped if stopped != CANCEL else lifecycle.CANCELED_ERROR
    # Only a real signal: the shell itself killed by one (the timeout's or a stop's SIGTERM
    # and SIGKILL included), not a shell that exited 128 + N because its child was.
    signal = -proc.returncode if proc.returncode < 0 else None
    return RunResult(
        started,
        time.time(),
        exit_code,
        error,
        output.tail(),
        output.total,
        stopped,
        signal,
        watcher.usage,
    )


def _watch(proc: spawning.Command, output: OutputTail) -> _PipeWatcher | _ThreadWatcher:
    if platform.IS_WINDOWS and isinstance(proc, subprocess.Popen):
        return _ThreadWatcher(proc, output)
    return _PipeWatcher(proc, output)


def _stop_escaped(
    leader: int, tags: Mapping[str, str], kill_grace: float, keep_alive: Callable[[], object]
) -> None:
    """Stop what left the command's group (setsid, a double fork). A worker that is a
    subreaper (Linux) adopted those processes when their parents exited, so a child left
    once the command has been reaped says there is something to look for: the /proc scan
    is not paid for the jobs (nearly all) that leave nothing behind. Stopped before the
    output is drained, as such a process may hold the pipe open."""
    if platform.reap_adopted(leader):
        platform.stop_attempt(
            tags, kill_grace, lambda: (platform.reap_adopted(leader), keep_alive()), adopted=True
        )
        platform.reap_adopted(leader)


def _supervise(
    proc: spawning.Command,
    watcher,
    timeout: float | None,
    kill_grace: float,
    output: OutputTail,
    on_tick: Tick,
    keep_alive: Callable[[], object],
) -> str | None:
    """Wait for the leader to exit, ticking; returns why it was stopped, if it was."""
    deadline = None if not timeout else time.monotonic() + timeout
    next_tick = time.monotonic() + TICK
    while True:
        now = time.monotonic()
        limit = next_tick if deadline is None else min(next_tick, deadline)
        if watcher.wait_exit(max(limit - now, 0)):
            return None
        now = time.monotonic()
        reason = TIMEOUT if deadline is not None and now >= deadline else None
        if reason is None and now >= next_tick:
            next_tick = now + TICK
            platform.reap_adopted(proc.pid)  # orphans that ended while the command runs
            reason = on_tick(output)
        if reason is not None:
            platform.stop_tree(proc.pid, kill_grace, lambda: (watcher.reap(False), keep_alive()))
            watcher.reap(True)
            watcher.close_exit_watch()
            return reason


class _PipeWatcher:
    """POSIX: one thread reads the output pipe and learns of the leader's exit at once,
    from a pidfd (Linux) or the pipe's end, through select; no sleeping poll loop, but for
    a leader that closed its output where there is no pidfd. It reaps the leader itself,
    with wait4, for the rusage."""

    def __init__(self, proc: spawning.Command, output: OutputTail) -> None:
        assert proc.stdout is not None  # spawning.start opens it
        self.proc = proc
        self.stdout = proc.stdout
        self.output = output
        self.fd: int | None = proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.pidfd: int | None = None
        self.usage: Usage | None = None
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(proc.pid)
            except OSError:  # a kernel before 5.3
                self.pidfd = None

    def wait_exit(self, timeout: float) -> bool:
        """Read output for up to `timeout` seconds; True once the leader has exited."""
        deadline = time.monotonic() + timeout
        while True:
            watched = [fd for fd in (self.fd, self.pidfd) if fd is not None]
            remaining = max(deadline - time.monotonic(), 0)
            if not watched:  # no pidfd, and the pipe is closed: poll the leader itself
                time.sleep(min(remaining, _REAP_POLL))
            else:
                ready, _, _ = select.select(watched, [], [], remaining)
                if self.fd in ready:
                    self._read_available()
            if self.reap(False):
                self.close_exit_watch()
                return True
            if time.monotonic() >= deadline:
                return False

    def reap(self, block: bool) -> bool:
        """Reap the leader if it has exited (wait for it if `block`): True once it has.
        wait4 in place of subprocess's waitpid, the same one call, also gives its rusage;
        the returncode is set as subprocess would, so that it does not wait again."""
        if self.proc.returncode is not None:
            return True
        try:
            pid, status, usage = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: no status, as subprocess would say
            self.proc.returncode = 0
            return True
        if pid == 0:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        # Microseconds, as the kernel counts them (not 0.0011639999999999999).
        user, system = round(usage.ru_utime, 6), round(usage.ru_stime, 6)
        self.usage = Usage(user, system, usage.ru_maxrss * _MAX_RSS_UNIT)
        return True

    def _read_available(self) -> None:
        while self.fd is not None:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not data:
                self._close_pipe()
                return
            self.output.feed(data)

    def drain(self, timeout: float) -> None:
        """Read what is left after the leader exited, until the pipe's end (bounded: a
        process outside the group could hold the pipe open)."""
        deadline = time.monotonic() + timeout
        while self.fd is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._close_pipe()
                return
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                self._read_available()

    def _close_pipe(self) -> None:
        self.stdout.close()
        self.fd = None

    def close_exit_watch(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class _ThreadWatcher:
    """Windows: pipes cannot be selected on, so a thread reads the output."""

    def __init__(self, proc: subprocess.Popen, output: OutputTail) -> None:
        assert proc.stdout is not None  # platform.spawn opens it
        self.proc = proc
        self.stdout = proc.stdout
        self.output = output
        self.usage: Usage | None = None  # a job object would tell; not read yet
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        fd = self.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.output.feed(data)

    def wait_exit(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def reap(self, block: bool) -> bool:
        return (self.proc.wait() if block else self.proc.poll()) is not None

    def drain(self, timeout: float) -> None:
        self.thread.join(timeout)
        self.stdout.close()

    def close_exit_watch(self) -> None:
        pass
