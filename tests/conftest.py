"""Shared fixtures: real stores in temp folders, the real CLI in subprocesses, real pools.

Backends: every test that takes the `location` or `store` fixture runs on every registered
backend that keeps its stores in files (SQLite), and on one that keeps them on a server when
the variable for its test server is set: QUEUECTL_TEST_PG holds a PostgreSQL URL (a fresh
schema per test).
"""

from __future__ import annotations

import compileall
import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Callable
from unittest import mock

import pytest

from queuectl.store import BACKENDS, Backend

ROOT = Path(__file__).resolve().parent.parent
PG_ENV = "QUEUECTL_TEST_PG"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def cannot_run(message: str) -> None:
    """Skip a leg that this machine cannot run; in CI that is a failure, so that CI never
    passes by leaving out a backend (.ci/run sets the server variables)."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def import_driver(name: str):
    """A backend's driver module, or a skip (a failure in CI) where it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        cannot_run(f"the driver {name} is not installed")


def pytest_configure(config: pytest.Config) -> None:
    # The CLI runs in hundreds of subprocesses: give them the bytecode an installed package
    # has (pip compiles it; an editable install under PYTHONDONTWRITEBYTECODE has none), or
    # each of them compiles the package from source again, about 50 ms a command.
    compileall.compile_dir(str(ROOT / "queuectl"), quiet=1)


def _pg_location(url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards.

    Every connection the store opens (its own, its LISTEN connection, worker processes)
    gets the schema from the URL: libpq decodes ``options=-csearch_path%3D<schema>``."""
    try:
        import psycopg

        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except Exception as exc:  # no driver, or no server
        cannot_run(f"{PG_ENV} is set, but the PostgreSQL leg cannot run: {exc}")
    schema = "t_" + uuid.uuid4().hex[:12]
    with conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


# Of each backend on a server: the variable that holds a test server's URL, and how a test
# gets a fresh store there.
SERVERS: dict[str, tuple[str, Callable[[str], Iterator[str]]]] = {
    "postgres": (PG_ENV, _pg_location),
}


def backends() -> list[Backend]:
    """The backends to test: in CI all of them (a server leg without its variable then
    fails, see `location`), elsewhere those whose test server is named."""
    return [
        backend
        for backend in BACKENDS
        if not backend.schemes or IN_CI or os.environ.get(SERVERS[backend.name][0])
    ]


@pytest.fixture(params=backends(), ids=lambda backend: backend.name)
def location(request, tmp_path: Path) -> Iterator[str]:
    """Where a fresh store lives: a file, or a fresh place on a test server."""
    backend: Backend = request.param
    if not backend.schemes:
        yield str(tmp_path / "store" / "queue.db")
    else:
        variable, fresh = SERVERS[backend.name]
        if not os.environ.get(variable):
            cannot_run(f"{variable} is not set: the {backend.name} leg cannot run")
        yield from fresh(os.environ[variable])


@pytest.fixture
def pg_location() -> Iterator[str]:
    """A fresh PostgreSQL schema, for tests about the PostgreSQL backend alone."""
    url = os.environ.get(PG_ENV)
    if not url:
        cannot_run(f"{PG_ENV} is not set")
    yield from _pg_location(url)


@pytest.fixture
def store(location: str):
    from queuectl.store import open_store

    opened = open_store(location)
    yield opened
    opened.close()  # an open file cannot be deleted on Windows


# pyproject runs the suite on pytest-xdist workers with `--dist loadgroup`: the tests of one
# xdist_group run one after another on one worker. These measure CPU time or lateness, or
# load the machine enough to upset such a measurement: no two of them run side by side.
one_at_a_time = pytest.mark.xdist_group("one_at_a_time")

# Where a process's CPU time can be read (/proc): Linux.
linux_only = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads a process's CPU time from /proc"
)

MAX_SPIN_CPU = 0.3  # seconds of CPU over SPIN_WINDOW: a spinning core uses most of it
SPIN_WINDOW = 2.0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_used_while_idle(pid: int) -> float:
    """CPU seconds `pid` uses over SPIN_WINDOW while the test waits."""
    before = cpu_seconds(pid)
    time.sleep(SPIN_WINDOW)
    return cpu_seconds(pid) - before


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 20.0,
    interval: float = 0.02,
    message: str = "condition",
):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


class Cli:
    """Runs `python -m queuectl` against one store, in an isolated data folder."""

    def __init__(self, location: str, home: Path) -> None:
        self.location = location
        self.home = home
        self.env = {
            **os.environ,
            "QUEUECTL_DB": location,
            "XDG_DATA_HOME": str(home),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "queuectl", *args]

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 60, cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args),
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            cwd=cwd or self.home,
        )

    def configure(self, **settings: str) -> None:
        """Stores settings as `config set` does, in this process: fixtures set them for
        hundreds of tests, and a CLI process each costs a Python start-up (`config set`
        itself is tested in tests/cli/test_basics.py)."""
        from queuectl.service.settings import config_set
        from queuectl.store import open_store

        store = open_store(self.location)
        try:
            for key, value in settings.items():
                config_set(store, key, value)
        finally:
            store.close()

    def ok(self, *args: str, **kwargs) -> str:
        result = self(*args, **kwargs)
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str, **kwargs):
        return json.loads(self.ok(*args, "--json", **kwargs))

    def job(self, job_id: str) -> dict:
        return self.json("show", job_id)["job"]

    def state(self, job_id: str) -> str:
        return self.job(job_id)["state"]

    def pool_log(self) -> Path:
        """The log of this store's background pool, in this CLI's data folder."""
        from queuectl.worker.logfile import log_path

        with mock.patch.dict(os.environ, {"XDG_DATA_HOME": self.env["XDG_DATA_HOME"]}):
            return log_path(self.location)

    def popen(self, *args: str, stderr=subprocess.PIPE, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(
            self.argv(*args),
            env=self.env,
            cwd=self.home,
            text=True,
            stdout=subprocess.PIPE,
            stderr=stderr,
            **kwargs,
        )


@pytest.fixture
def cli(location: str, tmp_path: Path) -> Cli:
    """A CLI on a fresh, empty store that exists: a reading command refuses to create one
    (tests/cli/test_reads_and_durations.py)."""
    from queuectl.store import open_store

    open_store(location).close()
    home = tmp_path / "home"
    home.mkdir()
    return Cli(location, home)


class Pool:
    """A foreground worker pool in a subprocess (its own process group, like a terminal
    session), stopped at teardown."""

    def __init__(self, cli: Cli, count: int, *extra: str) -> None:
        # The pool's log goes to a file: a pipe nobody reads would fill up and block it.
        self.log = (cli.home / f"pool-{time.monotonic_ns()}.log").open("w")
        self.proc = cli.popen(
            "worker",
            "start",
            "--foreground",
            "--count",
            str(count),
            *extra,
            stderr=self.log,
            start_new_session=True,
        )
        self.workers: dict[str, int] = {}
        for _ in range(count):
            line = self.proc.stdout.readline()
            assert line, f"pool did not start: {Path(self.log.name).read_text()}"
            worker_id, pid = line.split()
            self.workers[worker_id] = int(pid)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Stop as a user would: a warm stop, then a cold stop if the pool has not ended
        within a few seconds (a warm stop waits for a running job, a `sleep 60` say), and
        SIGKILL of its process group only if that fails too."""
        for patience in (5, 15):  # the second SIGTERM, once the first was handled, is cold
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(patience)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


@pytest.fixture
def pool_of() -> Iterator[Callable[..., Pool]]:
    """Starts pools on any CLI's store: ``pool_of(cli, count, *options)``."""
    started: list[Pool] = []

    def start(cli: Cli, count: int = 1, *extra: str) -> Pool:
        started.append(Pool(cli, count, *extra))
        return started[-1]

    yield start
    for item in started:
        item.stop()


@pytest.fixture
def pool(cli: Cli, pool_of) -> Callable[..., Pool]:
    """Starts pools on the test's store: ``pool(count, *options)``."""
    return lambda count=1, *extra: pool_of(cli, count, *extra)


FAST_SETTINGS = {"backoff_base": "1", "poll_interval": "0.2", "kill_grace": "1"}


@pytest.fixture
def fast_config(cli: Cli) -> Cli:
    """Short backoff and leases, so retry and recovery tests take seconds."""
    cli.configure(**FAST_SETTINGS)
    return cli
