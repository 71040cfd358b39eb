"""Workload 8, PostgreSQL: workloads 1 (with 2 and with 4 workers), 2 and 4 against a local
server, each store in a fresh schema dropped afterwards. Runs only when $QUEUECTL_BENCH_PG
(or $QUEUECTL_TEST_PG) holds a server URL and the PostgreSQL backend imports."""

from __future__ import annotations

from typing import Callable

from bench import latency, storeapi, throughput
from bench.common import SQLITE, Backend, PostgresBackend, Section, Settings, Target, fmt_ms

NUMBER = 8
TARGET_VS_SQLITE = 0.8  # PostgreSQL pools vs SQLite with 2 workers, workload 1
KEY = "postgres"
TITLE = "PostgreSQL: workloads 1, 2 and 4"


def unavailable(settings: Settings) -> str | None:
    if settings.quick and KEY not in settings.explicit:
        return "skipped in quick mode (name it with --only postgres to run it)"
    if not settings.pg_url:
        return (
            "skipped: set QUEUECTL_BENCH_PG (or QUEUECTL_TEST_PG) to a server URL, e.g. "
            "postgresql://postgres@127.0.0.1:5432/test"
        )
    try:
        import queuectl.store.postgres  # noqa: F401
    except ImportError as exc:
        return f"skipped: the PostgreSQL backend does not import ({exc})"
    return None


def on_each_backend(settings: Settings, fill: Callable[[Backend], None]) -> None:
    """`fill` on SQLite, then on PostgreSQL when a server is there to measure."""
    fill(SQLITE)
    if not unavailable(settings):
        fill(PostgresBackend(settings.pg_url))


def run(settings: Settings) -> Section:
    section = Section(NUMBER, KEY, TITLE)
    section.skipped = unavailable(settings)
    if section.skipped:
        section.targets.append(
            Target(
                "pickup latency p50, PostgreSQL",
                None,
                "<=",
                latency.TARGET_PG_P50,
                fmt_ms,
                why_missing="skipped",
            )
        )
        return section
    backend = PostgresBackend(settings.pg_url)
    count = settings.pick(200, 2000)
    section.method = [
        "The same code as workloads 1, 2 and 4, with the store in PostgreSQL: each store is a "
        "fresh schema (`CREATE SCHEMA`, then the URL with `?options=-csearch_path%3D<schema>`"
        "), dropped afterwards. Default durability = `synchronous_commit = off` (workers), "
        "fully synced = `on`.",
        f"Workload 1 with 2 workers and with 4 workers ({count:,} jobs); the raw floor uses as "
        "many processes as there are workers. Then PostgreSQL with 2 and 4 workers against "
        "SQLite with 2, in rotation.",
    ]
    throughput.fill(section, settings, backend, count, 2, None, "")
    throughput.fill(section, settings, backend, count, 4, None, "")
    throughput.compare_pools(
        section,
        settings,
        [("SQLite, 2 workers", SQLITE, 2)]
        + [(f"PostgreSQL, {workers} workers", backend, workers) for workers in (2, 4)],
        count,
        TARGET_VS_SQLITE,
        lambda label: f"throughput, {label} vs SQLite, 2 workers (workload 1)",
    )
    storeapi.fill(section, settings, backend, None)
    latency.fill(section, settings, backend, latency.TARGET_PG_P50, None)
    return section
