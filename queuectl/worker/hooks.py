"""Running hooks (SPEC §9), for the pool supervisor: it takes the duties the store recorded
as jobs ended and runs each command in a thread of its own, by the shell, in the job's cwd,
its output and outcome to the pool's log, for at most `hooks.TIME_LIMIT` seconds.

Hooks run beside the workers, never in them: a slow or hanging hook delays no claim. A
duty is deleted as it is taken, so a pool killed while its hooks run never runs them
again (at most once); one that stops warm first lets its running hooks end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time

from queuectl import lifecycle, platform
from queuectl.errors import StoreError
from queuectl.hooks import TIME_LIMIT, HookDuty
from queuectl.store.base import Store

log = logging.getLogger("queuectl.hooks")

MOST_AT_ONCE = 8  # hooks one pool runs at a time; the others wait in the store
OUTPUT_WAIT = 5.0  # seconds to collect the output of a stopped hook's group


class HookRunner:
    """The hooks one pool is running, each in a thread."""

    def __init__(self, time_limit: float = TIME_LIMIT) -> None:
        self.time_limit = time_limit
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()  # a cold stop: running hooks are stopped now

    def start_due(self, store: Store, kill_grace: float) -> int:
        """Take the duties waiting (as many as there is room for) and start their hooks,
        each stopped with `kill_grace` if it must be; the number started. A store that is
        away is the upkeep's to report."""
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        room = MOST_AT_ONCE - len(self._threads)
        if room <= 0:
            return 0
        duties: list[HookDuty] = []
        with contextlib.suppress(StoreError):
            duties = store.take_hook_duties(room)
        for duty in duties:
            thread = threading.Thread(
                target=self._run, args=(duty, kill_grace), name=f"hook-{duty.job_id}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return len(duties)

    def running(self) -> int:
        return sum(1 for thread in self._threads if thread.is_alive())

    def stop(self) -> None:
        """Stop the running hooks' process groups (a cold stop of the pool)."""
        self._stopping.set()

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, duty: HookDuty, kill_grace: float) -> None:
        told = f"hook of job {duty.job_id} ({duty.state})"
        try:
            proc = platform.spawn(duty.command, duty.cwd, {**os.environ, **duty.environment()})
        except OSError as exc:  # a cwd gone since: the hook cannot start
            log.error("%s could not start: %s", told, exc.strerror or exc)
            return
        output, stopped = self._wait(proc, kill_grace)
        for line in output.decode("utf-8", "replace").splitlines():
            log.info("%s: %s", told, line)
        if stopped is not None:
            log.error("%s %s", told, stopped)
            return
        _, error = lifecycle.exit_status(proc.returncode)
        if error is None:
            log.info("%s done", told)
        else:
            log.error("%s failed: %s", told, error)

    def _wait(self, proc: subprocess.Popen, kill_grace: float) -> tuple[bytes, str | None]:
        """The hook's output once it ended, and why it was stopped (None: it ended by
        itself). Past the time limit, or at a cold stop, its process group is stopped."""
        deadline = time.monotonic() + self.time_limit
        while not self._stopping.is_set():
            try:  # a retried communicate loses none of the output read so far
                out, _ = proc.communicate(timeout=min(0.2, max(deadline - time.monotonic(), 0)))
                return out or b"", None
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    break
        platform.stop_tree(proc.pid, kill_grace, proc.poll)
        out = b""
        with contextlib.suppress(subprocess.TimeoutExpired):  # a stray holds the pipe open
            out, _ = proc.communicate(timeout=OUTPUT_WAIT)
        if self._stopping.is_set():
            return out or b"", "stopped: the pool stopped cold"
        return out or b"", f"stopped: {lifecycle.timed_out_error(self.time_limit)}"
