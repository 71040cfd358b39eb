"""Riding out a store that cannot be used for a while (a database server that restarts, a
refused connection, a full disk): one log line when an episode starts and one when it
ends, never a traceback, and growing pauses between tries so that an outage costs little."""

from __future__ import annotations

import logging
import time

from queuectl.errors import StoreError

log = logging.getLogger("queuectl.outage")

FIRST_PAUSE = 0.05  # seconds before the first retry: a lost connection is often back at once
LONGEST_PAUSE = 2.0  # seconds between retries late in a long outage


class Outage:
    """One process's view of whether its store works, and when to try it again."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.since: float | None = None  # monotonic start of the current episode
        self._pause = FIRST_PAUSE
        self._next_try = 0.0

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(self, exc: StoreError) -> float:
        """Note that the store failed; returns how long to pause before trying again."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
            self._pause = FIRST_PAUSE
            log.warning("%s: %s; trying again until it works", self.who, exc)
        else:
            self._pause = min(self._pause * 2, LONGEST_PAUSE)
        self._next_try = now + self._pause
        return self._pause

    def may_try(self) -> bool:
        """False while the pause after a failure lasts (for callers that must not block)."""
        return time.monotonic() >= self._next_try

    def over(self) -> bool:
        """Note that the store worked; True if that ended an episode."""
        if self.since is None:
            return False
        log.warning(
            "%s: the store works again (after %.1f s)", self.who, time.monotonic() - self.since
        )
        self.since = None
        self._next_try = 0.0
        return True
