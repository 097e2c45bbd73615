"""Harness model of `harness_gallery.registry`: iterating while another thread inserts."""

from __future__ import annotations

from hypothesis import strategies as st

from harness.model import Model, invariant, operation
from harness_gallery.registry import LockedRegistry, Registry


class RegistryModel(Model):
    name = "dict-iteration"
    summary = "iterating a dict while another thread inserts: 'dictionary changed size'"
    variants = {"unsafe": "no lock", "locked": "register and iterate under one lock"}
    expect_failure = ("unsafe",)
    instrument = ("harness_gallery.registry",)
    max_workers = 4
    points_per_operation = {"gil": 8, "access": 24, "opcode": 48}

    def setup(self) -> None:
        self.registry = Registry() if self.variant == "unsafe" else LockedRegistry()
        self.registry.register("base", 1)

    @operation(name=st.sampled_from(["a", "b", "c", "d"]), priority=st.integers(1, 5))
    def register(self, name: str, priority: int) -> None:
        self.registry.register(name, priority)

    @operation()
    def total_priority(self) -> int:
        return self.registry.total_priority()

    @invariant()
    def totals_are_sums(self) -> None:
        total = sum(self.registry.handlers.values())
        assert self.registry.total_priority() == total
