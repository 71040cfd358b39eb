"""Cron expressions for schedules (SPEC §8): parsed once, evaluated in a time zone's wall time.

Five fields, minute hour day-of-month month day-of-week, as Vixie cron reads them, and the
@-macros. Times are epoch seconds (float), as everywhere in queuectl.

Across DST the expression is evaluated on wall-clock times, and each matching wall time is
mapped to one instant: a wall time that occurs twice (fall back) to its first occurrence
(fold=0), one that does not exist (spring forward) to the first moment after the gap. So
`*/30 * * * *` fires at 02:00 and 02:30 of the repeated hour once each, in the first pass,
and not again in the second; several wall times inside one gap (02:00, 02:15, ... on a
spring-forward night) all map to the same moment, which fires once. Vixie cron does the
same for the repeated hour of a job with a fixed hour; for the gap it runs such jobs at
once, which is what the first moment after the gap means here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

from queuectl.errors import UserError, quote
from queuectl.records import record

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February of a leap year
_NUMBER = re.compile(r"^[0-9]+$")
NO_TZ_DATA = "no time zone data: install the tzdata package (pip install 'queuectl[tzdata]')"


@record(frozen=True)
class _Field:
    """One of the five fields: its name, its bounds and the names it accepts for numbers."""

    name: str
    low: int
    high: int
    names: tuple  # names[i] stands for low + i
    names_say: str  # how an error message lists them


_FIELDS = (
    _Field("minute", 0, 59, (), ""),
    _Field("hour", 0, 23, (), ""),
    _Field("day-of-month", 1, 31, (), ""),
    _Field("month", 1, 12, _MONTH_NAMES, "a month name (JAN-DEC)"),
    # 0-7: 0 and 7 are both Sunday, as in Vixie cron; 7 is folded into 0 once parsed.
    _Field("day-of-week", 0, 7, _DAY_NAMES, "a day name (SUN-SAT)"),
)


class _BadField(Exception):
    """A field's problem; parse_cron names the expression and the field around it."""


@record(frozen=True)
class Cron:
    """A parsed cron expression: the values each field allows, sorted."""

    expression: str  # as given, e.g. "*/15 8-18 * * MON-FRI" or "@daily"
    minutes: tuple
    hours: tuple
    days: tuple  # of the month
    months: tuple
    weekdays: tuple  # 0 = Sunday
    # Vixie: when both day fields are restricted a day matching either is enough; when one is
    # not, both must match (and the one that is not matches every day anyway).
    either_day: bool

    def next_fire(self, after: float, zone: tzinfo) -> float:
        """The first fire moment strictly after `after`, in epoch seconds."""
        # Wall times before `after`'s own wall minute map to instants before it: start there.
        # In the second pass of a repeated hour the walls just after it map to the first
        # pass, before `after`, and are passed over.
        start = _wall_minute(datetime.fromtimestamp(after, zone))
        for wall in self._walls(start, 1):
            moment = _instant(wall, zone)
            if moment > after:
                return moment
        raise AssertionError("unreachable: _walls never ends")  # for the type checker

    def fires_between(self, start: float, end: float, zone: tzinfo, limit: int) -> list[float]:
        """The most recent `limit` fire moments in (start, end], oldest first."""
        found: list[float] = []
        if limit < 1 or end <= start:
            return found
        for wall in self._walls(_last_wall_at_or_before(end, zone), -1):
            moment = _instant(wall, zone)
            if moment <= start:
                break
            # Walls of one gap share their moment: it fires once.
            if moment <= end and (not found or moment != found[-1]):
                found.append(moment)
                if len(found) == limit:
                    break
        found.reverse()
        return found

    def _walls(self, first: datetime, step: int) -> Iterator[datetime]:
        """The matching wall times from `first` on (included), later ones for step 1 and
        earlier ones for step -1. Endless: parse_cron made sure some day matches."""
        hours = self.hours if step > 0 else self.hours[::-1]
        minutes = self.minutes if step > 0 else self.minutes[::-1]
        day = first.date()
        if day.month not in self.months:
            day = self._next_day(day, step)
        # Minute of the day, times step: the walk goes up in it on every day.
        boundary = step * (first.hour * 60 + first.minute) if day == first.date() else -1440
        while True:
            if self._day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        if step * (hour * 60 + minute) >= boundary:
                            yield datetime(day.year, day.month, day.day, hour, minute)
            day = self._next_day(day, step)
            boundary = -1440

    def _next_day(self, day: date, step: int) -> date:
        """The next day (step 1) or the previous one (step -1) in a month that matches."""
        day += timedelta(days=step)
        while day.month not in self.months:
            if step > 0:
                day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            else:
                day = day.replace(day=1) - timedelta(days=1)
        return day

    def _day_matches(self, day: date) -> bool:
        in_days = day.day in self.days
        in_weekdays = day.isoweekday() % 7 in self.weekdays
        return (in_days or in_weekdays) if self.either_day else (in_days and in_weekdays)


def parse_cron(expression: str) -> Cron:
    """The parsed `expression`; UserError saying which field is wrong, and why."""
    shown = quote(expression)
    text = MACROS.get(expression.strip().lower(), expression)
    if text.strip().startswith("@"):
        raise UserError(
            f"invalid cron expression {shown}: unknown macro; use one of {', '.join(MACROS)}"
        )
    texts = text.split()
    if len(texts) != len(_FIELDS):
        raise UserError(
            f"invalid cron expression {shown}: expected 5 fields (minute hour day-of-month "
            f"month day-of-week), got {len(texts)}"
        )
    values = []
    for spec, field_text in zip(_FIELDS, texts):
        try:
            values.append(_parse_field(field_text, spec))
        except _BadField as error:
            raise UserError(
                f"invalid cron expression {shown}: {spec.name} field {quote(field_text)}: {error}"
            ) from None
    minutes, hours, days, months, weekdays = values
    weekdays = sorted({weekday % 7 for weekday in weekdays})
    # Vixie decides "restricted" by the field's first character, before parsing: `*/2` counts
    # as unrestricted, so `0 0 */2 * MON` fires on Mondays that are odd days (both must
    # match), while `0 0 1-31/2 * MON` fires on odd days and on Mondays (either).
    either_day = not texts[2].startswith("*") and not texts[4].startswith("*")
    if not either_day and not _some_date_exists(days, months):
        raise UserError(
            f"invalid cron expression {shown}: day-of-month field {quote(texts[2])}: "
            f"no such day in month field {quote(texts[3])}, so it never fires"
        )
    return Cron(
        expression=expression,
        minutes=tuple(minutes),
        hours=tuple(hours),
        days=tuple(days),
        months=tuple(months),
        weekdays=tuple(weekdays),
        either_day=either_day,
    )


def _some_date_exists(days: list[int], months: list[int]) -> bool:
    # Every date, February 29 included, falls on every day of the week in some year: once a
    # date exists, the day-of-week field cannot keep it from firing.
    return any(day <= _LONGEST_MONTH[month - 1] for day in days for month in months)


def _parse_field(text: str, spec: _Field) -> list[int]:
    """The sorted values of one field: a list of `*`, N or N-M items, each with an optional
    /STEP (`N/STEP` runs from N to the field's end, as in Vixie cron)."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _BadField("an empty list item")
        base, slash, step_text = item.partition("/")
        step = _parse_step(step_text) if slash else 1
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _parse_value(first, spec), _parse_value(last, spec)
            if low > high:
                raise _BadField(f"the range {base} runs backwards")
        else:
            low = _parse_value(base, spec)
            high = spec.high if slash else low
        values.update(range(low, high + 1, step))
    return sorted(values)


def _parse_step(text: str) -> int:
    if not _NUMBER.match(text):
        raise _BadField(f"step {quote(text)} is not a whole number")
    step = int(text)
    if step < 1:
        raise _BadField("a step must be at least 1")
    return step


def _parse_value(text: str, spec: _Field) -> int:
    if _NUMBER.match(text):
        value = int(text)
        if not spec.low <= value <= spec.high:
            raise _BadField(f"{value} is out of range {spec.low}-{spec.high}")
        return value
    if text.upper() in spec.names:
        return spec.low + spec.names.index(text.upper())
    what = f"a number or {spec.names_say}" if spec.names else "a number"
    raise _BadField(f"{quote(text)} is not {what}")


def _wall_minute(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, moment.hour, moment.minute)


def _last_wall_at_or_before(end: float, zone: tzinfo) -> datetime:
    """The latest wall minute whose instant can be at or before `end`: `end`'s own, or in
    the second pass of a repeated hour the last wall of that hour (its first pass is over)."""
    local = datetime.fromtimestamp(end, zone)
    wall = _wall_minute(local)
    if local.fold:
        first_offset = local.replace(fold=0).utcoffset()
        second_offset = local.utcoffset()
        assert first_offset is not None and second_offset is not None  # a zone's datetime
        wall += first_offset - second_offset
    return wall


def _instant(wall: datetime, zone: tzinfo) -> float:
    """The epoch seconds of a wall time in `zone`: the first occurrence of a repeated one,
    the first moment after the gap for one that does not exist."""
    earlier = wall.replace(tzinfo=zone).timestamp()
    if _wall_minute(datetime.fromtimestamp(earlier, zone)) == wall:
        return earlier
    # In a gap fold=0 reads the wall with the offset from before the change (an instant past
    # it) and fold=1 with the one after (an instant before it); the change lies between.
    before, past = int(wall.replace(tzinfo=zone, fold=1).timestamp()), int(earlier)
    offset_past = datetime.fromtimestamp(past, zone).utcoffset()
    while past - before > 1:
        middle = (before + past) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_past:
            past = middle
        else:
            before = middle
    return float(past)


def load_zone(name: str) -> tzinfo:
    """The IANA time zone `name`; UserError if unknown, or if there is no tz data at all."""
    from zoneinfo import ZoneInfo

    # "localtime" is a file of the tz data too, but it means each host's own zone.
    if name != "localtime":
        try:
            return ZoneInfo(name)
        except (LookupError, ValueError, OSError):
            pass
    try:
        ZoneInfo("UTC")
    except (LookupError, ValueError, OSError):
        raise UserError(NO_TZ_DATA) from None
    raise UserError(f"unknown time zone {quote(name)}: use an IANA name such as Europe/Berlin")


def local_zone_name(
    environ: Mapping[str, str] = os.environ,
    localtime: Path = Path("/etc/localtime"),
    timezone_file: Path = Path("/etc/timezone"),
) -> str:
    """The machine's IANA zone name: $TZ's, else the zone /etc/localtime links to, else
    /etc/timezone's, else UTC. A $TZ that names no IANA zone (a POSIX rule such as EST+5)
    is a UserError: the local time it gives cannot be kept by name."""
    given = environ.get("TZ", "").lstrip(":")  # glibc reads TZ=":Europe/Berlin" so too
    if given:
        try:
            load_zone(given)
        except UserError:
            raise UserError(
                f"TZ={quote(environ['TZ'])} names no IANA time zone: give --tz, such as "
                "--tz Europe/Berlin"
            ) from None
        return given
    for name in _zone_name_candidates(localtime, timezone_file):
        try:
            load_zone(name)
        except UserError:
            continue
        return name
    return "UTC"


def _zone_name_candidates(localtime: Path, timezone_file: Path) -> Iterator[str]:
    try:
        target = os.readlink(localtime)
    except OSError:  # not a link (a copied file), or absent
        pass
    else:
        _, marker, name = target.rpartition("/zoneinfo/")
        if marker:
            # Debian's zoneinfo/posix/ and zoneinfo/right/ hold the same zones.
            yield re.sub(r"^(posix|right)/", "", name)
    try:
        named = timezone_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return
    yield named
