"""A job field is declared once, on `Job`: the job object, the row mapping, the enqueue
parameters and the OpenAPI schema follow from that declaration."""

from __future__ import annotations

import json

from queuectl.dashboard.openapi import SCHEMAS
from queuectl.model import JOB_FIELDS, PUBLIC_JOB_FIELDS, Job, NewJob
from queuectl.records import fields
from queuectl.store.rows import job_from_row, new_job_params

SPEC_FIELDS = [
    "id",
    "command",
    "state",
    "attempts",
    "max_retries",
    "queue",
    "priority",
    "run_at",
    "timeout",
    "cwd",
    "env",
    "exit_code",
    "last_error",
    "worker_id",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    # SPEC §7:
    "after",
    "group",
    "index",
    "held",
    # SPEC §8:
    "lock",
    "unique_key",
    "schedule",
    # SPEC §9:
    "retry_on",
    "no_retry_on",
    "on_success",
    "on_failure",
]


def test_the_job_object_has_the_fields_of_the_spec_in_order():
    assert [item.name for item in PUBLIC_JOB_FIELDS] == SPEC_FIELDS
    assert list(SCHEMAS["Job"]["properties"]) == SPEC_FIELDS
    assert all(item.description for item in JOB_FIELDS.values())


def test_new_job_fields_are_job_fields_of_the_same_type():
    declared = {item.name: item.type for item in fields(Job)}
    for item in fields(NewJob):
        assert declared[item.name] == item.type, item.name


def test_a_job_goes_in_and_comes_out_of_its_columns_unchanged():
    new = NewJob(
        id="a",
        command="echo hi",
        max_retries=2,
        queue="q",
        priority=-3,
        run_at=1_800_000_000.123,
        timeout=2.5,
        cwd="/tmp",
        env={"X": "1"},
        after=[{"id": "b", "on": "any"}],
        group="g",
        index=7,
        lock="deploy",
        unique_key="k",
        schedule="nightly",
        no_retry_on=["2", "64-78", "timeout"],
        on_failure="notify $QUEUECTL_JOB_ID",
    )
    params = new_job_params(new, 1_800_000_000.5)
    assert params == {
        "id": "a",
        "command": "echo hi",
        "max_retries": 2,
        "queue": "q",
        "priority": -3,
        "run_at": 1_800_000_000_123,
        "timeout": 2.5,
        "cwd": "/tmp",
        "env": json.dumps({"X": "1"}),
        "after": json.dumps([{"id": "b", "on": "any"}]),
        "group": "g",
        "index": 7,
        "lock": "deploy",
        "unique_key": "k",
        "schedule": "nightly",
        "retry_on": None,
        "no_retry_on": "2,64-78,timeout",
        "on_success": None,
        "on_failure": "notify $QUEUECTL_JOB_ID",
        "now": 1_800_000_000_500,
    }
    new.env = {}
    assert new_job_params(new, 0)["env"] is None
    new.no_retry_on = []  # set, and empty: not the same as not set
    assert new_job_params(new, 0)["no_retry_on"] == ""
    row = {
        **params,
        "state": "pending",
        "attempts": 0,
        "exit_code": None,
        "last_error": None,
        "worker_id": None,
        "created_at": params["now"],
        "updated_at": params["now"],
        "started_at": None,
        "finished_at": None,
        "attempt_number": 0,
        "lease_until": None,
        "cancel_requested": 0,
        "host": None,
        "held": 0,
        "waiting_on": 1,
        "awaited": 0,
        "gate": "lock:deploy",
    }
    job = job_from_row(row)
    shown = ("id", "run_at", "timeout", "env", "after", "group", "index", "held", "lock")
    shown += ("retry_on", "no_retry_on")
    assert {name: getattr(job, name) for name in shown} == {
        "id": "a",
        "run_at": 1_800_000_000.123,
        "timeout": 2.5,
        "env": {"X": "1"},
        "after": [{"id": "b", "on": "any"}],
        "group": "g",
        "index": 7,
        "held": False,
        "lock": "deploy",
        "retry_on": None,
        "no_retry_on": ["2", "64-78", "timeout"],
    }
    assert job_from_row({**row, "no_retry_on": ""}).no_retry_on == []
    assert job.gate == "lock:deploy"
    assert (job.created_at, job.cancel_requested, job.started_at) == (1_800_000_000.5, False, None)
    assert job.to_dict()["run_at"] == "2027-01-15T08:00:00.123Z"


def test_the_openapi_schema_of_a_field_follows_its_annotation():
    properties = SCHEMAS["Job"]["properties"]
    assert properties["timeout"]["type"] == ["number", "null"]
    assert (
        properties["run_at"]["type"] == "string" and properties["run_at"]["format"] == "date-time"
    )
    assert properties["finished_at"]["type"] == ["string", "null"]
    assert properties["attempts"]["minimum"] == 0 and "pending" in properties["state"]["enum"]
    assert properties["env"]["additionalProperties"] == {"type": "string"}
    assert properties["retry_on"]["type"] == ["array", "null"]
    assert properties["retry_on"]["items"] == {"type": "string"}
