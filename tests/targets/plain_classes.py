"""Plain classes -- no model -- for `harness.plain`: a locked cache, bad inputs, hints."""

from __future__ import annotations

import threading
from typing import Literal

import cachetools


class LockedLRU:
    """`cachetools.LRUCache` behind one lock; every result is a snapshot taken under it.

    With ``locked=False`` it is the same wrapper with no lock: as unsafe as the cache.
    """

    def __init__(self, maxsize: int, locked: bool = True) -> None:
        self._cache: cachetools.LRUCache[int, int] = cachetools.LRUCache(maxsize)
        self._lock = threading.Lock() if locked else None

    def _run(self, action: str, *args: int) -> object:
        if self._lock is None:
            return getattr(self, action)(*args)
        with self._lock:
            return getattr(self, action)(*args)

    def _put(self, key: int, value: int) -> None:
        self._cache[key] = value

    def _get(self, key: int) -> int | None:
        return self._cache.get(key)

    def _pop(self, key: int) -> int | None:
        return self._cache.pop(key, None)

    def _keys(self) -> list[int]:
        return list(self._cache)

    def put(self, key: int, value: int) -> None:
        self._run("_put", key, value)

    def get(self, key: int) -> int | None:
        return self._run("_get", key)  # type: ignore[return-value]

    def pop(self, key: int) -> int | None:
        return self._run("_pop", key)  # type: ignore[return-value]

    def keys(self) -> list[int]:
        return self._run("_keys")  # type: ignore[return-value]


class Widget:
    """A type Hypothesis cannot build (its argument has no type hint)."""

    def __init__(self, spec) -> None:  # type: ignore[no-untyped-def]
        self.spec = spec


class Shelf:
    """One method whose argument cannot be drawn (`attach`), the rest can."""

    def __init__(self) -> None:
        self.items: dict[str, int] = {}
        self.widgets: list[Widget] = []

    def put(self, name: str, count: int) -> None:
        self.items[name] = count

    def total(self) -> int:
        return sum(self.items.values())

    def attach(self, widget: Widget) -> int:
        self.widgets.append(widget)
        return len(self.widgets)


class Picky:
    """Type hints of several shapes, and a positional-only argument."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    def mode(self, how: Literal["fast", "slow"], /) -> str:
        self.seen.append(how)
        return how

    def tags(self, names: list[str], limit: int | None) -> int:
        self.seen.append((tuple(names), limit))
        return len(names)

    def scaled(self, factor: float = 2.0) -> float:
        return factor


class Fragile:
    """A constructor that rejects its argument."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size

    def grow(self) -> int:
        self.size += 1
        return self.size


class NothingPublic:
    """Nothing public to call."""

    def __init__(self) -> None:
        self._state = 0

    def _bump(self) -> None:
        self._state += 1


class Mailbox:
    """A one-slot mailbox whose `take` waits for a `put`. With ``lost_wakeup=True`` it checks
    for an item outside the condition's lock, so a `put` can notify between the check and the
    wait, and the taker then waits forever: a lost wake-up (a race, not the calls' design)."""

    def __init__(self, lost_wakeup: bool = False) -> None:
        self.cond = threading.Condition()
        self.items: list[int] = []
        self.lost_wakeup = lost_wakeup

    def put(self, item: int) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify()

    def take(self) -> int:
        if self.lost_wakeup:
            if not self.items:
                with self.cond:
                    self.cond.wait()
            with self.cond:
                return self.items.pop(0)
        with self.cond:
            while not self.items:
                self.cond.wait()
            return self.items.pop(0)


class BoundedBuffer:
    """A `capacity`-slot buffer on one condition for both "not full" and "not empty". With
    ``notify_all=False`` a put or get wakes one waiter only, which may be a waiter of the same
    kind: with two producers and two consumers every thread can end up waiting while the buffer
    holds an item or a free slot (the missed notification of a textbook exercise)."""

    def __init__(self, capacity: int = 1, notify_all: bool = True) -> None:
        self.cond = threading.Condition()
        self.items: list[int] = []
        self.capacity = capacity
        self.notify_all = notify_all

    def put(self, item: int) -> None:
        with self.cond:
            while len(self.items) >= self.capacity:
                self.cond.wait()
            self.items.append(item)
            self._wake()

    def get(self) -> int:
        with self.cond:
            while not self.items:
                self.cond.wait()
            item = self.items.pop(0)
            self._wake()
            return item

    def _wake(self) -> None:
        if self.notify_all:
            self.cond.notify_all()
        else:
            self.cond.notify()
