"""Every operating-system difference in one place: shells, process groups, signals,
tree kill, the per-user data folder, file systems.

A job's command runs in a new session (POSIX) or a new process group (Windows), so the
whole tree it starts can be stopped together: SIGTERM to the group, then SIGKILL after the
grace period (Windows: CTRL_BREAK_EVENT, then ``taskkill /T /F``). On Linux a process that
left the group (setsid, a double fork) is found too: by the attempt's tags in its
environment, and, while its worker lives, as a descendant of that worker, a subreaper.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Iterator, Mapping

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    import subprocess
    from typing import Any, Callable

IS_WINDOWS = os.name == "nt"
_IS_LINUX = sys.platform.startswith("linux") and os.path.isdir("/proc")
# Set in every command's environment (the attempt's tags): they tell a job which attempt it
# is, and let a worker or a later pool recognise the processes an attempt left behind.
JOB_ID_VAR = "QUEUECTL_JOB_ID"
ATTEMPT_VAR = "QUEUECTL_ATTEMPT"
WORKER_ID_VAR = "QUEUECTL_WORKER_ID"


def attempt_tags(job_id: str, attempt: int, worker_id: str) -> dict[str, str]:
    """The variables that mark every process of one job attempt. The worker id keeps apart
    two stores on one host that run a job of the same id at the same attempt number: a
    search for one's processes must never stop the other's."""
    return {JOB_ID_VAR: job_id, ATTEMPT_VAR: str(attempt), WORKER_ID_VAR: worker_id}


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
        from pathlib import PurePath  # pathlib and the urllib it imports: only on this error

        path = PurePath(folder)
        blocking = next(
            (
                part
                for part in (*reversed(path.parents), path)
                if os.path.lexists(part) and not os.path.isdir(part)
            ),
            path,
        )
        raise NotADirectoryError(errno.ENOTDIR, f"{blocking} is not a folder") from None


@contextlib.contextmanager
def file_lock(path: str) -> Iterator[None]:
    """Hold an exclusive lock on the file at `path` (created if missing), across processes:
    flock on POSIX; on Windows msvcrt's byte lock, which retries for 10 s, then raises
    OSError."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if IS_WINDOWS:
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield  # closing the file releases the lock, on both
    finally:
        os.close(fd)


def read_only_filesystem(path: str) -> bool:
    """Whether `path` is on a file system mounted read-only (POSIX; False on Windows,
    which has no such mounts)."""
    if IS_WINDOWS:
        return False
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


NETWORK_FILESYSTEMS = (
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "afs",
    "ceph",
    "glusterfs",
    "fuse.sshfs",
    "virtiofs",
    "vboxsf",
    "fuse.gcsfuse",
)


def network_filesystem(path: str, mountinfo: list[str] | None = None) -> str | None:
    """The type of the network file system `path` is on (Linux), or None. SQLite's
    locking, and WAL's shared memory, do not work across hosts on such file systems.
    `mountinfo`: the lines of /proc/self/mountinfo, read from there if not given."""
    if mountinfo is None:
        if not _IS_LINUX:
            return None
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
                mountinfo = handle.read().splitlines()
        except OSError:
            return None
    kind = mount_type(os.path.realpath(path), mountinfo)
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


def quote_for_shell(text: str) -> str:
    """`text` as one word of a command line for the shell that runs jobs: /bin/sh's
    single quotes, or cmd's double quotes (where `"` is doubled and `%` cannot be escaped)."""
    if IS_WINDOWS:
        return '"' + text.replace('"', '""') + '"'
    import shlex

    return shlex.quote(text)


def spawn(command: str, cwd: str, env: dict[str, str]) -> subprocess.Popen:
    """Start `command` through the platform shell in its own process group, stdin empty,
    stdout and stderr combined into one pipe."""
    import subprocess

    options: dict[str, Any] = {}
    if sys.platform == "win32":  # not IS_WINDOWS: mypy knows this test
        options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    return subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **options,
    )


def detached_options() -> dict[str, Any]:
    """Popen options that detach a background pool from the terminal."""
    import subprocess

    if sys.platform == "win32":
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


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc (Linux)."""
    return [pid for pid, _, group in _process_table() if group == pgid]


def _process_table() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live (non-zombie) process (Linux)."""
    table = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != b"Z":
            table.append((int(entry), int(fields[1]), int(fields[2])))
    return table


def _signal_tree(pgid: int, hard: bool) -> None:
    import signal  # here and below, not at the top: its enums cost every start-up a millisecond

    try:
        if sys.platform != "win32":  # not IS_WINDOWS: mypy knows this test
            os.killpg(pgid, signal.SIGKILL if hard else signal.SIGTERM)
        elif hard:
            import subprocess

            subprocess.run(
                ["taskkill", "/T", "/F", "/PID", str(pgid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        else:
            os.kill(pgid, signal.CTRL_BREAK_EVENT)
    except ProcessLookupError:
        pass  # gone already: nothing left to stop
    except OSError as exc:  # PermissionError: a group of another user, not ours to stop
        import logging  # only here: a rare path, and `queuectl run` starts without it

        logging.getLogger("queuectl.platform").warning(
            "cannot stop the process group %d: %s", pgid, exc.strerror or exc
        )


def stop_tree(pgid: int, grace: float, while_waiting: Callable[[], object] | None = None) -> None:
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


def tree_belongs_to(pgid: int, tags: Mapping[str, str]) -> bool:
    """Whether the live group `pgid` is the tree of the attempt with these tags, not a
    stranger that reuses the number. Linux checks the tags of its members; elsewhere the
    group's existence is all we can see."""
    if not tree_alive(pgid):
        return False
    if not _IS_LINUX:
        return True
    markers = _markers(tags)
    return any(_carries(pid, markers) for pid in _group_members(pgid))


def _markers(tags: Mapping[str, str]) -> list[bytes]:
    # Whole entries, NUL on both sides: FOO_QUEUECTL_JOB_ID=x is not QUEUECTL_JOB_ID=x.
    return [b"\0" + os.fsencode(f"{name}={value}") + b"\0" for name, value in tags.items()]


def _carries(pid: int, markers: list[bytes]) -> bool:
    """Whether the environment the process started with holds every marker. (A zombie's
    reads as empty: it has nothing left to stop.)"""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = b"\0" + handle.read() + b"\0"
    except OSError:  # gone, or another user's
        return False
    return all(marker in environ for marker in markers)


_PR_SET_CHILD_SUBREAPER = 36
_adopting = False  # whether this process became a subreaper: it then reaps what it adopts


def become_subreaper() -> bool:
    """Linux: make this process the parent of its descendants' orphans, instead of init.
    A command's processes that leave its group (setsid, a double fork) then stay in the
    worker's tree when their parent exits, where `stop_attempt` finds them whatever their
    environment. The process must reap them (`reap_adopted`), and must start no children
    but its commands. Returns whether it applied (never on other systems)."""
    global _adopting
    if not _IS_LINUX:
        return False
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    prctl.restype = ctypes.c_int
    _adopting = prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0  # Linux 3.4+
    return _adopting


def reap_adopted(own: int) -> bool:
    """Reap the adopted orphans that have exited, and say whether any child is left.

    `own` is the command that subprocess waits for: its exit status is left to it (taken
    here, subprocess would see ECHILD and report exit code 0). Without a subreaper there
    is nothing adopted, and this process's other children are none of our business."""
    if not _adopting:
        return False
    while True:
        try:
            # WNOWAIT: look at who exited before deciding to reap it.
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        if info is None or info.si_pid == own:
            return True
        os.waitpid(info.si_pid, 0)


def attempt_processes(tags: Mapping[str, str], adopted: bool = False) -> list[int]:
    """Linux: the live processes of one attempt wherever they went, not only its group:
    every process whose environment carries all of `tags` and, when `adopted`, every
    descendant of this process (a subreaper whose command has exited: what is left under
    it is that command's). Empty on other systems."""
    if not _IS_LINUX:
        return []
    me = os.getpid()
    parents = {pid: parent for pid, parent, _ in _process_table()}
    mine = _descendants(me, parents) if adopted and _adopting else set()
    markers = _markers(tags)
    return [pid for pid in parents if pid != me and (pid in mine or _carries(pid, markers))]


def _descendants(root: int, parents: Mapping[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def stop_attempt(
    tags: Mapping[str, str],
    grace: float,
    while_waiting: Callable[[], object] | None = None,
    adopted: bool = False,
) -> list[int]:
    """Stop the processes `attempt_processes` finds: SIGTERM, up to `grace` seconds to go,
    then SIGKILL for what is left, including what they started meanwhile. Returns the
    processes found at first (none: nothing was done, at the cost of one /proc scan)."""
    import signal

    found = attempt_processes(tags, adopted)
    if not found:
        return []
    _signal_each(found, signal.SIGTERM)
    _wait_gone(found, grace, while_waiting)
    for _ in range(3):  # a process that forked as it was stopped: its children come next
        left = attempt_processes(tags, adopted)
        if not left:
            break
        _signal_each(left, signal.SIGKILL)
        _wait_gone(left, 1.0, while_waiting)  # SIGKILL cannot be ignored
    return found


def _signal_each(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(pids: list[int], timeout: float, while_waiting: Callable[[], object] | None) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        if while_waiting is not None:
            while_waiting()
        # A number reused meanwhile only makes this wait longer: what is signalled next
        # comes from a new scan.
        if not any(pid_alive(pid) for pid in pids) or time.monotonic() >= deadline:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def stop_signals() -> tuple:
    """The signals that ask a pool to stop (SIGBREAK is Ctrl-Break on Windows)."""
    import signal

    names = ("SIGINT", "SIGTERM", "SIGBREAK")
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


def ignore_interrupts() -> None:
    """Workers leave Ctrl-C (which the terminal sends to the whole group) to their
    supervisor, so that one Ctrl-C is one warm stop."""
    import signal

    for sig in stop_signals():
        if sig != signal.SIGTERM:
            signal.signal(sig, signal.SIG_IGN)
