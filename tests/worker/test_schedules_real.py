"""Schedules fired by real pools (SPEC §8): a `* * * * *` schedule watched for three whole
minutes by two pools on one SQLite store and, at the same time, three pools on one
PostgreSQL store, makes exactly three jobs on each store, one per tick, each enqueued soon
after its tick. The two stores are watched side by side, so the test costs its three
minutes once. Lateness is printed, and only bounded generously: the machine is shared."""

from __future__ import annotations

import math
import time
from pathlib import Path

from queuectl.durations import parse_time
from queuectl.store import open_store
from tests.conftest import Cli, one_at_a_time

pytestmark = one_at_a_time  # it bounds lateness

MINUTE = 60.0
LATEST = 5.0  # seconds after its tick by which a run must be enqueued (SPEC: within 1 s)
ADD_MARGIN = 15.0  # seconds before a minute boundary by which the add must have returned


def cli_on(location: str, home: Path) -> Cli:
    open_store(location).close()
    home.mkdir()
    return Cli(location, home)


def test_every_tick_is_enqueued_once_by_many_pools_on_both_backends(tmp_path, pg_location, pool_of):
    stores = {
        "sqlite": (cli_on(str(tmp_path / "store" / "queue.db"), tmp_path / "a"), 2),
        "postgres": (cli_on(pg_location, tmp_path / "b"), 3),
    }
    for cli, pools in stores.values():
        for _ in range(pools):
            pool_of(cli, 1)
    # Add the schedule a second or more after a minute boundary (that tick is not its
    # first) and well before the next one (a tick while the add runs would not be counted
    # below), waiting for the next minute only if now is not such a time; then watch to
    # just after the third boundary that follows.
    into = time.time() % MINUTE
    if not 1 <= into <= MINUTE - ADD_MARGIN:
        time.sleep((1 - into) % MINUTE)
    for cli, _ in stores.values():
        cli.ok("schedule", "add", "tick", "* * * * *", "true", "--overlap", "allow", "--tz", "UTC")
    added = time.time()
    first_tick = math.ceil(added / MINUTE) * MINUTE
    ticks = [first_tick + n * MINUTE for n in range(3)]
    time.sleep(max(ticks[-1] + LATEST + 5 - time.time(), 0))
    for name, (cli, pools) in stores.items():
        shown = cli.json("schedule", "show", "tick")
        runs = sorted(shown["runs"], key=lambda job: job["run_at"])
        lateness = [parse_time(job["created_at"]) - parse_time(job["run_at"]) for job in runs]
        print(f"{name}, {pools} pools: lateness of each run (s): {[round(s, 3) for s in lateness]}")
        assert [parse_time(job["run_at"]) for job in runs] == ticks, (name, runs)
        assert all(job["schedule"] == "tick" for job in runs)
        assert all(0 <= late < LATEST for late in lateness), (name, lateness)
        assert shown["skipped"] == []
        assert len(cli.json("list", "--limit", "100")) == 3  # nothing else was enqueued
