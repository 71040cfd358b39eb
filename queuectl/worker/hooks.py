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
from queuectl.worker.runner import OutputTail

log = logging.getLogger("queuectl.hooks")

MOST_AT_ONCE = 8  # hooks one pool runs at a time; the others wait in the store
OUTPUT_WAIT = 5.0  # seconds to collect the output of a hook once its shell ended
OUTPUT_KEPT = 65536  # bytes of a hook's output kept for the pool log: its tail


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
        """The tail of the hook's output once it ended, and why it was stopped (None: it
        ended by itself). Past the time limit, or at a cold stop, its process group is
        stopped. A thread reads the pipe into a bounded tail: a chatty hook costs the pool
        no more memory than OUTPUT_KEPT."""
        output = OutputTail(OUTPUT_KEPT)
        reader = threading.Thread(target=_pump, args=(proc, output), daemon=True)
        reader.start()
        deadline = time.monotonic() + self.time_limit
        stopped = None
        while stopped is None:
            try:
                proc.wait(timeout=min(0.2, max(deadline - time.monotonic(), 0)))
                break
            except subprocess.TimeoutExpired:
                if self._stopping.is_set():
                    stopped = "stopped: the pool stopped cold"
                elif time.monotonic() >= deadline:
                    stopped = f"stopped: {lifecycle.timed_out_error(self.time_limit)}"
        if stopped is not None:
            platform.stop_tree(proc.pid, kill_grace, proc.poll)
        reader.join(OUTPUT_WAIT)  # a stray of the hook may hold the pipe open
        return output.tail(), stopped


def _pump(proc: subprocess.Popen, output: OutputTail) -> None:
    assert proc.stdout is not None  # platform.spawn opens it
    with proc.stdout as stdout:
        for data in iter(lambda: os.read(stdout.fileno(), 65536), b""):
            output.feed(data)
