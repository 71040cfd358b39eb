"""The failure policy (SPEC §9): which failed attempts a job retries, as plain functions.

A policy is a list of exit codes, ranges (``64-78``) and the words ``timeout`` and
``signal``, given as a job's ``retry_on`` (retry only what matches) or ``no_retry_on``
(retry all but what matches). It is kept normalised, as a job stores and shows it: codes
in order with runs as ranges, then the words (``["1", "64-78", "timeout"]``).
"""

from __future__ import annotations

from collections.abc import Sequence

from queuectl.errors import UserError, quote
from queuectl.inputs import whole_number

KEYS = ("retry_on", "no_retry_on")  # a job's two policy fields: it sets at most one
TIMEOUT = "timeout"  # an attempt stopped by its timeout
SIGNAL = "signal"  # an attempt killed by any other signal
WORDS = (TIMEOUT, SIGNAL)
HIGHEST_CODE = 255
_SHAPE = "exit codes (1, 64-78), timeout or signal, as a list or one comma-separated string"


def parse_policy(value: object) -> list[str]:
    """`value` (a list or tuple of ints and strings, or one string of them separated by
    commas) as a normalised policy; UserError saying why it is not one."""
    if isinstance(value, str) and not value.strip():
        return []  # "" is the empty policy; an empty item within a list is a mistake
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise UserError(f"give {_SHAPE}")
    codes: set[int] = set()
    words: set[str] = set()
    for item in items:
        text = item.strip().lower() if isinstance(item, str) else item
        if text == "":
            raise UserError("an empty item in the list: write codes and words between commas")
        if text in WORDS:
            words.add(text)
        else:
            low, high = _code_range(text)
            codes.update(range(low, high + 1))
    return _runs(sorted(codes)) + [word for word in WORDS if word in words]


def _code_range(item: object) -> tuple[int, int]:
    """(low, high) of an exit code or a range of them."""
    if isinstance(item, int) and not isinstance(item, bool):
        low = high = item
    elif isinstance(item, str):
        first, dash, last = item.partition("-")
        low_code, high_code = whole_number(first.strip()), whole_number(last.strip() or first)
        if low_code is None or high_code is None or (dash and not last.strip()):
            raise UserError(f"{quote(item)} is not an exit code, a range, timeout or signal")
        low, high = low_code, high_code
    else:
        raise UserError(f"{quote(item)} is not an exit code, a range, timeout or signal")
    if not 0 <= low <= HIGHEST_CODE or not 0 <= high <= HIGHEST_CODE:
        raise UserError(f"exit code {max(low, high)} is out of range: use 0 to {HIGHEST_CODE}")
    if low > high:
        raise UserError(f"the range {quote(item)} runs backwards: write {high}-{low}")
    return low, high


def _runs(codes: list[int]) -> list[str]:
    """Sorted codes as text, each run of three or more as a range: 1,2,3,7 -> 1-3,7."""
    out: list[str] = []
    start = 0
    for end in range(1, len(codes) + 1):
        if end == len(codes) or codes[end] != codes[end - 1] + 1:
            run = codes[start:end]
            out += [f"{run[0]}-{run[-1]}"] if len(run) >= 3 else [str(code) for code in run]
            start = end
    return out


def matches(policy: Sequence[str], exit_code: int | None, stopped_by: str | None) -> bool:
    """Whether a failed attempt matches a normalised policy: a word by how the attempt was
    stopped (`stopped_by`: TIMEOUT, SIGNAL or None), a code by its recorded exit code."""
    for item in policy:
        if item in WORDS:
            if item == stopped_by:
                return True
        elif exit_code is not None:
            low, _, high = item.partition("-")
            if int(low) <= exit_code <= int(high or low):
                return True
    return False


def retried(
    retry_on: Sequence[str] | None,
    no_retry_on: Sequence[str] | None,
    exit_code: int | None,
    stopped_by: str | None,
) -> bool:
    """Whether a job's policy lets a failed attempt be retried (budget aside)."""
    if retry_on is not None:
        return matches(retry_on, exit_code, stopped_by)
    return not matches(no_retry_on or (), exit_code, stopped_by)
