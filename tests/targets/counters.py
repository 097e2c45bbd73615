"""Read-modify-write patterns with known behaviour under each granularity."""

from __future__ import annotations

import threading
import time


class Counter:
    """``self.n = self.n + 1``: racy at access/opcode points, never at gil points."""

    def __init__(self) -> None:
        self.n = 0

    def incr(self) -> None:
        self.n = self.n + 1


class DictCounter:
    """``d[k] = d.get(k, 0) + 1``: racy even where a GIL build switches (after .get returns)."""

    def __init__(self) -> None:
        self.d: dict[str, int] = {}

    def incr(self, key: str = "k") -> None:
        self.d[key] = self.d.get(key, 0) + 1


class LockedCounter:
    """The fixed counter: one lock around the read-modify-write."""

    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def incr(self) -> None:
        with self.lock:
            self.n = self.n + 1


class Sleeper:
    """Sleeps through the (virtual) clock and records when it woke up."""

    def __init__(self) -> None:
        self.woke: list[tuple[str, float]] = []

    def nap(self, name: str, seconds: float) -> None:
        time.sleep(seconds)
        self.woke.append((name, time.monotonic()))


def spin_forever() -> None:
    """A livelock: loops without ever blocking."""
    while True:
        pass


class AugmentedCounter:
    """``self.n += 1`` and ``self.d[k] += 1``: the augmented forms."""

    def __init__(self) -> None:
        self.n = 0
        self.d = {"k": 0}

    def incr(self) -> None:
        self.n += 1
        self.d["k"] += 1
