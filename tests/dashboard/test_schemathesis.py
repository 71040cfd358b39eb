"""The OpenAPI document against a running dashboard, by schemathesis: requests made from the
document, valid and not, must be answered as it says (status codes, content types, bodies,
headers), valid ones accepted and invalid ones refused, never a server error.

A short, derandomized run of every operation, POSTs included, on a store of the test's own
holding a job in every state; once without a token (POSTs carry the CSRF token) and once
with one (every request carries the bearer token)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.dashboard.conftest import Dashboard

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TOKEN = "correct-horse-battery-staple"


@dataclass
class Target:
    """A dashboard, the headers each request to it carries, and ids of real jobs and names
    of real queues and schedules to ask for in turn (a generated one names none, so would
    only ever be a 404); the schedule "." only in a query, as a path cannot carry it."""

    dash: Dashboard
    headers: dict[str, str]
    job_ids: Iterator[str]
    queues: Iterator[str]
    schedules: Iterator[str]
    schedules_by_query: Iterator[str]


@pytest.fixture(params=["csrf", "token"])
def target(
    request, cli, dashboard: Callable[..., Dashboard], jobs_in_every_state: dict[str, str]
) -> Target:
    cli.ok("schedule", "add", "nightly", "30 2 * * *", "true", "--env", "API_TOKEN=hush")
    cli.ok("schedule", "add", "hourly", "@hourly", "true", "--tz", "UTC")
    cli.ok("schedule", "add", ".", "@hourly", "true", "--tz", "UTC")
    if request.param == "token":
        dash = dashboard("--token", TOKEN)
        headers = {"Authorization": f"Bearer {TOKEN}"}
    else:
        dash = dashboard()
        headers = {"X-CSRF-Token": dash.csrf_token()}
    dash.keep_reading_log()
    return Target(
        dash,
        headers,
        itertools.cycle([*jobs_in_every_state.values(), "xss"]),
        itertools.cycle(["default", "web", "mail"]),
        itertools.cycle(["nightly", "hourly"]),
        itertools.cycle(["nightly", "hourly", "."]),
    )


@pytest.fixture
def api_schema(target: Target) -> Any:
    schema = schemathesis.openapi.from_url(target.dash.url + "api/openapi.json")
    # A cancel of the running job waits for its worker, kill_grace + 5 s at most.
    schema.config.update(base_url=target.dash.origin, request_timeout=30)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_answers_as_its_openapi_document_says(case: Any, target: Target) -> None:
    """Every check schemathesis has on by default: status codes, content types, bodies and
    headers as documented, no 5xx at all, invalid data refused and valid data accepted,
    credentials enforced, undocumented methods a 405 with Allow."""
    # A valid request names a real job, queue or schedule now and then, so that 200s and
    # 409s are seen.
    if case.meta is not None and case.meta.generation.mode.is_positive:
        if "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = next(target.job_ids)
        elif "id" in (case.query or {}):
            case.query["id"] = next(target.job_ids)
        elif "queue" in (case.path_parameters or {}):
            case.path_parameters["queue"] = next(target.queues)
        elif case.path.startswith("/api/queue/") and "name" in (case.query or {}):
            case.query["name"] = next(target.queues)
        elif "schedule" in (case.path_parameters or {}):
            case.path_parameters["schedule"] = next(target.schedules)
        elif case.path.startswith("/api/schedule") and "name" in (case.query or {}):
            case.query["name"] = next(target.schedules_by_query)
    case.call_and_validate(headers=target.headers)
