"""The dashboard's HTTP API against a real running dashboard (SPEC §5): every endpoint, the
OpenAPI document checked against real answers, escaping, CSRF, origin and token rules,
JSON errors, a threaded server and a clean Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from queuectl.durations import parse_time
from queuectl.store import open_store
from tests.conftest import wait_for
from tests.dashboard.conftest import XSS_COMMAND, XSS_OUTPUT, Dashboard, Response
from tests.worker.test_pool import process_running, read_pid

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

STATES = ["pending", "processing", "completed", "failed", "dead", "canceled"]
TOKEN = "correct-horse-battery-staple"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# --- a JSON Schema subset: what the OpenAPI document uses -------------------------------


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(
        value,
        {
            "integer": int,
            "number": (int, float),
            "string": str,
            "boolean": bool,
            "object": dict,
            "array": list,
            "null": type(None),
        }[kind],
    )


def validate(value: Any, schema: dict, doc: dict, where: str = "$") -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        validate(value, doc["components"]["schemas"][name], doc, where)
        return
    if "oneOf" in schema:
        fits = 0
        for option in schema["oneOf"]:
            try:
                validate(value, option, doc, where)
                fits += 1
            except AssertionError:
                pass
        assert fits == 1, f"{where}: {value!r} fits {fits} of oneOf"
        return
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        assert any(_is(value, kind) for kind in kinds), f"{where}: {value!r} is not {kinds}"
    if "const" in schema:
        assert value == schema["const"], where
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "minimum" in schema and _is(value, "number"):
        assert value >= schema["minimum"], where
    if schema.get("format") == "date-time" and isinstance(value, str):
        assert ISO_UTC.fullmatch(value), f"{where}: {value!r} is not ISO-8601 UTC"
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        missing = [name for name in schema.get("required", []) if name not in value]
        assert not missing, f"{where}: missing {missing}"
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                validate(item, properties[key], doc, f"{where}.{key}")
            else:
                assert extra is not False, f"{where}: undocumented field {key!r}"
                if isinstance(extra, dict):
                    validate(item, extra, doc, f"{where}.{key}")
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0), where
        for index, item in enumerate(value):
            validate(item, schema.get("items", {}), doc, f"{where}[{index}]")


class Checker:
    """Checks real answers against the document, and remembers which operations it saw."""

    def __init__(self, dash: Dashboard) -> None:
        self.doc = dash.get_json("/api/openapi.json")
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, method: str, template: str, reply: Response, status: int = 200) -> Any:
        assert reply.status == status, (method, template, reply.status, reply.body)
        operation = self.doc["paths"][template][method.lower()]
        documented = operation["responses"][str(status)]
        if "$ref" in documented:
            documented = self.doc["components"]["responses"][documented["$ref"].rsplit("/")[-1]]
        if template == "/metrics" and status == 200:
            assert "text/plain" in documented["content"]
            self.seen.add((method.lower(), template))
            return reply.body.decode()
        schema = documented["content"]["application/json"]["schema"]
        validate(reply.json(), schema, self.doc)
        self.seen.add((method.lower(), template))
        return reply.json()

    def every_operation(self) -> set[tuple[str, str]]:
        return {(method, path) for path, item in self.doc["paths"].items() for method in item}


def _check_cpu_seconds(
    check: Checker, dash: Dashboard, metrics: dict[str, float], ids: list[str]
) -> None:
    """queuectl_attempt_cpu_seconds_total is the sum of what the finished attempts of
    these jobs (every job of the store) report."""
    finished = [
        attempt
        for job_id in ids
        for attempt in check("get", "/api/jobs/{id}", dash.get(f"/api/jobs/{job_id}"))["attempts"]
        if attempt["outcome"] is not None
    ]
    assert finished and all(a["max_rss"] > 0 and a["cpu_user"] >= 0 for a in finished)
    for mode in ("user", "system"):
        total = sum(attempt[f"cpu_{mode}"] for attempt in finished)
        sample = metrics[f'queuectl_attempt_cpu_seconds_total{{mode="{mode}"}}']
        assert sample == pytest.approx(total, abs=0.002)


def parse_metrics(text: str) -> dict[str, float]:
    """Each sample by its line's name and labels, of a text a real parser reads too."""
    prometheus_families(text)
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


# --- every endpoint, as documented ------------------------------------------------------


def test_every_endpoint_answers_as_its_openapi_document_says(cli, dashboard, jobs_in_every_state):
    dash = dashboard()
    check = Checker(dash)
    assert check.doc["openapi"].startswith("3.")

    status = check("get", "/api/status", dash.get("/api/status"))
    assert status["counts"] == {
        "pending": 1,
        "processing": 1,
        "completed": 2,
        "failed": 1,
        "dead": 1,
        "canceled": 1,
    }
    assert status["queues"]["web"] == {**dict.fromkeys(STATES, 0), "completed": 1, "failed": 1}
    assert [w["job_id"] for w in status["workers"]] == ["running"]
    assert status["store"] == cli.location

    everything = check("get", "/api/jobs", dash.get("/api/jobs"))
    assert [j["id"] for j in everything["jobs"]] == [
        "dropped",
        "later",
        "running",
        "flaky",
        "broken",
        "xss",
        "done",
    ]
    assert everything["has_more"] is False
    page = check("get", "/api/jobs", dash.get("/api/jobs?limit=2&offset=2"))
    assert [j["id"] for j in page["jobs"]] == ["running", "flaky"] and page["has_more"]
    last = check("get", "/api/jobs", dash.get("/api/jobs?limit=2&offset=6"))
    assert [j["id"] for j in last["jobs"]] == ["done"] and not last["has_more"]
    for state, job_id in jobs_in_every_state.items():
        listed = check("get", "/api/jobs", dash.get(f"/api/jobs?state={state}&limit=5"))
        assert job_id in [j["id"] for j in listed["jobs"]]
    beyond = check("get", "/api/jobs", dash.get("/api/jobs?offset=2147483648"))  # the most
    assert beyond["jobs"] == [] and not beyond["has_more"]
    web = check("get", "/api/jobs", dash.get("/api/jobs?queue=web&state=failed"))
    assert [j["id"] for j in web["jobs"]] == ["flaky"]

    broken = check("get", "/api/jobs/{id}", dash.get("/api/jobs/broken"))
    assert broken["job"]["state"] == "dead" and broken["job"]["last_error"] == "exit code 3"
    assert [(a["number"], a["outcome"], a["output"]) for a in broken["attempts"]] == [
        (1, "dead", "boom\n")
    ]
    running = check("get", "/api/jobs/{id}", dash.get("/api/jobs/running"))
    assert running["attempts"][0]["outcome"] is None  # still running

    workers = check("get", "/api/workers", dash.get("/api/workers"))
    assert [(w["state"], w["job_id"]) for w in workers] == [("busy", "running")]

    stats = check("get", "/api/stats", dash.get("/api/stats?since=1h"))
    assert stats["total"]["completed"] == 2 and stats["total"]["dead"] == 1
    assert set(stats["queues"]) == {"default", "web"}
    for since, seconds in (("7d", 604800), ("604800", 604800), ("1.5h", 5400), ("0.5", 0.5)):
        window = check("get", "/api/stats", dash.get(f"/api/stats?since={since}"))
        assert window["window_seconds"] == seconds

    throughput = check("get", "/api/throughput", dash.get("/api/throughput?minutes=5"))
    assert len(throughput["buckets"]) == 5 and throughput["bucket_seconds"] == 60
    assert sum(b["completed"] for b in throughput["buckets"]) == 2
    assert sum(b["failed"] for b in throughput["buckets"]) == 2  # flaky once, broken once
    assert len(check("get", "/api/throughput", dash.get("/api/throughput"))["buckets"]) == 60

    reply = dash.get("/metrics")
    assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    metrics = parse_metrics(check("get", "/metrics", reply))
    assert metrics['queuectl_jobs{queue="default",state="dead"}'] == 1
    assert metrics['queuectl_jobs{queue="web",state="failed"}'] == 1
    assert metrics['queuectl_attempts_total{outcome="completed"}'] == 2
    assert metrics['queuectl_workers{state="busy"}'] == 1
    buckets = [
        v for k, v in metrics.items() if k.startswith("queuectl_attempt_duration_seconds_bucket")
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 4
    assert metrics["queuectl_attempt_duration_seconds_count"] == 4
    _check_cpu_seconds(check, dash, metrics, [*jobs_in_every_state.values(), "xss"])

    assert check("post", "/api/jobs/{id}/cancel", dash.post("/api/jobs/later/cancel")) == {
        "id": "later",
        "result": "canceled",
    }
    # As `queuectl cancel` does, it waits for the worker to stop the running job.
    assert check("post", "/api/jobs/{id}/cancel", dash.post("/api/jobs/running/cancel")) == {
        "id": "running",
        "result": "canceled",
    }
    assert cli.state("running") == "canceled"

    retried = check("post", "/api/dlq/retry", dash.post("/api/dlq/retry", {"ids": ["broken"]}))
    assert retried == {"ids": ["broken"]}
    # The worker runs it again at once: a second attempt, and dead again.
    wait_for(
        lambda: len(cli.json("show", "broken")["attempts"]) == 2 and cli.state("broken") == "dead",
        message="broken to run again",
    )
    assert check("post", "/api/dlq/retry", dash.post("/api/dlq/retry", {"all": True})) == {
        "ids": ["broken"]
    }

    check("get", "/api/jobs/{id}", dash.get("/api/jobs/nope"), 404)
    by_query = check("get", "/api/job", dash.get("/api/job?id=done"))
    assert by_query == dash.get_json("/api/jobs/done")
    check("get", "/api/job", dash.get("/api/job?id=nope"), 404)
    check("get", "/api/job", dash.get("/api/job?id=broken&id=done"), 400)
    check("post", "/api/job/cancel", dash.post("/api/job/cancel?id=done"), 409)
    check("post", "/api/job/cancel", dash.post("/api/job/cancel"), 400)
    check("get", "/api/jobs", dash.get("/api/jobs?limit=0"), 400)
    check("post", "/api/dlq/retry", dash.post("/api/dlq/retry", {"ids": ["done"]}), 409)
    check("post", "/api/jobs/{id}/cancel", dash.post("/api/jobs/done/cancel"), 409)
    check("post", "/api/dlq/retry", dash.get("/api/dlq/retry"), 405)
    assert check("get", "/api/openapi.json", dash.get("/api/openapi.json")) == check.doc
    assert check("post", "/logout", dash.post("/logout")) == {"logged_out": True}
    assert check.seen == (
        check.every_operation()
        - workflow_operations(check)
        - flow_operations(check)
        - schedule_operations(check)
    )


def flow_operations(check: Checker) -> set[tuple[str, str]]:
    """The operations on queues and locks (SPEC §8), which a test of their own sees."""
    flow = re.compile(r"^/api/(queues?|locks)\b")
    return {(method, path) for method, path in check.every_operation() if flow.search(path)}


def schedule_operations(check: Checker) -> set[tuple[str, str]]:
    """The operations on schedules (SPEC §8), which a test of their own sees."""
    return {(method, path) for method, path in check.every_operation() if "/schedule" in path}


def workflow_operations(check: Checker) -> set[tuple[str, str]]:
    """The operations on groups and dependencies (SPEC §7), which a test of their own sees."""
    workflow = re.compile(r"/api/groups?\b|/(explain|hold|release|requeue)$")
    return {(method, path) for method, path in check.every_operation() if workflow.search(path)}


def test_workflow_endpoints_answer_as_documented(fast_config, pool, dashboard):
    """Groups with their progress, a job's dependencies, dependents and explanation, and
    hold, release, requeue and cancel of a job or a group, as the CLI's verbs do."""
    cli = fast_config
    cli.ok("run", "--id", "ok", "--group", "g", "true")
    cli.ok("run", "--id", "bad", "--group", "g", "--max-retries", "0", "exit 3")
    pool(1)
    wait_for(lambda: [cli.state("ok"), cli.state("bad")] == ["completed", "dead"])
    after = ("--after", "ok", "--after-any", "bad")
    cli.ok("run", "--id", "later", "--group", "g", "--delay", "1h", *after, "true")
    cli.ok("run", "--id", "next", "--after", "later", "true")
    dash = dashboard()
    check = Checker(dash)

    g = {
        "group": "g",
        "counts": {**dict.fromkeys(STATES, 0), "completed": 1, "dead": 1, "pending": 1},
        "total": 3,
        "finished": 2,
        "progress": 0.6667,
    }
    assert check("get", "/api/groups", dash.get("/api/groups")) == {"groups": [g]}
    assert check("get", "/api/groups/{group}", dash.get("/api/groups/g")) == g
    assert check("get", "/api/group", dash.get("/api/group?name=g")) == g
    check("get", "/api/groups/{group}", dash.get("/api/groups/nope"), 404)
    check("get", "/api/group", dash.get("/api/group"), 400)
    listed = check("get", "/api/jobs", dash.get("/api/jobs?group=g"))
    assert [job["id"] for job in listed["jobs"]] == ["later", "bad", "ok"]
    assert check("get", "/api/jobs", dash.get("/api/jobs?group=no%20such"), 400)["error"] == (
        "invalid group 'no such': use 1 to 128 of A-Z a-z 0-9 . _ : -"
    )

    later = check("get", "/api/jobs/{id}", dash.get("/api/jobs/later"))
    assert later["dependencies"] == [
        {"id": "ok", "on": "success", "state": "completed"},
        {"id": "bad", "on": "any", "state": "dead"},
    ]
    assert later["dependents"] == ["next"] and later["more_dependents"] is False
    assert dash.get_json("/api/jobs/ok")["dependents"] == ["later"]
    waiting = check("get", "/api/jobs/{id}/explain", dash.get("/api/jobs/next/explain"))
    assert waiting == cli.json("explain", "next")
    assert not waiting["runnable"] and "dependency" in [r["code"] for r in waiting["reasons"]]
    delayed = check("get", "/api/job/explain", dash.get("/api/job/explain?id=later"))
    assert [r["code"] for r in delayed["reasons"]][0] == "delayed"
    check("get", "/api/jobs/{id}/explain", dash.get("/api/jobs/nope/explain"), 404)
    check("get", "/api/job/explain", dash.get("/api/job/explain?id=nope"), 404)

    one = {"ids": ["later"], "skipped": 0}
    assert check("post", "/api/jobs/{id}/hold", dash.post("/api/jobs/later/hold")) == one
    assert cli.job("later")["held"] is True
    check("post", "/api/jobs/{id}/hold", dash.post("/api/jobs/ok/hold"), 409)
    check("post", "/api/jobs/{id}/hold", dash.post("/api/jobs/nope/hold"), 404)
    assert check("post", "/api/job/release", dash.post("/api/job/release?id=later")) == one
    assert cli.job("later")["held"] is False
    check("post", "/api/jobs/{id}/release", dash.post("/api/jobs/ok/release"), 409)
    assert check("post", "/api/job/hold", dash.post("/api/job/hold?id=later")) == one
    assert check("post", "/api/jobs/{id}/release", dash.post("/api/jobs/later/release")) == one
    check("post", "/api/jobs/{id}/requeue", dash.post("/api/jobs/later/requeue"), 409)
    check("post", "/api/job/requeue", dash.post("/api/job/requeue?id=nope"), 404)
    check("post", "/api/job/requeue", dash.post("/api/job/requeue"), 400)

    held = {"ids": ["later"], "skipped": 2}
    assert check("post", "/api/groups/{group}/hold", dash.post("/api/groups/g/hold")) == held
    check("post", "/api/groups/{group}/hold", dash.post("/api/groups/g/hold"), 409)
    assert check("post", "/api/group/hold", dash.post("/api/group/hold?name=g"), 409)["error"] == (
        "no job of group 'g' can be held"
    )
    assert check("post", "/api/group/release", dash.post("/api/group/release?name=g")) == held
    check("post", "/api/groups/{group}/release", dash.post("/api/groups/g/release"), 409)
    check("post", "/api/groups/{group}/release", dash.post("/api/groups/nope/release"), 404)
    assert check("post", "/api/group/requeue", dash.post("/api/group/requeue?name=g")) == {
        "ids": ["bad"],
        "skipped": 2,
    }
    wait_for(lambda: cli.state("bad") == "dead", message="bad to run again")
    assert check("post", "/api/groups/{group}/requeue", dash.post("/api/groups/g/requeue")) == {
        "ids": ["bad"],
        "skipped": 2,
    }
    wait_for(lambda: cli.state("bad") == "dead", message="bad to run again")
    assert check("post", "/api/jobs/{id}/requeue", dash.post("/api/jobs/bad/requeue")) == {
        "ids": ["bad"],
        "skipped": 0,
    }
    wait_for(lambda: cli.state("bad") == "dead", message="bad to run once more")
    assert check("post", "/api/groups/{group}/cancel", dash.post("/api/groups/g/cancel")) == held
    assert cli.state("next") == "canceled"  # it waited for `later` to complete
    check("post", "/api/group/cancel", dash.post("/api/group/cancel?name=g"), 409)
    check("post", "/api/groups/{group}/cancel", dash.post("/api/groups/bad%20name/cancel"), 400)
    assert workflow_operations(check) <= check.seen


def test_queue_and_lock_endpoints_answer_as_documented(cli, pool, dashboard, tmp_path):
    """Every known queue with its pause, limit and running jobs; pause and resume of one
    as `queue pause` and `queue resume` do (a resume of a queue not paused a note); the
    lock a processing job holds; and /metrics's queue gauges."""
    gate = tmp_path / "gate"
    cli.ok("queue", "limit", "gpu", "2")
    holder = cli.ok(
        "run",
        "--queue",
        "gpu",
        "--lock",
        "deploy",
        "--",
        f"while ! test -e {gate}; do sleep 0.05; done",
    ).strip()
    cli.ok("run", "--id", "img", "--queue", "images", "--delay", "1h", "true")
    pool(1, "--queue", "gpu,images")
    wait_for(lambda: cli.state(holder) == "processing", message="the lock's holder to run")
    dash = dashboard()
    check = Checker(dash)

    listed = check("get", "/api/queues", dash.get("/api/queues"))["queues"]
    assert listed == cli.json("queue", "list")
    by_name = {entry["queue"]: entry for entry in listed}
    assert list(by_name) == ["gpu", "images"]
    assert by_name["gpu"]["limit"] == 2 and by_name["gpu"]["running"] == 1
    assert by_name["gpu"]["counts"]["processing"] == 1 and not by_name["gpu"]["paused"]
    assert by_name["images"]["limit"] is None and by_name["images"]["running"] == 0
    assert len(by_name["images"]["workers"]) == 1
    assert check("get", "/api/locks", dash.get("/api/locks")) == {
        "locks": [{"lock": "deploy", "jobs": [holder]}]
    }

    paused = {"queue": "images", "paused": True, "note": None}
    assert check("post", "/api/queues/{queue}/pause", dash.post("/api/queues/images/pause")) == (
        paused
    )
    assert [q["paused"] for q in cli.json("queue", "list")] == [False, True]
    metrics = parse_metrics(check("get", "/metrics", dash.get("/metrics")))
    assert metrics['queuectl_queue_paused{queue="images"}'] == 1
    assert metrics['queuectl_queue_paused{queue="gpu"}'] == 0
    assert metrics['queuectl_queue_limit{queue="gpu"}'] == 2
    assert 'queuectl_queue_limit{queue="images"}' not in metrics
    assert check("post", "/api/queue/pause", dash.post("/api/queue/pause?name=images")) == {
        **paused,
        "note": "queue images is paused already",
    }
    resumed = {"queue": "images", "paused": False, "note": None}
    assert check("post", "/api/queue/resume", dash.post("/api/queue/resume?name=images")) == (
        resumed
    )
    assert cli.json("queue", "list") == dash.get_json("/api/queues")["queues"]
    assert not any(q["paused"] for q in cli.json("queue", "list"))
    again = check("post", "/api/queues/{queue}/resume", dash.post("/api/queues/images/resume"))
    assert again == {**resumed, "note": "queue images is not paused: nothing to resume"}

    before = cli.json("queue", "list")
    missing = check("post", "/api/queues/{queue}/pause", dash.post("/api/queues/nope/pause"), 404)
    assert missing["error"] == "no queue 'nope': it has no jobs and is not paused or limited"
    check("post", "/api/queue/resume", dash.post("/api/queue/resume?name=nope"), 404)
    check("post", "/api/queues/{queue}/pause", dash.post("/api/queues/bad%20name/pause"), 400)
    check("post", "/api/queue/pause", dash.post("/api/queue/pause"), 400)
    check("post", "/api/queues/{queue}/pause", dash.post("/api/queues/gpu/pause", csrf=False), 403)
    check("get", "/api/queues", dash.get("/api/queues?all=1"), 400)
    check("post", "/api/queues/{queue}/pause", dash.get("/api/queues/gpu/pause"), 405)
    assert cli.json("queue", "list") == before
    cli.ok("queue", "limit", "..", "3")  # a name the page sends in the query
    dot = check("post", "/api/queue/pause", dash.post("/api/queue/pause?name=.."))
    assert dot == {"queue": "..", "paused": True, "note": None}
    flows = {q["queue"]: (q["paused"], q["limit"]) for q in cli.json("queue", "list")}
    assert flows[".."] == (True, 3)

    gate.touch()
    assert cli("wait", holder, "--timeout", "60").returncode == 0
    assert check("get", "/api/locks", dash.get("/api/locks")) == {"locks": []}
    assert flow_operations(check) <= check.seen


def test_schedule_endpoints_answer_as_documented(cli, dashboard):
    """Every schedule as `schedule list` has it and one as `schedule show` does, its env's
    secret masked; pause, resume and run now of one that exists (a pause or resume that
    changes nothing a note), by path and by query; nothing that adds one."""
    cli.ok(
        "schedule",
        "add",
        "nightly",
        "30 2 * * *",
        "make backup",
        "--tz",
        "Europe/Berlin",
        "--env",
        "API_TOKEN=hush",
        "--lock",
        "backup",
    )
    cli.ok("schedule", "add", "..", "*/5 * * * *", "true", "--tz", "UTC")  # sent in the query
    dash = dashboard()
    check = Checker(dash)

    reply = dash.get("/api/schedules")
    listed = check("get", "/api/schedules", reply)["schedules"]
    assert listed == cli.json("schedule", "list")
    assert [s["name"] for s in listed] == ["..", "nightly"]
    assert listed[1]["job"]["env"] == {"API_TOKEN": "***"} and b"hush" not in reply.body
    assert listed[1]["last_run"] is None and listed[1]["next_run"] is not None
    shown = check("get", "/api/schedules/{schedule}", dash.get("/api/schedules/nightly"))
    assert shown == cli.json("schedule", "show", "nightly")
    assert check("get", "/api/schedule", dash.get("/api/schedule?name=..")) == cli.json(
        "schedule", "show", ".."
    )

    flow = "/api/schedules/{schedule}/"
    paused = {"schedule": "nightly", "paused": True, "job": None, "note": None}
    assert check("post", flow + "pause", dash.post("/api/schedules/nightly/pause")) == paused
    assert cli.json("schedule", "list")[1]["paused"] is True
    again = check("post", "/api/schedule/pause", dash.post("/api/schedule/pause?name=nightly"))
    assert again == {**paused, "note": "schedule nightly is paused already"}
    families = prometheus_families(check("get", "/metrics", dash.get("/metrics")))
    assert samples(families, "queuectl_schedule_paused") == {"..": 0, "nightly": 1}
    next_runs = samples(families, "queuectl_schedule_next_run_timestamp_seconds")
    assert next_runs == {"..": parse_time(cli.json("schedule", "list")[0]["next_run"])}

    resumed = {"schedule": "nightly", "paused": False, "job": None, "note": None}
    assert check("post", flow + "resume", dash.post("/api/schedules/nightly/resume")) == resumed
    assert cli.json("schedule", "list")[1]["paused"] is False
    again = check("post", "/api/schedule/resume", dash.post("/api/schedule/resume?name=nightly"))
    assert again == {**resumed, "note": "schedule nightly is not paused: nothing to resume"}

    ran = check("post", flow + "run", dash.post("/api/schedules/nightly/run"))
    job = cli.job(ran["job"])
    assert ran == {**resumed, "job": job["id"]}
    assert (job["schedule"], job["command"], job["lock"]) == ("nightly", "make backup", "backup")
    reply = dash.get("/api/schedules/nightly")
    shown = check("get", "/api/schedules/{schedule}", reply)
    assert [run["id"] for run in shown["runs"]] == [job["id"]] and b"hush" not in reply.body
    assert shown["runs"][0]["env"] == {"API_TOKEN": "***"}
    assert shown["schedule"]["last_run"] == {"job": job["id"], "state": "pending"}
    dots = check("post", "/api/schedule/run", dash.post("/api/schedule/run?name=.."))
    assert cli.job(dots["job"])["schedule"] == ".."

    before = (cli.json("schedule", "list"), cli.json("list"))
    missing = check("post", flow + "run", dash.post("/api/schedules/nope/run"), 404)
    assert missing["error"] == "no schedule named 'nope' (queuectl schedule list shows them)"
    check("get", "/api/schedules/{schedule}", dash.get("/api/schedules/nope"), 404)
    check("post", "/api/schedule/pause", dash.post("/api/schedule/pause?name=nope"), 404)
    check("post", flow + "resume", dash.post("/api/schedules/nope/resume"), 404)
    check("post", flow + "pause", dash.post("/api/schedules/bad%20name/pause"), 400)
    check("post", "/api/schedule/run", dash.post("/api/schedule/run"), 400)
    check("post", flow + "run", dash.post("/api/schedules/nightly/run", csrf=False), 403)
    check("get", "/api/schedules", dash.get("/api/schedules?all=1"), 400)
    check("post", flow + "run", dash.get("/api/schedules/nightly/run"), 405)
    # The dashboard adds no schedule and takes no command.
    assert dash.post("/api/schedules", {"name": "x", "command": "true"}).status == 405
    assert dash.post("/api/schedules/x", {"command": "true"}).status == 405
    assert (cli.json("schedule", "list"), cli.json("list")) == before
    assert schedule_operations(check) <= check.seen


def prometheus_families(text: str) -> dict[str, Any]:
    """Every family of a /metrics answer, by name, as a real Prometheus parser reads it
    (it raises on any line it cannot read), each of the type it should have."""
    from prometheus_client.parser import text_string_to_metric_families

    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {name: family.type for name, family in families.items()} == METRIC_TYPES
    return families


# Counters are named without their _total by the parser.
METRIC_TYPES = {
    "queuectl_jobs": "gauge",
    "queuectl_queue_paused": "gauge",
    "queuectl_queue_limit": "gauge",
    "queuectl_schedule_paused": "gauge",
    "queuectl_schedule_next_run_timestamp_seconds": "gauge",
    "queuectl_attempts": "counter",
    "queuectl_attempt_duration_seconds": "histogram",
    "queuectl_attempt_cpu_seconds": "counter",
    "queuectl_workers": "gauge",
}


def samples(families: dict[str, Any], name: str) -> dict[str, float]:
    """A family's samples, by their schedule label."""
    return {sample.labels["schedule"]: sample.value for sample in families[name].samples}


def _cancel_requested(cli, job_id: str) -> bool:
    store = open_store(cli.location)
    try:
        return store.get_job(job_id).cancel_requested
    finally:
        store.close()


def test_a_cancel_that_a_job_outruns_is_a_conflict_as_in_the_cli(
    fast_config, pool, dashboard, tmp_path
):
    """The job ends on its own while its worker cannot see the cancel: the cancel did
    nothing, which the CLI reports as an error, so the dashboard does too."""
    cli = fast_config
    dash = dashboard()
    csrf = {"X-CSRF-Token": dash.csrf_token()}
    pidfile = tmp_path / "pid"
    started = pool(1)
    [worker_pid] = started.workers.values()
    job_id = cli.ok("run", f"echo $$ > {pidfile}; sleep 0.5").strip()
    pid = read_pid(pidfile)
    os.kill(worker_pid, signal.SIGSTOP)  # the command runs on; its worker cannot look
    with ThreadPoolExecutor(1) as thread:
        reply = thread.submit(dash.post, f"/api/jobs/{job_id}/cancel", headers=csrf, csrf=False)
        wait_for(lambda: not process_running(pid))
        wait_for(lambda: _cancel_requested(cli, job_id), message="the cancel recorded")
        os.kill(worker_pid, signal.SIGCONT)
        refused = reply.result(timeout=30)
    assert refused.status == 409, refused.body
    assert refused.json()["error"] == f"{job_id}: finished (completed) before the cancel reached it"


def test_the_page_and_its_files_are_served_with_security_headers(cli, dashboard):
    dash = dashboard()
    page = dash.get("/")
    assert page.status == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    html = page.body.decode()
    assert '<script src="/static/app.js" defer></script>' in html
    assert not re.search(r"<script>|<script [^>]*>[^<]|\son[a-z]+=", html)  # nothing inline
    for name, kind in (
        ("app.js", "text/javascript"),
        ("style.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ):
        reply = dash.get(f"/static/{name}")
        assert reply.status == 200 and reply.headers["Content-Type"].startswith(kind)
        assert reply.body and reply.headers["X-Content-Type-Options"] == "nosniff"
    assert dash.get("/static/index.html").status == 404
    assert dash.get("/static/../server.py").status == 404
    head = dash.request("HEAD", "/api/status")
    assert head.status == 200 and head.body == b"" and int(head.headers["Content-Length"]) > 0
    assert dash.get("/api/status").headers["X-CSRF-Token"] == dash.csrf_token()


def test_markup_in_a_job_stays_text(cli, dashboard, jobs_in_every_state):
    dash = dashboard()
    for path in ("/api/jobs", "/api/jobs/xss", "/api/jobs?queue=web"):
        raw = dash.get(path).body
        assert b"<" not in raw and b">" not in raw, path  # escaped as \u003c, \u003e
    detail = dash.get_json("/api/jobs/xss")
    assert detail["job"]["command"] == XSS_COMMAND
    assert detail["attempts"][0]["output"] == XSS_OUTPUT
    assert b"pwned" not in dash.get("/").body


# --- security ---------------------------------------------------------------------------


def test_state_changes_need_post_the_csrf_token_and_the_same_origin(cli, dashboard):
    cli.ok("run", "--id", "later", "--delay", "1h", "true")
    dash = dashboard()
    for path in ("/api/jobs/later/cancel", "/api/dlq/retry"):
        reply = dash.get(path)
        assert reply.status == 405 and reply.headers["Allow"] == "POST"
        assert "POST" in reply.json()["error"]
    assert dash.request("PUT", "/api/jobs/later/cancel").status == 405
    cancel = "/api/jobs/later/cancel"
    assert dash.post(cancel, csrf=False).status == 403
    assert dash.post(cancel, headers={"X-CSRF-Token": "guess"}).status == 403
    refused = dash.post(cancel, headers={"Origin": "http://evil.example"})
    assert refused.status == 403 and "cross-origin" in refused.json()["error"]
    assert dash.post(cancel, headers={"Origin": "null"}).status == 403
    # DNS rebinding: a foreign name that resolves to 127.0.0.1 is refused, reads included.
    rebound = f"evil.example:{dash.port}"
    assert dash.get("/api/status", Host=rebound).status == 403
    assert dash.get("/", Host=rebound).status == 403
    assert dash.post(cancel, headers={"Host": rebound, "Origin": f"http://{rebound}"}).status == 403
    text = dash.request(
        "POST",
        "/api/dlq/retry",
        '{"all": true}',
        {"Content-Type": "text/plain", "X-CSRF-Token": dash.csrf_token()},
    )
    assert text.status == 415
    assert cli.state("later") == "pending"  # nothing above changed it

    assert dash.get("/api/status", Host=f"localhost:{dash.port}").status == 200
    ok = dash.post(cancel, headers={"Origin": dash.origin})
    assert ok.status == 200 and ok.json() == {"id": "later", "result": "canceled"}
    assert cli.state("later") == "canceled"


def test_a_token_is_required_when_set(cli, dashboard):
    cli.ok("run", "--id", "a", "--delay", "1h", "true")
    cli.ok("run", "--id", "b", "--delay", "1h", "true")
    cli.ok("run", "--id", "c", "--delay", "1h", "true")
    dash = dashboard("--token", TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/status", "/api/jobs", "/api/jobs/a", "/metrics"):
        denied = dash.get(path)
        assert denied.status == 401 and "log in" in denied.json()["error"], path
        assert dash.get(path, Authorization="Bearer wrong-token-of-some-length").status == 401
        assert dash.get(path, **bearer).status == 200, path
    login_form = dash.get("/")
    assert login_form.status == 200 and b'action="/login"' in login_form.body
    assert b"csrf-token" not in login_form.body
    assert dash.post("/api/jobs/a/cancel", csrf=False).status == 401
    assert dash.get("/api/openapi.json").status == 200  # the description is public

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    wrong = dash.request("POST", "/login", "token=nope", form)
    assert wrong.status == 401 and b"Wrong token" in wrong.body
    assert "Set-Cookie" not in wrong.headers
    foreign = dash.request(
        "POST", "/login", f"token={TOKEN}", {**form, "Origin": "http://evil.example"}
    )
    assert foreign.status == 403
    login = dash.request("POST", "/login", f"token={TOKEN}", form)
    assert login.status == 303 and login.headers["Location"] == "/"
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = {"Cookie": cookie.split(";")[0]}
    assert dash.get("/api/status", **session).status == 200
    csrf = dash.csrf_token(**session)

    # A browser (cookie) needs the CSRF token; a script with the bearer token does not,
    # unless it sends an Origin, like a browser would.
    assert dash.post("/api/jobs/a/cancel", headers=session, csrf=False).status == 403
    assert (
        dash.post(
            "/api/jobs/a/cancel", headers={**session, "X-CSRF-Token": csrf}, csrf=False
        ).status
        == 200
    )
    assert dash.post("/api/jobs/b/cancel", headers=bearer, csrf=False).status == 200
    assert (
        dash.post(
            "/api/jobs/c/cancel", headers={**bearer, "Origin": dash.origin}, csrf=False
        ).status
        == 403
    )
    assert dash.post("/api/jobs/c/cancel", headers={**bearer, **session}, csrf=False).status == 403
    assert [cli.state(i) for i in "abc"] == ["canceled", "canceled", "pending"]

    other = dash.request("POST", "/login", f"token={TOKEN}", form).headers["Set-Cookie"]
    assert other.split(";")[0] != cookie.split(";")[0]  # every login its own session
    logout = dash.post("/logout", headers={**session, "X-CSRF-Token": csrf}, csrf=False)
    assert logout.status == 200 and "Max-Age=0" in logout.headers["Set-Cookie"]
    assert dash.get("/api/status", **session).status == 401  # a kept copy is dead too
    assert dash.get("/api/status", Cookie=other.split(";")[0]).status == 200


def test_it_refuses_to_start_unsafely_with_one_line(cli):
    def refused(*args: str) -> str:
        result = cli("dashboard", *args, timeout=30)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        return result.stderr

    assert "--token" in refused("--host", "0.0.0.0", "--port", "0")
    assert "--token" in refused("--host", "0.0.0.0", "--port", "0", "--token", "short")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert "cannot listen" in refused("--port", str(taken.getsockname()[1]))
    assert "without spaces" in refused("--port", "0", "--token", " " * 16)
    for port in ("eighty", "70000", "-1"):
        assert cli("dashboard", "--port", port).returncode == 2
    cli.env["QUEUECTL_DASHBOARD_TOKEN"] = "short"  # read when --token is not given
    assert "at least 16" in refused("--port", "0")


def test_bad_requests_get_json_4xx_errors(cli, dashboard):
    cli.ok("run", "--id", "done-later", "--delay", "1h", "true")
    dash = dashboard()
    csrf = {"X-CSRF-Token": dash.csrf_token()}
    cases = [
        ("GET", "/api/jobs?limit=abc", None, {}, 400),
        ("GET", "/api/jobs?limit=501", None, {}, 400),
        ("GET", "/api/jobs?offset=-1", None, {}, 400),
        ("GET", "/api/jobs?limit=1_0", None, {}, 400),
        ("GET", "/api/jobs?limit=%EF%BC%95", None, {}, 400),  # a full-width 5
        ("GET", "/api/throughput?minutes=%205", None, {}, 400),
        ("GET", "/api/jobs?offset=99999999999999999999999", None, {}, 400),
        ("GET", "/api/jobs?state=sleeping", None, {}, 400),
        ("GET", "/api/jobs?state=", None, {}, 400),
        ("GET", "/api/jobs?queue=", None, {}, 400),
        ("GET", "/api/jobs?queue=no%20such", None, {}, 400),
        ("GET", "/api/jobs?offset=2147483649", None, {}, 400),
        ("GET", "/api/jobs?colour=red", None, {}, 400),
        ("GET", "/api/jobs?limit=1&limit=2", None, {}, 400),
        ("GET", "/api/stats?since=forever", None, {}, 400),
        ("GET", "/api/stats?since=0", None, {}, 400),
        ("GET", "/api/stats?since=A", None, {}, 400),
        ("GET", "/api/stats?since=", None, {}, 400),
        ("GET", "/api/stats?since=7.5d", None, {}, 400),
        ("GET", "/api/stats?since=%205m", None, {}, 400),
        ("GET", "/api/throughput?minutes=0", None, {}, 400),
        ("GET", "/api/status?x=1", None, {}, 400),
        ("GET", "/api/jobs/%00%ff", None, {}, 404),
        ("GET", "/api/nothing", None, {}, 404),
        ("GET", "/nothing", None, {}, 404),
        ("DELETE", "/api/jobs/done-later", None, {}, 405),
        ("OPTIONS", "/api/dlq/retry", None, {}, 405),
        ("POST", "/api/dlq/retry", "{not json", {**csrf, "Content-Type": "application/json"}, 400),
        ("POST", "/api/dlq/retry", "[]", {**csrf, "Content-Type": "application/json"}, 400),
        (
            "POST",
            "/api/dlq/retry",
            '{"ids": []}',
            {**csrf, "Content-Type": "application/json"},
            400,
        ),
        (
            "POST",
            "/api/dlq/retry",
            '{"ids": [1]}',
            {**csrf, "Content-Type": "application/json"},
            400,
        ),
        (
            "POST",
            "/api/dlq/retry",
            '{"all": "yes"}',
            {**csrf, "Content-Type": "application/json"},
            400,
        ),
        (
            "POST",
            "/api/dlq/retry",
            '{"ids": ["done-later"]}',
            {**csrf, "Content-Type": "application/json"},
            409,
        ),
        (
            "POST",
            "/api/dlq/retry",
            '{"ids": ["ghost"]}',
            {**csrf, "Content-Type": "application/json"},
            404,
        ),
        ("POST", "/api/dlq/retry", "x" * 70000, {**csrf, "Content-Type": "application/json"}, 413),
        (
            "POST",
            "/api/dlq/retry",
            '{"ids":' + "[" * 5000 + "]" * 5000 + "}",
            {**csrf, "Content-Type": "application/json"},
            400,
        ),
        (
            "POST",
            "/api/dlq/retry",
            '{"ids": ["\\ud800"]}',
            {**csrf, "Content-Type": "application/json"},
            404,
        ),
        ("POST", "/api/jobs/ghost/cancel", None, csrf, 404),
        ("POST", "/api/jobs/done-later/cancel?force=1", None, csrf, 400),
        ("POST", "/api/job/cancel?id=done-later&force=1", None, csrf, 400),
    ]
    for method, path, body, headers, expected in cases:
        reply = dash.request(method, path, body, headers)
        assert reply.status == expected, (method, path, reply.status, reply.body)
        assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
        error = reply.json()
        assert error["status"] == expected and error["error"] and "Traceback" not in error["error"]
    for raw, expected in (
        (b"GARBAGE\r\n\r\n", b" 400 "),
        (b"GET /api/status HTTP/9.9\r\n\r\n", b" 400 "),
        (b"BREW /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b" 405 "),
        (
            b"POST /api/dlq/retry HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
            b" 400 ",
        ),
        (b"GET /api/status HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n", b" 431 "),
    ):
        with socket.create_connection((dash.host, dash.port), timeout=10) as sock:
            sock.sendall(raw)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert expected in head.split(b"\r\n")[0], (raw[:40], head)
        assert "error" in json.loads(body)
    assert cli.state("done-later") == "pending"
    assert dash.get("/api/status").status == 200  # still serving


# --- serving ----------------------------------------------------------------------------


def test_a_slow_client_does_not_block_others_and_ctrl_c_stops_it(cli, dashboard):
    dash = dashboard()
    stalled = socket.create_connection((dash.host, dash.port))
    stalled.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    start = time.monotonic()
    for _ in range(5):
        assert dash.get("/api/status").status == 200
    assert time.monotonic() - start < 5
    dash.proc.send_signal(signal.SIGINT)
    assert dash.proc.wait(15) == 0
    assert "dashboard stopped" in dash.proc.stderr.read()
    stalled.close()
    with pytest.raises(OSError):
        socket.create_connection((dash.host, dash.port), timeout=2).close()


def test_metrics_parse_as_prometheus_parses_them(cli, dashboard, jobs_in_every_state):
    """The whole exposition, read by the Prometheus client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    body = dashboard().get("/metrics").body.decode()
    families = {family.name: family for family in text_string_to_metric_families(body)}
    cpu = families["queuectl_attempt_cpu_seconds"]  # the parser drops a counter's _total
    assert cpu.type == "counter"
    modes = {sample.labels["mode"]: sample.value for sample in cpu.samples}
    assert set(modes) == {"user", "system"} and modes["user"] + modes["system"] > 0
    assert families["queuectl_attempt_duration_seconds"].type == "histogram"
    assert {"queuectl_jobs", "queuectl_attempts", "queuectl_workers"} <= set(families)
