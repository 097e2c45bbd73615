"""A hit counter shared by threads: the smallest read-modify-write race.

``self.hits += 1`` is a load, an add and a store. A GIL build of CPython only switches threads
at function entry, after calls and on backward jumps, so it practically never splits these
three; a free-threaded build (3.13t+) runs threads truly in parallel and loses increments
routinely. The harness's ``access`` granularity schedules at every attribute load and store,
which is what a free-threaded build can interleave, so it finds the race on any CPython.
"""

from __future__ import annotations

import threading


class HitCounter:
    """Counts hits; not thread-safe."""

    def __init__(self) -> None:
        self.hits = 0

    def hit(self) -> None:
        self.hits += 1


class LockedHitCounter(HitCounter):
    """The fix: the increment under a lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def hit(self) -> None:
        with self._lock:
            self.hits += 1
