"""What every workload shares: settings, the environment of timed processes, temp folders,
stores (SQLite files or PostgreSQL schemas), queuectl pools in subprocesses, /proc readings,
statistics and the result model (sections, tables, targets) the report is made of."""

from __future__ import annotations

import contextlib
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
TRUE_JOB = '{"command":"true"}\n'
POLL = 0.005  # seconds between polls of a store (or a peer's done file) while timing


class BenchError(RuntimeError):
    """A workload could not be measured (a process died, a timeout expired...)."""


# --- settings ---------------------------------------------------------------------------


@dataclass
class Settings:
    quick: bool
    runs: int
    tmp: Path  # the suite's temp folder; every workload makes its own folders in it
    pg_url: str | None = None  # set when the PostgreSQL rows are to run
    explicit: Sequence[str] = ()  # workloads named with --only

    def log(self, message: str) -> None:
        print(message, flush=True)

    def pick(self, quick: int | float, full: int | float):
        return quick if self.quick else full


# --- processes ---------------------------------------------------------------------------


def prepare_process_environment() -> None:
    """Compile queuectl (and the bench helpers) to bytecode, as a normal `pip install` does,
    and drop PYTHONDONTWRITEBYTECODE, so no timed process recompiles its sources."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "queuectl"), str(ROOT / "bench")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # inherited by spawned children too
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of every timed process: no PYTHONDONTWRITEBYTECODE, the checkout on
    PYTHONPATH, plus `extra`."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    paths = [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.update(extra)
    return env


def queuectl(*args: str) -> list[str]:
    """argv of a queuectl command: the interpreter itself, never a pyenv shim."""
    return [sys.executable, "-m", "queuectl", *args]


def timed(
    argv: Sequence[str], env: dict[str, str], cwd: Path | str | None = None, timeout: float = 600
) -> float:
    """Wall time of one command, from spawn to exit; its output is discarded."""
    return timed_with_cpu(argv, env, cwd, timeout)[0]


def timed_with_cpu(
    argv: Sequence[str], env: dict[str, str], cwd: Path | str | None = None, timeout: float = 600
) -> tuple[float, float]:
    """Wall time and CPU time (user + system, of the command and the children it waited
    for) of one command, from spawn to exit; its output is discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise BenchError(
            f"{' '.join(argv[:6])} ... exited {result.returncode}: "
            f"{result.stderr.decode(errors='replace').strip()[-500:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


@contextlib.contextmanager
def installed_queuectl(settings: Settings) -> Iterator[Path]:
    """The bin folder of a throwaway venv into which this checkout is installed as a user
    installs it: a wheel built by pip (setuptools in an isolated build environment), not
    editable, bytecode compiled. The dev venv's editable install runs a finder from a .pth
    file at every start-up, which imports pathlib, re and urllib in `python -c pass` too,
    and the interpreter's own site-packages may hold .pth files of their own: either makes
    the baseline slower and the ratio smaller than a user's."""
    with folder(settings, "venv") as where:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], check=True
        )
        source = where / "src"  # a copy: building leaves build/ and *.egg-info behind
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, source / name)
        shutil.copytree(
            ROOT / "queuectl", source / "queuectl", ignore=shutil.ignore_patterns("__pycache__")
        )
        python = where / "venv" / "bin" / "python"
        pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
        result = subprocess.run(
            [*pip, "--compile", "--quiet", str(source)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise BenchError(f"pip could not install queuectl: {result.stderr.strip()[-500:]}")
        yield python.parent


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Signal a process started with start_new_session=True; kill its whole group if it has
    not exited within `timeout` (or at once if anything is left behind in its group)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@contextlib.contextmanager
def folder(settings: Settings, name: str) -> Iterator[Path]:
    """A fresh folder under the suite's temp folder, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=settings.tmp))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- /proc ------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat


def run_ns(pid: int) -> int | None:
    """Nanoseconds on a CPU, summed over the process's threads (/proc/<pid>/task/*/schedstat,
    exact where tick-sampled utime + stime is not); None where the kernel does not say."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                total += int(handle.read().split()[0])
    except OSError:
        return None
    return total


def status_kib(pid: int, key: str) -> int:
    """A memory figure of /proc/<pid>/status in KiB (VmHWM: peak RSS, VmRSS: current)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {key} in /proc/{pid}/status")


def children_of(pid: int) -> list[int]:
    """Direct children of a process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


# --- stores -----------------------------------------------------------------------------


class Backend:
    """Where a fresh store lives: a SQLite file, or a PostgreSQL schema."""

    name = "SQLite"

    @contextlib.contextmanager
    def location(self, where: Path) -> Iterator[str]:
        yield str(where / f"store-{uuid.uuid4().hex[:8]}" / "queuectl.db")


class PostgresBackend(Backend):
    name = "PostgreSQL"

    def __init__(self, url: str) -> None:
        self.url = url

    @contextlib.contextmanager
    def location(self, where: Path) -> Iterator[str]:
        import psycopg

        schema = "bench_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in self.url else "?"
        try:
            yield f"{self.url}{separator}options=-csearch_path%3D{schema}"
        finally:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


SQLITE = Backend()


def open_store(location: str, durable: bool = True):
    from queuectl.store import open_store as _open

    return _open(location, durable=durable)


def new_jobs(count: int, cwd: str, prefix: str = "j", start: int = 0) -> list:
    """`count` jobs of `true`, built as the CLI would build them (ids given)."""
    from queuectl.model import NewJob

    return [
        NewJob(id=f"{prefix}{i:08d}", command="true", max_retries=3, cwd=cwd)
        for i in range(start, start + count)
    ]


def bulk_enqueue(store, count: int, cwd: str, prefix: str = "j", batch: int = 50_000) -> None:
    """Insert `count` pending jobs through Store.enqueue, `batch` per call (one transaction
    each)."""
    done = 0
    while done < count:
        size = min(batch, count - done)
        store.enqueue(new_jobs(size, cwd, prefix, done), store.clock())
        done += size


def completed(counts: dict[str, dict[str, int]]) -> tuple[int, int]:
    """(completed, failed + dead + canceled) summed over queues."""
    done = sum(states.get("completed", 0) for states in counts.values())
    bad = sum(
        states.get(s, 0) for states in counts.values() for s in ("failed", "dead", "canceled")
    )
    return done, bad


class QueuectlPool:
    """`queuectl worker start --foreground --count N` in a subprocess of its own session,
    logging to a file (as a background pool logs to its store's log file)."""

    def __init__(self, location: str, home: Path, count: int) -> None:
        self.count = count
        self.log_path = home / "worker.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            queuectl("--db", location, "worker", "start", "--foreground", "--count", str(count)),
            env=clean_env(XDG_DATA_HOME=str(home)),
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        self._workers: dict[str, int] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def workers(self) -> dict[str, int]:
        """{worker id: pid}, as the pool printed them once registered (blocks until then)."""
        if self._workers is None:
            workers = {}
            for _ in range(self.count):
                line = self.proc.stdout.readline()
                if not line:
                    raise BenchError(
                        f"the pool exited before its workers registered: {self.log_tail()}"
                    )
                worker_id, pid = line.split()
                workers[worker_id] = int(pid)
            self._workers = workers
        return self._workers

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"the pool exited with {self.proc.returncode}: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-3:])

    def stop(self) -> None:
        stop_process(self.proc)  # SIGTERM: a warm stop of every worker
        self._log.close()


def wait_completed(store, count: int, pool: QueuectlPool, timeout: float) -> float:
    """Poll the store every POLL seconds until `count` jobs are completed; the moment seen."""
    deadline = time.perf_counter() + timeout
    while True:
        done, bad = completed(store.counts())
        now = time.perf_counter()
        if done >= count:
            return now
        if bad:
            raise BenchError(f"{bad} job(s) did not complete; see {pool.log_path}")
        pool.check()
        if now > deadline:
            raise BenchError(f"only {done} of {count} jobs completed in {timeout:.0f} s")
        time.sleep(POLL)


# --- statistics -------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def alternate(run: int, *steps: Callable[[], None]) -> None:
    """Call every step, in reverse order every other run, so drift hits them alike."""
    for step in steps if run % 2 == 0 else reversed(steps):
        step()


# --- formatting -------------------------------------------------------------------------


def fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_s(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f} s"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.2f} ms" if value < 0.1 else f"{value * 1000:.0f} ms"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} %"


def fmt_mib(kib: float | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f} MiB"


# --- results ----------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Target:
    """One target of issue 6, checked against what was measured."""

    what: str
    measured: float | None
    op: str  # ">=", "<=", ">" or "<"
    limit: float
    show: Callable[[float | None], str] = fmt_ratio
    why_missing: str = ""  # when not measured: why (skipped, error, quick mode)

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        value, limit = self.measured, self.limit
        return {">=": value >= limit, "<=": value <= limit, ">": value > limit, "<": value < limit}[
            self.op
        ]

    def verdict(self) -> str:
        if self.met is None:
            return f"not measured ({self.why_missing})" if self.why_missing else "not measured"
        return "met" if self.met else "**NOT MET**"

    def goal(self) -> str:
        return f"{self.op} {self.show(self.limit)}"


@dataclass
class Section:
    number: int
    key: str
    title: str
    method: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    seconds: float = 0.0


def runs_table(
    title: str, rows: Sequence[tuple[str, Sequence[float], Callable]], summary: str = "median"
) -> Table:
    """One row per measured quantity: its value in every run, then the median."""
    runs = max(len(values) for _, values, _ in rows)
    header = ["", *[f"run {i + 1}" for i in range(runs)], summary]
    body = []
    for label, values, show in rows:
        cells = [show(v) for v in values] + [""] * (runs - len(values))
        body.append([label, *cells, show(median(values)) if values else "–"])
    return Table(title, header, body)
