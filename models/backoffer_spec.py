"""The harness model of TiDB's Backoffer: the seed case, TiDB issue 25778.

Shape of the seed: ``checkAllSecondaries`` starts one goroutine per region holding secondary
keys and hands them all ONE Backoffer; each goroutine backs off (``regionMiss`` mostly) while
resolving its region. A parallel round of this model is one such fan-out: N region workers,
each calling ``backoff`` one to a few times on the Backoffer they were given.

Variants:
  unsafe   -- v5.1 as shipped: one shared Backoffer, plain dicts (lost updates are silent);
  tripwire -- the same, with Go-map tripwires: overlapping writes raise Go's
              "concurrent map writes" like the crash in the issue;
  locked   -- one shared Backoffer with a lock around each call (a fix TiDB did not choose);
  fork     -- TiDB's fix (PR 25862 / client-go 201): each region worker gets ``Fork()`` of
              the shared parent; the parent is left alone.

Ground truth lives here, in this uninstrumented module, so it is atomic under the scheduler:
the Backoffer is built with a ``sleep`` that records every real sleep on the thread that did
it, and each ``backoff`` operation attributes its own sleeps to the Backoffer and config it
used. The invariants compare the Backoffer's books with that truth.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from harness.model import Model, invariant, operation
from harness_gallery.backoffer import (
    COMMIT_MAX_BACKOFF,
    CONFIGS,
    Context,
    ExecDetails,
    Jitter,
    LockedBackoffer,
    TripwireBackoffer,
    UnsafeBackoffer,
    backoff_fn_state,
    expo,
)

#: Configs a region worker may back off on; regionMiss (the seed's) first, so it shrinks to it.
CONFIG_NAMES = ("regionMiss", "txnLock", "tikvRPC", "txnNotFound", "tikvServerBusy")
_BACKOFFER_CLASS = {
    "unsafe": UnsafeBackoffer,
    "tripwire": TripwireBackoffer,
    "locked": LockedBackoffer,
    "fork": UnsafeBackoffer,
}


@dataclass
class Books:
    """What really happened to one Backoffer, kept by the model (never raced)."""

    calls: int = 0
    exceeded: int = 0
    slept_calls: Counter[str] = field(default_factory=Counter)
    slept_ms: Counter[str] = field(default_factory=Counter)
    #: ``(order, ms)`` per config: `order` numbers sleeps as they happened (see `_sleep`).
    sleeps: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    total_at_start: int = 0
    errors_at_start: int = 0

    @property
    def slept(self) -> int:
        return sum(self.slept_calls.values())


class BackofferModel(Model):
    """N region workers backing off on one Backoffer (or one fork each)."""

    name = "backoffer"
    summary = "TiDB v5.1 Backoffer shared by region workers (issue 25778: concurrent map writes)"
    variants = {
        "unsafe": "v5.1: one Backoffer shared by every worker, plain dicts",
        "tripwire": "v5.1 with Go-map tripwires: crashes with 'concurrent map writes'",
        "locked": "one shared Backoffer, a lock around each call",
        "fork": "TiDB's fix: one Fork() of the shared parent per worker",
    }
    expect_failure = ("unsafe", "tripwire")
    instrument = ("harness_gallery.backoffer", "harness_gallery.gomap")
    # The commit budget of the seed, unlimited, or small enough to hit "maxSleep exceeded".
    parameters = {"max_sleep": st.sampled_from([COMMIT_MAX_BACKOFF, 0, COMMIT_MAX_BACKOFF, 400])}
    max_workers = 8
    max_ops_per_worker = 3

    def setup(self) -> None:
        self.details = ExecDetails()
        self._pending: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self._sleep_order = itertools.count()
        cls = _BACKOFFER_CLASS[self.variant]
        self.parent = cls(
            Context(exec_details=self.details),
            self.params["max_sleep"],
            rng=self.rng,
            sleep=self._sleep,
        )
        self.books: dict[int, Books] = {}
        self.targets: list[UnsafeBackoffer] = [self.parent]
        self._book(self.parent)
        self.forks: list[UnsafeBackoffer] = []
        self.parent_before: tuple[Any, ...] | None = None
        self.parent_changed = False
        self.slept_calls = 0  # over every Backoffer of the example, for the oracle (I9)
        self.slept_ms = 0

    # -- ground truth ------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        """Every real sleep goes through here: record it for the thread, then sleep (virtually).

        Each sleep is numbered here, where it happens (inside the locked Backoffer's lock), not
        when the call returns: under real parallelism (``--engine stress``) the model's own code
        after a call may run after another thread's next call, and I6 compares the order.
        """
        self._pending[threading.get_ident()].append(
            (next(self._sleep_order), round(seconds * 1000))
        )
        time.sleep(seconds)

    def _book(self, bo: UnsafeBackoffer) -> Books:
        key = self.targets.index(bo)
        books = self.books.get(key)
        if books is None:
            books = self.books[key] = Books(
                total_at_start=bo.total_sleep, errors_at_start=len(bo.errors)
            )
        return books

    def _target(self, worker: int | None) -> UnsafeBackoffer:
        if self.variant == "fork" and worker is not None:
            return self.forks[worker]
        return self.parent

    # -- the seed's fan-out ------------------------------------------------------------------

    def begin_round(self, workers: int) -> None:
        if self.variant != "fork":
            return
        self.parent_before = self._snapshot(self.parent)
        self.parent_changed = False
        self.forks = [self.parent.fork()[0] for _ in range(workers)]
        self.targets = [self.parent, *self.forks]
        self.books = {0: self.books[0]}
        for child in self.forks:
            self._book(child)

    def end_round(self) -> None:
        if self.parent_before is not None:
            self.parent_changed = self._snapshot(self.parent) != self.parent_before
            self.parent_before = None

    @staticmethod
    def _snapshot(bo: UnsafeBackoffer) -> tuple[Any, ...]:
        return (
            bo.total_sleep,
            len(bo.errors),
            len(bo.configs),
            bo.sleep_ms_by_config(),
            bo.times_by_config(),
        )

    # Region workers of one checkAllSecondaries mostly hit the same error (regionMiss in the
    # seed); other configs come up too. Shared keys are what a lost update needs.
    @operation(config=st.one_of(st.just("regionMiss"), st.sampled_from(CONFIG_NAMES)))
    def backoff(self, worker: int | None, config: str) -> Exception | None:
        """One ``Backoff(cfg, err)`` call by a region worker (or the coordinator)."""
        bo = self._target(worker)
        cfg = CONFIGS[config]
        mine = self._pending[threading.get_ident()]
        mine.clear()
        result = bo.backoff(cfg, cfg.err)
        books = self._book(bo)
        books.calls += 1
        if result is None:
            real = sum(ms for _order, ms in mine)
            books.slept_calls[config] += 1
            books.slept_ms[config] += real
            books.sleeps[config].extend(mine)
            self.slept_calls += 1
            self.slept_ms += real
        else:
            books.exceeded += 1
            assert result is bo.configs[0].err, (
                f"I8: an over-budget call returned {result!r}, not the first config's error "
                f"{bo.configs[0].err!r}"
            )
        mine.clear()
        return result

    # -- invariants, most explanatory first -------------------------------------------------

    def _each(self) -> list[tuple[str, UnsafeBackoffer, Books]]:
        """The Backoffers whose books the lost-update invariants (I1-I6) compare.

        None for the tripwire variant: it stands for what Go itself reports -- the crash,
        "concurrent map writes" -- so its maps' lost updates are left to the unsafe variant.
        """
        if self.variant == "tripwire":
            return []
        named = (
            [("backoffer", self.parent)] if self.variant != "fork" else [("parent", self.parent)]
        )
        named += [(f"fork {i}", bo) for i, bo in enumerate(self.forks)]
        return [(label, bo, self._book(bo)) for label, bo in named]

    @invariant()
    def per_config_sleep_adds_up(self) -> None:
        """I3: backoff_sleep_ms[k] is the sum of the real sleeps done with config k."""
        for label, bo, books in self._each():
            recorded = bo.sleep_ms_by_config()
            for name in sorted(set(recorded) | set(books.slept_ms)):
                have, want = recorded.get(name, 0), books.slept_ms[name]
                assert have == want, (
                    f"I3 lost update: {label}.backoff_sleep_ms[{name!r}] == {have}, but the "
                    f"sleeps done with {name} add up to {want} ms "
                    f"({want - have} ms of sleep missing from the per-config total)"
                )

    @invariant()
    def per_config_count_adds_up(self) -> None:
        """I2: backoff_times[k] is the number of calls that slept with config k."""
        for label, bo, books in self._each():
            recorded = bo.times_by_config()
            for name in sorted(set(recorded) | set(books.slept_calls)):
                have, want = recorded.get(name, 0), books.slept_calls[name]
                assert have == want, (
                    f"I2 lost update: {label}.backoff_times[{name!r}] == {have}, but {want} "
                    f"calls slept with {name}"
                )
            assert set(recorded) == set(bo.sleep_ms_by_config()), (
                f"I3: {label}'s two maps have different keys"
            )

    @invariant()
    def total_sleep_adds_up(self) -> None:
        """I4: total_sleep == inherited total + every real sleep."""
        for label, bo, books in self._each():
            want = books.total_at_start + sum(books.slept_ms.values())
            assert bo.total_sleep == want, (
                f"I4 lost update: {label}.total_sleep == {bo.total_sleep}, but it inherited "
                f"{books.total_at_start} ms and slept {want - books.total_at_start} ms"
            )

    @invariant()
    def one_backoff_fn_per_config(self) -> None:
        """I5/I6: one backoff function per config, whose attempts count every sleep."""
        for label, bo, books in self._each():
            fns = bo.fns_by_config()
            for name, fn in sorted(fns.items()):
                attempts = backoff_fn_state(fn).attempts
                assert attempts == books.slept_calls[name], (
                    f"I5/I6 lost update: {label}.fn[{name!r}] counted {attempts} attempts, but "
                    f"{name} slept {books.slept_calls[name]} times (a backoff fn was replaced "
                    "or an attempt lost)"
                )
                cfg = CONFIGS[name]
                if cfg.jitter == Jitter.NO_JITTER and self._calls_serialised(label):
                    base = max(cfg.base, 2)
                    slept = [ms for _order, ms in sorted(books.sleeps[name])]
                    want = [expo(base, cfg.cap, i) for i in range(len(slept))]
                    assert slept == want, (
                        f"I6: {label} slept {slept} ms with {name}, but its schedule "
                        f"is {want} (the schedule restarted: two backoff fns for one config)"
                    )

    def _calls_serialised(self, label: str) -> bool:
        """Whether calls on this Backoffer can never overlap, so its schedule is sequential.

        Two callers sharing a backoff closure both read ``attempts`` before either finishes
        sleeping, so both sleep the same step: that is what Go does too, not a lost update.
        The exact sleep sequence is promised only where calls cannot overlap: behind the lock,
        or on a fork used by one worker (and a parent used only between rounds).
        """
        return self.variant in ("locked", "fork") or label != "backoffer"

    @invariant()
    def errors_and_configs_recorded(self) -> None:
        """I1: every call that passed the context check recorded one error and one config."""
        for label, bo, books in self._each():
            assert len(bo.errors) == books.errors_at_start + books.calls, (
                f"I1: {label} recorded {len(bo.errors) - books.errors_at_start} errors "
                f"for {books.calls} calls"
            )
            assert len(bo.configs) == books.calls, (
                f"I1: {label} recorded {len(bo.configs)} configs for {books.calls} calls"
            )

    @invariant()
    def statement_counters_match(self) -> None:
        """I9: the atomic per-statement counters (the oracle) agree with the model."""
        slept, slept_ms = self.slept_calls, self.slept_ms
        assert self.details.backoff_count == slept, (
            f"I9: BackoffCount == {self.details.backoff_count}, but {slept} calls slept"
        )
        assert self.details.backoff_duration_ms == slept_ms, (
            f"I9: BackoffDuration == {self.details.backoff_duration_ms} ms, slept {slept_ms} ms"
        )

    @invariant()
    def forks_leave_the_parent_alone(self) -> None:
        """I10: a fork's calls never change its parent, and forks share no map."""
        if self.variant != "fork":
            return
        assert not self.parent_changed, (
            "I10: the parent Backoffer changed during a round in which only its forks were used"
        )
        maps = [m for bo in self.targets for m in (bo.backoff_sleep_ms, bo.backoff_times, bo.fn)]
        present = [m for m in maps if m is not None]
        assert len({id(m) for m in present}) == len(present), "I10: two Backoffers share a map"
