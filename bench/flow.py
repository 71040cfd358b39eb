"""Workload 11, flow control (issue 13): what paused queues and queue limits cost the
claims of other jobs."""

from __future__ import annotations

from bench import pg
from bench.common import (
    Backend,
    Section,
    Settings,
    Target,
    fmt_rate,
    median,
    runs_table,
)
from bench.workflows import claim_rate

NUMBER = 11
KEY = "flow"
TITLE = "Flow control: claims with paused and limited queues"
PAUSED = 10
LIMITED = 5
JOBS_PER_QUEUE = 1_000


def _paused_and_limited(store, cwd: str) -> None:
    """10 paused queues whose jobs would otherwise be claimed first (a higher priority) and
    5 limited queues whose jobs come after the plain ones (a claim still looks at them)."""
    from queuectl import service
    from queuectl.model import NewJob

    for kind, count, priority in (("paused", PAUSED, 1), ("limited", LIMITED, -1)):
        for number in range(count):
            queue = f"{kind}{number}"
            if kind == "paused":
                service.pause(store, [queue])
            else:
                service.limit(store, queue, 2)
            jobs = [
                NewJob(
                    id=f"{queue}.{i}",
                    command="true",
                    max_retries=0,
                    cwd=cwd,
                    queue=queue,
                    priority=priority,
                )
                for i in range(JOBS_PER_QUEUE)
            ]
            store.enqueue(jobs, store.clock())


def fill(section: Section, settings: Settings, backend: Backend) -> None:
    duration = settings.pick(0.3, 2.0)
    plain, gated = [], []
    for run in range(settings.runs):
        # Which store goes first alternates, so a drift of the machine is not always charged
        # to the same one.
        crowds = (None, _paused_and_limited) if run % 2 == 0 else (_paused_and_limited, None)
        rates = {crowd: claim_rate(settings, backend, crowd, duration) for crowd in crowds}
        plain.append(rates[None])
        gated.append(rates[_paused_and_limited])
        settings.log(
            f"  {backend.name} run {run + 1}/{settings.runs}: claims {plain[-1]:,.0f}/s plain, "
            f"{gated[-1]:,.0f}/s with {PAUSED} paused and {LIMITED} limited queues"
        )
    ratios = [g / p for g, p in zip(gated, plain)]
    section.tables.append(
        runs_table(
            f"{backend.name}: claims of plain jobs, with and without paused and limited queues",
            [
                ("claim + finish cycles/s, no queue settings", plain, fmt_rate),
                (
                    f"claim + finish cycles/s, {PAUSED} paused and {LIMITED} limited queues "
                    f"of {JOBS_PER_QUEUE:,} jobs each",
                    gated,
                    fmt_rate,
                ),
                ("ratio (with / without, same run)", ratios, lambda v: f"{v:.3f}"),
            ],
        )
    )
    section.targets.append(
        Target(
            f"claim rate with {PAUSED} paused queues and {LIMITED} limits / without, "
            f"{backend.name}",
            median(ratios),
            ">=",
            0.9,
        )
    )


def run(settings: Settings) -> Section:
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        "The Store API cycle of workload 2 (finish_and_claim, one process, default "
        "durability) over plain pending jobs of the default queue, in a fresh store with "
        "nothing else and in one that also holds 10 paused queues of higher-priority jobs "
        "and 5 queues limited to 2 whose jobs rank below the plain ones; both are measured in "
        "each run, which goes first alternating from run to run, and the ratio is taken run "
        "by run.",
    ]
    pg.on_each_backend(settings, lambda backend: fill(section, settings, backend))
    return section
