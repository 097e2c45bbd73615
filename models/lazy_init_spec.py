"""Harness model of `harness_gallery.lazy_init`: exactly one connection, the same for everyone."""

from __future__ import annotations

from harness.model import Model, invariant, operation
from harness_gallery.lazy_init import LockedPool, Pool


class LazyInitModel(Model):
    name = "lazy-init"
    summary = "lazily created singleton: check-then-act creates two instances"
    variants = {"unsafe": "check-then-act", "locked": "double-checked locking"}
    expect_failure = ("unsafe",)
    instrument = ("harness_gallery.lazy_init",)
    max_workers = 4
    points_per_operation = {"gil": 6, "access": 16, "opcode": 40}

    def setup(self) -> None:
        self.pool = Pool() if self.variant == "unsafe" else LockedPool()
        self.seen: set[int] = set()

    @operation()
    def connection(self) -> int:
        conn = self.pool.connection()
        self.seen.add(id(conn))
        return conn.id

    @invariant()
    def one_connection(self) -> None:
        assert self.pool.created <= 1, f"{self.pool.created} connections created, not one"
        assert len(self.seen) <= 1, f"callers got {len(self.seen)} different connections"
