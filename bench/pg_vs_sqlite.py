"""Throughput of the same workload on SQLite and on PostgreSQL, measured in one run.

    python -m bench.pg_vs_sqlite [--jobs 2000] [--workers 2] [--runs 3] [--pg URL]

Each run: a fresh store (a SQLite file in a temp folder, or a fresh PostgreSQL schema),
`queuectl enqueue --file` of N jobs whose command is `true`, then the clock starts and
`queuectl worker start --count W --foreground` runs until every job is completed (polled
in-process every 20 ms). Two figures per run: "wall" counts from the start command
(interpreter and worker start-up included) and "busy" from the first claim to the last
completion (the store's own timestamps). Runs alternate between the backends; the medians
are printed as a Markdown table. The PostgreSQL URL defaults to $QUEUECTL_TEST_PG.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from queuectl.store import open_store  # noqa: E402


@contextmanager
def sqlite_store(where: Path) -> Iterator[str]:
    yield str(where / "queue.db")


@contextmanager
def postgres_store(url: str) -> Iterator[str]:
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def one_run(location: str, jobs: int, workers: int, where: Path) -> tuple[float, float]:
    """(wall seconds, busy seconds) to run `jobs` jobs of `true` with `workers` workers."""
    env = {
        **os.environ,
        "QUEUECTL_DB": location,
        "XDG_DATA_HOME": str(where / "data"),
        "PYTHONPATH": str(ROOT),
    }
    queuectl = [sys.executable, "-m", "queuectl"]
    batch = where / "jobs.jsonl"
    batch.write_text(
        "".join(json.dumps({"id": f"j{i:05d}", "command": "true"}) + "\n" for i in range(jobs))
    )
    subprocess.run(
        queuectl + ["enqueue", "--file", str(batch)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=where,
    )
    store = open_store(location)
    # A pool logs a line per job: into a file, never an unread pipe.
    with open(where / "pool.log", "wb") as log:
        try:
            started = time.monotonic()
            pool = subprocess.Popen(
                queuectl + ["worker", "start", "--foreground", "--count", str(workers)],
                env=env,
                cwd=where,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
            try:
                while store.counts().get("default", {}).get("completed", 0) < jobs:
                    if pool.poll() is not None:
                        raise RuntimeError(
                            f"the pool exited with {pool.returncode}; see {log.name}"
                        )
                    time.sleep(0.02)
                wall = time.monotonic() - started
            finally:
                pool.send_signal(signal.SIGTERM)
                pool.wait(60)
            finished = store.finished_attempts(0)
            busy = max(a.finished_at for a in finished) - min(a.started_at for a in finished)
        finally:
            store.close()
    return wall, busy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pg_vs_sqlite", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--pg",
        default=os.environ.get("QUEUECTL_TEST_PG"),
        help="PostgreSQL server URL (default: $QUEUECTL_TEST_PG)",
    )
    args = parser.parse_args(argv)
    if not args.pg:
        parser.error("give --pg URL or set QUEUECTL_TEST_PG")
    results: dict[str, list[tuple[float, float]]] = {"SQLite": [], "PostgreSQL": []}
    for run in range(args.runs):
        for name in results:
            with tempfile.TemporaryDirectory() as temp:
                where = Path(temp)
                store = sqlite_store(where) if name == "SQLite" else postgres_store(args.pg)
                with store as location:
                    wall, busy = one_run(location, args.jobs, args.workers, where)
            results[name].append((wall, busy))
            print(
                f"run {run + 1} {name}: wall {wall:.2f} s ({args.jobs / wall:.0f} jobs/s), "
                f"busy {busy:.2f} s ({args.jobs / busy:.0f} jobs/s)",
                file=sys.stderr,
            )
    print(
        f"| backend | {args.jobs:,} `true` jobs, {args.workers} workers: wall (median of "
        f"{args.runs}) | jobs/s | first claim to last completion | jobs/s |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        busy = statistics.median(r[1] for r in runs)
        print(
            f"| {name} | {wall:.2f} s | {args.jobs / wall:.0f} | {busy:.2f} s | "
            f"{args.jobs / busy:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
