"""Named SQL, one file per dialect: ``-- name: claim`` starts the query called ``claim``.

Both dialect files define the same names (a test checks), so the two backends stay in step.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def load(dialect: str) -> dict[str, str]:
    text = (Path(__file__).parent / "sql" / f"{dialect}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2])}
