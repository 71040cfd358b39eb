"""Cron expressions: parsing, next fire moments and DST, checked against a brute-force walk."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.cron import NO_TZ_DATA, load_zone, local_zone_name, parse_cron
from queuectl.errors import UserError


def at(text: str, zone_name: str) -> float:
    """Epoch seconds of "...Z" (UTC) or of a local wall time in the zone (first pass)."""
    if text.endswith("Z"):
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc).timestamp()
    return datetime.fromisoformat(text).replace(tzinfo=load_zone(zone_name)).timestamp()


def utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


NEXT_FIRES = [
    ("* * * * *", "UTC", "2026-05-10T10:00:30Z", "2026-05-10T10:01Z"),
    ("* * * * *", "UTC", "2026-05-10T10:00Z", "2026-05-10T10:01Z"),  # strictly after
    ("*/15 * * * *", "UTC", "2026-05-10T10:45Z", "2026-05-10T11:00Z"),
    ("5/10 * * * *", "UTC", "2026-05-10T10:56Z", "2026-05-10T11:05Z"),
    ("0 8-18/2 * * *", "UTC", "2026-05-10T18:00Z", "2026-05-11T08:00Z"),
    ("0 6,12,18 * * *", "UTC", "2026-05-05T12:00Z", "2026-05-05T18:00Z"),
    ("0 9 * * MON-FRI", "UTC", "2026-05-08T09:00Z", "2026-05-11T09:00Z"),
    ("0 0 * * 0", "UTC", "2026-05-05T00:00Z", "2026-05-10T00:00Z"),
    ("0 0 * * 7", "UTC", "2026-05-05T00:00Z", "2026-05-10T00:00Z"),
    ("0 0 * * sun", "UTC", "2026-05-05T00:00Z", "2026-05-10T00:00Z"),
    ("0 0 * * 5-7", "UTC", "2026-05-09T00:00Z", "2026-05-10T00:00Z"),
    ("0 0 1 jan,Jul *", "UTC", "2026-01-01T00:00Z", "2026-07-01T00:00Z"),
    ("0 12 * FEB-mar *", "UTC", "2026-05-05T00:00Z", "2027-02-01T12:00Z"),
    ("0 0 13 * FRI", "UTC", "2026-05-02T00:00Z", "2026-05-08T00:00Z"),  # either day field
    ("0 0 13 * FRI", "UTC", "2026-05-09T00:00Z", "2026-05-13T00:00Z"),
    ("0 0 */2 * MON", "UTC", "2026-05-01T00:00Z", "2026-05-11T00:00Z"),  # `*...`: both
    ("0 0 1-31/2 * MON", "UTC", "2026-05-01T00:00Z", "2026-05-03T00:00Z"),  # either
    ("@hourly", "UTC", "2026-05-05T13:00Z", "2026-05-05T14:00Z"),
    ("@daily", "UTC", "2026-05-05T13:00Z", "2026-05-06T00:00Z"),
    ("@midnight", "UTC", "2026-05-05T13:00Z", "2026-05-06T00:00Z"),
    ("@weekly", "UTC", "2026-05-05T00:00Z", "2026-05-10T00:00Z"),
    ("@monthly", "UTC", "2026-05-05T00:00Z", "2026-06-01T00:00Z"),
    ("@yearly", "UTC", "2026-05-05T00:00Z", "2027-01-01T00:00Z"),
    ("@annually", "UTC", "2026-05-05T00:00Z", "2027-01-01T00:00Z"),
    ("0 0 29 2 *", "UTC", "2026-03-01T00:00Z", "2028-02-29T00:00Z"),
    ("0 0 29 2 *", "UTC", "2096-03-01T00:00Z", "2104-02-29T00:00Z"),  # 2100 is no leap year
    ("0 0 31 * *", "UTC", "2026-04-01T00:00Z", "2026-05-31T00:00Z"),
    ("0 0 30 * *", "UTC", "2026-01-30T00:00Z", "2026-03-30T00:00Z"),
    ("59 23 31 12 *", "UTC", "2026-12-31T23:59Z", "2027-12-31T23:59Z"),
    ("* * * * *", "UTC", "2026-12-31T23:59:30Z", "2027-01-01T00:00Z"),
    ("0 9 * * *", "Europe/Berlin", "2026-07-01T00:00", "2026-07-01T07:00Z"),
    # Spring forward: 02:xx does not exist; it fires at the first moment after the gap.
    ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00", "2026-03-29T01:00Z"),
    ("30 2 * * *", "Europe/Berlin", "2026-03-29T01:00Z", "2026-03-30T00:30Z"),
    ("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:45Z", "2026-03-29T01:00Z"),
    ("*/15 * * * *", "Europe/Berlin", "2026-03-29T01:00Z", "2026-03-29T01:15Z"),
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00", "2026-03-08T07:00Z"),
    ("30 2 * * *", "America/New_York", "2026-03-08T07:00Z", "2026-03-09T06:30Z"),
    # Fall back: a repeated wall time fires once, in the first pass.
    ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00", "2026-10-25T00:30Z"),
    ("30 2 * * *", "Europe/Berlin", "2026-10-25T00:30Z", "2026-10-26T01:30Z"),
    ("*/30 * * * *", "Europe/Berlin", "2026-10-25T00:30Z", "2026-10-25T02:00Z"),
    ("*/30 * * * *", "Europe/Berlin", "2026-10-25T01:10Z", "2026-10-25T02:00Z"),
    ("30 1 * * *", "America/New_York", "2026-10-31T12:00", "2026-11-01T05:30Z"),
    ("30 1 * * *", "America/New_York", "2026-11-01T05:30Z", "2026-11-02T06:30Z"),
    ("30 2 * * *", "America/New_York", "2026-10-31T12:00", "2026-11-01T07:30Z"),
    ("*/30 * * * *", "America/New_York", "2026-11-01T05:30Z", "2026-11-01T07:00Z"),
]


@pytest.mark.parametrize("expression, zone, after, expected", NEXT_FIRES)
def test_next_fire(expression, zone, after, expected):
    cron = parse_cron(expression)
    assert utc(cron.next_fire(at(after, zone), load_zone(zone))) == expected


def test_fires_between_keeps_the_most_recent_and_the_end_but_not_the_start():
    cron, zone = parse_cron("0 * * * *"), load_zone("UTC")
    start, end = at("2026-05-05T00:00Z", "UTC"), at("2026-05-05T10:00Z", "UTC")
    assert [utc(t) for t in cron.fires_between(start, end, zone, 3)] == [
        "2026-05-05T08:00Z",
        "2026-05-05T09:00Z",
        "2026-05-05T10:00Z",
    ]
    assert len(cron.fires_between(start, end, zone, 100)) == 10
    assert cron.fires_between(start, end, zone, 0) == []
    assert cron.fires_between(end, start, zone, 5) == []


def test_fires_between_over_a_year_of_minutes_gives_the_last_ones():
    cron = parse_cron("* * * * *")
    fires = cron.fires_between(
        at("2025-01-01T00:00Z", "UTC"), at("2026-01-01T00:00Z", "UTC"), load_zone("UTC"), 100
    )
    assert len(fires) == 100 and utc(fires[0]) == "2025-12-31T22:21Z"
    assert utc(fires[-1]) == "2026-01-01T00:00Z"


def test_fires_between_across_dst_fires_each_wall_time_once():
    berlin = load_zone("Europe/Berlin")
    spring = parse_cron("*/15 * * * *").fires_between(
        at("2026-03-29T00:30Z", "UTC"), at("2026-03-29T01:30Z", "UTC"), berlin, 100
    )
    assert [utc(t) for t in spring] == [
        "2026-03-29T00:45Z",
        "2026-03-29T01:00Z",  # 02:00 to 02:45 and 03:00 local, one moment
        "2026-03-29T01:15Z",
        "2026-03-29T01:30Z",
    ]
    # The end in the second pass of the repeated hour: its first pass is all in.
    fall = parse_cron("*/30 * * * *").fires_between(
        at("2026-10-24T23:00Z", "UTC"), at("2026-10-25T01:40Z", "UTC"), berlin, 100
    )
    assert [utc(t) for t in fall] == [
        "2026-10-24T23:30Z",
        "2026-10-25T00:00Z",
        "2026-10-25T00:30Z",
    ]


def brute_force_fires(cron, zone, start: float, end: float) -> list[float]:
    """Every minute in (start, end], tried one by one: a minute fires if its wall time
    matches in the first (or only) pass, or if a wall time the clock skipped just before it
    matches."""

    def matches(wall: datetime) -> bool:
        in_days = wall.day in cron.days
        in_weekdays = wall.isoweekday() % 7 in cron.weekdays
        return (
            wall.minute in cron.minutes
            and wall.hour in cron.hours
            and wall.month in cron.months
            and ((in_days or in_weekdays) if cron.either_day else (in_days and in_weekdays))
        )

    fires = []
    moment = start - start % 60 + 60
    while moment <= end:
        wall = datetime.fromtimestamp(moment, zone)
        previous = datetime.fromtimestamp(moment - 60, zone).replace(tzinfo=None)
        skipped = previous + timedelta(minutes=1)
        naive = wall.replace(tzinfo=None)
        gap_matches = False
        while skipped < naive:
            gap_matches = gap_matches or matches(skipped)
            skipped += timedelta(minutes=1)
        if (matches(naive) and not wall.fold) or gap_matches:
            fires.append(moment)
        moment += 60
    return fires


@pytest.mark.parametrize(
    "expression", ["*/15 * * * *", "30 2 * * *", "0 * * * *", "*/30 1-3 * * *", "45 1,2 * * *"]
)
@pytest.mark.parametrize(
    "zone_name, change",
    [
        ("Europe/Berlin", "2026-03-29T01:00Z"),
        ("Europe/Berlin", "2026-10-25T01:00Z"),
        ("America/New_York", "2026-03-08T07:00Z"),
        ("America/New_York", "2026-11-01T06:00Z"),
    ],
)
def test_fires_match_a_minute_by_minute_walk_around_dst(expression, zone_name, change):
    cron, zone = parse_cron(expression), load_zone(zone_name)
    start, end = at(change, "UTC") - 2 * 86400, at(change, "UTC") + 2 * 86400
    expected = brute_force_fires(cron, zone, start, end)
    assert cron.fires_between(start, end, zone, 10_000) == expected
    chained, moment = [], cron.next_fire(start, zone)
    while moment <= end:
        chained.append(moment)
        moment = cron.next_fire(moment, zone)
    assert chained == expected


BAD = [
    ("61 * * * *", "minute field '61': 61 is out of range 0-59"),
    ("* 24 * * *", "hour field '24': 24 is out of range 0-23"),
    ("* * 0 * *", "day-of-month field '0': 0 is out of range 1-31"),
    ("* * * 13 *", "month field '13': 13 is out of range 1-12"),
    ("* * * * 8", "day-of-week field '8': 8 is out of range 0-7"),
    ("1,,2 * * * *", "minute field '1,,2': an empty list item"),
    ("*/0 * * * *", "minute field '*/0': a step must be at least 1"),
    ("0 18-8 * * *", "hour field '18-8': the range 18-8 runs backwards"),
    ("0 0 * FOO *", "month field 'FOO': 'FOO' is not a number or a month name (JAN-DEC)"),
    ("0 0 * * FUN", "day-of-week field 'FUN': 'FUN' is not a number or a day name (SUN-SAT)"),
    ("0 MON * * *", "hour field 'MON': 'MON' is not a number"),
    ("5/x * * * *", "minute field '5/x': step 'x' is not a whole number"),
    ("0 0 31 2 *", "day-of-month field '31': no such day in month field '2'"),
    ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
    ("* * * * * *", "got 6"),
    ("", "got 0"),
    ("@often", "unknown macro; use one of @hourly"),
]


@pytest.mark.parametrize("expression, message", BAD)
def test_bad_expressions_name_the_field(expression, message):
    with pytest.raises(UserError) as raised:
        parse_cron(expression)
    text = str(raised.value)
    assert text.startswith(f"invalid cron expression {expression!r}: ")
    assert message in text and "\n" not in text


def test_a_parsed_expression_is_immutable_and_keeps_its_text():
    cron = parse_cron("*/15 8-18 * * MON-FRI")
    assert cron.expression == "*/15 8-18 * * MON-FRI"
    assert cron.minutes == (0, 15, 30, 45) and cron.weekdays == (1, 2, 3, 4, 5)
    assert parse_cron("0 0 * * 0,7").weekdays == (0,)
    assert cron == parse_cron("*/15 8-18 * * MON-FRI")
    with pytest.raises(AttributeError):
        cron.minutes = (1,)


def test_an_unknown_zone_is_a_user_error():
    with pytest.raises(UserError, match="unknown time zone 'Mars/Olympus'"):
        load_zone("Mars/Olympus")
    with pytest.raises(UserError, match="unknown time zone '../etc/passwd'"):
        load_zone("../etc/passwd")


def test_no_tz_data_says_what_to_install():
    script = (
        "import sys, zoneinfo; sys.modules['tzdata'] = None; zoneinfo.reset_tzpath(to=[])\n"
        "from queuectl.cron import load_zone\n"
        "try:\n    load_zone('Europe/Berlin')\nexcept Exception as error:\n    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == NO_TZ_DATA


def test_the_local_zone_name(tmp_path):
    missing = tmp_path / "absent"
    assert local_zone_name({"TZ": "Europe/Berlin"}, missing, missing) == "Europe/Berlin"
    assert local_zone_name({"TZ": ":Asia/Tokyo"}, missing, missing) == "Asia/Tokyo"
    assert local_zone_name({}, missing, missing) == "UTC"
    timezone_file = tmp_path / "timezone"
    timezone_file.write_text("Europe/Paris\n", encoding="utf-8")
    assert local_zone_name({}, missing, timezone_file) == "Europe/Paris"
    # A POSIX rule in TZ gives local times no zone name keeps: the user must say --tz.
    for rule in ("CET-1CEST", "EST+5", "Foo/Bar", "localtime"):
        with pytest.raises(UserError, match="names no IANA time zone: give --tz"):
            local_zone_name({"TZ": rule}, missing, timezone_file)
    link = tmp_path / "localtime"
    try:
        link.symlink_to("/usr/share/zoneinfo/posix/America/New_York")
    except OSError:
        pytest.skip("no symbolic links here")
    assert local_zone_name({}, link, timezone_file) == "America/New_York"


def test_localtime_and_an_empty_name_are_no_zones():
    for name in ("localtime", ""):
        with pytest.raises(UserError, match="unknown time zone"):
            load_zone(name)
