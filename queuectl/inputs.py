"""Numbers as users type them, read strictly, for the CLI and the dashboard alike.

int(), float() and the `re` class ``\\d`` accept every script's digits ("٣", "５") and
Python's own spellings ("1_0", " 5", "inf"): a number typed to queuectl is ASCII only.
"""

from __future__ import annotations

import re

_WHOLE_NUMBER = re.compile(r"[0-9]+")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def whole_number(text: str) -> int | None:
    """`text` as an int if it is ASCII digits only, else None."""
    return _to_int(text) if _WHOLE_NUMBER.fullmatch(text) else None


def integer(text: str) -> int | None:
    """`text` as an int if it is ASCII digits with an optional sign, else None."""
    return _to_int(text) if _INTEGER.fullmatch(text) else None


def _to_int(digits: str) -> int | None:
    try:
        return int(digits)
    except ValueError:  # more digits than int() converts (4300 by default)
        return None


def decimal(text: str) -> float | None:
    """`text` as a float if it is an ASCII decimal number ("2", "-1.5", ".5", "1e3"), else
    None. "inf" and "nan" are not numbers here; "1e999" is inf, for the caller's range
    check to refuse."""
    return float(text) if _DECIMAL.fullmatch(text) else None
