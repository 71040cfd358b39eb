"""Workload 9, the dashboard's connections: the time to answer on a fresh connection each
and on one kept-alive connection (issue 11: kept alive, an answer once waited 40 ms for
Nagle's algorithm and the client's delayed ACK), and how long each of 200 connects opened
one after another and held open takes (the listen backlog)."""

from __future__ import annotations

import contextlib
import http.client
import re
import select
import socket
import subprocess
import time
from collections.abc import Iterator

from bench.common import (
    SQLITE,
    BenchError,
    Section,
    Settings,
    Target,
    alternate,
    clean_env,
    fmt_ms,
    fmt_ratio,
    folder,
    median,
    open_store,
    percentile,
    queuectl,
    runs_table,
    stop_process,
)

NUMBER = 9
KEY = "dashboard"
TITLE = "Dashboard: answers on fresh and kept-alive connections"
PATHS = ("/api/status", "/static/app.js")
HELD = 200  # connects held open at once, more than the dashboard's cap
SLOW_CONNECT = 0.5  # seconds: a connect this slow waited for a SYN to be sent again
TARGET_KEPT_RATIO = 1.0  # kept-alive p50 / fresh p50: keeping a connection must not cost


@contextlib.contextmanager
def dashboard(location: str) -> Iterator[tuple[str, int]]:
    """`queuectl dashboard --port 0` on `location`: (host, port) while it runs."""
    open_store(location).close()  # the dashboard reads a store; it creates none
    proc = subprocess.Popen(
        queuectl("--db", location, "dashboard", "--port", "0"),
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 30)
        line = proc.stderr.readline() if ready else ""
        match = re.search(r" at http://([\d.]+):(\d+)/ ", line)
        if match is None:
            raise BenchError(f"the dashboard did not start: {line!r}")
        yield match.group(1), int(match.group(2))
    finally:
        stop_process(proc)


def _answer(conn: http.client.HTTPConnection, path: str) -> None:
    conn.request("GET", path)
    reply = conn.getresponse()
    reply.read()
    if reply.status != 200:
        raise BenchError(f"GET {path} answered {reply.status}")


def fresh_times(host: str, port: int, path: str, count: int) -> list[float]:
    """Seconds from connect to the end of the answer, a new connection each time."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        conn = http.client.HTTPConnection(host, port, timeout=30)
        _answer(conn, path)
        conn.close()
        times.append(time.perf_counter() - start)
    return times


def kept_times(host: str, port: int, path: str, count: int) -> list[float]:
    """Seconds from request to the end of the answer, all on one kept-alive connection."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        _answer(conn, path)  # the connect and the handler thread, not counted
        times = []
        for _ in range(count):
            start = time.perf_counter()
            _answer(conn, path)
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
    return times


def p50s(attempt_number: int, host: str, port: int, path: str, count: int) -> tuple[float, float]:
    """p50 of `path` (fresh, kept alive), the two measured in alternating order."""
    found = {}
    alternate(
        attempt_number,
        lambda: found.update(fresh=percentile(fresh_times(host, port, path, count), 50)),
        lambda: found.update(kept=percentile(kept_times(host, port, path, count), 50)),
    )
    return found["fresh"], found["kept"]


def held_connects(host: str, port: int) -> list[float]:
    """Seconds each of HELD connects takes, opened one after another and held open."""
    times, held = [], []
    try:
        for _ in range(HELD):
            start = time.perf_counter()
            held.append(socket.create_connection((host, port), timeout=30))
            times.append(time.perf_counter() - start)
    finally:
        for sock in held:
            sock.close()
    return times


def _row(path: str, kind: str) -> str:
    return f"`{path}`, {kind}"


def run(settings: Settings) -> Section:
    count = settings.pick(50, 500)
    section = Section(NUMBER, KEY, TITLE)
    section.method = [
        "`queuectl dashboard --port 0` on a fresh SQLite store, no token. For each path, "
        f"{count} GETs with `http.client`, one at a time: *fresh* opens a connection for each "
        "(connect, request, answer, close), *kept alive* sends them all on one connection "
        "after one warm-up request. Time = wall clock around each, p50 per run; the two "
        "kinds alternate their order every other run.",
        f"Connects: {HELD} `socket.create_connection` calls one after another, each held "
        "open (past the dashboard's connection cap they are answered 503 and closed by the "
        f"server, which does not slow the connect); a connect over {SLOW_CONNECT} s waited "
        "for its SYN to be sent again because the listen backlog was full.",
    ]
    rows: dict[str, list[float]] = {
        _row(path, kind): [] for path in PATHS for kind in ("fresh", "kept alive")
    }
    slow, slowest = [], []
    with (
        folder(settings, "dashboard") as where,
        SQLITE.location(where) as location,
        dashboard(location) as (host, port),
    ):
        for attempt_number in range(settings.runs):
            for path in PATHS:
                fresh, kept = p50s(attempt_number, host, port, path, count)
                rows[_row(path, "fresh")].append(fresh)
                rows[_row(path, "kept alive")].append(kept)
            connects = held_connects(host, port)
            slow.append(sum(seconds > SLOW_CONNECT for seconds in connects))
            slowest.append(max(connects))
            settings.log(
                f"  run {attempt_number + 1}/{settings.runs}: "
                + ", ".join(f"{label} {fmt_ms(values[-1])}" for label, values in rows.items())
                + f"; slowest of {HELD} connects {fmt_ms(slowest[-1])}"
            )
    section.tables.append(
        runs_table(
            "p50 time to answer a GET", [(label, values, fmt_ms) for label, values in rows.items()]
        )
    )
    section.tables.append(
        runs_table(
            f"{HELD} connects held open",
            [
                (f"connects over {SLOW_CONNECT} s", slow, lambda v: f"{v:.0f}"),
                ("slowest connect", slowest, fmt_ms),
            ],
        )
    )
    for path in PATHS:
        ratio = median(rows[_row(path, "kept alive")]) / median(rows[_row(path, "fresh")])
        section.targets.append(
            Target(
                f"`{path}`: p50 kept alive / p50 fresh", ratio, "<=", TARGET_KEPT_RATIO, fmt_ratio
            )
        )
    section.targets.append(
        Target(
            f"connects of {HELD} over {SLOW_CONNECT} s", median(slow), "<=", 0, lambda v: f"{v:.0f}"
        )
    )
    return section
