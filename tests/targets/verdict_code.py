"""Code under test for the verdict tests: small classes, each with one kind of behaviour."""

from __future__ import annotations

import threading
from _thread import RLock as _ImportedRLock  # bound at import: a real C lock unless rebound

#: Created at import time: a real C lock the harness cannot control.
MODULE_LOCK = threading.Lock()


class Tally:
    """A racy counter (read, then write)."""

    def __init__(self) -> None:
        self.n = 0

    def add(self) -> None:
        n = self.n
        self.n = n + 1


class Mangled:
    """The same race on a name-mangled attribute (stored as ``_Mangled__count``)."""

    def __init__(self) -> None:
        self.__count = 0

    def add(self) -> None:
        count = self.__count
        self.__count = count + 1

    @property
    def count(self) -> int:
        return self.__count


class Flag:
    """Check-then-act: both workers may see `ready` False and both set it to True (an equal
    value: no update is lost), and both count themselves as the one that marked it."""

    def __init__(self) -> None:
        self.ready = False
        self.marks = 0

    def mark(self) -> None:
        if not self.ready:
            self.ready = True
            self.marks += 1


class ImportLocked:
    """A correctly locked counter whose lock factory was bound at import time."""

    def __init__(self) -> None:
        self._lock = _ImportedRLock()
        self.n = 0

    def add(self) -> None:
        with self._lock:
            n = self.n
            self.n = n + 1


class ModuleLocked:
    """A correctly locked counter whose lock is a real C lock created at import time."""

    def __init__(self) -> None:
        self.n = 0

    def add(self) -> None:
        with MODULE_LOCK:
            n = self.n
            self.n = n + 1


class Stats:
    """Hit/miss counters under one lock -- except in `fast_hit`, which forgot it. Only a
    `fast_hit` racing another update of `hits` loses one: a bug in one method of several."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.lookups = 0

    def hit(self) -> None:
        with self._lock:
            self.hits += 1
            self.lookups += 1

    def miss(self) -> None:
        with self._lock:
            self.misses += 1
            self.lookups += 1

    def bulk(self, n: int) -> None:
        with self._lock:
            self.hits += n
            self.lookups += n

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.hits, self.misses

    def fast_hit(self) -> None:
        self.hits += 1  # the lock is missing here
        with self._lock:
            self.lookups += 1


class Pool:
    """At most `LIMIT` holders at once -- checked, then counted, without a lock. Exceeding it
    takes four workers inside `use` at once, two of them preempted between check and count."""

    LIMIT = 3

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0

    def use(self) -> bool:
        if self.active >= self.LIMIT:
            return False
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.active -= 1
        return True
