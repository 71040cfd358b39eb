"""The state machine and the retry policy, as pure functions."""

import pytest

from queuectl import lifecycle
from queuectl.config import Config
from queuectl.model import CANCELED, COMPLETED, DEAD, FAILED, PENDING, TERMINAL, Attempt, Job

CONFIG = Config.from_stored({"backoff_base": 2, "backoff_max": 3600})
NOW = 1_000_000.0


def job(attempts: int, max_retries: int = 2, **extra) -> Job:
    fields = dict(
        id="j",
        command="true",
        state="processing",
        attempts=attempts,
        max_retries=max_retries,
        queue="default",
        priority=0,
        run_at=NOW - 5,
        timeout=None,
        cwd="/",
        env={},
        exit_code=None,
        last_error=None,
        worker_id="w",
        created_at=NOW - 10,
        updated_at=NOW - 1,
        started_at=NOW - 1,
        finished_at=None,
        attempt_number=attempts,
    )
    fields.update(extra)
    return Job(**fields)


@pytest.mark.parametrize(
    "n, base, cap, expected",
    [
        (1, 2, 3600, 2),
        (2, 2, 3600, 4),
        (3, 2, 3600, 8),
        (12, 2, 3600, 3600),
        (1, 3, 3600, 3),
        (2, 3, 3600, 9),
        (5, 1, 3600, 1),
        (1, 2, 0, 0),
        (100000, 3600, 604800, 604800),  # no float overflow for huge exponents
    ],
)
def test_backoff_delay_is_base_to_the_n_capped(n, base, cap, expected):
    assert lifecycle.backoff_delay(n, base, cap) == expected


def test_success_completes_and_is_terminal():
    t = lifecycle.after_attempt(job(1), 0, None, NOW, CONFIG)
    assert (t.state, t.exit_code, t.last_error, t.finished_at) == (COMPLETED, 0, None, NOW)
    assert t.state in TERMINAL


def test_failure_with_budget_left_is_failed_with_backoff():
    t = lifecycle.after_attempt(job(2), 3, "exit code 3", NOW, CONFIG)
    assert (t.state, t.run_at, t.finished_at) == (FAILED, NOW + 4, None)
    assert t.state not in TERMINAL


def test_one_plus_max_retries_runs_then_dead():
    states = [
        lifecycle.after_attempt(job(n, max_retries=2), 1, "exit code 1", NOW, CONFIG).state
        for n in (1, 2, 3)
    ]
    assert states == [FAILED, FAILED, DEAD]


def test_zero_retries_goes_straight_to_dead():
    assert lifecycle.after_attempt(job(1, max_retries=0), 1, "x", NOW, CONFIG).state == DEAD


def test_cancel_request_wins_over_the_exit_status():
    t = lifecycle.after_attempt(
        job(1), 143, "killed by signal 15", NOW, CONFIG, cancel_requested=True
    )
    assert (t.state, t.finished_at) == (CANCELED, NOW)


def test_worker_lost_is_a_failed_attempt():
    t = lifecycle.after_worker_lost(job(1), NOW, CONFIG)
    assert (t.state, t.last_error, t.run_at) == (FAILED, "worker lost", NOW + 2)
    assert lifecycle.after_worker_lost(job(3), NOW, CONFIG).state == DEAD
    assert lifecycle.after_worker_lost(job(1, cancel_requested=True), NOW, CONFIG).state == CANCELED


def test_cold_stop_gives_the_attempt_back():
    t = lifecycle.after_release(job(2, exit_code=3, last_error="exit code 3"), NOW)
    assert (t.state, t.attempts, t.run_at, t.exit_code) == (PENDING, 1, NOW, 3)


@pytest.mark.parametrize(
    "returncode, expected",
    [
        (0, (0, None)),
        (3, (3, "exit code 3")),
        (-9, (137, "killed by signal 9")),
        (-15, (143, "killed by signal 15")),
        (127, (127, "exit code 127 (command not found)")),
    ],
)
def test_exit_status(returncode, expected):
    assert lifecycle.exit_status(returncode) == expected


def test_timeout_error_text():
    assert lifecycle.timed_out_error(2.0) == "timed out after 2 s"
    assert lifecycle.timed_out_error(0.5) == "timed out after 0.5 s"


@pytest.mark.parametrize(
    "exit_code, error, timed_out, max_retries, outcome",
    [
        (0, None, False, 2, "completed"),
        (1, "exit code 1", False, 2, "failed, retry in 2s"),
        (1, "exit code 1", False, 0, "failed, dead"),
        (143, "timed out after 1 s", True, 2, "timed out, retry in 2s"),
        (143, "timed out after 1 s", True, 0, "timed out, dead"),
        (None, lifecycle.WORKER_LOST, False, 0, "lost, dead"),
    ],
)
def test_attempt_outcomes_for_the_log(exit_code, error, timed_out, max_retries, outcome):
    ended = job(1, max_retries)
    transition = lifecycle.after_attempt(ended, exit_code, error, NOW, CONFIG)
    assert lifecycle.attempt_outcome(transition, error, timed_out, NOW) == outcome


def test_canceled_and_put_back_outcomes():
    canceled = lifecycle.after_attempt(job(1), None, None, NOW, CONFIG, cancel_requested=True)
    assert lifecycle.attempt_outcome(canceled, "canceled", False, NOW) == "canceled"
    put_back = lifecycle.after_release(job(1), NOW)
    assert lifecycle.attempt_outcome(put_back, "interrupted", False, NOW) == "put back"


def test_the_attempt_line_has_id_outcome_exit_code_and_run_time():
    attempt = Attempt(
        job_id="j", number=2, worker_id="w", started_at=NOW - 1.25, finished_at=NOW, exit_code=3
    )
    line = lifecycle.attempt_line(attempt, "failed, dead")
    assert line == "job j attempt 2 failed, dead (exit 3, ran 1.25 s)"
    lost = Attempt(job_id="j", number=1, worker_id="w", started_at=NOW, finished_at=NOW)
    line = lifecycle.attempt_line(lost, "lost, dead")
    assert line == "job j attempt 1 lost, dead (exit -, ran 0 s)"
