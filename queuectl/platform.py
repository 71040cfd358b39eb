"""Every operating-system difference in one place: shells, process groups, signals,
tree kill, the per-user data folder, file systems.

A job's command runs in a new session (POSIX) or a new process group (Windows), so the
whole tree it starts can be stopped together: SIGTERM to the group, then SIGKILL after the
grace period (Windows: CTRL_BREAK_EVENT, then ``taskkill /T /F``).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from pathlib import PurePath
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import subprocess

IS_WINDOWS = os.name == "nt"
# Set in every command's environment: they tell a job which attempt it is, and let a later
# pool recognise a process tree left behind by a dead one before it stops it.
JOB_ID_VAR = "QUEUECTL_JOB_ID"
ATTEMPT_VAR = "QUEUECTL_ATTEMPT"


def data_dir() -> str:
    """The per-user folder for the default store and the worker log."""
    home = os.path.expanduser("~")
    if IS_WINDOWS:
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(home, "Library", "Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return os.path.join(base, "queuectl")


def make_folder(folder: str) -> None:
    """Create `folder` and its parents, or raise OSError. Where a part of the path is a
    file, the error names that part: os.makedirs says only "File exists"."""
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        path = PurePath(folder)
        blocking = next((part for part in (*reversed(path.parents), path)
                         if os.path.lexists(part) and not os.path.isdir(part)), path)
        raise NotADirectoryError(errno.ENOTDIR, f"{blocking} is not a folder") from None


def read_only_filesystem(path: str) -> bool:
    """Whether `path` is on a file system mounted read-only (POSIX; False on Windows,
    which has no such mounts)."""
    if IS_WINDOWS:
        return False
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph",
                       "glusterfs", "fuse.sshfs", "virtiofs", "vboxsf", "fuse.gcsfuse")


def network_filesystem(path: str) -> str | None:
    """The type of the network file system `path` is on (Linux), or None. SQLite's
    locking, and WAL's shared memory, do not work across hosts on such file systems."""
    if not _IS_LINUX:
        return None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            kind = mount_type(os.path.realpath(path), handle.read().splitlines())
    except OSError:
        return None
    return kind if kind in NETWORK_FILESYSTEMS else None


def mount_type(path: str, mountinfo: list[str]) -> str | None:
    """The file-system type of the deepest mount holding `path`, from mountinfo lines."""
    best, kind = "", None
    for line in mountinfo:
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        mount_point = fields[4].replace("\\040", " ")
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, fields[fields.index("-", 6) + 1]
    return kind


def hostname() -> str:
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def spawn(command: str, cwd: str, env: dict[str, str]) -> subprocess.Popen:
    """Start `command` through the platform shell in its own process group, stdin empty,
    stdout and stderr combined into one pipe."""
    import subprocess

    options: dict[str, object] = {}
    if IS_WINDOWS:
        options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    return subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options)


def detached_options() -> dict[str, object]:
    """Popen options that detach a background pool from the terminal."""
    import subprocess

    if IS_WINDOWS:
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
        return {"creationflags": flags}
    return {"start_new_session": True}


def tree_alive(pgid: int) -> bool:
    """Whether any process of the group led by `pgid` is still running."""
    if IS_WINDOWS:
        return pid_alive(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An orphan that died stays a zombie until init reaps it, and some container inits
    # never do; a group of zombies has nothing left to stop.
    return not _IS_LINUX or bool(_group_members(pgid))


_IS_LINUX = sys.platform.startswith("linux") and os.path.isdir("/proc")


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc (Linux)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry))
    return members


def _signal_tree(pgid: int, hard: bool) -> None:
    try:
        if IS_WINDOWS:
            if hard:
                import subprocess

                subprocess.run(["taskkill", "/T", "/F", "/PID", str(pgid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            else:
                os.kill(pgid, signal.CTRL_BREAK_EVENT)
        else:
            os.killpg(pgid, signal.SIGKILL if hard else signal.SIGTERM)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def stop_tree(pgid: int, grace: float,
              while_waiting: Callable[[], object] | None = None) -> None:
    """SIGTERM the process group, wait up to `grace` seconds for it to go, then SIGKILL.

    `while_waiting` is called as it waits: to reap our own child (a zombie still counts as
    a member of its group), and to keep a worker's heartbeat going through a long grace.
    """
    _signal_tree(pgid, hard=False)
    deadline = time.monotonic() + grace
    delay = 0.002
    while True:
        if while_waiting is not None:
            while_waiting()
        if not tree_alive(pgid):
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    _signal_tree(pgid, hard=True)
    for _ in range(100):  # SIGKILL cannot be ignored; wait for the kernel to finish it
        if while_waiting is not None:
            while_waiting()
        if not tree_alive(pgid):
            return
        time.sleep(0.01)


def pid_alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    if IS_WINDOWS:
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _IS_LINUX or _state(pid) not in ("Z", None)


def _state(pid: int) -> str | None:
    """The state letter of a process in /proc/<pid>/stat (Linux), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def _windows_pid_alive(pid: int) -> bool:
    # os.kill(pid, 0) would terminate the process on Windows; ask the kernel instead.
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def tree_belongs_to(pgid: int, job_id: str, attempt: int) -> bool:
    """Whether the live group `pgid` is the tree of this job attempt, not a stranger that
    reuses the number. Linux checks the environment marker of its members; elsewhere the
    group's existence is all we can see."""
    if not tree_alive(pgid):
        return False
    if not _IS_LINUX:
        return True
    markers = (f"{JOB_ID_VAR}={job_id}\0".encode(), f"{ATTEMPT_VAR}={attempt}\0".encode())
    for pid in _group_members(pgid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read() + b"\0"
        except OSError:
            continue
        if all(marker in environ for marker in markers):
            return True
    return False


def stop_signals() -> tuple:
    """The signals that ask a pool to stop (SIGBREAK is Ctrl-Break on Windows)."""
    names = ("SIGINT", "SIGTERM", "SIGBREAK")
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


def ignore_interrupts() -> None:
    """Workers leave Ctrl-C (which the terminal sends to the whole group) to their
    supervisor, so that one Ctrl-C is one warm stop."""
    for sig in stop_signals():
        if sig != signal.SIGTERM:
            signal.signal(sig, signal.SIG_IGN)
