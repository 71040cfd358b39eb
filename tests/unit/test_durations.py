import time
from datetime import datetime

import pytest

from queuectl.durations import format_age, format_span, iso_utc, parse_duration, parse_time
from queuectl.errors import UserError


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("30", 30),
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("0.5s", 0.5),
        (".5", 0.5),
        ("1.5m", 90),
        ("10S", 10),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-1", "m", "1e3", "5 minutes", "1h30m"])
def test_bad_durations(text):
    with pytest.raises(UserError):
        parse_duration(text)


def test_a_negative_duration_says_so():
    with pytest.raises(UserError, match="'-5s': a duration must not be negative"):
        parse_duration("-5s")
    assert parse_duration("-0") == 0


def test_times_with_offsets():
    assert parse_time("2025-11-04T10:30:00Z") == 1762252200.0
    assert parse_time("2025-11-04T10:30:00.123Z") == pytest.approx(1762252200.123)
    assert parse_time("2025-11-04T11:30:00+01:00") == 1762252200.0
    assert parse_time("2025-11-04T05:30-0500") == 1762252200.0


def test_time_without_offset_is_local():
    expected = time.mktime(datetime(2026, 12, 1, 9, 0).timetuple())
    assert parse_time("2026-12-01T09:00") == expected
    assert parse_time("2026-12-01 09:00:00") == expected
    assert parse_time("2026-12-01") == time.mktime(datetime(2026, 12, 1).timetuple())


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01T00:00", "2026-12-01T25:00", "12:00"])
def test_bad_times(text):
    with pytest.raises(UserError):
        parse_time(text)


def test_iso_utc_has_milliseconds_and_z():
    assert iso_utc(1762252200.1234) == "2025-11-04T10:30:00.123Z"
    assert iso_utc(1762252200.9996) == "2025-11-04T10:30:01.000Z"
    assert iso_utc(None) is None


def test_format_age():
    assert [format_age(s) for s in (0.42, 12, 300, 7200, 172800)] == [
        "0.4s",
        "12s",
        "5m",
        "2h",
        "2d",
    ]


@pytest.mark.parametrize(
    "seconds, shown",
    [
        (0.4, "0s"),
        (45, "45s"),
        (59.6, "1m"),
        (90, "1m30s"),
        (7197.5, "2h"),
        (5400, "1h30m"),
        (86399, "1d"),
        (2 * 86400 + 3 * 3600 + 100, "2d3h"),
    ],
)
def test_a_span_to_come_is_rounded_not_cut(seconds, shown):
    assert format_span(seconds) == shown
