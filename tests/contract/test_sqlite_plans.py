"""SQLite-only: the claim is served by the partial index, with no sort."""

import json

from queuectl.store.sqlite import SqliteStore


def _plan(store: SqliteStore, name: str, queues=None) -> str:
    params = {"worker_id": "w", "now": 0, "lease_until": 0, "queues": json.dumps(queues)}
    rows = store._conn.execute("EXPLAIN QUERY PLAN " + store._sql(name, queues), params)
    return " | ".join(row["detail"] for row in rows.fetchall())


def test_claim_uses_the_partial_index_without_a_sort(tmp_path):
    store = SqliteStore(str(tmp_path / "q.db"))
    for queues in (None, ["a", "b"]):
        plan = _plan(store, "claim", queues)
        assert "jobs_claim" in plan and "TEMP B-TREE" not in plan, plan
    assert "jobs_due" in _plan(store, "next_run_at")
    store.close()


def test_store_is_in_wal_mode_with_a_schema_version(tmp_path):
    store = SqliteStore(str(tmp_path / "q.db"))
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    store.close()
