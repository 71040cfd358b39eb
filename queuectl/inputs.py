"""Numbers and JSON as users type them, read strictly, for the CLI and the dashboard alike.

int(), float() and the `re` class ``\\d`` accept every script's digits ("٣", "５") and
Python's own spellings ("1_0", " 5", "inf"): a number typed to queuectl is ASCII only.
JSON is refused past a depth that no job needs.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any

MAX_JSON_DEPTH = 64  # a job object needs 2 levels
_TOO_DEEP = f"nested more than {MAX_JSON_DEPTH} levels deep"
# Patterns compiled (and cached by `re`) when first used: most commands read no number.
_WHOLE_NUMBER = r"[0-9]+"
_INTEGER = r"[+-]?[0-9]+"
_SIZE = r"(?i)([0-9]+(?:\.[0-9]+)?) ?([KMGT]?)(?:I?B)?"
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_DECIMAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


def whole_number(text: str) -> int | None:
    """`text` as an int if it is ASCII digits only, else None."""
    return _to_int(text) if re.fullmatch(_WHOLE_NUMBER, text) else None


def integer(text: str) -> int | None:
    """`text` as an int if it is ASCII digits with an optional sign, else None."""
    return _to_int(text) if re.fullmatch(_INTEGER, text) else None


def _to_int(digits: str) -> int | None:
    try:
        return int(digits)
    except ValueError:  # more digits than int() converts (4300 by default)
        return None


def decimal(text: str) -> float | None:
    """`text` as a float if it is an ASCII decimal number ("2", "-1.5", ".5", "1e3"), else
    None. "inf" and "nan" are not numbers here; "1e999" is inf, for the caller's range
    check to refuse."""
    return float(text) if re.fullmatch(_DECIMAL, text) else None


def size(text: str) -> int | None:
    """`text` as a number of bytes: "1048576", "512K", "10M", "10MiB", "1.5 GB" (units
    are binary: K is 1024), else None."""
    found = re.fullmatch(_SIZE, text.strip())
    if found is None:
        return None
    return int(float(found.group(1)) * _SIZE_UNITS[found.group(2).upper()])


def load_json(text: str) -> Any:
    """json.loads, refusing arrays and objects nested more than MAX_JSON_DEPTH deep.

    Past the recursion limit the parser itself raises RecursionError; a value nested just
    under it would exhaust the limit later, in repr() or json.dumps(). Every refusal is a
    ValueError (as JSONDecodeError is) with a one-line text."""
    import json  # here: most commands read no JSON (1.4 ms of `queuectl run`)

    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None
    # Brackets bound the depth and count fast: a value with few of them needs no walk.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        raise ValueError(_TOO_DEEP)
    return value


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (a scalar is 0), measured level by
    level: recursion is what deep values break."""
    depth, level = 0, [value]
    while True:
        containers = [item for item in level if isinstance(item, (list, dict))]
        if not containers:
            return depth
        depth += 1
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]


def plain_text(text: str) -> bool:
    """Text a command line, a path or an environment can hold: encodable as UTF-8 (no
    lone surrogates, which JSON's \\ud800 escapes can produce) and without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\0" not in text
