import sys

import pytest

from queuectl import config
from queuectl.durations import parse_duration, parse_time
from queuectl.errors import QUOTE_LIMIT, UserError, quote
from queuectl.inputs import MAX_JSON_DEPTH, decimal, integer, load_json, whole_number

OTHER_DIGITS = ["٣", "５", "३", "߃", "𝟑", "³", "1_0", " 5", "5 ", "0x1f", ""]


@pytest.mark.parametrize("text, value", [("0", 0), ("7", 7), ("007", 7), ("65535", 65535)])
def test_whole_numbers(text, value):
    assert whole_number(text) == value


@pytest.mark.parametrize("text", OTHER_DIGITS + ["-1", "+1", "1.0", "1" * 5000])
def test_not_whole_numbers(text):
    assert whole_number(text) is None


@pytest.mark.parametrize("text, value", [("-5", -5), ("+5", 5), ("0", 0), ("-0", 0)])
def test_integers(text, value):
    assert integer(text) == value


@pytest.mark.parametrize("text", OTHER_DIGITS + ["-٣", "--1", "-", "1.5"])
def test_not_integers(text):
    assert integer(text) is None


@pytest.mark.parametrize(
    "text, value",
    [
        ("2", 2.0),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("-2E-1", -0.2),
    ],
)
def test_decimals(text, value):
    assert decimal(text) == value


@pytest.mark.parametrize(
    "text",
    OTHER_DIGITS
    + [
        "inf",
        "-inf",
        "Infinity",
        "nan",
        "NaN",
        "-nan",
        "٣.5",
        "1.٥",
        "1e٣",
        ".",
        "e3",
        "1e",
    ],
)
def test_not_decimals(text):
    assert decimal(text) is None


@pytest.mark.parametrize("text", ["٥", "５m", "1.٥s", "5ſ", "٥s"])
def test_durations_take_ascii_only(text):
    with pytest.raises(UserError, match="invalid duration"):
        parse_duration(text)


def test_times_take_ascii_only():
    with pytest.raises(UserError, match="invalid time"):
        parse_time("２０３０-01-01T00:00")


@pytest.mark.parametrize(
    "key, raw",
    [
        ("max_retries", "٣"),
        ("max_retries", "1_0"),
        ("backoff_base", "٣.5"),
        ("backoff_max", "-inf"),
        ("backoff_max", "inf"),
        ("backoff_max", "nan"),
        ("backoff_max", "1e999"),
        ("backoff_max", "-1.5"),
        ("max_retries", "-5"),
    ],
)
def test_config_values_take_ascii_numbers_in_range_only(key, raw):
    item = config.setting(key)
    with pytest.raises(UserError, match=f"invalid value .* for {key}: must be .* from"):
        item.parse(raw)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_up_to_the_limit_loads():
    assert load_json(nested(MAX_JSON_DEPTH)) is not None
    assert load_json('{"env": {"A": "' + "[{" * 1000 + '"}}') == {"env": {"A": "[{" * 1000}}


@pytest.mark.parametrize(
    "text",
    [
        nested(MAX_JSON_DEPTH + 1),
        nested(30000),
        '{"a": ' * 30000 + "1" + "}" * 30000,
        "[" + ",".join([nested(2)] * 100 + [nested(70)]) + "]",
    ],
)
def test_json_nested_deeper_is_one_value_error(text):
    with pytest.raises(ValueError, match=f"^nested more than {MAX_JSON_DEPTH} levels deep$"):
        load_json(text)


@pytest.mark.parametrize("text", ["{not json", '{"command": "true"} {}', "1" * 5000])
def test_bad_json_is_a_value_error(text):
    if text.isdigit() and not hasattr(sys, "get_int_max_str_digits"):
        pytest.skip("this Python converts integers of any length")
    with pytest.raises(ValueError):
        load_json(text)


def test_quote_cuts_long_text_and_gives_its_length():
    assert quote("abc") == "'abc'" and quote(5) == "5" and quote(None) == "None"
    assert quote("a" * QUOTE_LIMIT) == repr("a" * QUOTE_LIMIT)
    assert quote("a\n" * 5120) == repr("a\n" * (QUOTE_LIMIT // 2) + "…") + " (10240 characters)"
