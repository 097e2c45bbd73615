"""Harness model of `harness_gallery.counter`: no increment may be lost."""

from __future__ import annotations

from harness.model import Model, invariant, operation
from harness_gallery.counter import HitCounter, LockedHitCounter


class CounterModel(Model):
    name = "counter"
    summary = "a hit counter (self.hits += 1): lost at access points, rare on a GIL build"
    variants = {"unsafe": "no lock", "locked": "the increment under a lock"}
    expect_failure = ("unsafe",)
    instrument = ("harness_gallery.counter",)
    max_workers = 4
    points_per_operation = {"gil": 4, "access": 8, "opcode": 12}

    def setup(self) -> None:
        self.counter = HitCounter() if self.variant == "unsafe" else LockedHitCounter()
        self.done = 0

    @operation()
    def hit(self) -> None:
        self.counter.hit()
        self.done += 1  # the model's own code is not instrumented: an exact count

    @invariant()
    def no_lost_hit(self) -> None:
        assert self.counter.hits == self.done, (
            f"lost update: counter.hits == {self.counter.hits} after {self.done} hits"
        )
