"""Long runs stay healthy: hunts leave nothing behind, abandoned threads do not pile up."""

from __future__ import annotations

import gc

from hypothesis.stateful import RuleBasedStateMachine

from harness.failure import Failure
from harness.hunt import hunt
from harness.machine import Observer


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
