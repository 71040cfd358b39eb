"""Named SQL, one file per dialect: ``-- name: claim`` starts the query called ``claim``.

Both dialect files define the same names (a test checks), so the two backends stay in step.
"""

from __future__ import annotations

import os
import re
from functools import cache

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def load(dialect: str) -> dict[str, str]:
    path = os.path.join(os.path.dirname(__file__), "sql", f"{dialect}.sql")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    parts = _NAME.split(text)
    return {name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2])}
