"""The checks of `queuectl doctor` (SPEC §10) given conditions this machine does not have:
an old SQLite, a store on NFS, a full disk, a server whose clock is off or whose
connections run short. (The checks of a real store: tests/cli/test_doctor.py.)"""

from __future__ import annotations

from queuectl.model import WorkerInfo
from queuectl.service import doctor  # the module: its function is service.diagnose
from queuectl.store.base import ServerFacts

MIB = 1024**2


def mountinfo(mount_point: str, kind: str) -> list[str]:
    """/proc/self/mountinfo lines: a local root, and `mount_point` of type `kind`."""
    return [
        "22 1 252:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
        f"40 22 0:35 / {mount_point} rw,relatime shared:20 - {kind} server:/export rw",
    ]


def test_sqlite_version_and_journal_mode():
    assert doctor.sqlite_check((3, 40, 1), "wal") == doctor.Check(
        "sqlite", "ok", "SQLite 3.40.1, journal mode wal"
    )
    assert doctor.sqlite_check((3, 40, 1), None).level == "ok"  # the store did not open
    old = doctor.sqlite_check((3, 34, 1), "wal")
    assert old.level == "fail" and "3.34.1 is too old" in old.message and "3.35.0" in old.message
    assert old.hint
    rollback = doctor.sqlite_check((3, 40, 1), "delete")
    assert rollback.level == "fail" and "journal mode delete" in rollback.message
    assert "journal_mode=WAL" in rollback.hint


def test_a_store_on_a_network_file_system_fails_one_on_tmpfs_does_not(tmp_path):
    store = str(tmp_path / "queue.db")
    nfs = doctor.network_check(store, mountinfo(str(tmp_path), "nfs4"))
    assert nfs.level == "fail" and "(nfs4)" in nfs.message
    assert "local disk" in nfs.hint and "PostgreSQL" in nfs.hint
    assert doctor.network_check(store, mountinfo(str(tmp_path), "tmpfs")).level == "ok"
    assert doctor.network_check(store, mountinfo("/elsewhere", "cifs")).level == "ok"
    assert doctor.network_check(store).level == "ok"  # this machine's own mount table


def test_free_disk_space_thresholds(tmp_path):
    store = str(tmp_path / "store" / "queue.db")  # its folder does not exist yet

    def free(amount: int):
        seen = []

        def free_space(folder: str) -> int:
            seen.append(folder)
            return amount

        return seen, free_space

    seen, free_space = free(50 * MIB)
    full = doctor.disk_check(store, free_space)
    assert seen == [str(tmp_path)]  # the nearest folder that exists
    assert full.level == "fail" and full.message == f"50 MiB free on {tmp_path}"
    assert "full disk stops every write" in full.hint
    assert doctor.disk_check(store, free(500 * MIB)[1]).level == "warn"
    roomy = doctor.disk_check(store, free(10 * 1024 * MIB)[1])
    assert roomy.level == "ok" and roomy.message.startswith("10.0 GiB free") and not roomy.hint
    assert doctor.disk_check(store).level in ("ok", "warn", "fail")  # the real disk: no crash


def facts(offset: float = 0.0, uncertainty: float = 0.001, limit: int = 97, open_now: int = 3):
    return ServerFacts(
        clock_offset=offset, uncertainty=uncertainty, max_connections=limit, connections=open_now
    )


def test_server_clock_offset():
    assert doctor.clock_check(facts(0.0002)).level == "ok"
    ahead = doctor.clock_check(facts(5.0))
    assert ahead.level == "warn" and "5.0 s ahead of this host's" in ahead.message
    assert "NTP" in ahead.hint
    behind = doctor.clock_check(facts(-120.0))
    assert behind.level == "fail" and "120.0 s behind" in behind.message
    # Within the reading's error bound (half its round trip) an offset may be none at all.
    assert doctor.clock_check(facts(1.5, uncertainty=1.0)).level == "ok"


def workers_of(pools: dict[str, int]) -> list[WorkerInfo]:
    return [
        WorkerInfo(f"{pool}-{n}", "host", 100 + n, pool, None, 0.0, 0.0)
        for pool, count in pools.items()
        for n in range(count)
    ]


def test_max_connections_against_what_the_workers_need():
    ten = workers_of({"p1": 6, "p2": 4})  # 2 each, and 1 per pool: 22
    ok = doctor.connections_check(facts(limit=97), ten)
    assert ok.level == "ok" and ok.message == (
        "the server takes 97 client connections, 3 open now; "
        "the 10 registered worker(s) of 2 pool(s) need 22"
    )
    assert doctor.connections_check(facts(limit=25), ten).level == "warn"  # near: over 80 %
    over = doctor.connections_check(facts(limit=20), ten)
    assert over.level == "fail" and "raise max_connections" in over.hint
    crowded = doctor.connections_check(facts(limit=97, open_now=90), [])
    assert crowded.level == "warn"  # others hold what is left
    assert doctor.connections_check(facts(), []).level == "ok"


class Unnotified:
    """A store whose notifications never arrive (a pooler in transaction mode)."""

    def notify_delay(self, timeout: float) -> None:
        return None

    def config_values(self) -> dict:
        return {"poll_interval": 2.5}


def test_a_notify_that_does_not_arrive_is_a_warning():
    check = doctor.notify_check(Unnotified(), timeout=0.5)  # type: ignore[arg-type]
    assert check.level == "warn" and "within 0.5 s" in check.message
    assert "every 2.5 s" in check.message and "session mode" in check.hint


class Versioned:
    def __init__(self, version: int, newest: int) -> None:
        self.versions = (version, newest)

    def schema_versions(self) -> tuple[int, int]:
        return self.versions


def test_schema_version_against_this_release():
    assert doctor.schema_check(Versioned(9, 9)).level == "ok"  # type: ignore[arg-type]
    older = doctor.schema_check(Versioned(8, 9))  # type: ignore[arg-type]
    assert older.level == "warn" and "upgrades it" in older.hint
    newer = doctor.schema_check(Versioned(10, 9))  # type: ignore[arg-type]
    assert newer.level == "fail" and "schema version 10" in newer.message
    assert "newer queuectl" in newer.hint


def test_only_a_failure_fails():
    checks = [doctor.Check("a", "ok", "fine"), doctor.Check("b", "warn", "hm", "look")]
    assert not doctor.has_failure(checks)
    assert doctor.has_failure([*checks, doctor.Check("c", "fail", "broken", "fix it")])
    assert checks[1].to_dict() == {"name": "b", "level": "warn", "message": "hm", "hint": "look"}
