"""The failure policy (SPEC §9) and the backoff's jitter, as pure functions: parsing,
matching and what `after_attempt` makes of them."""

import pytest

from queuectl import config, lifecycle
from queuectl.config import Config
from queuectl.errors import UserError
from queuectl.model import DEAD, FAILED
from queuectl.policy import SIGNAL, TIMEOUT, matches, parse_policy, retried
from tests.unit.test_lifecycle import CONFIG, NOW, job


@pytest.mark.parametrize(
    "given, normalised",
    [
        ([1, 75, "64-78", "timeout"], ["1", "64-78", "timeout"]),
        ("1, 75,64-78 ,timeout", ["1", "64-78", "timeout"]),
        ("signal,2,timeout,2", ["2", "timeout", "signal"]),
        ("3,1,2,7", ["1-3", "7"]),  # runs of three or more become a range
        ("5-5,6", ["5", "6"]),
        ("0-255", ["0-255"]),
        (["TIMEOUT", " Signal "], ["timeout", "signal"]),
        ("", []),
        ((), []),
        ("  ", []),
    ],
)
def test_a_policy_is_normalised(given, normalised):
    assert parse_policy(given) == normalised
    assert parse_policy(normalised) == normalised  # and stays so


@pytest.mark.parametrize(
    "given, message",
    [
        ("256", "exit code 256 is out of range: use 0 to 255"),
        ([300], "exit code 300 is out of range"),
        ("1-300", "exit code 300 is out of range"),
        ("-1", "'-1' is not an exit code"),
        ("1,,2", "an empty item in the list"),
        ("1,2,", "an empty item in the list"),
        (["1", " "], "an empty item in the list"),
        ("78-64", "the range '78-64' runs backwards: write 64-78"),
        ("kill", "'kill' is not an exit code, a range, timeout or signal"),
        ("1-", "'1-' is not an exit code"),
        ("1-2-3", "'1-2-3' is not an exit code"),
        ("٣", "is not an exit code"),  # ASCII digits only
        ([True], "True is not an exit code"),
        ([1.5], "1.5 is not an exit code"),
        ({"a": 1}, "give exit codes"),
        (7, "give exit codes"),
    ],
)
def test_a_bad_policy_says_why(given, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_policy(given)


@pytest.mark.parametrize(
    "policy, exit_code, stopped_by, expected",
    [
        (["75"], 75, None, True),
        (["75"], 1, None, False),
        (["64-78"], 64, None, True),
        (["64-78"], 78, None, True),
        (["64-78"], 79, None, False),
        (["timeout"], 143, TIMEOUT, True),
        (["timeout"], 143, SIGNAL, False),
        (["signal"], 143, SIGNAL, True),
        (["signal"], 143, TIMEOUT, False),
        (["signal"], 143, None, False),  # `exit 143` is an exit code, not a signal
        (["137"], 137, SIGNAL, True),  # a code matches a SIGKILL's recorded exit code too
        (["143"], 143, TIMEOUT, True),
        (["1", "timeout"], None, None, False),  # a spawn error has no exit code
        ([], 1, None, False),
    ],
)
def test_matching(policy, exit_code, stopped_by, expected):
    assert matches(policy, exit_code, stopped_by) is expected


@pytest.mark.parametrize(
    "retry_on, no_retry_on, exit_code, expected",
    [
        (["75"], None, 75, True),
        (["75"], None, 1, False),
        (None, ["2"], 2, False),
        (None, ["2"], 1, True),
        (None, [], 2, True),
        (None, None, 2, True),  # a job from before the policy existed
    ],
)
def test_which_policy_decides(retry_on, no_retry_on, exit_code, expected):
    assert retried(retry_on, no_retry_on, exit_code, None) is expected


@pytest.mark.parametrize(
    "policy, exit_code, error, stopped_by, state, last_error",
    [
        ({"retry_on": ["75"]}, 75, "exit code 75", None, FAILED, "exit code 75"),
        ({"retry_on": ["75"]}, 1, "exit code 1", None, DEAD, "exit code 1, not retried"),
        ({"no_retry_on": ["2"]}, 2, "exit code 2", None, DEAD, "exit code 2, not retried"),
        ({"no_retry_on": ["2"]}, 3, "exit code 3", None, FAILED, "exit code 3"),
        (
            {"no_retry_on": ["timeout"]},
            143,
            "timed out after 1 s",
            TIMEOUT,
            DEAD,
            "timed out after 1 s, not retried",
        ),
        (
            {"retry_on": ["timeout"]},
            137,
            "killed by signal 9",
            SIGNAL,
            DEAD,
            "killed by signal 9, not retried",
        ),
        # A lost worker always follows the normal retry rules.
        ({"retry_on": ["75"]}, None, lifecycle.WORKER_LOST, None, FAILED, lifecycle.WORKER_LOST),
    ],
)
def test_after_attempt_applies_the_policy(policy, exit_code, error, stopped_by, state, last_error):
    t = lifecycle.after_attempt(job(1, **policy), exit_code, error, NOW, CONFIG, False, stopped_by)
    assert (t.state, t.last_error, t.exit_code) == (state, last_error, exit_code)
    assert (t.finished_at is None) is (state == FAILED)


def test_a_lost_worker_is_retried_whatever_the_policy():
    t = lifecycle.after_worker_lost(job(1, retry_on=["75"]), NOW, CONFIG)
    assert (t.state, t.last_error) == (FAILED, lifecycle.WORKER_LOST)


def test_out_of_retries_is_dead_without_blaming_the_policy():
    t = lifecycle.after_attempt(job(3, no_retry_on=["2"]), 2, "exit code 2", NOW, CONFIG)
    assert (t.state, t.last_error) == (DEAD, "exit code 2")


@pytest.mark.parametrize("draw", [-1.0, -0.5, 0.0, 0.3, 1.0])
@pytest.mark.parametrize("jitter", [0.0, 0.25, 1.0])
def test_jitter_keeps_each_delay_within_its_bounds(jitter, draw):
    factor = lifecycle.jitter_factor(jitter, draw)
    assert 1 - jitter <= factor <= 1 + jitter
    spread = Config.from_stored({"backoff_base": 2, "backoff_jitter": jitter})
    t = lifecycle.after_attempt(job(3, 5), 1, "exit code 1", NOW, spread, draw=draw)
    assert (t.state, t.run_at - NOW) == (FAILED, pytest.approx(8 * factor))


@pytest.mark.parametrize(
    "n, factor, expected",
    [
        (3, 1.5, 12),
        (3, 0.5, 4),
        (3, 0.0, 0),
        (11, 1.8, 3600),  # capped after the factor: 2048 * 1.8 > 3600
        (11, 1.5, 3072),
        (100000, 0.01, 3600),  # still no float overflow
    ],
)
def test_the_factor_applies_before_the_cap(n, factor, expected):
    assert lifecycle.backoff_delay(n, 2, 3600, factor) == pytest.approx(expected)


@pytest.mark.parametrize(
    "key, raw, value",
    [
        ("backoff_jitter", "0.25", 0.25),
        ("backoff_jitter", 1, 1.0),
        ("no_retry_on", "2,64-78,timeout", ("2", "64-78", "timeout")),
        ("no_retry_on", [2, "signal"], ("2", "signal")),
        ("no_retry_on", "", ()),
    ],
)
def test_the_policy_settings(key, raw, value):
    assert config.setting(key).parse(raw) == value


@pytest.mark.parametrize(
    "key, raw, message",
    [
        ("backoff_jitter", "1.5", "must be a number from 0 to 1"),
        ("backoff_jitter", "-0.1", "must be a number from 0 to 1"),
        ("no_retry_on", "2,300", "invalid value '2,300' for no_retry_on: exit code 300 is out"),
        ("no_retry_on", "often", "for no_retry_on: 'often' is not an exit code"),
    ],
)
def test_bad_policy_settings_say_why(key, raw, message):
    with pytest.raises(UserError, match=message):
        config.setting(key).parse(raw)


def test_a_stored_policy_is_read_back_and_a_bad_one_falls_back():
    assert Config.from_stored({"no_retry_on": ["2", "timeout"]}).no_retry_on == ("2", "timeout")
    assert Config.from_stored({"no_retry_on": "junk"}).no_retry_on == ()
    assert config.format_value(("2", "64-78")) == "2,64-78"
