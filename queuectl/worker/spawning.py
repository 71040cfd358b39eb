"""How a worker starts a job's command on POSIX: `/bin/sh -c` with `os.posix_spawn`, which
costs the worker about half the CPU of `subprocess.Popen` (its Python-level set-up).
Elsewhere, and where posix_spawn cannot start a new session, `platform.spawn`.

posix_spawn cannot change the child's working directory (Python has no such file action),
so the worker changes its own around the call, under a lock, and changes back. A spawned child
keeps every file descriptor not marked close-on-exec: Python marks its own so, and the
first start marks those this process inherited (multiprocessing's pipes), as Popen's
close_fds would have closed them."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, BinaryIO, Union

from queuectl import platform

if TYPE_CHECKING:
    import subprocess

SHELL = "/bin/sh"
# What subprocess's restore_signals puts back for the child: Python ignores SIGPIPE.
_DEFAULT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)


class Started:
    """A command that posix_spawn started: what the runner reads of a Popen. `returncode`
    is set by whoever reaps it."""

    def __init__(self, pid: int, stdout: BinaryIO) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None


Command = Union[Started, "subprocess.Popen[bytes]"]


def start(command: str, cwd: str, env: Mapping[str, str]) -> Command:
    """Start `command` in `cwd` in a new session, stdin empty, stdout and stderr into one
    pipe (as `platform.spawn`)."""
    if _spawner.usable:
        try:
            started = _spawner.spawn(command, cwd, env)
        except NotImplementedError:  # posix_spawn without setsid (glibc before 2.26)
            _spawner.usable = False
        else:
            if started is not None:
                return started
    return platform.spawn(command, cwd, dict(env))


class _PosixSpawner:
    def __init__(self) -> None:
        # Where this process's descriptors cannot be listed (FreeBSD without fdescfs shows
        # only 0-2 in /dev/fd), the inherited ones could not be marked: Popen closes them.
        self.usable = hasattr(os, "posix_spawn") and (
            os.path.isdir("/proc/self/fd") or sys.platform == "darwin"
        )
        self._lock = threading.Lock()  # one process, one working directory
        self._sealed = False

    def spawn(self, command: str, cwd: str, env: Mapping[str, str]) -> Started | None:
        """The started command, or None where this process cannot come back to its own
        folder (unreadable, without O_PATH): Popen changes folder in the child instead."""
        self._seal_inherited_fds()
        with self._lock:
            try:
                home = os.open(".", _FOLDER_FLAGS)
            except OSError:
                return None
            try:
                return self._spawn_in(command, cwd, env, home)
            finally:
                os.close(home)

    def _spawn_in(self, command: str, cwd: str, env: Mapping[str, str], home: int) -> Started:
        read, write = os.pipe()
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, write, 1),
            (os.POSIX_SPAWN_DUP2, write, 2),
        ]
        try:
            os.chdir(cwd)
            try:
                pid = os.posix_spawn(
                    SHELL,
                    [SHELL, "-c", command],
                    env,
                    file_actions=actions,
                    setsid=True,
                    setsigdef=_DEFAULT_SIGNALS,
                )
            finally:
                # The command has started (or not): a failed way back must not hide it. The
                # worker's own paths are absolute, so it can work from any folder.
                with contextlib.suppress(OSError):
                    os.fchdir(home)
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        return Started(pid, open(read, "rb", buffering=0))  # noqa: SIM115 - the runner closes it

    def _seal_inherited_fds(self) -> None:
        """Mark close-on-exec, once, every descriptor above 2 that this process holds: those
        it inherited (multiprocessing's pipes) are not, and no command may keep them."""
        if self._sealed:
            return
        folder = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
        for name in os.listdir(folder):
            if int(name) > 2:
                with contextlib.suppress(OSError):  # the listing's own descriptor, closed
                    os.set_inheritable(int(name), False)
        self._sealed = True


# O_PATH (Linux) opens a folder to come back to without the right to read it.
_FOLDER_FLAGS = getattr(os, "O_PATH", os.O_RDONLY)
_spawner = _PosixSpawner()
