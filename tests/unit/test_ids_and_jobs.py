import threading
import time

import pytest

from queuectl import model, service
from queuectl.config import Config
from queuectl.errors import UserError

CONFIG = Config.from_stored({})


def test_generated_ids_are_unique_short_and_time_ordered():
    ids = [service.new_job_id() for _ in range(20000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 13 and service.ID_PATTERN.match(i) for i in ids)
    assert ids == sorted(ids)


def test_ids_made_on_several_threads_at_once_are_unique(monkeypatch):
    def slow_random(size: int) -> bytes:
        time.sleep(0.001)  # let another thread reach the same millisecond meanwhile
        return bytes(size)

    monkeypatch.setattr(model.os, "urandom", slow_random)
    made: list[list[str]] = [[] for _ in range(4)]

    def make(ids: list[str]) -> None:
        ids.extend(service.new_job_id() for _ in range(200))

    threads = [threading.Thread(target=make, args=(ids,)) for ids in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in made for i in ids]
    assert len(set(every)) == len(every)


def test_build_job_applies_defaults():
    job = service.build_job({"command": "echo hi"}, CONFIG, 100.0, "/tmp")
    assert (job.queue, job.priority, job.max_retries, job.run_at, job.cwd, job.env) == (
        "default",
        0,
        3,
        100.0,
        "/tmp",
        {},
    )


def test_build_job_resolves_delay_and_relative_cwd():
    job = service.build_job(
        {"command": "x", "delay": "5m", "cwd": "sub/dir"}, CONFIG, 100.0, "/base"
    )
    assert job.run_at == 400.0 and job.cwd == "/base/sub/dir"


@pytest.mark.parametrize(
    "spec, message",
    [
        ({}, "'command' must be a non-empty string"),
        ({"command": "  "}, "non-empty"),
        ({"command": 5}, "non-empty"),
        ({"command": "x", "state": "completed"}, "unknown key 'state'"),
        ({"command": "x", "attempts": 3}, "unknown key 'attempts'"),
        ({"command": "x", "id": "has space"}, "invalid id"),
        ({"command": "x", "id": "x" * 129}, "invalid id"),
        ({"command": "x", "max_retries": -1}, "'max_retries' must be an integer from 0 to 1000"),
        ({"command": "x", "max_retries": "3"}, "'max_retries' must be an integer"),
        ({"command": "x", "max_retries": True}, "'max_retries' must be an integer"),
        ({"command": "x", "priority": 1.5}, "'priority' must be an integer"),
        ({"command": "x", "queue": ""}, "invalid queue"),
        ({"command": "x", "delay": "5x"}, "'delay'"),
        ({"command": "x", "delay": -3}, "'delay'"),
        ({"command": "x", "delay": 1, "run_at": "2026-01-01T00:00"}, "not both"),
        ({"command": "x", "run_at": "soon"}, "'run_at'"),
        ({"command": "x", "timeout": 0}, "'timeout' must be a duration of more than 0 seconds"),
        ({"command": "x", "env": {"A": 1}}, "'env' entry 'A'"),
        ({"command": "x", "env": ["A=1"]}, "'env' must be an object"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_build_job_rejects(spec, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        service.build_job(spec, CONFIG, 100.0, "/tmp")
