"""Where a busy worker's time goes (the profile behind workload 1's gap to the raw floor).

``python -m bench.profile_worker [--jobs N] [--seconds S] [--spy FILE] [--pg URL]`` runs N
`true` jobs through `worker start --count 2`, and while they run measures one worker's CPU
per job from /proc, and (when py-spy is installed) samples it with ``py-spy record --idle``,
summing the samples by phase. It also measures the CPU per job of the raw floor's parent
and child. With `--pg`, the store is a fresh schema on that (local) PostgreSQL server, and
the server's own CPU per job is read from /proc too (every `postgres` process).
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    CLOCK_TICKS,
    SQLITE,
    TRUE_JOB,
    PostgresBackend,
    QueuectlPool,
    clean_env,
    completed,
    cpu_seconds,
    open_store,
    prepare_process_environment,
    queuectl,
)

# Phases of Worker._execute, by a function that appears in the sampled stack.
PHASES = (
    ("waiting for the command to exit", "_PipeWatcher.wait_exit"),
    ("starting it: posix_spawn of /bin/sh (vfork, setsid, exec)", "_PosixSpawner.spawn"),
    ("the store: record the attempt and claim the next job", "SqlStore.finish_and_claim"),
)


def children_cpu(pid: int) -> float:
    """CPU seconds of a process's children that it has waited for (cutime + cstime)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / CLOCK_TICKS


def floor_cpu(runs: int) -> tuple[float, float]:
    """(parent, child) CPU seconds per `subprocess.run("true", shell=True)`."""

    def both() -> tuple[float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime

    before = both()
    for _ in range(runs):
        subprocess.run("true", shell=True, check=True)
    after = both()
    return (after[0] - before[0]) / runs, (after[1] - before[1]) / runs


def server_cpu() -> float:
    """CPU seconds used so far by the local PostgreSQL server's processes."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as handle:
                if handle.read().strip() == "postgres":
                    total += cpu_seconds(int(pid))
        except OSError:  # gone since the listing
            continue
    return total


def phases(raw_file: Path) -> tuple[int, dict[str, float]]:
    """Samples in Worker._execute, and the share of each phase."""
    total, counts = 0, collections.Counter()
    for line in raw_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "Worker._execute" not in stack:
            continue
        total += int(count)
        for name, marker in PHASES:
            if marker in stack:
                counts[name] += int(count)
    shares = {name: counts[name] / total for name, _ in PHASES} if total else {}
    return total, shares


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_worker")
    parser.add_argument("--jobs", type=int, default=12000)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--spy", type=Path, help="keep py-spy's raw samples in this file")
    parser.add_argument("--pg", metavar="URL", help="a local PostgreSQL server's URL")
    args = parser.parse_args(argv)
    prepare_process_environment()
    backend = SQLITE if args.pg is None else PostgresBackend(args.pg)
    with tempfile.TemporaryDirectory() as folder, backend.location(Path(folder)) as location:
        where = Path(folder)
        jobs = where / "jobs.jsonl"
        jobs.write_text(TRUE_JOB * args.jobs)
        subprocess.run(
            queuectl("--db", location, "enqueue", "--file", str(jobs)),
            env=clean_env(XDG_DATA_HOME=folder),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        store = open_store(location)
        pool = QueuectlPool(location, where, 2)
        try:
            worker = next(iter(pool.workers().values()))
            time.sleep(0.5)  # past start-up
            cpu0, kids0, server0 = cpu_seconds(worker), children_cpu(worker), server_cpu()
            done0, t0 = completed(store.counts())[0], time.time()
            raw = args.spy or where / "spy.txt"
            spy = shutil.which("py-spy")
            if spy:
                subprocess.run(
                    [
                        spy,
                        "record",
                        "-p",
                        str(worker),
                        "-d",
                        str(args.seconds),
                        "-r",
                        "250",
                        "--idle",
                        "--nonblocking",
                        "-f",
                        "raw",
                        "-o",
                        str(raw),
                    ],
                    capture_output=True,
                    check=True,
                )
            else:
                time.sleep(args.seconds)
            cpu1, kids1, server1 = cpu_seconds(worker), children_cpu(worker), server_cpu()
            done1, t1 = completed(store.counts())[0], time.time()
        finally:
            pool.stop()
            store.close()
        per_worker = (done1 - done0) / 2
        print(
            f"2 workers: {(done1 - done0) / (t1 - t0):,.0f} jobs/s; one worker: "
            f"{(cpu1 - cpu0) / (t1 - t0) * 100:.0f}% of a core, "
            f"{(cpu1 - cpu0) / per_worker * 1000:.3f} ms CPU per job, its commands "
            f"{(kids1 - kids0) / per_worker * 1000:.3f} ms"
        )
        if args.pg is not None:
            print(
                f"the PostgreSQL server: {(server1 - server0) / (done1 - done0) * 1000:.3f} ms "
                "CPU per job (all its processes, both workers' jobs)"
            )
        if spy:
            total, shares = phases(raw)
            print(f"py-spy --idle, {total} samples of that worker's job loop:")
            for name, share in shares.items():
                print(f"  {share * 100:5.1f}%  {name}")
        else:
            print("py-spy is not installed (pip install py-spy): no phase breakdown")
    parent, child = floor_cpu(1500)
    print(f"raw floor, per job: parent {parent * 1000:.3f} ms CPU, child {child * 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
