"""A lazily created shared resource: check-then-act creates it twice.

``if self._conn is None: self._conn = connect()`` -- two threads can both see None, both
connect, and the second overwrites the first: a leaked connection and two callers holding
different "singletons". The fix checks again under a lock (double-checked locking).
"""

from __future__ import annotations

import itertools
import threading


class Connection:
    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.id = next(Connection._ids)


class Pool:
    """Hands out one shared connection, created on first use."""

    def __init__(self) -> None:
        self._conn: Connection | None = None
        self.created = 0

    def _connect(self) -> Connection:
        self.created += 1
        return Connection()

    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn


class LockedPool(Pool):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def connection(self) -> Connection:
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    self._conn = self._connect()
        return self._conn
