"""Workload 7, peers side by side on workloads 1 (throughput) and 4 (pickup latency): Huey
with its SQLite storage, RQ and Celery on the local Redis, and task-spooler. queuectl runs
in the same loop, so every ratio compares figures taken minutes apart on the same machine.
A peer whose package or server is missing is skipped with a message."""

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
)
from bench.peer_jobs import done_count

NUMBER = 7
KEY = "peers"
TITLE = "Peers side by side: Huey, RQ, Celery, task-spooler"
REDIS_URL = os.environ.get("QUEUECTL_BENCH_REDIS", "redis://127.0.0.1:6379/13")
GAP = latency.GAP
DRIVER_TIMEOUT = 600


class Peer:
    """A queue measured the same way as queuectl."""

    name = ""
    module = ""  # bench.peer_* module that enqueues and defines the job

    def missing(self) -> str | None:
        """Why this peer cannot be measured, or None."""
        raise NotImplementedError

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


class Huey(Peer):
    name = "Huey (SQLite)"
    module = "bench.peer_huey"

    def missing(self) -> str | None:
        return _importable("huey")

    def env(self, where: Path) -> dict[str, str]:
        return clean_env(BENCH_HUEY_DB=str(where / "huey.db"))

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
            ]
        ]


class _RedisPeer(Peer):
    def env(self, where: Path) -> dict[str, str]:
        return clean_env(BENCH_REDIS_URL=REDIS_URL)

    def reset(self, env: dict[str, str]) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()


class Rq(_RedisPeer):
    name = "RQ (Redis)"
    module = "bench.peer_rq"

    def missing(self) -> str | None:
        return _importable("redis", "rq") or _redis_down()

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
                "bench",
            ]
            for i in range(2)
        ]

    def command_line(self) -> str:
        return f"2 x `rq worker --url {REDIS_URL} bench` (default worker: a fork per job)"


class Celery(_RedisPeer):
    name = "Celery (Redis)"
    module = "bench.peer_celery"

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
            ]
        ]


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

    def throughput(self, settings: Settings, count: int) -> float:
        # Each queued job waits as a client process connected to the server, whose select()
        # loop handles about a thousand connections: more cannot be queued beforehand.
        count = min(count, TSP_MAX_QUEUED)
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


PEERS = [Huey(), Rq(), Celery(), TaskSpooler()]


def _not_measured(section: Section, skipped: list[Peer], why: str) -> None:
    for peer in skipped:
        for workload in (1, 4):
            section.targets.append(
                Target(
                    f"faster than {peer.name}, workload {workload}", None, ">", 1.0, why_missing=why
                )
            )


def run(settings: Settings) -> Section:
    count = settings.pick(200, 2000)
    picks = settings.pick(20, 200)
    section = Section(NUMBER, KEY, TITLE)
    if settings.quick and KEY not in settings.explicit:
        section.skipped = "skipped in quick mode (name it with --only peers to run it)"
        _not_measured(section, PEERS, "quick mode")
        return section
    section.method = [
        f"Each run measures queuectl and every available peer in turn: workload 1 ({count:,} "
        "jobs enqueued beforehand, timed from the start of 2 worker processes to the last job "
        f"done) and workload 4 ({picks} jobs enqueued one at a time, each waited for, "
        f"{GAP * 1000:.0f} ms apart, after a warm-up job). queuectl is measured exactly as in "
        "workloads 1 and 4.",
        "Every peer's job body is the same function, `bench.peer_jobs.body`: "
        '`subprocess.run("true", shell=True)`, then it appends one line with the moment '
        "the body started to a file; the benchmark polls that file's size every 5 ms to see "
        "the last job done. Peers are enqueued from a process of their own "
        "(`python -m bench.peer_driver`), with their default settings unless listed below; "
        "their workers log to a file at their default level.",
        "Latency of a peer = the start of the job body (the time it wrote) - the moment just "
        "before the enqueue call. task-spooler has no library: its latency is the moment its "
        "job's `sh` opens a FIFO the benchmark is blocked reading - the moment before the "
        "`tsp` client is spawned, so it includes spawning the client and `sh`; the row "
        '"spawn floor" is the same measurement with Python spawning `sh` itself. '
        "queuectl's latency is `started_at - created_at` from its store, which keeps whole "
        "milliseconds (so about 1 ms of resolution); the peers' are to the microsecond.",
        f"Redis: {REDIS_URL}, flushed before and after every measurement.",
    ]
    available = []
    for peer in PEERS:
        reason = peer.missing()
        if reason:
            settings.log(f"  skipping {peer.name}: {reason}")
            section.notes.append(f"{peer.name} skipped: {reason}.")
        else:
            available.append(peer)
            section.notes.append(f"{peer.name} workers: {peer.command_line()}.")
            if isinstance(peer, TaskSpooler) and count > TSP_MAX_QUEUED:
                section.notes.append(
                    f"task-spooler runs workload 1 with {TSP_MAX_QUEUED:,} jobs, not "
                    f"{count:,}: each queued job waits as a client process connected to its "
                    'server, which fails with about a thousand of them ("Error getting the '
                    'newjob_ok"), so no more can be enqueued beforehand. Its figure is '
                    "jobs/s over those jobs."
                )
    rates: dict[str, list[float]] = {"queuectl": []}
    lat: dict[str, list[list[float]]] = {"queuectl": []}
    for peer in available:
        rates[peer.name], lat[peer.name] = [], []
    floor: list[list[float]] = []
    for attempt_number in range(settings.runs):
        rates["queuectl"].append(count / throughput.queuectl_run(settings, SQLITE, count, 2))
        lat["queuectl"].append(latency.series(settings, SQLITE, picks).latencies)
        for peer in available:
            rates[peer.name].append(peer.throughput(settings, count))
            lat[peer.name].append(peer.latency(settings, picks))
        if any(isinstance(peer, TaskSpooler) for peer in available):
            with folder(settings, "spawn-floor") as where:
                floor.append(spawn_floor(settings, where, picks))
        settings.log(
            f"  run {attempt_number + 1}/{settings.runs}: "
            + "; ".join(
                f"{name} {rates[name][-1]:,.0f} jobs/s, p50 {fmt_ms(percentile(lat[name][-1], 50))}"
                for name in rates
            )
        )
    names = list(rates)
    section.tables.append(
        runs_table(
            f"workload 1: {count:,} jobs, 2 workers, jobs/s",
            [(name, rates[name], fmt_rate) for name in names],
        )
    )
    rows = []
    for name in names:
        rows += [
            (f"{name}: p50", [percentile(v, 50) for v in lat[name]], fmt_ms),
            (f"{name}: p95", [percentile(v, 95) for v in lat[name]], fmt_ms),
            (f"{name}: max", [max(v) for v in lat[name]], fmt_ms),
        ]
    if floor:
        rows.append(
            (
                "spawn floor (sh opens the FIFO, no queue): p50",
                [percentile(v, 50) for v in floor],
                fmt_ms,
            )
        )
    section.tables.append(runs_table(f"workload 4: pickup latency of {picks} jobs", rows))
    ours_rate = median(rates["queuectl"])
    ours_p50 = median([percentile(v, 50) for v in lat["queuectl"]])
    ratio_rows = []
    for peer in available:
        rate_ratio = ours_rate / median(rates[peer.name])
        peer_p50 = median([percentile(v, 50) for v in lat[peer.name]])
        ratio_rows.append([peer.name, fmt_ratio(rate_ratio), fmt_ratio(peer_p50 / ours_p50)])
        section.targets.append(
            Target(
                f"faster than {peer.name}, workload 1 (queuectl jobs/s / peer jobs/s)",
                rate_ratio,
                ">",
                1.0,
            )
        )
        section.targets.append(
            Target(
                f"faster than {peer.name}, workload 4 (peer p50 / queuectl p50)",
                peer_p50 / ours_p50,
                ">",
                1.0,
            )
        )
    _not_measured(section, [peer for peer in PEERS if peer not in available], "peer skipped")
    section.tables.append(
        Table(
            "ratios of the medians (> 1: queuectl is faster)",
            ["peer", "throughput: queuectl / peer", "latency p50: peer / queuectl"],
            ratio_rows,
        )
    )
    return section
