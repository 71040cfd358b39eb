"""Starting a pool (SPEC §3 `worker start`): attached to this process, or detached in the
background, logging to its store's file in the per-user data folder (`logfile`)."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO, Callable

import queuectl
from queuectl import platform
from queuectl.config import Config
from queuectl.errors import UserError
from queuectl.store import backend_of, open_store
from queuectl.store.base import Store
from queuectl.worker import logfile
from queuectl.worker.pool import Pool

START_TIMEOUT = 60  # seconds for a background pool's workers to register
# Each worker is a Python process of its own (some 20 MB) holding its own store connection
# (PostgreSQL allows 100 connections by default); beyond a few per core they only wait.
MAX_WORKERS = 100
WORKERS_PER_CPU = 4  # more than this many workers per CPU draws a warning
# How a background pool starts: `queuectl worker start --foreground` from this very
# checkout or install (no PYTHONPATH, which its jobs would inherit), reading its store
# location from stdin (not from argv, where `ps` would show a password, nor from the
# environment its jobs inherit).
POOL_BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from queuectl.cli import main; sys.exit(main())"
)

Started = list[tuple[str, int]]  # (worker id, pid) of each worker, ordered by pid


def check_count(count: int) -> str | None:
    """UserError for more workers than one pool may have; a warning for more than a few
    per CPU, or None."""
    if count > MAX_WORKERS:
        raise UserError(
            f"--count {count} is more than the {MAX_WORKERS} workers a pool may have: "
            "each is a process with its own store connection; start several pools "
            "(on several hosts, with PostgreSQL) instead"
        )
    cpus = os.cpu_count() or 1
    if count > WORKERS_PER_CPU * cpus:
        return (
            f"warning: {count} workers on {cpus} CPU(s): more than {WORKERS_PER_CPU} per CPU "
            "only helps for jobs that mostly wait"
        )
    return None


def network_filesystem(location: str) -> str | None:
    """The network file system (nfs, cifs, ...) a SQLite store is on, or None."""
    return platform.network_filesystem(location) if backend_of(location).local_disk else None


def run_attached(
    location: str,
    count: int,
    queues: list[str] | None,
    pool_id: str | None,
    announce: Callable[[Started], None],
    log_file: str | None = None,
) -> int:
    """Run a pool in this process until it stops; returns its exit status. `announce` is
    called once its workers are registered. With `log_file`, the pool and its workers log
    there (a detached pool), else to stderr."""
    store = open_store(location, durable=False)
    try:
        log = None
        if log_file:
            max_size = Config.from_stored(store.config_values()).log_max_size
            log = logfile.PoolLog(log_file, max_size)
            logfile.log_to(log)
        pool = Pool(store, location, count, queues, pool_id or _new_pool_id(), log)
        return pool.run(announce)
    finally:
        store.close()


def start_detached(location: str, count: int, queues: list[str] | None) -> tuple[Started, Path]:
    """Start a pool in the background and return once its `count` workers are registered:
    those workers, and the log file the pool writes to. UserError if it does not start."""
    store = open_store(location)  # create or upgrade the store here, so errors show here
    try:
        pool_id = _new_pool_id()
        log_path = logfile.log_path(location)
        argv = [
            sys.executable,
            "-c",
            POOL_BOOT,
            _package_root(),
            "worker",
            "start",
            "--foreground",
            "--db-stdin",
            "--count",
            str(count),
            "--pool-id",
            pool_id,
            "--log-file",
            str(log_path),
        ]
        if queues:
            argv += ["--queue", ",".join(queues)]
        with _open_log(str(log_path)) as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                cwd=str(log_path.parent),
                text=True,
                **platform.detached_options(),
            )
            assert proc.stdin is not None  # stdin=PIPE
            proc.stdin.write(location + "\n")
            proc.stdin.close()
        try:
            return _await_workers(store, proc, pool_id, count, log_path), log_path
        except BaseException:
            _stop_pool(proc)  # a start that failed leaves nothing running
            raise
    finally:
        store.close()


def _new_pool_id() -> str:
    return secrets.token_hex(4)


def _package_root() -> str:
    """The folder that holds the queuectl package being run."""
    return os.path.dirname(os.path.dirname(os.path.abspath(queuectl.__file__)))


def _open_log(path: str) -> BinaryIO:
    try:
        platform.make_folder(os.path.dirname(path))
        return open(path, "ab")
    except OSError as exc:
        raise UserError(f"cannot write the worker log {path}: {exc.strerror}") from None


def _await_workers(
    store: Store, proc: subprocess.Popen, pool_id: str, count: int, log_path: Path
) -> Started:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        started = [w for w in store.list_workers() if w.pool == pool_id]
        if len(started) >= count:
            return sorted(((w.id, w.pid) for w in started), key=lambda w: w[1])
        if proc.poll() is not None:
            raise UserError(
                f"the worker pool exited with code {proc.returncode}: "
                f"{_last_line(log_path)} (log: {log_path})"
            )
        time.sleep(0.05)
    raise UserError(f"workers did not start within {START_TIMEOUT} s; see {log_path}")


def _stop_pool(proc: subprocess.Popen) -> None:
    """Stop a background pool that did not start: two stop signals (warm, then cold: the
    pool acts on them during start-up too), then, if it is still there, kill it (its
    workers notice their supervisor is gone and exit)."""
    for _ in range(2):
        if proc.poll() is not None:
            return
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""
