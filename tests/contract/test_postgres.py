"""PostgreSQL-only: the claim plan, migrations from several hosts at once, the server clock,
durability settings, NOTIFY per schema, lost connections, and the password never shown.

The tests that need a server run when QUEUECTL_TEST_PG holds its URL; the others need only
the driver (the `postgres` extra) or not even that.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from queuectl.errors import StoreError
from queuectl.model import NewJob, WorkerInfo
from queuectl.store import display_location, open_store, queries
from tests.conftest import PG_ENV, ROOT, Cli, Pool, _pg_location, import_driver, wait_for

T0 = 1_800_000_000.0


def new(job_id: str, **fields) -> NewJob:
    return NewJob(
        **{"id": job_id, "command": "true", "max_retries": 2, "cwd": "/tmp", "run_at": T0, **fields}
    )


def _with_password(url: str, password: str = "secret") -> str:
    """The URL with a password in it (trust authentication accepts any)."""
    if re.match(r"^[^:/]+://[^:/@]*:[^@]*@", url):
        return url
    with_user = re.sub(r"^([^:/]+://)([^:/@]*)@", rf"\1\2:{password}@", url, count=1)
    if with_user == url:  # no user in the URL
        with_user = re.sub(r"^([^:/]+://)", rf"\1postgres:{password}@", url, count=1)
    return with_user


def _password(url: str) -> str:
    return re.match(r"^[^:/]+://[^:/@]*:([^@]*)@", url).group(1)


# --- no server needed ----------------------------------------------------------------------


def test_display_location_masks_every_form_of_password():
    assert display_location("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert (
        display_location("postgres://u@h/db?sslmode=require&password=secret&x=1")
        == "postgres://u@h/db?sslmode=require&password=***&x=1"
    )
    assert display_location("/tmp/a:b@c.db") == "/tmp/a:b@c.db"


def test_without_psycopg_a_postgres_url_names_the_extra(tmp_path):
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from queuectl.cli import main\n"
        "sys.exit(main(['--db', 'postgresql://u:secret@127.0.0.1:1/db', 'status']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    assert result.returncode == 1, result
    assert "pip install 'queuectl[postgres]'" in result.stderr
    assert "Traceback" not in result.stderr and "secret" not in result.stderr + result.stdout


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    import_driver("psycopg")
    url = "postgresql://postgres:secret@127.0.0.1:1/test"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert "postgresql://postgres:***@127.0.0.1:1/test" in message
    assert "secret" not in message and "\n" not in message
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "queuectl", "--db", url, "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "secret" not in result.stderr + result.stdout and "Traceback" not in result.stderr


# --- with a server -------------------------------------------------------------------------


def _explain(store, name: str, queues=None) -> str:
    params = {"worker_id": "w", "now": 10**13, "lease_until": 0, "queues": queues}
    rows = store._conn.execute("EXPLAIN " + store._sql(name, queues), params).fetchall()
    return "\n".join(row["QUERY PLAN"] for row in rows)


def test_claim_walks_the_partial_index_without_a_sort(pg_location):
    """With a backlog of 20,000 due jobs, the claim reads the partial index in claim order
    and stops at the first row it can lock: no sort of the backlog."""
    store = open_store(pg_location)
    try:
        conn = store._conn
        conn.execute("""
            INSERT INTO queuectl_jobs (id, command, state, queue, priority, max_retries,
                                       run_at, cwd, created_at, updated_at)
            SELECT 'j' || g, 'true', CASE WHEN g % 2 = 0 THEN 'pending' ELSE 'completed' END,
                   CASE WHEN g % 3 = 0 THEN 'a' ELSE 'default' END, g % 3, 0, g, '/tmp', g, g
              FROM generate_series(1, 40000) AS g""")
        conn.execute("ANALYZE queuectl_jobs")
        for queues in (None, ["a", "b"]):
            plan = _explain(store, "claim", queues)
            # The plain jobs' candidate comes from the index in claim order; the one sort
            # is of the candidates (it, and one per open gate).
            plain = plan[plan.index("CTE plain") : plan.index("CTE gated")]
            assert "queuectl_jobs_claim" in plain and "Sort" not in plain, plan
            assert "LockRows" in plain, plan  # FOR UPDATE SKIP LOCKED, under the LIMIT
            assert "queuectl_jobs_claim_gated" in plan, plan
            assert "Seq Scan on queuectl_jobs" not in plan, plan
        assert "queuectl_jobs_due" in _explain(store, "next_run_at")
    finally:
        store.close()


def test_a_limit_waits_for_a_pause_in_flight_and_keeps_it(pg_location):
    """Two operators at once: `queue limit` starts while another's pause holds the gates'
    lock, uncommitted. The limit waits for it and then sets the limit only: the queue stays
    paused (a limit that read the gate before the pause committed used to write it back)."""
    import psycopg

    from queuectl import service

    store = open_store(pg_location)
    try:
        with (
            psycopg.connect(pg_location) as operator,
            psycopg.connect(pg_location, autocommit=True) as monitor,
        ):
            operator.execute("LOCK TABLE queuectl_gates IN SHARE ROW EXCLUSIVE MODE")
            operator.execute("INSERT INTO queuectl_gates (name, paused) VALUES ('queue:q', true)")
            limiter = threading.Thread(target=service.limit, args=(store, "q", 3))
            limiter.start()
            pids = [operator.info.backend_pid, store._conn.info.backend_pid]
            wait_for(
                lambda: monitor.execute(
                    "SELECT %s = ANY(pg_blocking_pids(%s)) AS waits", pids
                ).fetchone()[0],
                message="the limit waiting for the pause's lock",
            )
            operator.commit()
            limiter.join(60)
        gate = store.gate("queue:q")
        assert (gate.paused, gate.max_running) == (True, 3)
    finally:
        store.close()


def test_pruning_locks_gives_up_at_once_while_the_gates_are_busy(pg_location):
    """A pool's prune of old locks' gates waits for the gates' lock only briefly: every
    claim would queue behind a long wait (a long enqueue holds the lock)."""
    import psycopg

    store = open_store(pg_location)
    try:
        store.enqueue([new("a", lock="L")], T0)
        store.cancel(["a"], T0)
        with psycopg.connect(pg_location) as busy:
            busy.execute("LOCK TABLE queuectl_gates IN ROW EXCLUSIVE MODE")  # as an enqueue
            assert store.prune_lock_gates() == 0  # gave up; the store is still usable
            assert store.gate("lock:L") is not None
        assert store.prune_lock_gates() == 1
    finally:
        store.close()


def _open_and_enqueue(location: str, name: str, barrier, out) -> None:
    try:
        barrier.wait(60)
        store = open_store(location)
        store.enqueue([new(name)], T0)
        store.close()
        out.put((name, "ok"))
    except Exception as exc:  # reported to the test, which fails with it
        out.put((name, f"{type(exc).__name__}: {exc}"))


def test_hosts_starting_at_once_create_the_schema_once(pg_location):
    """The first start of several hosts on an empty schema: the migration runs under an
    advisory lock, so no process fails with "relation already exists"."""
    ctx = multiprocessing.get_context("spawn")
    count = 6
    barrier, out = ctx.Barrier(count), ctx.Queue()
    procs = [
        ctx.Process(target=_open_and_enqueue, args=(pg_location, f"p{i}", barrier, out))
        for i in range(count)
    ]
    for proc in procs:
        proc.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(30)
    assert results == {f"p{i}": "ok" for i in range(count)}
    store = open_store(pg_location)
    try:
        assert store.counts() == {"default": {"pending": count}}
        rows = store._conn.execute("SELECT key, value FROM queuectl_meta").fetchall()
        assert rows == [{"key": "schema_version", "value": str(queries.schema_version("postgres"))}]
    finally:
        store.close()


def test_a_version_1_schema_is_upgraded_in_place(pg_location):
    store = open_store(pg_location)
    store.enqueue([NewJob(id="kept", command="true", max_retries=0, cwd="/")], store.clock())
    store._conn.execute("DROP INDEX queuectl_jobs_by_queue")
    store._conn.execute("ALTER TABLE queuectl_jobs DROP COLUMN host")
    store._conn.execute("ALTER TABLE queuectl_jobs RENAME COLUMN attempt_number TO run_no")
    store._conn.execute("DROP TRIGGER queuectl_jobs_free_slots ON queuectl_jobs")
    store._conn.execute("DROP FUNCTION queuectl_free_slots")
    store._conn.execute("DROP TRIGGER queuectl_jobs_hook_duty ON queuectl_jobs")
    store._conn.execute("DROP FUNCTION queuectl_hook_duty")
    store._conn.execute("DROP TABLE queuectl_hook_duties")
    columns = (
        *('"after"', '"group"', '"index"', "held", "waiting_on", "awaited"),
        *('"lock"', "gate", "unique_key", "schedule", "retry_on", "no_retry_on"),
        *("on_success", "on_failure"),
    )
    for column in columns:
        store._conn.execute(f"ALTER TABLE queuectl_jobs DROP COLUMN {column}")
    store._conn.execute("DROP TABLE queuectl_dependencies")
    store._conn.execute("DROP TABLE queuectl_gates")
    store._conn.execute("DROP TABLE queuectl_schedules")
    store._conn.execute("DROP TABLE queuectl_schedule_ticks")
    store._conn.execute("DROP INDEX queuectl_jobs_held_by")
    for index, columns in (("claim", "priority DESC, run_at, seq"), ("due", "run_at")):
        store._conn.execute(
            f"CREATE INDEX queuectl_jobs_{index} ON queuectl_jobs ({columns})"
            " WHERE state IN ('pending', 'failed')"
        )
    store._conn.execute("DROP TABLE queuectl_pool_stops")
    for column in ("cpu_user", "cpu_system", "max_rss", '"signal"'):
        store._conn.execute(f"ALTER TABLE queuectl_attempts DROP COLUMN {column}")
    store._conn.execute("UPDATE queuectl_meta SET value = '1' WHERE key = 'schema_version'")
    store.close()
    store = open_store(pg_location)
    try:
        assert store.get_job("kept").state == "pending"
        version = store._conn.execute("SELECT value FROM queuectl_meta").fetchone()["value"]
        assert version == str(queries.schema_version("postgres"))
        for relation in ("queuectl_jobs_by_queue", "queuectl_hook_duties"):
            found = store._conn.execute("SELECT to_regclass(%s) AS i", (relation,)).fetchone()
            assert found["i"] is not None, relation
    finally:
        store.close()


def test_a_store_from_a_newer_release_is_refused(pg_location):
    store = open_store(pg_location)
    store._conn.execute("UPDATE queuectl_meta SET value = '99' WHERE key = 'schema_version'")
    store.close()
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(pg_location)


def test_clock_is_the_servers_and_never_goes_back(pg_location):
    store = open_store(pg_location)
    try:
        readings = [store.clock() for _ in range(1000)]
        assert readings == sorted(readings)
        server = store._conn.execute(
            "SELECT extract(epoch FROM clock_timestamp())::float8 AS now"
        ).fetchone()["now"]
        assert abs(store.clock() - server) < 0.05
    finally:
        store.close()


def test_every_commit_is_synchronous_workers_too(pg_location):
    # With "off", pg_ctl restart -m immediate forgets a worker's last claims and outcomes,
    # and jobs that ran would run again (tests/worker/test_outages.py).
    durable, worker = open_store(pg_location), open_store(pg_location, durable=False)
    try:
        show = "SHOW synchronous_commit"
        assert durable._conn.execute(show).fetchone()["synchronous_commit"] == "on"
        assert worker._conn.execute(show).fetchone()["synchronous_commit"] == "on"
    finally:
        durable.close()
        worker.close()


def test_a_refused_listen_closes_its_connection(pg_location):
    from queuectl.store.postgres import _NotifyWaiter

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        waiter = _NotifyWaiter(pg_location, "")  # LISTEN "": a zero-length name is refused
        gc.collect()  # a connection left open says so when it is collected
    assert waiter._conn is None
    assert not [warning for warning in caught if warning.category is ResourceWarning]


def test_notifications_do_not_cross_schemas(pg_location):
    other_location = _pg_location(os.environ[PG_ENV])
    mine, theirs = open_store(pg_location), open_store(next(other_location))
    waiter = mine.waiter()
    try:
        assert waiter.port is None  # no UDP doorbell on PostgreSQL
        theirs.enqueue([new("elsewhere")], T0)
        assert not waiter.wait(0.5, lambda: False)
        mine.enqueue([new("here")], T0)
        assert waiter.wait(5, lambda: False)
        assert not waiter.wait(0.2, lambda: False)  # a burst was one wake-up
        mine.request_stop(["w1"])
        assert waiter.wait(5, lambda: False)
        began = time.monotonic()
        assert waiter.wait(5, lambda: time.monotonic() - began > 0.2)  # interrupted
        assert time.monotonic() - began < 1
    finally:
        waiter.close()
        mine.close()
        theirs.close()
        for _ in other_location:  # drops the other schema
            pass


def _terminate(backend_pid: int) -> None:
    """What a server restart does to one connection; returns once that backend is gone."""
    import psycopg

    with psycopg.connect(os.environ[PG_ENV], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
        wait_for(
            lambda: (
                not admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend_pid]
                ).fetchone()
            ),
            message=f"backend {backend_pid} gone",
        )


def test_a_connection_the_server_closed_is_replaced_before_use(pg_location):
    store = open_store(pg_location)
    waiter = store.waiter()
    try:
        store.enqueue([new("a")], T0)
        assert waiter.wait(5, lambda: False)
        _terminate(store._conn.info.backend_pid)
        assert store.get_job("a").state == "pending"
        _terminate(store._conn.info.backend_pid)
        job = store.claim("w1", None, T0, 30)  # not a failed claim (nor a repeated one)
        assert (job.id, job.attempt_number) == ("a", 1)
        _terminate(waiter._conn.info.backend_pid)
        # A new LISTEN connection counts as a wake-up (what it missed is lost)...
        assert wait_for(lambda: waiter.wait(0.5, lambda: False), timeout=10)
        assert not waiter.wait(0.2, lambda: False)
        store.enqueue([new("b")], T0)  # ...and it hears enqueues again
        assert waiter.wait(5, lambda: False)
    finally:
        waiter.close()
        store.close()


def test_a_server_that_is_gone_is_a_one_line_store_error(pg_location):
    store = open_store(pg_location)
    try:
        # The server "moves" to a port where nothing listens, then drops the connection.
        store.location = re.sub(r"@([^/:@]+)(:\d+)?/", r"@\1:1/", pg_location, count=1)
        assert store.location != pg_location
        _terminate(store._conn.info.backend_pid)
        with pytest.raises(StoreError) as caught:
            store.get_job("a")
        assert "\n" not in str(caught.value) and ":1/" in str(caught.value)
    finally:
        store.close()


def test_worker_stop_reaches_the_workers_of_every_host(pg_location, tmp_path):
    store = open_store(pg_location)
    waiter = store.waiter()  # how an idle worker on any host sleeps
    try:
        now = store.clock()
        for number, host in enumerate(["host-a", "host-b"]):
            store.register_worker(WorkerInfo(f"w{number}", host, 100 + number, "p", None, now, now))
        home = tmp_path / "home"
        home.mkdir()
        cli = Cli(pg_location, home)
        cli.ok("worker", "stop")
        assert waiter.wait(5, lambda: False)  # the request came with a NOTIFY
        assert store.stop_requested("w0") and store.stop_requested("w1")
        listed = cli.json("worker", "list")
        assert {(w["id"], w["host"], w["state"]) for w in listed} == {
            ("w0", "host-a", "stopping"),
            ("w1", "host-b", "stopping"),
        }
    finally:
        waiter.close()
        store.close()


def test_status_and_worker_list_never_print_the_password(pg_location, tmp_path):
    url = _with_password(pg_location)
    secret = _password(url)
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(url, home)
    job_id = cli.ok("run", "echo hi").strip()
    pool = Pool(cli, 2)
    try:
        wait_for(lambda: cli.state(job_id) == "completed")
        outputs = [
            cli.ok(*args)
            for args in (
                ["status"],
                ["status", "--json"],
                ["worker", "list"],
                ["worker", "list", "--json"],
                ["list"],
                ["show", job_id],
                ["logs", job_id],
                ["stats"],
                ["config", "show"],
            )
        ]
        assert "***@" in outputs[0] and "***@" in outputs[1]
        assert len(cli.json("worker", "list")) == 2
        assert all(w["host"] for w in cli.json("worker", "list"))
        failed = cli("show", "no-such-job")
        outputs += [failed.stdout, failed.stderr]
        stopped = cli("worker", "stop", "--wait")
        assert stopped.returncode == 0, stopped.stderr
        outputs += [stopped.stdout, stopped.stderr]
        assert pool.wait(30) == 0
        outputs.append(Path(pool.log.name).read_text())
    finally:
        pool.stop()
    assert not [text for text in outputs if secret in text]
    wrong = re.sub(r"@([^/:@]+)(:\d+)?/", r"@\1:1/", url, count=1)  # nothing listens on port 1
    unreachable = cli("--db", wrong, "status")
    assert unreachable.returncode == 1 and secret not in unreachable.stderr


def test_the_job_log_walks_the_finished_index_backwards_whatever_the_filters(pg_location):
    """With 100,000 finished attempts, `attempts` reads queuectl_attempts_finished newest
    first and stops at its limit, with any combination of filters: no sort of them."""
    store = open_store(pg_location)
    try:
        conn = store._conn
        conn.execute("""
            INSERT INTO queuectl_jobs (id, command, state, queue, priority, max_retries,
                                       run_at, cwd, created_at, updated_at, "group")
            SELECT 'j' || g, 'true', 'completed', CASE WHEN g % 3 = 0 THEN 'q' ELSE 'default' END,
                   0, 0, g, '/tmp', g, g, CASE WHEN g % 7 = 0 THEN 'g' END
              FROM generate_series(1, 100000) AS g""")
        conn.execute("""
            INSERT INTO queuectl_attempts (job_id, number, started_at, finished_at, outcome)
            SELECT 'j' || g, 1, g, g + 1, CASE WHEN g % 5 = 0 THEN 'dead' ELSE 'completed' END
              FROM generate_series(1, 100000) AS g""")
        conn.execute("ANALYZE queuectl_jobs")
        conn.execute("ANALYZE queuectl_attempts")
        for since, queue, group, outcome in itertools.product(
            (None, 0.0), (None, "q"), (None, "g"), (None, "dead")
        ):
            where, params = store._log_filters(since, queue, group, outcome)
            sql = "EXPLAIN " + store._sql("attempt_log", where=where)
            rows = conn.execute(sql, {**params, "limit": 50}).fetchall()
            plan = "\n".join(row["QUERY PLAN"] for row in rows)
            assert "Index Scan Backward using queuectl_attempts_finished" in plan, plan
            assert "Sort" not in plan, plan
    finally:
        store.close()
