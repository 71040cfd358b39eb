"""Workload 6, memory: the peak RSS (VmHWM) of one worker process and of the pool
supervisor, read from /proc after a workload-1-like run, before the pool is stopped."""

from __future__ import annotations

from bench.common import (
    SQLITE,
    QueuectlPool,
    Section,
    Settings,
    Target,
    children_of,
    fmt_mib,
    median,
    process_name,
    runs_table,
    status_kib,
)
from bench.throughput import queuectl_run

NUMBER = 6
KEY = "memory"
TITLE = "Memory: peak RSS of a worker and of the pool supervisor"
TARGET_WORKER_MIB = 30


def run(settings: Settings) -> Section:
    count = settings.pick(200, 2000)
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        f"As workload 1: {count:,} `true` jobs through `worker start --foreground --count 2` "
        "on a fresh SQLite store. Once they are all completed and before the pool is "
        "stopped, `VmHWM` (peak resident set size) and `VmRSS` are read from "
        "`/proc/<pid>/status` for the supervisor (the process the command started), for "
        "each worker (the pids it printed) and for any other child of the supervisor "
        "(multiprocessing's resource tracker).",
        "Worker = the larger of the two workers' peaks in that run.",
    ]
    worker_peak, worker_now, pool_peak, pool_now, others = [], [], [], [], []
    names: dict[str, list[float]] = {}

    def read(pool: QueuectlPool) -> None:
        workers = pool.workers()
        worker_peak.append(max(status_kib(pid, "VmHWM") for pid in workers.values()))
        worker_now.append(max(status_kib(pid, "VmRSS") for pid in workers.values()))
        pool_peak.append(status_kib(pool.pid, "VmHWM"))
        pool_now.append(status_kib(pool.pid, "VmRSS"))
        extra = [pid for pid in children_of(pool.pid) if pid not in workers.values()]
        others.append(sum(status_kib(pid, "VmHWM") for pid in extra))
        for pid in extra:
            names.setdefault(process_name(pid)[:80], []).append(status_kib(pid, "VmHWM"))

    for attempt_number in range(settings.runs):
        queuectl_run(settings, SQLITE, count, 2, on_done=read)
        settings.log(
            f"  run {attempt_number + 1}/{settings.runs}: worker peak "
            f"{fmt_mib(worker_peak[-1])}, supervisor peak {fmt_mib(pool_peak[-1])}"
        )
    section.tables.append(
        runs_table(
            "resident memory after the run",
            [
                ("one worker: peak (VmHWM)", worker_peak, fmt_mib),
                ("one worker: at the end (VmRSS)", worker_now, fmt_mib),
                ("supervisor: peak (VmHWM)", pool_peak, fmt_mib),
                ("supervisor: at the end (VmRSS)", pool_now, fmt_mib),
                ("other children of the supervisor: peaks, summed", others, fmt_mib),
            ],
        )
    )
    for name, values in names.items():
        section.notes.append(
            f"Other child of the supervisor: `{name}` (peak {fmt_mib(median(values))})."
        )
    section.targets.append(
        Target(
            "worker peak RSS",
            median(worker_peak) / 1024,
            "<=",
            TARGET_WORKER_MIB,
            lambda v: f"{v:.1f} MiB",
        )
    )
    return section
