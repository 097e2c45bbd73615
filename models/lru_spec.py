"""Harness model of `harness_gallery.lru`: size bound, recency, and no crash."""

from __future__ import annotations

from hypothesis import strategies as st

from harness.model import Model, invariant, operation
from harness_gallery.lru import LockedLRUCache, LRUCache

CAPACITY = 2
KEYS = st.integers(0, 3)


class LRUModel(Model):
    name = "lru"
    summary = "LRU cache on OrderedDict: check-then-act on membership and size"
    variants = {"unsafe": "no lock", "locked": "every method under one lock"}
    expect_failure = ("unsafe",)
    instrument = ("harness_gallery.lru",)
    max_workers = 4
    points_per_operation = {"gil": 10, "access": 30, "opcode": 60}
    # A fresh cache treats every key alike (equality and hashing only, nothing pre-loaded),
    # so verify runs one scenario per renaming of keys 0, 1, 2.
    interchangeable = ("key",)

    def setup(self) -> None:
        self.cache = LRUCache(CAPACITY) if self.variant == "unsafe" else LockedLRUCache(CAPACITY)
        self.written: dict[int, set[int]] = {}

    # verify: three keys fill the cache and evict; one value is enough to see a race.
    @operation(key=KEYS, value=st.integers(0, 9), domain={"key": (0, 1, 2), "value": (0,)})
    def put(self, key: int, value: int) -> None:
        self.written.setdefault(key, set()).add(value)
        self.cache.put(key, value)

    @operation(key=KEYS, domain={"key": (0, 1, 2)})
    def get(self, key: int) -> object:
        return self.cache.get(key)

    @invariant()
    def size_bound(self) -> None:
        size = len(self.cache.data)
        assert size <= CAPACITY, f"cache holds {size} entries, capacity is {CAPACITY}"

    @invariant()
    def only_written_values(self) -> None:
        for key, value in self.cache.data.items():
            assert value in self.written.get(key, set()), f"cache[{key}] == {value} never put"
