"""Workload 10, workflows (issue 12): what waiting jobs cost other claims, how long one end
takes to release 10,000 dependents, and an array's enqueue against a batch's."""

from __future__ import annotations

import time
from typing import Callable, Optional

from bench import pg, storeapi
from bench.common import (
    Backend,
    Section,
    Settings,
    Target,
    bulk_enqueue,
    fmt_rate,
    fmt_s,
    folder,
    median,
    open_store,
    runs_table,
)

NUMBER = 10
KEY = "workflows"
TITLE = "Workflows: waiting jobs and claims, releasing dependents, arrays"
WAITING = 10_000


def _waiting_jobs(store, count: int, cwd: str) -> None:
    """`count` jobs that wait on one job that stays unfinished (held)."""
    from queuectl.model import NewJob

    store.enqueue([NewJob(id="root", command="true", max_retries=0, cwd=cwd)], store.clock())
    store.hold(["root"], True, store.clock())
    after = [{"id": "root", "on": "success"}]
    jobs = [
        NewJob(id=f"w{i}", command="true", max_retries=0, cwd=cwd, after=after)
        for i in range(count)
    ]
    store.enqueue(jobs, store.clock())


Crowd = Optional[Callable[..., None]]
"""What else a store holds while its plain jobs are claimed: called with (store, cwd)."""


def claim_rate(settings: Settings, backend: Backend, crowd: Crowd, duration: float) -> float:
    """Claim + finish cycles per second of plain jobs, in a store that also holds what
    `crowd` puts there (nothing if None)."""
    from queuectl.config import Config

    with folder(settings, "claims") as where, backend.location(where) as location:
        store = open_store(location, durable=False)
        try:
            bulk_enqueue(store, settings.pick(3_000, 30_000), str(where), batch=10_000)
            if crowd is not None:
                crowd(store, str(where))
            config = Config.from_stored(store.config_values())
            count, elapsed, _ = storeapi.cycles(
                store, "bench", config, deadline=time.perf_counter() + duration
            )
        finally:
            store.close()
    return count / elapsed


def _crowd(waiting: int) -> Crowd:
    return (lambda store, cwd: _waiting_jobs(store, waiting, cwd)) if waiting else None


def release_seconds(settings: Settings, backend: Backend, dependents: int) -> float:
    """Seconds of the one transaction that completes a job and releases its dependents."""
    from queuectl import lifecycle
    from queuectl.config import Config
    from queuectl.model import Attempt, Lease, NewJob

    with folder(settings, "release") as where, backend.location(where) as location:
        store = open_store(location, durable=False)
        try:
            cwd = str(where)
            store.enqueue([NewJob(id="root", command="true", max_retries=0, cwd=cwd)], 0.0)
            after = [{"id": "root", "on": "success"}]
            store.enqueue(
                [
                    NewJob(id=f"d{i}", command="true", max_retries=0, cwd=cwd, after=after)
                    for i in range(dependents)
                ],
                store.clock(),
            )
            config = Config.from_stored(store.config_values())
            job = store.claim("bench", None, store.clock(), 30.0)
            assert job is not None and job.id == "root"
            now = store.clock()
            lease = Lease(job.id, "bench", job.attempt_number)
            record = Attempt(job.id, job.attempt_number, "bench", job.started_at, now, 0)
            transition = lifecycle.after_attempt(job, 0, None, now, config)
            start = time.perf_counter()
            applied = store.finish(lease, transition, record, now)
            elapsed = time.perf_counter() - start
            assert applied and store.counts()["default"]["pending"] == dependents
        finally:
            store.close()
    return elapsed


def enqueue_seconds(settings: Settings, backend: Backend, count: int, array: bool) -> float:
    """Seconds to enqueue `count` jobs through the service: one array, or one batch."""
    from queuectl import service

    with folder(settings, "array") as where, backend.location(where) as location:
        store = open_store(location, durable=True)
        try:
            spec = {"command": "echo $QUEUECTL_ARRAY_INDEX"}
            start = time.perf_counter()
            if array:
                service.enqueue_array(store, spec, str(where), list(range(1, count + 1)))
            else:
                service.enqueue(
                    store, [{**spec, "id": f"b.{i}"} for i in range(1, count + 1)], str(where)
                )
            return time.perf_counter() - start
        finally:
            store.close()


def fill(section: Section, settings: Settings, backend: Backend) -> None:
    duration = settings.pick(0.3, 2.0)
    count = settings.pick(5_000, 100_000)
    waiting = settings.pick(2_000, WAITING)
    plain, crowded, ratios, releases, arrays, batches = [], [], [], [], [], []
    for run in range(settings.runs):
        # The two stores in turn, the first one changed every run: a drift of the machine
        # within a run then does not always count against the same one.
        order = (0, waiting) if run % 2 == 0 else (waiting, 0)
        rates = {count: claim_rate(settings, backend, _crowd(count), duration) for count in order}
        plain.append(rates[0])
        crowded.append(rates[waiting])
        ratios.append(crowded[-1] / plain[-1])
        releases.append(release_seconds(settings, backend, waiting))
        arrays.append(enqueue_seconds(settings, backend, count, array=True))
        batches.append(enqueue_seconds(settings, backend, count, array=False))
        settings.log(
            f"  {backend.name} run {run + 1}/{settings.runs}: claims {plain[-1]:,.0f}/s plain, "
            f"{crowded[-1]:,.0f}/s with {waiting:,} waiting; release {releases[-1]:.3f} s; "
            f"array {arrays[-1]:.2f} s, batch {batches[-1]:.2f} s"
        )
    section.tables.append(
        runs_table(
            f"{backend.name}: claims of other jobs, with and without {waiting:,} waiting jobs",
            [
                ("claim + finish cycles/s, no waiting jobs", plain, fmt_rate),
                (f"claim + finish cycles/s, {waiting:,} jobs waiting on one", crowded, fmt_rate),
                ("ratio (with / without, same run)", ratios, lambda v: f"{v:.3f}"),
            ],
        )
    )
    section.tables.append(
        runs_table(
            f"{backend.name}: one end releasing {waiting:,} dependents; {count:,} jobs enqueued",
            [
                (f"the finish that releases {waiting:,} dependents", releases, fmt_s),
                (f"enqueue an array of {count:,}", arrays, fmt_s),
                (f"enqueue a batch of {count:,}", batches, fmt_s),
                (
                    "array / batch (same run)",
                    [a / b for a, b in zip(arrays, batches)],
                    lambda v: f"{v:.2f}",
                ),
            ],
        )
    )
    section.targets.append(
        Target(
            f"release of {waiting:,} dependents, {backend.name} (s)",
            median(releases),
            "<",
            1.0,
            fmt_s,
        )
    )


def run(settings: Settings) -> Section:
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        "Claims: the Store API cycle of workload 2 (finish_and_claim, one process, default "
        "durability) over plain pending jobs, in a fresh store with no other jobs and in one "
        "that also holds jobs waiting on one held (never finished) job; both are measured in "
        "each run, which goes first alternating from run to run, and the ratio is taken run "
        "by run.",
        "Release: a fresh store with one job and that many jobs waiting on it; the one "
        "`Store.finish` transaction that completes it (and makes them all claimable) is timed.",
        "Arrays: `service.enqueue_array` of N indices against `service.enqueue` of N job "
        "objects, both validated and stored in one transaction, fully synced.",
    ]
    pg.on_each_backend(settings, lambda backend: fill(section, settings, backend))
    return section
