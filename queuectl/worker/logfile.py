"""A background pool's log: one file per store, in the per-user data folder, written by
the supervisor and every worker, and renamed to ``.1`` once it reaches a size.

Several processes write to one file, so none keeps it open: each line is appended under a
lock, the file opened for that one write. Whoever holds the lock when the file is full
renames it; no other writer can be half way through a line then. Windows cannot rename a
file someone has open (a reader's `Get-Content -Wait`, say): the rename is then tried again
at the next line, and the file grows meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import sys
import urllib.parse
from pathlib import Path

from queuectl import platform
from queuectl.logs import LOG_FORMAT, VisibleFormatter, skip_unused_record_fields
from queuectl.records import record
from queuectl.store import backend_of

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_NAME_LENGTH = 40  # of the store's part of the file name


@record(frozen=True)
class PoolLog:
    """A detached pool's log file, and the size at which it is renamed (picklable, for
    the workers it starts)."""

    path: str
    max_size: int


def log_path(location: str) -> Path:
    """The log of the pool of the store at `location`: ``worker-<name>-<hash>.log``, the
    name from the store's file or database, the hash of its whole location (password left
    out), so that two stores of one name get two logs."""
    name, canonical = _name_and_canonical(location)
    safe = _UNSAFE.sub("_", name).strip("._")[:_NAME_LENGTH] or "store"
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return Path(platform.data_dir()) / f"worker-{safe}-{digest}.log"


def _name_and_canonical(location: str) -> tuple[str, str]:
    if not backend_of(location).schemes:
        path = os.path.normcase(os.path.realpath(location))
        return Path(location).stem, path
    url = urllib.parse.urlsplit(location)
    host = f"{url.username or ''}@{url.hostname or ''}:{url.port or ''}"
    query = [
        pair
        for pair in urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        if pair[0].lower() != "password"
    ]
    database = url.path.lstrip("/")
    canonical = f"{url.scheme}://{host}/{database}?{urllib.parse.urlencode(sorted(query))}"
    return database or url.hostname or "postgres", canonical


def append(path: str, data: bytes, max_size: int) -> None:
    """Append `data` to the log at `path`, first renaming a log that it would take past
    `max_size` bytes (0: never) to ``path.1``, replacing the one before."""
    with platform.file_lock(path + ".lock"):
        if max_size and _size(path) and _size(path) + len(data) > max_size:
            # Windows: open elsewhere; the next line tries again.
            with contextlib.suppress(OSError):
                os.replace(path, path + ".1")
        with open(path, "ab") as log:
            log.write(data)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class SharedLogHandler(logging.Handler):
    """A logging handler that appends each record to a shared, rotated log."""

    def __init__(self, path: str, max_size: int) -> None:
        super().__init__()
        self.path = path
        self.max_size = max_size
        self.setFormatter(VisibleFormatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record) + "\n")
        except Exception:  # logging's rule: a failing handler must not stop the program
            self.handleError(record)

    def write(self, text: str) -> None:
        append(self.path, text.encode("utf-8", "replace"), self.max_size)


class _LineWriter(io.TextIOBase):
    """stdout and stderr of a background pool's processes (a traceback, a `print`): whole
    lines, appended to the shared log like its records."""

    def __init__(self, handler: SharedLogHandler) -> None:
        self.handler = handler
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines, _, self.pending = (self.pending + text).rpartition("\n")
        if lines:
            self._append(lines + "\n")
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self._append(self.pending + "\n")
            self.pending = ""

    def _append(self, text: str) -> None:
        # A line lost (a full disk) is better than a print anywhere raising, and the
        # pool with it.
        with contextlib.suppress(OSError):
            self.handler.write(text)


def log_to(log: PoolLog) -> None:
    """Send this process's log records, and its stdout and stderr, to the shared log. Its
    file descriptors 1 and 2 go to the null device, so that the file a detached pool was
    started with is no longer held open (it could not be renamed on Windows), nor inherited
    by the workers it starts."""
    handler = SharedLogHandler(log.path, log.max_size)
    skip_unused_record_fields()
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None under pythonw on Windows
            stream.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.stdout = sys.stderr = _LineWriter(handler)
