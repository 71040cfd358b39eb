"""Durations ("30", "5m", "0.5s") and times (ISO-8601), parsed and shown.

Times are epoch seconds (float) inside queuectl; they are shown as ISO-8601 UTC with
milliseconds, e.g. ``2025-11-04T10:30:00.123Z``.
"""

from __future__ import annotations

import re
import time

from queuectl.errors import UserError, quote

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_DURATION = 100 * 365 * 86400.0  # a century: anything longer is a typo
LATEST_TIME = 253402300799.0  # 9999-12-31T23:59:59Z, the last moment ISO-8601 can write
# Patterns compiled (and cached by `re`) when first used: most commands parse neither.
# re.ASCII: without it \d takes other scripts' digits ("٥") and IGNORECASE takes "ſ" for "s".
_FLAGS = re.IGNORECASE | re.ASCII
_DURATION = r"^\s*(-?)(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*$"
# datetime.fromisoformat only learned "Z" and most ISO-8601 forms in 3.11; we support 3.9.
_TIME = (
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


def parse_duration(text: str) -> float:
    """Seconds from "30", "30s", "5m", "2h", "1d" or "0.5s"; UserError if malformed."""
    match = re.match(_DURATION, str(text), _FLAGS)
    if not match:
        raise UserError(
            f"invalid duration {quote(text)}: use a number with an optional unit "
            "s, m, h or d (30, 30s, 5m, 2h, 1d, 0.5s)"
        )
    sign, number, unit = match.groups()
    seconds = float(number) * _UNITS[unit.lower()]
    if sign and seconds:
        raise UserError(f"invalid duration {quote(text)}: a duration must not be negative")
    if seconds > MAX_DURATION:
        raise UserError(f"invalid duration {quote(text)}: at most 100 years")
    return seconds


def parse_time(text: str) -> float:
    """Epoch seconds from ISO-8601; without an offset the time is local."""
    match = re.match(_TIME, str(text), _FLAGS)
    if not match:
        raise UserError(
            f"invalid time {quote(text)}: use ISO-8601, e.g. 2026-12-01T09:00 or "
            "2026-12-01T09:00:00Z"
        )
    from datetime import datetime

    year, month, day, hour, minute, second, frac, offset = match.groups()
    micro = int((frac or "0").ljust(6, "0"))
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
        )
        if offset is None:
            seconds = time.mktime(moment.timetuple()) + micro / 1e6
        else:
            seconds = moment.replace(tzinfo=_offset_zone(offset)).timestamp()
    except (ValueError, OverflowError) as exc:  # day 31 of June, an offset of 99 hours
        raise UserError(f"invalid time {quote(text)}: {exc}") from None
    if not 0 <= seconds <= LATEST_TIME:
        raise UserError(f"invalid time {quote(text)}: use a time from 1970 to 9999")
    return seconds


def _offset_zone(offset: str):
    from datetime import timedelta, timezone

    if offset.upper() == "Z":
        return timezone.utc
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("an offset runs from -23:59 to +23:59")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def iso_utc(moment: float | None) -> str | None:
    """ISO-8601 UTC with milliseconds, or None."""
    if moment is None:
        return None
    from datetime import datetime, timezone

    stamp = datetime.fromtimestamp(round(moment, 3), tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def format_seconds(seconds: float) -> str:
    """Seconds without a needless fraction: 2 -> "2", 0.5 -> "0.5"."""
    return f"{seconds:g}" if seconds < 1e15 else str(int(seconds))


def format_age(seconds: float) -> str:
    """A short human age: 0.4s, 12s, 5m, 3h, 2d."""
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def format_span(seconds: float) -> str:
    """A time to come, in at most two units, rounded to the smaller: 45s, 5m, 1h30m, 2d3h.
    Unlike `format_age` it does not cut: a job delayed 2h shows "2h", not "1h", a second on."""
    total = max(round(seconds), 0)
    if total < 60:
        return f"{total}s"
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    index = next(i for i, (_, size) in enumerate(units) if total >= size)
    (big, size), (small, part) = units[index], units[index + 1]
    whole, rest = divmod(round(total / part), size // part)
    if index and whole * size >= units[index - 1][1]:  # 23h59m59s rounds to 1d
        return format_span(whole * size)
    return f"{whole}{big}{rest}{small}" if rest else f"{whole}{big}"
