"""A cache that refreshes its entries in the background, on a thread pool it owns.

The bar of threads the code under test starts (issue 16): `touch` hands the refresh of an
entry to the cache's own `ThreadPoolExecutor`; the unlocked variant's refresh is a
read-modify-write of the per-key refresh count, so two pool threads refreshing the same key
can lose one. The locked variant takes the cache's lock around it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from hypothesis import strategies as st

from harness.model import Model, invariant, operation


class RefreshingCache:
    def __init__(self, locked: bool) -> None:
        self.locked = locked
        self.lock = threading.Lock()
        self.refreshed: dict[str, int] = {}
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="refresh")

    def touch(self, key: str) -> Future[None]:
        """Schedule a background refresh of `key`; the caller may wait for it."""
        return self.pool.submit(self._refresh, key)

    def _refresh(self, key: str) -> None:
        if self.locked:
            with self.lock:
                self.refreshed[key] = self.refreshed.get(key, 0) + 1
        else:
            self.refreshed[key] = self.refreshed.get(key, 0) + 1


class RefreshCacheModel(Model):
    name = "refresh-cache"
    summary = "a cache refreshing entries on its own thread pool"
    variants = {"unsafe": "unlocked refresh count", "locked": "refresh under the cache's lock"}
    expect_failure = ("unsafe",)
    instrument = ("tests.targets.refresh_cache",)
    max_workers = 2

    def setup(self) -> None:
        self.cache = RefreshingCache(locked=self.variant == "locked")
        self.futures: list[Future[None]] = []

    @operation(key=st.sampled_from(["a", "b"]))
    def touch(self, worker: int | None, key: str) -> None:
        future = self.cache.touch(key)
        self.futures.append(future)
        if worker is not None:  # a round runs the pool; a sequential step only queues
            future.result()

    @invariant()
    def no_refresh_lost(self) -> None:
        done = sum(1 for f in self.futures if f.done())
        counted = sum(self.cache.refreshed.values())
        assert counted == done, f"{done} refreshes completed, but the counts add up to {counted}"


class Spinner:
    """Starts a daemon thread that polls forever: it never ends."""

    def __init__(self) -> None:
        self.ticks = 0

    def start(self) -> None:
        threading.Thread(target=self._spin, daemon=True).start()

    def _spin(self) -> None:
        while True:
            self.ticks += 1


class SpinnerModel(Model):
    name = "spinner"
    instrument = ("tests.targets.refresh_cache",)

    def setup(self) -> None:
        self.spinner = Spinner()

    @operation()
    def start(self) -> None:
        self.spinner.start()
