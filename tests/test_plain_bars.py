"""Issue 16's plain-class bars: what a hunt with no model says about the stdlib queue, a
lock-guarded class and the gallery's unsafe classes -- caught, clean, and why not."""

from __future__ import annotations

import importlib
import queue
import warnings
from typing import Any

import pytest

import harness
from harness import report
from tests.targets.counters import LockedCounter

#: The gallery: `models/` in a checkout, installed as `harness_gallery`.
GALLERY = next(
    name for name in ("harness_gallery", "models") if importlib.util.find_spec(name) is not None
)
#: queue.Queue's methods that never block; `get()`, `put()` on a full queue and `join()`
#: wait for another thread, forever when none comes -- in every order, so a plain hunt of the
#: default method set reports the class itself blocking (a deadlock), which is no race.
NON_BLOCKING = ["put_nowait", "get_nowait", "qsize", "empty", "full"]


def _hunt(cls: type, **options: Any) -> harness.HuntResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", harness.plain.PlainClassWarning)
        return harness.hunt_class(cls, **options)


def _gallery(module: str, name: str) -> type:
    cls: type = getattr(importlib.import_module(f"{GALLERY}.{module}"), name)
    return cls


@pytest.mark.parametrize(
    ("maxsize", "examples"),
    [
        (0, 100),
        pytest.param(2, 100, marks=pytest.mark.slow),
        pytest.param(0, 1_000, marks=pytest.mark.slow),
    ],
)
def test_queue_is_instrumented_and_never_raises_an_alarm(maxsize: int, examples: int) -> None:
    """`queue` is instrumentable (its Python code runs over the harness's locks), so the hunt
    interleaves inside Queue's own methods and checks them against a sequential Queue."""
    result = _hunt(queue.Queue, args=(maxsize,), methods=NON_BLOCKING, max_examples=examples)
    assert result.kind == "clean", report.hunt_text(result)
    evidence = result.evidence
    assert evidence is not None and evidence.racing_rounds > 0 and evidence.conflict_pairs > 0
    assert result.examples >= examples


@pytest.mark.parametrize("examples", [100, pytest.param(1_000, marks=pytest.mark.slow)])
def test_a_lock_guarded_class_never_raises_an_alarm(examples: int) -> None:
    result = _hunt(LockedCounter, max_examples=examples)
    assert result.kind == "clean", report.hunt_text(result)
    assert result.examples >= examples


@pytest.mark.parametrize(
    ("module", "name", "args"),
    [("lru", "LRUCache", (2,)), ("registry", "Registry", ()), ("gomap", "GoMap", ())],
)
def test_gallery_unsafe_classes_caught_with_no_model(
    module: str, name: str, args: tuple[Any, ...]
) -> None:
    """What a method returns shows the race: caught at the minimal shape."""
    result = _hunt(_gallery(module, name), args=args, seed=0)
    failure = result.failure
    assert failure is not None and failure.kind == "linearizability", report.hunt_text(result)
    assert failure.looks_minimal(), failure.describe()


@pytest.mark.parametrize(("module", "name"), [("counter", "HitCounter"), ("lazy_init", "Pool")])
def test_gallery_races_no_result_shows_are_not_caught_with_no_model(module: str, name: str) -> None:
    """Not caught, and why: the check compares what methods return, and here nothing does.
    `HitCounter.hit()` returns None and the lost hit is only in the attribute `hits`;
    `Pool.connection()` returns a Connection, compared by type (its class compares by
    identity), so two different "singletons" look alike; the double creation is only in
    the attribute `created`. Their models (`counter`, `lazy-init`) catch both with an
    invariant, and so does `harness.explore` with one."""
    result = _hunt(_gallery(module, name), seed=0)
    assert result.kind == "clean", report.hunt_text(result)
    evidence = result.evidence
    assert evidence is not None and evidence.racing_rounds > 0
    cls = _gallery(module, name)
    if name == "HitCounter":
        caught = harness.explore(
            setup=cls, workers=[lambda c: c.hit()] * 2, invariant=lambda c: c.hits in (0, 2)
        )
    else:
        caught = harness.explore(
            setup=cls,
            workers=[lambda p: p.connection()] * 2,
            invariant=lambda p: p.created <= 1,
        )
    assert caught.kind == "counterexample", report.hunt_text(caught)


def test_the_naive_bank_is_caught_with_no_model_in_most_seeds() -> None:
    """A deadlock or a transfer's result no order explains; 3 of seeds 0-4 at 100 examples
    (measured), so the bar is 2."""
    bank = _gallery("bank", "Bank")
    kinds = [_hunt(bank, args=(2,), kwargs={"ordered": False}, seed=s).kind for s in range(5)]
    assert kinds.count("counterexample") >= 2, kinds
