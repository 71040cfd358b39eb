"""How commands print: JSON, tables, ages, and messages on stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from queuectl.visible import visible

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any


def print_json(data: Any) -> None:
    import json  # here: a command without --json needs none (1.4 ms of `queuectl run`)

    print(json.dumps(data, indent=2, ensure_ascii=False))


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """Cells hold job strings: each is shown with its invisible characters escaped."""
    cells = [list(header)] + [["" if c is None else visible(str(c)) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def shorten(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def ago(moment: float | None, now: float) -> str:
    from queuectl.durations import format_age

    return "" if moment is None else format_age(now - moment) + " ago"


def relative(moment: float, now: float) -> str:
    """ "5m ago", or "in 5m" for a moment still to come (a delayed job's run_at)."""
    from queuectl.durations import format_age

    return f"in {format_age(moment - now)}" if moment > now else ago(moment, now)


def say(message: str) -> None:
    print(f"queuectl: {message}", file=sys.stderr)


def print_workers(workers: list[dict[str, Any]]) -> None:
    from queuectl.durations import format_age

    table(
        [
            (
                w["id"],
                w["host"],
                w["pid"],
                w["pool"],
                w["state"],
                w["job_id"] or "",
                ",".join(w["queues"]) if w["queues"] else "*",
                format_age(w["heartbeat_age"]) + " ago",
            )
            for w in workers
        ],
        ("ID", "HOST", "PID", "POOL", "STATE", "JOB", "QUEUES", "HEARTBEAT"),
    )


def cpu_seconds(user: float | None, system: float | None) -> str:
    """An attempt's CPU time, user + system; blank where the OS did not tell."""
    return "" if user is None or system is None else f"{user + system:.3f}s"


def size(count: int | None) -> str:
    """Bytes, as KiB, MiB or GiB; blank for None."""
    if count is None:
        return ""
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
