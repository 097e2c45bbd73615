"""A third-party class, tested through its public API: `cachetools.LRUCache`.

cachetools documents its caches as not thread-safe ("access to a shared cache from multiple
threads must be properly synchronized"). This model shows how to hunt races in code you do
not own: instrument the package by name, drive the public API, check public invariants.
The fix is the one cachetools recommends: a lock around every access.
"""

from __future__ import annotations

import threading
from typing import Any

import cachetools
from hypothesis import strategies as st

from harness.model import Model, invariant, operation

MAXSIZE = 2
KEYS = st.integers(0, 3)


class LRUCacheModel(Model):
    name = "cachetools-lru"
    summary = "cachetools.LRUCache shared by threads (documented as not thread-safe)"
    variants = {"unsafe": "the cache as shipped", "locked": "a lock around every access"}
    expect_failure = ("unsafe",)
    instrument = ("cachetools",)
    max_workers = 4
    points_per_operation = {"gil": 16, "access": 60, "opcode": 160}
    # A fresh cache treats every key alike (equality and hashing only, nothing pre-loaded),
    # so verify runs one scenario per renaming of keys 0, 1, 2.
    interchangeable = ("key",)

    def setup(self) -> None:
        self.cache: cachetools.LRUCache[int, int] = cachetools.LRUCache(maxsize=MAXSIZE)
        self.lock = threading.Lock() if self.variant == "locked" else None

    def _guarded(self, action: Any) -> Any:
        if self.lock is None:
            return action()
        with self.lock:
            return action()

    @operation(key=KEYS, value=st.integers(0, 9), domain={"key": (0, 1, 2), "value": (0,)})
    def put(self, key: int, value: int) -> None:
        self._guarded(lambda: self.cache.__setitem__(key, value))

    @operation(key=KEYS, domain={"key": (0, 1, 2)})
    def get(self, key: int) -> int | None:
        return self._guarded(lambda: self.cache.get(key))  # type: ignore[no-any-return]

    @invariant()
    def size_is_counted(self) -> None:
        assert self.cache.currsize == len(self.cache), (
            f"lost update: currsize == {self.cache.currsize} but the cache holds "
            f"{len(self.cache)} entries"
        )

    @invariant()
    def size_bound(self) -> None:
        assert len(self.cache) <= MAXSIZE, f"cache holds {len(self.cache)} > maxsize {MAXSIZE}"
