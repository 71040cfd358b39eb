"""SQLite-only: the claim is served by the partial index, with no sort; old stores are
upgraded in place."""

import itertools
import json
import sqlite3

import pytest

from queuectl.model import NewJob
from queuectl.store import queries
from queuectl.store.rows import filters
from queuectl.store.sqlite import SqliteStore


def _plan(store: SqliteStore, name: str, queues=None) -> str:
    params = {"worker_id": "w", "now": 0, "lease_until": 0, "queues": json.dumps(queues)}
    rows = store._conn.execute("EXPLAIN QUERY PLAN " + store._sql(name, queues), params)
    return " | ".join(row["detail"] for row in rows.fetchall())


def test_claim_uses_the_partial_index_without_a_sort(tmp_path):
    """The claim walks jobs_claim (and, per open gate, that gate's part of
    jobs_claim_gated that could come first) in claim order: the one sort is of those few candidates,
    never of the backlog."""
    store = SqliteStore(str(tmp_path / "q.db"))
    for queues in (None, ["a", "b"]):
        steps = _plan(store, "claim", queues).split(" | ")
        assert "SCAN jobs USING INDEX jobs_claim" in steps, steps
        # A gate's jobs only from the plain candidate's priority up.
        assert "SEARCH jobs USING INDEX jobs_claim_gated (gate=? AND priority>?)" in steps, steps
        assert not [step for step in steps if step.startswith("SCAN jobs") and "INDEX" not in step]
        sorts = [i for i, step in enumerate(steps) if "TEMP B-TREE" in step]
        assert len(sorts) == 1 and steps[sorts[0] - 1].startswith("SCAN (subquery"), steps
    due = _plan(store, "next_run_at")
    assert "jobs_due" in due and "jobs_due_gated" in due and "TEMP B-TREE" not in due
    store.close()


def test_listing_uses_an_index_for_every_filter(tmp_path):
    store = SqliteStore(str(tmp_path / "q.db"))
    for state, queue in ((None, None), ("dead", None), (None, "q"), ("dead", "q")):
        where = filters(("state = :state", state), ("queue = :queue", queue))
        sql = store._sql("list_jobs", where=where)
        rows = store._conn.execute(
            "EXPLAIN QUERY PLAN " + sql, {"state": state, "queue": queue, "limit": 50, "offset": 0}
        ).fetchall()
        plan = " | ".join(row["detail"] for row in rows)
        assert "TEMP B-TREE" not in plan and (state is None and queue is None or "INDEX" in plan)
    store.close()


def test_a_version_1_store_is_upgraded_in_place(tmp_path):
    path = str(tmp_path / "q.db")
    with sqlite3.connect(path) as conn:  # as the first release left it
        conn.executescript(queries.load("sqlite")["schema_v1"].text + ";\nPRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO jobs (id, command, state, queue, priority, max_retries, "
            "run_at, cwd, created_at, updated_at) "
            "VALUES ('kept', 'true', 'pending', 'default', 0, 0, 0, '/', 0, 0)"
        )
    conn.close()
    store = SqliteStore(path)
    assert store.get_job("kept").state == "pending"
    version = store._conn.execute("PRAGMA user_version").fetchone()[0]
    assert version == queries.schema_version("sqlite")
    assert store._conn.execute(
        "SELECT name FROM sqlite_master WHERE name = 'jobs_by_queue'"
    ).fetchone()
    assert store.get_job("kept").host is None  # schema_v3's column
    store.close()


def test_a_version_7_store_keeps_its_group_limits_as_gates(tmp_path):
    path = str(tmp_path / "q.db")
    scripts = queries.load("sqlite")
    with sqlite3.connect(path) as conn:  # as the workflows release left it
        for version in range(1, 8):
            conn.executescript(scripts[f"schema_v{version}"].text)
        conn.execute("INSERT INTO group_limits (name, max_running, running) VALUES ('g', 1, 1)")
        for job_id, state in (("running", "processing"), ("next", "pending")):
            conn.execute(
                "INSERT INTO jobs (id, command, state, queue, priority, max_retries, run_at, "
                'cwd, created_at, updated_at, "group", limited, worker_id) '
                "VALUES (?, 'true', ?, 'default', 0, 0, 0, '/', 0, 0, 'g', 1, 'w')",
                (job_id, state),
            )
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    store = SqliteStore(path)
    try:
        assert store.claim("w2", None, store.clock(), 30) is None  # g's one slot is taken
        assert store.group_limit("g") == (1, 1)
        store._conn.execute("UPDATE jobs SET state = 'completed' WHERE id = 'running'")
        claimed = store.claim("w2", None, store.clock(), 30)
        assert claimed is not None and claimed.id == "next"
    finally:
        store.close()


def test_user_input_is_fully_synced_and_worker_commits_are_not(tmp_path):
    path = str(tmp_path / "q.db")
    durable, worker = SqliteStore(path, durable=True), SqliteStore(path, durable=False)
    assert durable._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert worker._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    durable.close()
    worker.close()


def test_an_enqueue_rings_the_doorbell_of_this_hosts_workers(tmp_path):
    import socket

    from queuectl.model import WorkerInfo
    from queuectl.platform import hostname

    store = SqliteStore(str(tmp_path / "q.db"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bell:
        bell.bind(("127.0.0.1", 0))
        bell.settimeout(5)
        store.register_worker(
            WorkerInfo("w", hostname(), 1, "p", None, 0, 0, doorbell=bell.getsockname()[1])
        )
        store.enqueue([NewJob(id="a", command="true", max_retries=0, cwd="/")], 0.0)
        assert bell.recv(16)  # the datagram itself, not the data_version fallback
        store.retry_dead(None, 0.0)  # nothing dead: no ring
        bell.settimeout(0.2)
        with pytest.raises(socket.timeout):
            bell.recv(16)
    store.close()


def test_store_is_in_wal_mode_with_a_schema_version(tmp_path):
    store = SqliteStore(str(tmp_path / "q.db"))
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    store.close()


def test_a_version_4_store_is_upgraded_in_place_with_its_jobs(tmp_path):
    path = str(tmp_path / "q.db")
    store = SqliteStore(path)
    store.enqueue([NewJob(id="kept", command="true", max_retries=0, cwd="/")], store.clock())
    assert store.claim("w", None, store.clock(), 30) is not None
    store.close()
    with sqlite3.connect(path) as conn:  # as the release before schema_v5 left it
        conn.execute("ALTER TABLE jobs RENAME COLUMN attempt_number TO run_no")
        conn.execute("DROP TRIGGER jobs_hook_duty")
        conn.execute("DROP TABLE hook_duties")
        for trigger in ("jobs_take_slots", "jobs_free_slots"):
            conn.execute(f"DROP TRIGGER {trigger}")
        for index in (
            "jobs_claim",
            "jobs_due",
            "jobs_group",
            "jobs_held_by",
            "jobs_claim_gated",
            "jobs_due_gated",
            "jobs_after",
            "jobs_by_lock",
            "jobs_unique_key",
            "jobs_schedule",
        ):
            conn.execute(f"DROP INDEX {index}")
        for column in (
            *('"after"', '"group"', '"index"', "held", "waiting_on", "awaited"),
            *('"lock"', "gate", "unique_key", "schedule", "retry_on", "no_retry_on"),
            *("on_success", "on_failure"),
        ):
            conn.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        conn.execute("DROP TABLE dependencies")
        conn.execute("DROP TABLE gates")
        conn.execute("DROP TABLE schedules")
        conn.execute("DROP TABLE schedule_ticks")
        for column in ("cpu_user", "cpu_system", "max_rss", '"signal"'):
            conn.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
        for index, columns in (("claim", "priority DESC, run_at, seq"), ("due", "run_at")):
            conn.execute(
                f"CREATE INDEX jobs_{index} ON jobs ({columns})"
                " WHERE state IN ('pending', 'failed')"
            )
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    store = SqliteStore(path)
    try:
        job = store.get_job("kept")
        assert (job.state, job.attempt_number) == ("processing", 1)
        version = store._conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == queries.schema_version("sqlite") >= 5
        made = "SELECT name FROM sqlite_master WHERE name IN ('hook_duties', 'jobs_hook_duty')"
        assert len(store._conn.execute(made).fetchall()) == 2
    finally:
        store.close()


def test_a_jobs_dependents_are_looked_for_among_the_jobs_that_wait_only(tmp_path):
    store = SqliteStore(str(tmp_path / "q.db"))
    rows = store._conn.execute(
        "EXPLAIN QUERY PLAN " + store._sql("dependents"), {"job_id": "a", "limit": 10}
    )
    plan = " | ".join(row["detail"] for row in rows.fetchall())
    assert "jobs_after" in plan and "TEMP B-TREE" not in plan, plan
    store.close()


def test_the_job_log_walks_the_finished_index_backwards_whatever_the_filters(tmp_path):
    """`attempts` reads attempts_finished newest first and stops at its limit: no sort of
    the attempts, with any combination of filters, and no Bloom filter built from every
    job of a queue or group first (which SQLite plans once ANALYZE has run)."""
    store = SqliteStore(str(tmp_path / "q.db"))
    store._conn.executemany(
        "INSERT INTO jobs (id, command, state, queue, priority, max_retries, run_at, cwd,"
        ' created_at, updated_at, "group") VALUES (?, ?, ?, ?, 0, 0, 0, ?, 0, 0, ?)',
        [(f"j{i}", "true", "completed", f"q{i % 3}", "/", f"g{i % 7}") for i in range(1000)],
    )
    store._conn.executemany(  # more attempts than jobs: what makes SQLite want the filter
        "INSERT INTO attempts (job_id, number, started_at, finished_at, outcome)"
        " VALUES (?, ?, ?, ?, 'completed')",
        [(f"j{i}", n, 4 * i + n, 4 * i + n + 1) for i in range(1000) for n in range(1, 5)],
    )
    store._conn.execute("ANALYZE")
    for since, queue, group, outcome in itertools.product(
        (None, 0.0), (None, "q"), (None, "g"), (None, "dead")
    ):
        where, params = store._log_filters(since, queue, group, outcome)
        rows = store._conn.execute(
            "EXPLAIN QUERY PLAN " + store._sql("attempt_log", where=where), {**params, "limit": 50}
        )
        plan = " | ".join(row["detail"] for row in rows.fetchall())
        assert "attempts_finished" in plan and "TEMP B-TREE" not in plan, plan
        assert "BLOOM" not in plan, plan
    store.close()


def test_a_batch_of_keyed_jobs_reads_the_holders_of_its_keys_in_one_query(tmp_path):
    store = SqliteStore(str(tmp_path / "q.db"))
    try:

        def keyed(job_id: str, key: str) -> NewJob:
            return NewJob(id=job_id, command="true", max_retries=0, cwd="/", unique_key=key)

        store.enqueue([keyed("holder", "k3")], 0.0)
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        held = store.enqueue([keyed(f"j{i}", f"k{i}") for i in range(20)], 0.0)
        store._conn.set_trace_callback(None)
        assert held == {"j3": "holder"}
        reads = [s for s in statements if s.lstrip().startswith("SELECT") and "unique_key" in s]
        assert len(reads) == 1, reads
    finally:
        store.close()
