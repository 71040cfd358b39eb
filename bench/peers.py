"""Workload 7, peers side by side on workloads 1 (throughput) and 4 (pickup latency), each
at its defaults and at its best documented settings for short jobs: Huey with its SQLite
storage; RQ, Celery and Dramatiq on the local Redis; task-spooler, GNU parallel, HyperShell
and HyperQueue running shell commands. queuectl runs in the same loop, so every ratio
compares figures taken minutes apart on the same machine. A peer whose package, binary or
server is missing is skipped with a message."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import latency, throughput
from bench.common import (
    POLL,
    ROOT,
    SQLITE,
    BenchError,
    Section,
    Settings,
    Table,
    Target,
    clean_env,
    fmt_ms,
    fmt_rate,
    fmt_ratio,
    folder,
    median,
    percentile,
    runs_table,
    stop_process,
    timed,
)
from bench.peer_jobs import done_count

NUMBER = 7
KEY = "peers"
TITLE = (
    "Peers side by side: Huey, RQ, Celery, Dramatiq, task-spooler, GNU parallel, "
    "HyperShell, HyperQueue"
)
REDIS_URL = os.environ.get("QUEUECTL_BENCH_REDIS", "redis://127.0.0.1:6379/13")
GAP = latency.GAP
DRIVER_TIMEOUT = 600


class Peer:
    """A queue measured the same way as queuectl."""

    name = ""
    module = ""  # bench.peer_* module that enqueues and defines the job
    no_latency = ""  # why workload 4 does not apply to this peer, if it does not

    def missing(self) -> str | None:
        """Why this peer cannot be measured, or None."""
        raise NotImplementedError

    def jobs(self, count: int) -> int:
        """How many jobs this peer runs in workload 1 when queuectl runs `count`."""
        return count

    def env(self, where: Path) -> dict[str, str]:
        return clean_env()

    def reset(self, env: dict[str, str]) -> None:
        """Empty the peer's storage."""

    def workers(self, where: Path, env: dict[str, str]) -> list[list[str]]:
        """argv of each worker process to start (2 worker processes, or concurrency 2)."""
        raise NotImplementedError

    def command_line(self) -> str:
        return "; ".join(
            "`" + " ".join(["python", *argv[1:]]) + "`" for argv in self.workers(Path("DIR"), {})
        )

    # --- the two measurements ----------------------------------------------------------

    def _start(self, where: Path, env: dict[str, str]) -> list[subprocess.Popen]:
        log = open(where / "workers.log", "ab")  # noqa: SIM115 - inherited, closed here
        try:
            return [
                subprocess.Popen(
                    argv,
                    env=env,
                    cwd=where,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
                for argv in self.workers(where, env)
            ]
        finally:
            log.close()

    def _driver(self, env: dict[str, str], *args: str, timeout: float = DRIVER_TIMEOUT) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bench.peer_driver", self.module, *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise BenchError(f"{self.name} driver failed: {result.stderr.strip()[-500:]}")
        return result.stdout

    def throughput(self, settings: Settings, count: int) -> float:
        """Jobs per second for `count` jobs enqueued beforehand."""
        with folder(settings, f"peer-{self.module}") as where:
            env = self.env(where)
            self.reset(env)
            done = str(where / "done")
            try:
                self._driver(env, "enqueue", str(count), done)
                start = time.perf_counter()
                procs = self._start(where, env)
                try:
                    end = wait_done(done, count, procs, where, timeout=600)
                finally:
                    for proc in procs:
                        stop_process(proc, timeout=15)
            finally:
                self.reset(env)
        return count / (end - start)

    def latency(self, settings: Settings, count: int) -> list[float]:
        with folder(settings, f"peer-{self.module}") as where:
            env = self.env(where)
            self.reset(env)
            done = str(where / "done")
            procs = self._start(where, env)
            try:
                out = self._driver(
                    env, "latency", str(count), done, str(GAP), str(settings.pick(0.3, 1.0))
                )
            finally:
                for proc in procs:
                    stop_process(proc, timeout=15)
                self.reset(env)
        return json.loads(out)


def wait_done(
    done: str, count: int, procs: list[subprocess.Popen], where: Path, timeout: float
) -> float:
    deadline = time.perf_counter() + timeout
    while True:
        now = time.perf_counter()
        if done_count(done) >= count:
            return now
        for proc in procs:
            if proc.poll() is not None:
                raise BenchError(
                    f"a worker exited with {proc.returncode}: {_tail(where / 'workers.log')}"
                )
        if now > deadline:
            raise BenchError(f"only {done_count(done)} of {count} jobs done in {timeout:.0f} s")
        time.sleep(POLL)


def _tail(path: Path) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:])
    except OSError:
        return ""


def _importable(*modules: str) -> str | None:
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            return f"the Python package {module!r} is not installed (pip install -e '.[bench]')"
    return None


def _redis_down() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"no Redis at {REDIS_URL} ({exc})"
    return None


HUEY_TUNED_POLL = ["--delay", "0.01", "--backoff", "1", "--max-delay", "0.01"]


class Huey(Peer):
    """Huey's defaults, or tuned: `synchronous=OFF` (SqliteStorage's `fsync=False`) and a
    fixed 10 ms poll of an empty queue (its consumer backs off from 0.1 s by x1.15 up to
    10 s by default)."""

    module = "bench.peer_huey"

    def __init__(self, tuned: bool) -> None:
        self.tuned = tuned
        self.name = (
            "Huey (SQLite, tuned: synchronous=OFF, 10 ms poll)"
            if tuned
            else "Huey (SQLite, defaults)"
        )

    def missing(self) -> str | None:
        return _importable("huey")

    def env(self, where: Path) -> dict[str, str]:
        tuning = {"BENCH_HUEY_SYNC_OFF": "1"} if self.tuned else {}
        return clean_env(BENCH_HUEY_DB=str(where / "huey.db"), **tuning)

    def workers(self, where: Path, env: dict[str, str]) -> list[list[str]]:
        return [
            [
                sys.executable,
                "-m",
                "huey.bin.huey_consumer",
                "bench.peer_huey.huey",
                "--workers",
                "2",
                "--worker-type",
                "process",
                *(HUEY_TUNED_POLL if self.tuned else []),
            ]
        ]

    def command_line(self) -> str:
        return super().command_line() + (
            "; the driver and consumer open SqliteHuey with fsync=False" if self.tuned else ""
        )


class _RedisPeer(Peer):
    def env(self, where: Path) -> dict[str, str]:
        return clean_env(BENCH_REDIS_URL=REDIS_URL)

    def reset(self, env: dict[str, str]) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()


class Rq(_RedisPeer):
    """RQ's default worker (a fork per job), or its SimpleWorker (jobs run in the worker)."""

    module = "bench.peer_rq"

    def __init__(self, simple: bool) -> None:
        self.simple = simple
        self.name = "RQ (Redis, SimpleWorker)" if simple else "RQ (Redis, default Worker)"

    def missing(self) -> str | None:
        return _importable("redis", "rq") or _redis_down()

    def _worker_class(self) -> list[str]:
        return ["--worker-class", "rq.SimpleWorker"] if self.simple else []

    def workers(self, where: Path, env: dict[str, str]) -> list[list[str]]:
        return [
            [
                sys.executable,
                "-m",
                "rq.cli",
                "worker",
                "--url",
                REDIS_URL,
                "--name",
                f"bench-{i}-{os.getpid()}-{time.time_ns()}",
                *self._worker_class(),
                "bench",
            ]
            for i in range(2)
        ]

    def command_line(self) -> str:
        if self.simple:
            return f"2 x `rq worker --url {REDIS_URL} --worker-class rq.SimpleWorker bench`"
        return f"2 x `rq worker --url {REDIS_URL} bench` (default worker: a fork per job)"


class Celery(_RedisPeer):
    """Celery's defaults, or its optimizing guide's settings for short tasks on a worker
    with several processes: `-O fair` and a prefetch multiplier of 1."""

    module = "bench.peer_celery"

    def __init__(self, fair: bool) -> None:
        self.fair = fair
        self.name = "Celery (Redis, -O fair, prefetch 1)" if fair else "Celery (Redis, defaults)"

    def missing(self) -> str | None:
        return _importable("redis", "celery") or _redis_down()

    def workers(self, where: Path, env: dict[str, str]) -> list[list[str]]:
        return [
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "bench.peer_celery",
                "worker",
                "--concurrency",
                "2",
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *(["-O", "fair", "--prefetch-multiplier", "1"] if self.fair else []),
            ]
        ]


DRAMATIQ_POLL_MS = "10"


class Dramatiq(_RedisPeer):
    """Dramatiq's worker with 2 processes x 1 thread: concurrency 2, as every other row (its
    default, 8 threads in each of one process per core, would run 16 jobs at once on 2
    cores); its Redis consumer backs off up to
    `dramatiq_worker_timeout` (1,000 ms by default) on an empty queue: 10 ms here, as Huey's
    tuned poll."""

    name = "Dramatiq (Redis, 2 processes x 1 thread, 10 ms poll)"
    module = "bench.peer_dramatiq"

    def missing(self) -> str | None:
        return _importable("redis", "dramatiq") or _redis_down()

    def env(self, where: Path) -> dict[str, str]:
        return clean_env(BENCH_REDIS_URL=REDIS_URL, dramatiq_worker_timeout=DRAMATIQ_POLL_MS)

    def workers(self, where: Path, env: dict[str, str]) -> list[list[str]]:
        return [
            [
                sys.executable,
                "-m",
                "dramatiq",
                "bench.peer_dramatiq",
                "--processes",
                "2",
                "--threads",
                "1",
            ]
        ]

    def command_line(self) -> str:
        return super().command_line() + f" with dramatiq_worker_timeout={DRAMATIQ_POLL_MS}"


TSP_MAX_QUEUED = 900  # task-spooler's server fails with ~1,000 jobs waiting at once


class TaskSpooler(Peer):
    """task-spooler has no library API: its jobs are shell commands enqueued with the `tsp`
    client, run by its server with `-S 2` slots. Enqueued beforehand behind two gate jobs
    that hold both slots; the clock starts when the gates are opened and stops when a last
    job that needs both slots (so runs after every other) has finished."""

    name = "task-spooler"

    def __init__(self) -> None:
        self.tsp = shutil.which("tsp") or shutil.which("ts")

    def missing(self) -> str | None:
        return None if self.tsp else "task-spooler is not installed (apt-get install task-spooler)"

    def command_line(self) -> str:
        return "`tsp -S 2`; each job `tsp sh -c true` (output stored in a file, its default)"

    def env(self, where: Path) -> dict[str, str]:
        return clean_env(
            TS_SOCKET=str(where / "tsp.socket"), TMPDIR=str(where), TS_MAXFINISHED="100000"
        )

    def _tsp(self, env: dict[str, str], *args: str) -> str:
        result = subprocess.run(
            [self.tsp, *args], env=env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0 and args[:1] != ("-w",):
            raise BenchError(f"tsp {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    @contextlib.contextmanager
    def _server(self, where: Path):
        env = self.env(where)
        self._tsp(env, "-S", "2")  # starts the server
        try:
            yield env
        finally:
            subprocess.run([self.tsp, "-K"], env=env, capture_output=True, timeout=30)

    def jobs(self, count: int) -> int:
        # Each queued job waits as a client process connected to the server, whose select()
        # loop handles about a thousand connections: more cannot be queued beforehand.
        return min(count, TSP_MAX_QUEUED)

    def throughput(self, settings: Settings, count: int) -> float:
        with folder(settings, "peer-tsp") as where, self._server(where) as env:
            gates = [where / f"gate{i}" for i in range(2)]
            try:
                for gate in gates:
                    os.mkfifo(gate)
                    self._tsp(env, "sh", "-c", f"cat {gate} > /dev/null")
                subprocess.run(
                    ["bash", "-c", f'for i in $(seq {count}); do "$0" sh -c true; done', self.tsp],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                    timeout=600,
                )
                last = self._tsp(env, "-N", "2", "sh", "-c", "true")
                waiter = subprocess.Popen(
                    [self.tsp, "-w", last],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(0.2)  # the waiter is connected
                start = time.perf_counter()
                _open_gates(gates)
                waiter.wait(600)
                end = time.perf_counter()
            finally:
                _open_gates(gates)  # on failure too: a gate job left blocked outlives the run
            finished = self._tsp(env, "-l").count(" finished ")
            if finished < count + 3:
                raise BenchError(f"task-spooler finished {finished} of {count + 3} jobs")
        return count / (end - start)

    def latency(self, settings: Settings, count: int) -> list[float]:
        with folder(settings, "peer-tsp") as where, self._server(where) as env:
            self._tsp(env, "-w", self._tsp(env, "sh", "-c", "true"))  # warm-up
            time.sleep(settings.pick(0.3, 1.0))
            return [self._one(where, env, index) for index in range(count)]

    def _one(self, where: Path, env: dict[str, str], index: int) -> float:
        fifo = where / f"started{index}"
        os.mkfifo(fifo)
        opened = fifo_reader(fifo)
        before = time.time()
        job_id = self._tsp(env, "sh", "-c", f": > {fifo}; true")
        started = opened()
        self._tsp(env, "-w", job_id)
        time.sleep(GAP)
        return started - before


def _open_gates(gates: list[Path]) -> None:
    """EOF for each gate job's `cat` (it exits); a gate nobody reads any more is skipped."""
    for gate in gates:
        try:
            os.close(os.open(gate, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # ENXIO: no reader; ENOENT: never made
            continue


def fifo_reader(fifo: Path):
    """Start a thread blocked opening `fifo` for reading; the returned function gives the
    moment the open returned (= when a writer opened it)."""
    moment: list[float] = []

    def read() -> None:
        fd = os.open(fifo, os.O_RDONLY)
        moment.append(time.time())
        while os.read(fd, 512):
            pass
        os.close(fd)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    time.sleep(0.005)  # blocked in open() before the writer comes

    def result() -> float:
        thread.join(60)
        if not moment:
            raise BenchError(f"nothing opened {fifo} within 60 s")
        return moment[0]

    return result


def spawn_floor(settings: Settings, where: Path, count: int) -> list[float]:
    """The same fifo measurement of task-spooler's latency without the queue: Python spawns
    `sh -c ': > FIFO; true'` itself."""
    out = []
    for index in range(count):
        fifo = where / f"floor{index}"
        os.mkfifo(fifo)
        opened = fifo_reader(fifo)
        before = time.time()
        proc = subprocess.Popen(["sh", "-c", f": > {fifo}; true"])
        out.append(opened() - before)
        proc.wait()
        time.sleep(GAP)
    return out


class GnuParallel(Peer):
    """GNU parallel runs a list of commands, each through $SHELL, `-j 2` at a time: its input
    file plays the part of the jobs enqueued beforehand, and its run (perl start-up
    included, as the pool start is for queuectl) is timed from spawn to exit."""

    name = "GNU parallel (-j 2)"
    no_latency = "no queue: it runs a list given at its start, nothing can be enqueued later"

    def __init__(self) -> None:
        self.parallel = shutil.which("parallel")

    def missing(self) -> str | None:
        return None if self.parallel else "GNU parallel is not installed (apt-get install parallel)"

    def command_line(self) -> str:
        return (
            "`parallel --will-cite -j 2 -N0 true :::: FILE` (FILE: one line per job; -N0: no "
            "argument; --will-cite: no citation notice)"
        )

    def throughput(self, settings: Settings, count: int) -> float:
        with folder(settings, "peer-parallel") as where:
            lines = where / "jobs.txt"
            lines.write_text("job\n" * count)
            argv = [self.parallel, "--will-cite", "-j", "2", "-N0", "true", "::::", str(lines)]
            return count / timed(argv, clean_env(), cwd=where)

    def latency(self, settings: Settings, count: int) -> list[float]:
        raise BenchError(self.no_latency)


HS_CLUSTER = ["cluster", "-N", "2", "--no-db"]


class HyperShell(Peer):
    """HyperShell's local cluster: `hs cluster` starts its server and a local client with 2
    executors, the commands (run through a shell) read from a file or its stdin.
    `--no-db`: in memory, submitted straight to the client."""

    name = "HyperShell (hs cluster, 2 executors)"

    def __init__(self) -> None:
        self.hs = shutil.which("hs", path=str(Path(sys.executable).parent)) or shutil.which("hs")

    def missing(self) -> str | None:
        return None if self.hs else "HyperShell is not installed (pip install hypershell)"

    def command_line(self) -> str:
        return (
            f"workload 1: `hs {' '.join(HS_CLUSTER)} -b 2 --no-confirm FILE` (bundles of 2 "
            f"tasks, one per executor); workload 4: `hs {' '.join(HS_CLUSTER)} -b 1` reading "
            "its stdin, one line written per job"
        )

    def throughput(self, settings: Settings, count: int) -> float:
        with folder(settings, "peer-hs") as where:
            tasks = where / "tasks.txt"
            tasks.write_text("true\n" * count)
            argv = [self.hs, *HS_CLUSTER, "-b", "2", "--no-confirm", str(tasks)]
            return count / timed(argv, clean_env(), cwd=where)

    def latency(self, settings: Settings, count: int) -> list[float]:
        with folder(settings, "peer-hs") as where, open(where / "hs.log", "wb") as log:
            cluster = subprocess.Popen(
                [self.hs, *HS_CLUSTER, "-b", "1"],
                env=clean_env(),
                cwd=where,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
            try:
                self._submit_and_wait(cluster, where, "warm")  # also waits for the client
                time.sleep(settings.pick(0.3, 1.0))
                return [self._submit_and_wait(cluster, where, str(i)) for i in range(count)]
            finally:
                cluster.stdin.close()  # end of input: the cluster finishes and exits
                stop_process(cluster, timeout=30)

    def _submit_and_wait(self, cluster: subprocess.Popen, where: Path, label: str) -> float:
        started, done = where / f"started{label}", where / f"done{label}"
        os.mkfifo(started)
        opened = fifo_reader(started)
        before = time.time()
        cluster.stdin.write(f": > {started}; true; : > {done}\n".encode())
        cluster.stdin.flush()
        moment = opened()
        _wait_for_file(done)
        time.sleep(GAP)
        return moment - before


def _wait_for_file(path: Path, timeout: float = 60) -> None:
    deadline = time.perf_counter() + timeout
    while not path.exists():
        if time.perf_counter() > deadline:
            raise BenchError(f"{path.name} not written within {timeout:.0f} s")
        time.sleep(POLL)


class HyperQueue(Peer):
    """HyperQueue from its PyPI wheel: no `hq` binary in it, but the server and worker are
    embedded, and `LocalCluster` runs them in the driver process (`bench.peer_hq`). Each task
    is the program `sh -c true`; a worker with 2 cores runs two at a time."""

    name = "HyperQueue (LocalCluster, 2 cores)"

    def missing(self) -> str | None:
        return _importable("hyperqueue")

    def command_line(self) -> str:
        return (
            "`python -m bench.peer_hq` (HyperQueue's LocalCluster: server and a 2-core worker "
            "in one process; workload 1: one job of N tasks `sh -c true`, workload 4: one "
            "job of one task each)"
        )

    def _run(self, settings: Settings, *args: str) -> str:
        with folder(settings, "peer-hq") as where:
            result = subprocess.run(
                [sys.executable, "-m", "bench.peer_hq", *args],
                env=clean_env(),
                cwd=where,
                capture_output=True,
                text=True,
                timeout=DRIVER_TIMEOUT,
            )
        if result.returncode != 0:
            raise BenchError(f"{self.name} driver failed: {result.stderr.strip()[-500:]}")
        return result.stdout.strip().splitlines()[-1]  # after the server's info table

    def throughput(self, settings: Settings, count: int) -> float:
        return count / float(self._run(settings, "throughput", str(count)))

    def latency(self, settings: Settings, count: int) -> list[float]:
        return json.loads(
            self._run(settings, "latency", str(count), str(GAP), str(settings.pick(0.3, 1.0)))
        )


PEERS: list[Peer] = [
    Huey(tuned=False),
    Huey(tuned=True),
    Rq(simple=False),
    Rq(simple=True),
    Celery(fair=False),
    Celery(fair=True),
    Dramatiq(),
    TaskSpooler(),
    GnuParallel(),
    HyperShell(),
    HyperQueue(),
]


def _workloads(peer: Peer) -> tuple[int, ...]:
    return (1,) if peer.no_latency else (1, 4)


def _not_measured(section: Section, skipped: list[Peer], why: str) -> None:
    for peer in skipped:
        for workload in _workloads(peer):
            section.targets.append(
                Target(
                    f"faster than {peer.name}, workload {workload}", None, ">", 1.0, why_missing=why
                )
            )


METHOD_PEERS = [
    "Each peer runs at its defaults and at its best documented settings for many short jobs, "
    "both rows labelled, on 2 workers (2 processes, concurrency 2, 2 slots or 2 cores):",
    "- Huey: defaults (SqliteStorage: WAL, synchronous left at SQLite's default; consumer "
    "polls an empty queue from 0.1 s, x1.15 each miss, up to 10 s), and tuned: "
    "`SqliteHuey(fsync=False)`, the storage's switch to `pragma synchronous=OFF` "
    "(huey/storage.py), with consumer options `--delay 0.01 --backoff 1 --max-delay 0.01` "
    "(huey.readthedocs.io, Consuming Tasks: the polling interval, its backoff factor and "
    "maximum), a fixed 10 ms poll.",
    "- RQ: the default `Worker` (a fork per job) and `--worker-class rq.SimpleWorker`, which "
    "RQ's performance notes (docs/benchmark.md) give as about 6x faster for jobs of a few "
    "milliseconds, since it forks nothing.",
    "- Celery: defaults (prefetch multiplier 4) and `-O fair --prefetch-multiplier 1` "
    "(docs.celeryq.dev, Optimizing, Prefetch limits: a multiplier of 1 with the fair "
    "scheduling so a process takes a task only when it is free; the same guide says a large "
    "multiplier suits many short tasks, which the default row stands for).",
    "- Dramatiq (Redis broker): `--processes 2 --threads 1`, concurrency 2 as every other "
    "row (its default, 8 threads in each of one process per core, would run 16 jobs at "
    "once on 2 cores: more concurrency, not a better setting for the same work); "
    f"`dramatiq_worker_timeout={DRAMATIQ_POLL_MS}` (its documented environment variable, "
    "dramatiq.io reference) caps the consumer's back-off on an empty queue at 10 ms instead "
    "of 1,000 ms, as for Huey tuned.",
    "- task-spooler: `tsp -S 2`, its only setting that matters here.",
    "- GNU parallel: `-j 2 -N0 true :::: FILE`; it has no queue, so workload 4 does not "
    "apply to it.",
    "- HyperShell: `hs cluster -N 2 --no-db` (hyper-shell.readthedocs.io, cluster: the "
    "in-memory mode for ad-hoc work, tasks submitted straight to the client), with bundles "
    "of 2 (`-b 2`, coordinated with the executors as the docs advise for throughput) and "
    "`--no-confirm` in workload 1, bundles of 1 (its default, for responsiveness) in "
    "workload 4, where the jobs are lines written one at a time to its stdin.",
    "- HyperQueue: its PyPI wheel ships no `hq` binary, but embeds server and worker: "
    "`LocalCluster` (its Python API) runs both in the driver process, a worker with 2 "
    "cores; workload 1 submits one job of N tasks, workload 4 one job of one task each.",
]


def _method(count: int, picks: int) -> list[str]:
    return [
        f"Each run measures queuectl and every available peer in turn: workload 1 ({count:,} "
        "jobs enqueued beforehand, timed from the start of 2 worker processes to the last job "
        f"done) and workload 4 ({picks} jobs enqueued one at a time, each waited for, "
        f"{GAP * 1000:.0f} ms apart, after a warm-up job). queuectl is measured exactly as in "
        "workloads 1 and 4.",
        "Every Python peer's job body is the same function, `bench.peer_jobs.body`: "
        '`subprocess.run("true", shell=True)`, then it appends one line with the moment '
        "the body started to a file; the benchmark polls that file's size every 5 ms to see "
        "the last job done. Those peers are enqueued from a process of their own "
        "(`python -m bench.peer_driver`); their workers log to a file at their default level. "
        "The command-line peers (task-spooler, GNU parallel, HyperShell, HyperQueue) run the "
        "command `true` through `sh`, as each runs a command line; their workload 1 is timed "
        "from their start to their last job done.",
        "Latency of a Python peer = the start of the job body (the time it wrote) - the "
        "moment just before the enqueue call. The command-line peers have no job body to "
        "write it: their latency is the moment the job's `sh` opens a FIFO the benchmark is "
        "blocked reading - the moment before the enqueue (for task-spooler: the `tsp` client "
        "spawned; HyperShell: the line written to its stdin; HyperQueue: the submit call); "
        'the row "spawn floor" is the same measurement with Python spawning `sh` itself. '
        "queuectl's latency is `started_at - created_at` from its store, which keeps whole "
        "milliseconds (so about 1 ms of resolution); the peers' are to the microsecond.",
        *METHOD_PEERS,
        f"Redis: {REDIS_URL}, flushed before and after every measurement.",
    ]


def _available(settings: Settings, section: Section, count: int) -> list[Peer]:
    available = []
    for peer in PEERS:
        reason = peer.missing()
        if reason:
            settings.log(f"  skipping {peer.name}: {reason}")
            section.notes.append(f"{peer.name} skipped: {reason}.")
            continue
        available.append(peer)
        section.notes.append(f"{peer.name}: {peer.command_line()}.")
        if peer.no_latency:
            section.notes.append(f"{peer.name}: workload 4 not applicable ({peer.no_latency}).")
        if isinstance(peer, TaskSpooler) and peer.jobs(count) < count:
            section.notes.append(
                f"task-spooler runs workload 1 with {TSP_MAX_QUEUED:,} jobs, not "
                f"{count:,}: each queued job waits as a client process connected to its "
                'server, which fails with about a thousand of them ("Error getting the '
                'newjob_ok"), so no more can be enqueued beforehand. Its figure is '
                "jobs/s over those jobs."
            )
    return available


def _ratio_rows(
    section: Section,
    available: list[Peer],
    rates: dict[str, list[float]],
    lat: dict[str, list[list[float]]],
) -> list[list[str]]:
    ours_rate = median(rates["queuectl"])
    ours_p50 = median([percentile(v, 50) for v in lat["queuectl"]])
    rows = []
    for peer in available:
        rate_ratio = ours_rate / median(rates[peer.name])
        section.targets.append(
            Target(
                f"faster than {peer.name}, workload 1 (queuectl jobs/s / peer jobs/s)",
                rate_ratio,
                ">",
                1.0,
            )
        )
        latency_cell = "n/a (no queue)"
        if not peer.no_latency:
            latency_ratio = median([percentile(v, 50) for v in lat[peer.name]]) / ours_p50
            latency_cell = fmt_ratio(latency_ratio)
            section.targets.append(
                Target(
                    f"faster than {peer.name}, workload 4 (peer p50 / queuectl p50)",
                    latency_ratio,
                    ">",
                    1.0,
                )
            )
        rows.append([peer.name, fmt_ratio(rate_ratio), latency_cell])
    return rows


def _latency_rows(lat: dict[str, list[list[float]]], floor: list[list[float]]) -> list:
    rows = []
    for name, series in lat.items():
        rows += [
            (f"{name}: p50", [percentile(v, 50) for v in series], fmt_ms),
            (f"{name}: p95", [percentile(v, 95) for v in series], fmt_ms),
            (f"{name}: max", [max(v) for v in series], fmt_ms),
        ]
    if floor:
        rows.append(
            (
                "spawn floor (sh opens the FIFO, no queue): p50",
                [percentile(v, 50) for v in floor],
                fmt_ms,
            )
        )
    return rows


def _measure_once(
    settings: Settings,
    available: list[Peer],
    count: int,
    picks: int,
    rates: dict[str, list[float]],
    lat: dict[str, list[list[float]]],
) -> None:
    rates["queuectl"].append(count / throughput.queuectl_run(settings, SQLITE, count, 2))
    lat["queuectl"].append(latency.series(settings, SQLITE, picks).latencies)
    for peer in available:
        rates[peer.name].append(peer.throughput(settings, peer.jobs(count)))
        if not peer.no_latency:
            lat[peer.name].append(peer.latency(settings, picks))


def _run_line(rates: dict[str, list[float]], lat: dict[str, list[list[float]]]) -> str:
    return "; ".join(
        f"{name} {rates[name][-1]:,.0f} jobs/s"
        + (f", p50 {fmt_ms(percentile(lat[name][-1], 50))}" if name in lat else "")
        for name in rates
    )


def run(settings: Settings) -> Section:
    count = settings.pick(200, 2000)
    picks = settings.pick(20, 200)
    section = Section(NUMBER, KEY, TITLE)
    if settings.quick and KEY not in settings.explicit:
        section.skipped = "skipped in quick mode (name it with --only peers to run it)"
        _not_measured(section, PEERS, "quick mode")
        return section
    section.method = _method(count, picks)
    available = _available(settings, section, count)
    rates: dict[str, list[float]] = {"queuectl": []}
    lat: dict[str, list[list[float]]] = {"queuectl": []}
    for peer in available:
        rates[peer.name] = []
        if not peer.no_latency:
            lat[peer.name] = []
    floor: list[list[float]] = []
    for attempt_number in range(settings.runs):
        _measure_once(settings, available, count, picks, rates, lat)
        if any(isinstance(peer, TaskSpooler) for peer in available):
            with folder(settings, "spawn-floor") as where:
                floor.append(spawn_floor(settings, where, picks))
        settings.log(f"  run {attempt_number + 1}/{settings.runs}: " + _run_line(rates, lat))
    jobs = {peer.name: peer.jobs(count) for peer in available}
    section.tables.append(
        runs_table(
            f"workload 1: {count:,} jobs (unless the row says), 2 workers, jobs/s",
            [
                (
                    name if jobs.get(name, count) == count else f"{name}, {jobs[name]:,} jobs",
                    values,
                    fmt_rate,
                )
                for name, values in rates.items()
            ],
        )
    )
    section.tables.append(
        runs_table(f"workload 4: pickup latency of {picks} jobs", _latency_rows(lat, floor))
    )
    ratio_rows = _ratio_rows(section, available, rates, lat)
    _not_measured(section, [peer for peer in PEERS if peer not in available], "peer skipped")
    section.tables.append(
        Table(
            "ratios of the medians (> 1: queuectl is faster)",
            ["peer", "throughput: queuectl / peer", "latency p50: peer / queuectl"],
            ratio_rows,
        )
    )
    return section
