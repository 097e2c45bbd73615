"""Models for the verdict tests: each is wrong, untested or limited in exactly one way.

The code under test lives in `tests.targets.verdict_code` (instrumented); these models are
not instrumented, like a user's spec module.
"""

from __future__ import annotations

import sys

from hypothesis import note
from hypothesis import strategies as st

from harness.model import Model, invariant, operation
from tests.targets.verdict_code import Flag, ImportLocked, Mangled, ModuleLocked, Pool, Stats, Tally

CODE = ("tests.targets.verdict_code",)


class _Counting(Model):
    """A counter model: `done` counts finished calls exactly (the model is not instrumented)."""

    instrument = CODE
    max_workers = 2
    max_ops_per_worker = 1

    def setup(self) -> None:
        self.tally = Tally()
        self.done = 0

    @operation()
    def add(self) -> None:
        self.tally.add()
        self.done += 1

    @invariant()
    def counts(self) -> None:
        assert self.tally.n == self.done, f"n is {self.tally.n} after {self.done} adds"


class TallyModel(_Counting):
    name = "tally"


class NotReachedModel(Model):
    """Instruments the right module, but the operations never call into it."""

    name = "not-reached"
    instrument = CODE

    def setup(self) -> None:
        self.k = 0

    @operation()
    def bump(self) -> None:
        self.k += 1


class NoInstrumentModel(Model):
    name = "no-instrument"

    @operation()
    def noop(self) -> None:
        pass


class TypoModel(_Counting):
    """A NameError in the operation's own body: the model's mistake."""

    name = "typo"

    @operation()
    def add(self) -> None:
        self.tally.add()
        self.done += totl  # type: ignore[name-defined]  # noqa: F821


class NoteModel(_Counting):
    """Hypothesis's `note()` called from a worker thread, where it cannot be."""

    name = "note-in-op"

    @operation()
    def add(self) -> None:
        note("adding")
        self.tally.add()
        self.done += 1


class ExitingInvariantModel(_Counting):
    name = "exiting-invariant"

    @invariant()
    def counts(self) -> None:
        sys.exit(0)


class FalseAfterSetupModel(_Counting):
    name = "false-after-setup"

    @invariant()
    def counts(self) -> None:
        assert self.tally.n == 1, "n starts at 1"  # wrong: it starts at 0


class MangledModel(_Counting):
    name = "mangled"

    def setup(self) -> None:
        self.tally = Mangled()  # type: ignore[assignment]
        self.done = 0

    @invariant()
    def counts(self) -> None:
        count = self.tally.count  # type: ignore[attr-defined]
        assert count == self.done, f"count is {count} after {self.done} adds"


class FlagModel(Model):
    name = "flag"
    instrument = CODE
    max_workers = 2
    max_ops_per_worker = 1

    def setup(self) -> None:
        self.flag = Flag()

    @operation()
    def mark(self) -> None:
        self.flag.mark()

    @invariant()
    def marked_once(self) -> None:
        assert self.flag.marks <= 1, f"marked {self.flag.marks} times"


class ImportLockModel(_Counting):
    name = "import-lock"

    def setup(self) -> None:
        self.tally = ImportLocked()  # type: ignore[assignment]
        self.done = 0


class ModuleLockModel(_Counting):
    name = "module-lock"

    def setup(self) -> None:
        self.tally = ModuleLocked()  # type: ignore[assignment]
        self.done = 0


class LockedReferenceModel(_Counting):
    """The sequential reference is the locked class itself: it holds a lock, which cannot be
    deep-copied, so the linearizability check rebuilds its states instead."""

    name = "locked-reference"

    def setup(self) -> None:
        self.tally = ImportLocked()  # type: ignore[assignment]
        self.done = 0

    def reference(self) -> object:
        return ImportLocked()


class StatsModel(Model):
    """Finds the one unlocked method among five: the default budget must catch it."""

    name = "stats"
    instrument = CODE

    def setup(self) -> None:
        self.stats = Stats()
        self.hits = 0
        self.lookups = 0

    @operation()
    def hit(self) -> None:
        self.stats.hit()
        self.hits += 1
        self.lookups += 1

    @operation()
    def miss(self) -> None:
        self.stats.miss()
        self.lookups += 1

    @operation(n=st.integers(1, 3))
    def bulk(self, n: int) -> None:
        self.stats.bulk(n)
        self.hits += n
        self.lookups += n

    @operation()
    def snapshot(self) -> None:
        self.stats.snapshot()

    @operation()
    def fast_hit(self) -> None:
        self.stats.fast_hit()
        self.hits += 1
        self.lookups += 1

    @invariant()
    def counted(self) -> None:
        assert self.stats.hits == self.hits, f"hits is {self.stats.hits}, {self.hits} counted"


class PoolModel(Model):
    """A bug that needs 4 workers and 2 preemptions: the default budget must catch it."""

    name = "pool"
    instrument = CODE

    def setup(self) -> None:
        self.pool = Pool()

    @operation()
    def use(self) -> None:
        self.pool.use()

    @invariant()
    def within_limit(self) -> None:
        assert self.pool.peak <= Pool.LIMIT, f"{self.pool.peak} holders at once"
