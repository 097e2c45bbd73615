"""Models for the stress engine's tests: the gate, and a race the scheduler cannot express."""

from __future__ import annotations

import os

from hypothesis import strategies as st

from harness.model import Model, invariant, operation
from tests.targets.calls import call, countdown, fail
from tests.targets.counters import LockedCounter
from tests.targets.opaque import OpaqueCounter
from tests.targets.yielding_bank import YieldingBank


class YieldingBooksModel(Model):
    """A locked counter whose model keeps its count with a yield in the middle.

    The code under test is correct. The model's own read-modify-write would lose updates if
    two stress threads ran it at once (``os.sched_yield`` lets the other in, GIL or not): only
    the model gate keeps it atomic, as the controlled engine does for free.
    """

    name = "yielding-books"
    instrument = ("tests.targets.counters", "tests.targets.calls")
    max_workers = 4

    def setup(self) -> None:
        self.counter = LockedCounter()
        self.done = 0

    @operation()
    def incr(self) -> None:
        self.counter.incr()
        done = self.done
        os.sched_yield()
        self.done = done + 1

    def _count(self) -> None:
        done = self.done
        os.sched_yield()
        self.done = done + 1

    @operation(raises=(ValueError,))
    def incr_then_fail(self) -> None:
        """Then an exception unwinds out of instrumented code into the model."""
        self.counter.incr()
        self._count()
        fail("expected")

    @operation()
    def incr_by_generator(self) -> None:
        """Model code between the resumes of a generator of the code under test."""
        for _ in countdown(2):
            self.counter.incr()
            self._count()

    @invariant()
    def counts_agree(self) -> None:
        assert self.counter.n == self.done, f"counter.n == {self.counter.n}, {self.done} incrs"


class OpaqueRaceModel(Model):
    """A lost update inside code that is not instrumented (called through one that is)."""

    name = "opaque-race"
    instrument = ("tests.targets.calls",)
    expect_failure = ("default",)
    max_workers = 4

    def setup(self) -> None:
        self.counter = OpaqueCounter()
        self.done = 0

    @operation()
    def incr(self) -> None:
        call(self.counter.incr)
        self.done += 1

    @invariant()
    def no_lost_increment(self) -> None:
        assert self.counter.n == self.done, f"counter.n == {self.counter.n}, {self.done} incrs"


class YieldingBankModel(Model):
    """Opposite transfers deadlock; under stress that is a hang, reproduced as a deadlock."""

    name = "yielding-bank"
    instrument = ("tests.targets.yielding_bank",)
    expect_failure = ("default",)
    max_workers = 2
    max_ops_per_worker = 2

    def setup(self) -> None:
        self.bank = YieldingBank()

    @operation(src=st.integers(0, 1))
    def transfer(self, src: int) -> None:
        self.bank.transfer(src, 1)

    @invariant()
    def money_is_conserved(self) -> None:
        assert sum(self.bank.balances) == 200, f"balances {self.bank.balances}"
