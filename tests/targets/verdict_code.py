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
