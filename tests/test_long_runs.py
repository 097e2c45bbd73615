"""Long runs stay healthy: hunts leave nothing behind, abandoned threads do not pile up."""

from __future__ import annotations

import _thread
import gc

from hypothesis.stateful import RuleBasedStateMachine

from harness.failure import Failure
from harness.hunt import hunt
from harness.machine import Observer
from harness.runtime import Executor, Stuck
from harness.runtime.executor import _ABANDONED, abandoned_threads
from harness.schedule import PreemptionSchedule
from tests.conftest import COUNTERS
from tests.targets.counters import Counter


def _alive(kind: type) -> int:
    gc.collect()
    return sum(isinstance(o, kind) for o in gc.get_objects())


def test_hunts_through_hypothesis_retain_no_observer_or_failure() -> None:
    # Clean hunts run Hypothesis's whole budget; failing ones with max_examples < 10 skip the
    # smoke phase, so Hypothesis finds (and holds) their failures.
    hunt("backoffer", "locked", seed=0, max_examples=5)
    hunt("backoffer", "unsafe", seed=0, max_examples=9, shrink=False)
    observers, failures = _alive(Observer), _alive(Failure)
    for seed in range(1, 9):
        hunt("backoffer", "locked", seed=seed, max_examples=5)
        hunt("backoffer", "unsafe", seed=seed, max_examples=9, shrink=False)
    assert _alive(Observer) <= observers
    assert _alive(Failure) <= failures


def test_hypothesis_keeps_one_machine_class_per_model_variant_and_points() -> None:
    per_class = RuleBasedStateMachine._setup_state_per_class
    hunt("backoffer", "locked", seed=0, max_examples=3)
    before = len(per_class)
    for seed in range(1, 6):
        hunt("backoffer", "locked", seed=seed, max_examples=3)
    assert len(per_class) == before


def test_a_worker_abandoned_while_spinning_outside_instrumented_code_exits() -> None:
    release = {"now": False}

    def spin_where_the_harness_cannot_see() -> None:
        # This test module is not instrumented: no scheduling point, the watchdog's case.
        while not release["now"]:
            pass

    with Executor() as ex:
        already = abandoned_threads()
        known = len(_ABANDONED)
        result = ex.run(
            [spin_where_the_harness_cannot_see, Counter().incr],
            PreemptionSchedule(),
            modules=COUNTERS,
            stuck_after=0.2,
        )
        assert isinstance(result.hang, Stuck)
        [abandoned] = [entry.thread for entry in _ABANDONED[known:]]
        try:
            # Generous: it unwinds at its next bytecode; without the interrupt it would spin
            # (holding the GIL every switch interval) until the flag below is set.
            abandoned.join(10)
            assert not abandoned.is_alive()
            assert abandoned_threads() == already
            # The pool goes on with a fresh thread.
            c = Counter()
            assert ex.run([c.incr, c.incr], PreemptionSchedule(), modules=COUNTERS).ok
        finally:
            release["now"] = True


def test_a_worker_blocked_in_c_is_counted_until_the_call_returns() -> None:
    blocker = _thread.allocate_lock()
    blocker.acquire()
    with Executor() as ex:
        already = abandoned_threads()
        known = len(_ABANDONED)
        result = ex.run(
            [blocker.acquire, Counter().incr],
            PreemptionSchedule(),
            modules=COUNTERS,
            stuck_after=0.2,
        )
        assert isinstance(result.hang, Stuck)
        [abandoned] = [entry.thread for entry in _ABANDONED[known:]]
        assert abandoned_threads() == already + 1
        blocker.release()  # the C call returns: the thread goes on into Python code ...
        c = Counter()
        for _ in range(100):  # ... and the check before each run unwinds it
            assert ex.run([c.incr, c.incr], PreemptionSchedule(), modules=COUNTERS).ok
            if not abandoned.is_alive():
                break
            abandoned.join(0.05)
        abandoned.join(10)
        assert not abandoned.is_alive()
        assert abandoned_threads() == already
