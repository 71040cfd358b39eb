"""Open stores kept from one dashboard request to the next.

Opening a store per request costs a new PostgreSQL connection each time (TCP, maybe TLS,
authentication, the clock offset), about 8 ms on a local server against 1 ms for the whole
request on a kept connection; a page that refreshes every few seconds need not pay that.
Each store serves one request at a time, so a SQLite connection only ever moves between
threads, never is shared by two at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from queuectl import service
from queuectl.errors import UserError

if TYPE_CHECKING:
    from queuectl.store.base import Store

# Idle stores kept; more requests at once open (and then close) their own. The page sends
# five requests at once per refresh: with fewer kept, every refresh would open and close a
# store (a new PostgreSQL connection). One more for a click or a job's view meanwhile.
KEEP = 6


class StorePool:
    def __init__(self, location: str, keep: int = KEEP) -> None:
        self.location = location
        self.keep = keep
        self._idle: list[Store] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def store(self) -> Iterator[Store]:
        """A store for one request. One that met an unexpected error is closed, not kept:
        it may be in the middle of something. A refused request (no such job, wrong state)
        leaves its store as it was, so that one is kept."""
        with self._lock:
            store = self._idle.pop() if self._idle else None
        if store is not None and store.vanished() is not None:
            # Its file was deleted or replaced: it would read (and write) a file nobody
            # else sees. The look is a stat and a read of 16 bytes.
            store.close()
            store = None
        if store is None:
            # A store that cannot be written still serves the pages; a cancel or a retry
            # on it is refused with StoreReadOnly (503).
            store = service.open_location(self.location, only_reads=True)
        try:
            yield store
        except UserError:
            self._give_back(store)
            raise
        except BaseException:
            store.close()
            raise
        self._give_back(store)

    def _give_back(self, store: Store) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.keep:
                self._idle.append(store)
                return
        store.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for store in idle:
            store.close()
