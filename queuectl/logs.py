"""How the pool and its workers log: one line a message, with the job strings in it made
visible. Apart from `visible`, so that a command that prints no log does not import
`logging` (a tenth of `queuectl run`'s start-up)."""

from __future__ import annotations

import logging
from typing import TextIO

from queuectl.visible import visible

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(message)s"  # of the pool's log


class VisibleFormatter(logging.Formatter):
    """Log lines carry job ids and errors: each is one line, with nothing hidden in it."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        message = record.message
        record.message = visible(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message  # other handlers get the record as it was


def skip_unused_record_fields() -> None:
    """A busy worker logs a line per attempt: leave out what LOG_FORMAT does not show, the
    caller's file and line (a stack walk per record) and the thread's and process's
    names, as logging's documentation suggests. For the whole process: a pool's and its
    workers' processes log nothing else."""
    logging._srcfile = None  # type: ignore[attr-defined]  # the documented switch
    logging.logThreads = False
    logging.logMultiprocessing = False


def log_to(stream: TextIO | None = None) -> None:
    """How the pool and its workers log (to stderr by default): one line a message, job
    strings made visible."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(VisibleFormatter(LOG_FORMAT))
    skip_unused_record_fields()
    logging.basicConfig(level=logging.INFO, handlers=[handler])
