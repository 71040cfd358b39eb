"""Workload 2, store overhead: claim + finish cycles per second through the Store API alone
(no subprocess), in 1 and 4 processes, with the workers' default durability
(``open_store(path, durable=False)``) and fully synced (``durable=True``)."""

from __future__ import annotations

import multiprocessing
import time

from bench.common import (
    SQLITE,
    Backend,
    BenchError,
    Section,
    Settings,
    Target,
    bulk_enqueue,
    fmt_rate,
    folder,
    median,
    open_store,
    runs_table,
)

NUMBER = 2
KEY = "store"
TITLE = "Store overhead: claim + finish cycles per second, Store API only"
TARGET_RATE = 3000
LEASE = 30.0


def cycles(
    store, worker_id: str, config, deadline: float | None = None, limit: int | None = None
) -> tuple[int, float, bool]:
    """Claim, then loop finish_and_claim (one transaction: the finish of a job and the claim
    of the next, as a worker does) until `deadline` (perf_counter) or `limit` cycles.
    Returns (cycles, seconds, whether the jobs ran out); the job left claimed at the end is
    finished untimed."""
    from queuectl import lifecycle
    from queuectl.model import Attempt, Lease

    def outcome(job, now):
        return (
            Lease(job.id, worker_id, job.attempt_number),
            lifecycle.after_attempt(job, 0, None, now, config),
            Attempt(
                job_id=job.id,
                number=job.attempt_number,
                worker_id=worker_id,
                started_at=job.started_at,
                finished_at=now,
                exit_code=0,
            ),
        )

    count = 0
    start = time.perf_counter()
    job = store.claim(worker_id, None, store.clock(), LEASE)
    while job is not None:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        if limit is not None and count >= limit:
            break
        now = store.clock()
        lease, transition, attempt = outcome(job, now)
        applied, job = store.finish_and_claim(lease, transition, attempt, now, None, LEASE)
        if not applied:
            raise RuntimeError(f"the finish of a held job did not apply ({worker_id})")
        count += 1
    elapsed = time.perf_counter() - start
    if job is not None:
        now = store.clock()
        store.finish(*outcome(job, now), now)
    return count, elapsed, job is None


def cycle(location: str, durable: bool, duration: float, worker_id: str, barrier, results) -> None:
    """One process of a measurement: open the store, meet the others, cycle for
    `duration` seconds, report (worker id, cycles, seconds, ran out, error)."""
    from queuectl.config import Config
    from queuectl.store import open_store as _open

    try:
        store = _open(location, durable=durable)
        config = Config.from_stored(store.config_values())
        barrier.wait(60)
        count, elapsed, ran_out = cycles(
            store, worker_id, config, deadline=time.perf_counter() + duration
        )
        store.close()
        results.put((worker_id, count, elapsed, ran_out, None))
    except BaseException as exc:  # report it: the parent waits on the queue
        results.put((worker_id, 0, 0.0, False, repr(exc)))


def measure_once(
    settings: Settings, backend: Backend, processes: int, durable: bool, duration: float, jobs: int
) -> tuple[float, bool]:
    """(cycles per second over all processes, whether the jobs ran out)."""
    ctx = multiprocessing.get_context("spawn")
    with folder(settings, "store") as where, backend.location(where) as location:
        store = open_store(location, durable=False)
        try:
            bulk_enqueue(store, jobs, str(where), batch=10_000)
        finally:
            store.close()
        barrier = ctx.Barrier(processes)
        results = ctx.Queue()
        procs = [
            ctx.Process(
                target=cycle, args=(location, durable, duration, f"bench-{i}", barrier, results)
            )
            for i in range(processes)
        ]
        for proc in procs:
            proc.start()
        try:
            outcomes = [results.get(timeout=duration + 120) for _ in procs]
        finally:
            for proc in procs:
                proc.join(30)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
    errors = [error for *_, error in outcomes if error]
    if errors:
        raise BenchError(f"a cycling process failed: {errors[0]}")
    total = sum(cycles for _, cycles, *_ in outcomes)
    window = max(elapsed for _, _, elapsed, *_ in outcomes)
    return total / window, any(ran_out for *_, ran_out, _ in outcomes)


CONFIGS = [(1, False), (4, False), (1, True), (4, True)]


def fill(
    section: Section, settings: Settings, backend: Backend, target: float | None
) -> dict[tuple[int, bool], float]:
    duration = settings.pick(0.3, 2.0)
    jobs = settings.pick(4_000, 40_000)
    rates: dict[tuple[int, bool], list[float]] = {config: [] for config in CONFIGS}
    ran_out = False
    for run in range(settings.runs):
        order = CONFIGS if run % 2 == 0 else list(reversed(CONFIGS))
        for processes, durable in order:
            rate, out = measure_once(settings, backend, processes, durable, duration, jobs)
            ran_out = ran_out or out
            rates[(processes, durable)].append(rate)
        settings.log(
            f"  {backend.name} run {run + 1}/{settings.runs}: "
            + ", ".join(
                f"{p} proc{'s' if p > 1 else ''} {'synced' if d else 'default'} "
                f"{rates[(p, d)][-1]:,.0f}/s"
                for p, d in CONFIGS
            )
        )
    rows = [
        (
            f"{processes} process{'es' if processes > 1 else ''}, "
            f"{'fully synced (durable=True)' if durable else 'default (durable=False)'}",
            rates[(processes, durable)],
            fmt_rate,
        )
        for processes, durable in CONFIGS
    ]
    section.tables.append(
        runs_table(
            f"{backend.name}: claim + finish cycles per second (all processes together)", rows
        )
    )
    if ran_out:
        section.notes.append(
            f"{backend.name}: some process ran out of the {jobs:,} "
            "pre-enqueued jobs before its time was up; those rates are "
            "lower bounds."
        )
    medians = {config: median(values) for config, values in rates.items()}
    if target is not None:
        section.targets.append(
            Target(
                f"store claim+finish cycles/s, {backend.name}, 1 process, default durability",
                medians[(1, False)],
                ">=",
                target,
                fmt_rate,
            )
        )
    return medians


def run(settings: Settings) -> Section:
    duration = settings.pick(0.3, 2.0)
    jobs = settings.pick(4_000, 40_000)
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        f"A fresh store per measurement with {jobs:,} pending jobs (inserted through "
        "`Store.enqueue`, not timed). N processes (multiprocessing, spawn) each open the "
        "store, meet at a barrier, claim one job, then loop `Store.finish_and_claim` (a "
        "completed attempt and the next claim in one transaction, as a worker does) for "
        f"{duration} s. One cycle = one finish + one claim.",
        "Rate = all cycles / the longest process's elapsed time.",
        "Default durability = `open_store(path, durable=False)` as workers open it (SQLite "
        "`synchronous=NORMAL`); fully synced = `durable=True` (`synchronous=FULL`: the WAL "
        "is fsynced at every commit).",
        "The four configurations run in turn within each run (order reversed every other run).",
    ]
    fill(section, settings, SQLITE, TARGET_RATE)
    return section
