"""`queuectl doctor` on real stores of every backend (SPEC §10): one line per check, --json,
exit 1 when a check fails. (Conditions this machine lacks: tests/unit/test_doctor.py.)"""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from queuectl.model import NewJob, WorkerInfo
from queuectl.service import diagnose, doctor
from queuectl.store import backend_of, open_store
from queuectl.store.sqlite import SqliteStore
from tests.conftest import Cli, wait_for

FILE_CHECKS = ["sqlite", "filesystem", "disk"]
STORE_CHECKS = ["schema", "workers", "leases"]
SERVER_CHECKS = ["clock", "notify", "connections"]


def names_for(location: str) -> list[str]:
    if backend_of(location).local_disk:
        return FILE_CHECKS + STORE_CHECKS
    return STORE_CHECKS + SERVER_CHECKS


def lines(output: str) -> dict[str, tuple[str, str]]:
    """{check: (level, rest of its line)} of doctor's text output."""
    found = {}
    for line in output.splitlines():
        level, name, rest = line.split(None, 2)
        found[name] = (level, rest)
    return found


@pytest.fixture
def file_cli(tmp_path) -> Cli:
    """A CLI whose own store is a SQLite file, for tests about files or no store at all."""
    home = tmp_path / "home"
    home.mkdir()
    return Cli(str(tmp_path / "queue.db"), home)


def test_a_healthy_store_passes_every_check(cli):
    out = cli("doctor")
    assert out.returncode == 0, out.stderr
    shown = lines(out.stdout)
    assert list(shown) == names_for(cli.location)
    assert {level for level, _ in shown.values()} == {"ok"}
    assert shown["schema"][1].startswith("schema version ")
    if "sqlite" in shown:
        assert shown["sqlite"][1].endswith("journal mode wal")
    else:
        assert shown["notify"][1].startswith("LISTEN/NOTIFY works")


def test_json_is_a_list_of_checks_with_stable_keys(cli):
    checks = cli.json("doctor")
    assert [check["name"] for check in checks] == names_for(cli.location)
    for check in checks:
        assert set(check) == {"name", "level", "message", "hint"}
        assert check["level"] == "ok" and check["hint"] is None and check["message"]


def stale_store(location: str, live_worker: bool = False) -> None:
    """A lost worker still registered, holding a job whose lease ran out; and, if asked,
    a live worker of a pool that still runs."""
    store = open_store(location)
    try:
        now = store.clock()
        job = NewJob(id="stuck", command="sleep 60", max_retries=1, cwd="/tmp", run_at=now - 100)
        store.enqueue([job], now - 100)
        store.register_worker(
            WorkerInfo("w-gone", "elsewhere", 4242, "p1", None, now - 100, now - 100)
        )
        assert store.claim("w-gone", None, now - 100, 30.0) is not None  # lease ended at -70
        if live_worker:
            store.register_worker(WorkerInfo("w-live", "here", 4343, "p2", None, now, now))
    finally:
        store.close()


def test_lost_workers_and_expired_leases_with_no_pool_left(cli):
    stale_store(cli.location)
    out = cli("doctor")
    assert out.returncode == 1, out.stdout
    shown = lines(out.stdout)
    level, text = shown["workers"]
    assert (
        level == "warn"
        and "1 lost worker(s) still registered (w-gone on host elsewhere, pid 4242" in text
    )
    assert "queuectl worker start" in text
    level, text = shown["leases"]
    assert level == "fail" and "past their lease (stuck) and no pool left" in text
    assert "start a pool (queuectl worker start)" in text
    assert cli.state("stuck") == "processing"  # doctor only looks
    checks = {check["name"]: check for check in json.loads(cli("doctor", "--json").stdout)}
    assert checks["leases"]["level"] == "fail" and checks["leases"]["hint"]


def test_a_live_pool_recovers_expired_leases_and_removes_lost_workers(location):
    open_store(location).close()
    stale_store(location, live_worker=True)
    checks = {check.name: check for check in diagnose(location)}
    assert (
        checks["leases"].level == "ok"
        and "the running pool recovers them" in checks["leases"].message
    )
    assert (
        checks["workers"].level == "warn"
        and "the running pool removes them" in checks["workers"].hint
    )


def test_a_check_that_breaks_is_a_failure_of_its_own(location, monkeypatch):
    store = open_store(location)
    store_class = type(store)
    store.close()
    monkeypatch.setattr(
        store_class, "expired_jobs", lambda self, now: (_ for _ in ()).throw(OSError("boom\nmore"))
    )
    checks = {check.name: check for check in diagnose(location)}
    assert checks["leases"].level == "fail" and checks["leases"].message.endswith(": boom")
    assert list(checks) == names_for(location)  # the others still ran


def test_a_missing_store_is_one_failure_and_is_not_created(file_cli, tmp_path):
    missing = tmp_path / "nowhere" / "queue.db"
    out = file_cli("doctor", "--db", str(missing))
    assert out.returncode == 1 and not out.stderr and not missing.exists()
    shown = lines(out.stdout)
    assert list(shown) == ["sqlite", "filesystem", "disk", "store"]
    assert shown["store"][0] == "fail" and f"no queue store at {missing}" in shown["store"][1]


def test_an_unreachable_server_is_one_line(file_cli):
    pytest.importorskip("psycopg")
    out = file_cli(
        "doctor", "--db", "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=5"
    )
    assert out.returncode == 1 and not out.stderr
    [line] = out.stdout.splitlines()
    assert line.startswith("fail  store ") and "cannot open the store" in line
    assert "secret" not in line


def test_a_store_newer_than_this_queuectl_fails_the_schema_check(cli):
    store = open_store(cli.location)
    newer = store.schema_versions()[1] + 1
    store.close()
    if backend_of(cli.location).local_disk:
        with sqlite3.connect(cli.location) as conn:
            conn.execute(f"PRAGMA user_version = {newer}")
    else:
        import psycopg

        with psycopg.connect(cli.location, autocommit=True) as conn:
            conn.execute(
                "UPDATE queuectl_meta SET value = %s WHERE key = 'schema_version'", [str(newer)]
            )
    out = cli("doctor")
    assert out.returncode == 1 and not out.stderr
    shown = lines(out.stdout)
    assert shown["schema"][0] == "fail" and f"schema version {newer}" in shown["schema"][1]
    assert "install it here" in shown["schema"][1]
    assert list(shown)[-1] == "schema"  # nothing that needs the open store


def test_a_sqlite_store_out_of_wal_mode_fails(file_cli):
    SqliteStore(file_cli.location).close()
    with sqlite3.connect(file_cli.location) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    out = file_cli("doctor")
    assert out.returncode == 1
    level, text = lines(out.stdout)["sqlite"]
    assert level == "fail" and "journal mode delete" in text


def test_the_connections_a_pool_needs_are_those_it_opens(pg_location, tmp_path, pool_of):
    """What `connections` counts per worker and per pool is what a real pool holds."""
    import psycopg

    tag = f"doctor_{uuid.uuid4().hex[:8]}"  # marks this pool's connections on the server
    location = f"{pg_location}&application_name={tag}"
    open_store(location).close()
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(location, home)
    pool_of(cli, 2)

    def held() -> int:
        with psycopg.connect(pg_location, autocommit=True) as conn:
            [(count,)] = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [tag]
            ).fetchall()
        return count

    expected = 2 * doctor.CONNECTIONS_PER_WORKER + doctor.CONNECTIONS_PER_POOL
    wait_for(lambda: held() == expected, message=f"the pool's {expected} connections")
    level, text = lines(cli.ok("doctor"))["connections"]
    assert level == "ok" and text.endswith(
        f"the 2 registered worker(s) of 1 pool(s) need {expected}"
    )
