"""`queuectl export` and `queuectl import` (SPEC §10) on real stores: a store with every kind
of job moves SQLite -> PostgreSQL -> SQLite without a line of its export changing, and a
bad file changes nothing and names its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from queuectl import lifecycle
from queuectl.config import Config
from queuectl.model import Attempt, Firing, Lease, NewJob, Schedule, WorkerInfo
from queuectl.service.porting import MOVED_ERROR
from queuectl.store import open_store
from tests.conftest import Cli

T0 = 1_800_000_000.0
CONFIG = Config.from_stored({})


def new(job_id: str, **fields) -> NewJob:
    return NewJob(**{"id": job_id, "command": "true", "max_retries": 2, "cwd": "/tmp", **fields})


def run(store, job_id: str, exit_code: int, output: bytes, now: float) -> None:
    """Claim the job (it must be the next one due) and end its attempt with `exit_code`."""
    job = store.claim("w1", None, now, 30.0)
    assert job is not None and job.id == job_id
    error = None if exit_code == 0 else f"exit code {exit_code}"
    transition = lifecycle.after_attempt(job, exit_code, error, now + 1, CONFIG)
    attempt = Attempt(
        job.id,
        job.attempt_number,
        "w1",
        job.started_at,
        now + 1,
        exit_code,
        error,
        output=output,
        output_total=len(output),
        cpu_user=0.25,
        cpu_system=0.125,
        max_rss=12_345_678,
        host="host1",
    )
    assert store.finish(Lease(job.id, "w1", job.attempt_number), transition, attempt, now + 1)


def fill(location: str) -> None:
    """Every kind of job, and every setting an export carries."""
    store = open_store(location)
    store.register_worker(WorkerInfo("w1", "host1", 1, "p", None, T0, T0))
    store.config_set("backoff_jitter", 0.2)
    store.config_set("no_retry_on", ["2"])
    # Each one that runs is enqueued and run before the next is enqueued.
    for job_id, exit_code, output, extra in (
        ("done", 0, b"hello\n", {}),
        ("binary", 0, b"\xff\xfe not UTF-8", {}),
        ("retrying", 1, b"try later\n", {"max_retries": 5}),
        ("dead", 3, b"", {"max_retries": 0}),
        ("hooked", 0, b"", {"on_success": "echo ok"}),  # its hook waits to be run
    ):
        store.enqueue([new(job_id, run_at=T0, **extra)], T0)
        run(store, job_id, exit_code, output, T0)
    store.enqueue([new("running", run_at=T0, env={"A": "1"})], T0)
    running = store.claim("w1", None, T0 + 2, 30.0)
    assert running is not None and running.id == "running"
    store.record_start(Lease("running", "w1", 1), "host1", 4242, T0 + 2)
    store.append_output(Lease("running", "w1", 1), 0, b"partial", 0)
    store.enqueue(
        [
            new("plain", run_at=T0, priority=5, retry_on=["75", "timeout"]),
            new("delayed", run_at=T0 + 3600),
            new("waiter", run_at=T0, after=[{"id": "plain", "on": "success"}]),
            new("canceled", run_at=T0),
            new("held", run_at=T0),
            new("locked", run_at=T0, lock="L"),
            new("uniq", run_at=T0, unique_key="k"),
            new("slow1", run_at=T0, queue="slow"),
        ],
        T0 + 3,
    )
    store.enqueue(
        [new(f"arr-{i}", run_at=T0, group="arr", index=i) for i in range(2)], T0 + 3, {"arr": 1}
    )
    store.cancel(["canceled"], T0 + 4)
    store.hold(["held"], True, T0 + 4)
    store.pause_queues(["slow"])
    store.limit_queue("default", 8)
    store.add_schedule(
        Schedule(
            "nightly",
            "0 3 * * *",
            "UTC",
            {"command": "echo nightly", "cwd": "/tmp"},
            created_at=T0,
            fired_through=T0,
            next_fire_at=T0 + 60,
        )
    )
    store.fire_schedule(
        Firing(
            "nightly",
            T0,
            T0 + 120,
            T0 + 86_400,
            runs=[(T0 + 60, new("nightly-run", run_at=T0 + 60, schedule="nightly"))],
            skipped=[(T0 + 30, "missed")],
            skip_if_running=False,
        ),
        T0 + 120,
    )
    store.close()


def cli_on(location: str, tmp_path: Path, name: str) -> Cli:
    home = tmp_path / name
    home.mkdir()
    return Cli(location, home)


def exported(cli: Cli) -> list[str]:
    return cli.ok("export", "--with-output").splitlines()


def job_lines(lines: list[str]) -> dict[str, dict]:
    return {data["job"]["id"]: data for data in map(json.loads, lines) if "job" in data}


def test_a_store_of_every_kind_moves_sqlite_postgres_sqlite_unchanged(tmp_path, pg_location):
    source = cli_on(str(tmp_path / "a.db"), tmp_path, "a")
    fill(source.location)
    first = exported(source)
    (tmp_path / "first.jsonl").write_text("\n".join(first) + "\n")
    postgres = cli_on(pg_location, tmp_path, "pg")
    said = postgres("import", str(tmp_path / "first.jsonl"))
    assert said.returncode == 0, said.stderr
    assert "imported 17 job(s) with 6 attempt(s), 4 gate(s) and 1 schedule(s)" in said.stderr
    second = exported(postgres)
    back = cli_on(str(tmp_path / "b.db"), tmp_path, "b")
    back.ok("import", "-", input="\n".join(second) + "\n")
    assert exported(back) == second

    # From the first export to the second only the running job changed: put back.
    before, after = job_lines(first), job_lines(second)
    assert [line for line in first if '"running"' not in line] == [
        line for line in second if '"running"' not in line
    ]
    assert before["running"]["job"]["state"] == "processing"
    moved = after["running"]
    assert (moved["job"]["state"], moved["job"]["attempts"]) == ("pending", 0)
    assert moved["job"]["attempt_number"] == 1 and moved["job"]["env"] == {"A": "1"}
    [attempt] = moved["attempts"]
    assert (attempt["outcome"], attempt["error"], attempt["output"]) == (
        "pending",
        MOVED_ERROR,
        "partial",
    )
    assert after["binary"]["attempts"][0]["output_base64"]
    assert after["done"]["attempts"][0]["output"] == "hello\n"
    assert after["done"]["attempts"][0]["max_rss"] == 12_345_678
    assert after["hooked"]["hooks"][0]["command"] == "echo ok"
    assert after["waiter"]["waits"] == [{"id": "plain", "on": "success"}]


def test_the_imported_store_works_out_what_may_run(tmp_path, location):
    source = cli_on(str(tmp_path / "a.db"), tmp_path, "a")
    fill(source.location)
    (tmp_path / "e.jsonl").write_text(source.ok("export"))
    target = cli_on(location, tmp_path, "t")
    target.ok("import", str(tmp_path / "e.jsonl"))
    store = open_store(location)
    try:
        gates = {gate.name: gate for gate in store.gates()}
        assert gates["queue:slow"].paused and gates["queue:default"].max_running == 8
        assert gates["group:arr"].max_running == 1 and gates["lock:L"].max_running == 1
        assert {gate.running for gate in gates.values()} == {0}
        assert store.get_job("waiter").waiting_on == 1 and store.get_job("plain").awaited
        assert store.get_job("slow1").gate == "queue:slow"
        assert store.config_values() == {"backoff_jitter": 0.2, "no_retry_on": ["2"]}
        assert store.get_schedule("nightly").next_fire_at == T0 + 86_400
        # Claims in the source's order: priority first, then run_at and enqueue order.
        claimed = []
        while (job := store.claim("w9", None, T0 + 10_000, 30.0)) is not None:
            claimed.append(job.id)
        assert claimed[:2] == ["plain", "running"]
        assert "waiter" not in claimed and "held" not in claimed and "slow1" not in claimed
        assert claimed.count("arr-0") + claimed.count("arr-1") == 1  # the group's %1
        assert store.take_hook_duties(10)[0].command == "echo ok"
    finally:
        store.close()
    # Without --with-output an attempt keeps its size, not its bytes.
    done = job_lines(target.ok("export").splitlines())["done"]["attempts"][0]
    assert done["output_total"] == 6
    assert "output" not in done


def test_export_filters_by_state_and_group(cli):
    cli.ok("run", "--id", "a", "true")
    cli.ok("run", "--id", "b", "--group", "g", "true")
    cli.ok("cancel", "a")
    assert list(job_lines(cli.ok("export", "--state", "canceled").splitlines())) == ["a"]
    assert list(job_lines(cli.ok("export", "--group", "g").splitlines())) == ["b"]
    assert list(job_lines(cli.ok("export", "--state", "pending,canceled").splitlines())) == [
        "a",
        "b",
    ]


@pytest.fixture
def valid(cli, tmp_path) -> list[str]:
    """A small store's export, and the CLI of another store with a job and a schedule."""
    other = cli_on(str(tmp_path / "other.db"), tmp_path, "other")
    other.ok("run", "--id", "x1", "--unique-key", "u", "true")
    other.ok("run", "--id", "x2", "true")
    other.ok("schedule", "add", "s", "0 3 * * *", "true")
    lines = other.ok("export").splitlines()
    cli.ok("run", "--id", "mine", "true")
    cli.ok("config", "set", "max_retries", "7")
    return lines


def replaced(lines: list[str], number: int, text: str) -> list[str]:
    return lines[: number - 1] + [text] + lines[number:]


BAD_FILES = {
    "another format": (lambda lines: replaced(lines, 1, '{"format": "csv"}'), 1, "not a queuectl"),
    "a newer version": (
        lambda lines: replaced(lines, 1, '{"format": "queuectl-export", "version": 9}'),
        1,
        "version 9",
    ),
    "a truncated line": (lambda lines: replaced(lines, 3, lines[2][:40]), 3, "cut short"),
    "cut at a line break": (lambda lines: lines[:-1], 5, "ends before its end line"),
    "an unknown state": (
        lambda lines: replaced(lines, 2, lines[1].replace('"pending"', '"sleeping"')),
        2,
        "unknown state",
    ),
    "a wrong type": (
        lambda lines: replaced(lines, 3, lines[2].replace('"priority":0', '"priority":"high"')),
        3,
        "priority must be an integer",
    ),
    "an id twice": (lambda lines: replaced(lines, 3, lines[1]), 3, "on line 2 already"),
    "a bad setting": (
        lambda lines: replaced(lines, 4, '{"config": {"max_retries": -1}}'),
        4,
        "max_retries",
    ),
    "an unknown waited-for job": (
        lambda lines: replaced(
            lines,
            3,
            lines[2].replace('"attempts":[]', '"attempts":[],"waits":[{"id":"nope","on":"any"}]'),
        ),
        3,
        "'nope', which is neither in the file nor in this store",
    ),
}


def edited(lines: list[str], number: int, change) -> list[str]:
    """The lines with line `number`'s object changed by `change(data)`."""
    data = json.loads(lines[number - 1])
    change(data)
    return replaced(lines, number, json.dumps(data))


def inserted(lines: list[str], number: int, text: str) -> list[str]:
    return lines[: number - 1] + [text] + lines[number - 1 :]


HOOK = {"command": "x", "cwd": "/", "env": {}, "exit_code": None, "attempt": 1}
ATTEMPT = {"number": 1, "worker_id": "w", "started_at": 1, "finished_at": 2, "outcome": "failed"}
BAD_FILES.update(
    {
        "a wait listed twice": (
            lambda lines: edited(
                lines, 3, lambda d: d.update(waits=[{"id": "x1", "on": "any"}] * 2)
            ),
            3,
            "a wait is listed twice",
        ),
        "waits in a cycle": (
            lambda lines: edited(lines, 3, lambda d: d.update(waits=[{"id": "x2", "on": "any"}])),
            3,
            "the waits form a cycle: 'x2' -> 'x2'",
        ),
        "a paused lock": (
            lambda lines: inserted(
                lines, 5, '{"gate":{"name":"lock:L","paused":true,"max_running":1}}'
            ),
            5,
            "a lock's gate is not paused this way",
        ),
        "an unknown failure word": (
            lambda lines: edited(lines, 2, lambda d: d["job"].update(retry_on=["zzz"])),
            2,
            "'zzz' is not an exit code",
        ),
        "a schedule's job of a bad priority": (
            lambda lines: edited(lines, 5, lambda d: d["schedule"]["spec"].update(priority="high")),
            5,
            "priority",
        ),
        "a number too big": (
            lambda lines: edited(lines, 2, lambda d: d["job"].update(priority=2**70)),
            2,
            "an integer of 64 bits",
        ),
        "a time too far": (
            lambda lines: edited(lines, 2, lambda d: d["job"].update(run_at=10**20)),
            2,
            "milliseconds since 1970",
        ),
        "a lone surrogate": (
            lambda lines: replaced(
                lines, 2, lines[1].replace('"command":"true"', '"command":"\\ud800"')
            ),
            2,
            "UTF-8 text without NUL",
        ),
        "NaN": (
            lambda lines: replaced(lines, 2, lines[1].replace('"timeout":null', '"timeout":NaN')),
            2,
            "not a line of UTF-8 JSON",
        ),
        "JSON nested too deep": (
            lambda lines: replaced(lines, 2, '{"job":' + "[" * 100_000 + "]" * 100_000 + "}"),
            2,
            "not a line of UTF-8 JSON",
        ),
        "a hook of a job still pending": (
            lambda lines: edited(
                lines,
                3,
                lambda d: d.update(
                    hooks=[{**HOOK, "state": "pending", "last_error": None, "created_at": 1}]
                ),
            ),
            3,
            "a hook is for a job that ended",
        ),
        "an attempt number twice": (
            lambda lines: edited(lines, 3, lambda d: d.update(attempts=[ATTEMPT, ATTEMPT])),
            3,
            "attempt numbers are 1, 2, ... each once",
        ),
        "no config line": (lambda lines: lines[:3] + lines[4:], 5, "no config line"),
    }
)


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_imports_nothing_and_names_its_line(cli, valid, tmp_path, case):
    spoil, line, told = BAD_FILES[case]
    before = cli.ok("export")
    out = cli("import", "-", input="\n".join(spoil(valid)) + "\n")
    assert out.returncode == 1, out.stderr
    [message] = out.stderr.splitlines()
    assert message.startswith(f"queuectl: error: line {line}: ") and told in message, message
    assert cli.ok("export") == before


@pytest.mark.parametrize(
    ("taken", "line", "told"),
    [
        (("run", "--id", "x2", "true"), 3, "job id 'x2' exists already"),
        (("run", "--unique-key", "u", "true"), 2, "unique key 'u' is held by job"),
        (("schedule", "add", "s", "0 4 * * *", "true"), 5, "a schedule named 's' exists"),
    ],
)
def test_what_the_store_holds_already_is_refused_by_its_line(cli, valid, taken, line, told):
    cli.ok(*taken)
    before = cli.ok("export")
    out = cli("import", "-", input="\n".join(valid) + "\n")
    assert out.returncode == 1
    assert out.stderr.strip().startswith(f"queuectl: error: line {line}: {told}"), out.stderr
    assert cli.ok("export") == before


def test_the_files_config_and_queue_settings_replace_the_stores(cli, valid):
    cli.ok("queue", "pause", "mine-queue")
    cli.ok("import", "-", input="\n".join(valid) + "\n")
    assert cli.json("config", "show")["max_retries"] == 3  # the file's store had none set
    assert [gate.name for gate in open_gates(cli.location)] == []
    assert {job["id"] for job in cli.json("list")} == {"mine", "x1", "x2"}


def open_gates(location: str):
    store = open_store(location)
    try:
        return store.gates()
    finally:
        store.close()


def test_an_unreadable_file_is_one_line(cli, tmp_path):
    out = cli("import", str(tmp_path / "missing.jsonl"))
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"queuectl: error: cannot read {tmp_path / 'missing.jsonl'}: No such file or directory"
    )


def test_a_job_may_wait_for_a_live_job_of_the_store(cli, tmp_path):
    other = cli_on(str(tmp_path / "other.db"), tmp_path, "other")
    other.ok("run", "--id", "base", "true")
    other.ok("run", "--id", "w", "--group", "g", "--after", "base", "true")
    only_w = other.ok("export", "--group", "g")
    refused = cli("import", "-", input=only_w)
    assert refused.returncode == 1
    assert "line 2: job 'w' waits for 'base', which is neither in the file nor" in refused.stderr
    cli.ok("run", "--id", "base", "true")
    cli.ok("import", "-", input=only_w)
    store = open_store(cli.location)
    try:
        assert store.get_job("base").awaited and store.get_job("w").waiting_on == 1
    finally:
        store.close()
    assert cli.json("explain", "w")["reasons"][0]["code"] == "dependency"


def test_an_import_counts_the_running_jobs_of_the_store_through_the_files_gates(tmp_path, location):
    other = cli_on(str(tmp_path / "other.db"), tmp_path, "other")
    other.ok("queue", "limit", "q", "1")
    other.ok("run", "--id", "waiting", "--queue", "q", "true")
    store = open_store(location)
    try:
        store.enqueue([new("busy", queue="q", run_at=T0)], T0)
        busy = store.claim("w1", None, T0 + 1, 30.0)
        assert busy is not None and busy.id == "busy"
        target = cli_on(location, tmp_path, "t")
        target.ok("import", "-", input=other.ok("export"))
        assert store.gate("queue:q").running == 1  # the store's own running job counts
        assert store.claim("w2", None, T0 + 10_000, 30.0) is None  # the limit is full
        transition = lifecycle.after_attempt(busy, 0, None, T0 + 2, CONFIG)
        attempt = Attempt("busy", 1, "w1", T0 + 1, T0 + 2, 0, None)
        assert store.finish(Lease("busy", "w1", 1), transition, attempt, T0 + 2)
        assert store.gate("queue:q").running == 0  # its end freed the slot it took
        assert store.claim("w2", None, T0 + 10_000, 30.0).id == "waiting"
    finally:
        store.close()


def test_an_export_reads_one_moment_of_the_store(location):
    reader, writer = open_store(location), open_store(location)
    try:
        reader.enqueue([new("a", run_at=T0)], T0)
        reader.config_set("max_retries", 5)
        parts = reader.export(None, None, False)
        assert next(parts).job.id == "a"  # the snapshot is taken
        writer.enqueue([new("later", run_at=T0)], T0)  # another process's writes meanwhile
        writer.config_set("max_retries", 9)
        rest = list(parts)
        assert [part.config for part in rest] == [{"max_retries": 5}]
    finally:
        reader.close()
        writer.close()
