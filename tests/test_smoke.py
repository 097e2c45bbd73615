"""The smoke phase: the simplest races before Hypothesis, counted in the budget, deterministic."""

from __future__ import annotations

from typing import Any

import hypothesis.core
import pytest
from hypothesis import seed, settings

import harness.hunt
from harness import smoke as smoke_module
from harness.catalog import find_model
from harness.hunt import hunt
from harness.machine import Observer, build_machine, run_machine
from harness.settings import Settings
from harness.smoke import SCHEDULES_PER_PAIR, simplest, smoke, smoke_budget


def _smoke(model: str, variant: str, seed: int, budget: int) -> Observer:
    observer = Observer()
    smoke(
        find_model(model),
        variant,
        Settings(seed=seed, granularity="access", stuck_after=5.0),
        budget=budget,
        observer=observer,
    )
    return observer


def test_simplest_is_the_first_value_of_a_strategy() -> None:
    spec = find_model("backoffer")
    [backoff] = spec.operations
    assert simplest(backoff.strategy()) == ("backoff", {"config": "regionMiss"})


@pytest.mark.parametrize("seed", range(5))
def test_smoke_finds_the_backoffer_race_as_two_single_calls(seed: int) -> None:
    observer = _smoke("backoffer", "unsafe", seed, budget=SCHEDULES_PER_PAIR)
    failure = observer.first
    assert failure is not None, f"seed {seed}: {observer.examples} smoke runs found nothing"
    [round_] = failure.scenario
    assert round_.calls == [[("backoff", {"config": "regionMiss"})]] * 2
    assert observer.first_example == observer.examples <= SCHEDULES_PER_PAIR


def test_a_clean_variant_spends_exactly_the_budget_it_is_given() -> None:
    observer = _smoke("backoffer", "locked", 0, budget=3)
    assert observer.first is None
    assert observer.examples == 3


def test_the_budget_is_every_pair_times_the_schedules_at_most() -> None:
    # The counter model has three operations: 6 unordered pairs, 4 schedules each.
    spec = find_model("counter")
    pairs = len(spec.operations) * (len(spec.operations) + 1) // 2
    observer = _smoke("counter", "locked", 0, budget=1000)
    assert observer.examples == pairs * SCHEDULES_PER_PAIR


def test_same_seed_same_smoke_failure() -> None:
    a = hunt("backoffer", "unsafe", seed=7, shrink=False)
    b = hunt("backoffer", "unsafe", seed=7, shrink=False)
    assert a.first_failure is not None and b.first_failure is not None
    assert a.first_example == b.first_example
    assert a.first_failure.scenario[0].taken == b.first_failure.scenario[0].taken
    assert a.first_failure.trace == b.first_failure.trace


def test_the_hunt_reports_a_smoke_failure_in_its_first_examples() -> None:
    result = hunt("backoffer", "unsafe", seed=0)
    assert result.found and result.first_example is not None
    assert result.first_example <= smoke_budget(100)
    assert result.failure is not None and result.failure.looks_minimal()


def test_smoke_runs_count_in_the_examples_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # 20 examples: 2 smoke runs (20 // 10), then Hypothesis's run with the remaining 18 --
    # exactly what Hypothesis alone does with 18, plus the 2.
    with_smoke = hunt("backoffer", "locked", seed=0, max_examples=20)
    monkeypatch.setattr(harness.hunt, "smoke_budget", lambda _examples: 0)
    hypothesis_only = hunt("backoffer", "locked", seed=0, max_examples=18)
    assert not with_smoke.found and not hypothesis_only.found
    assert with_smoke.examples == hypothesis_only.examples + 2


def test_no_smoke_below_its_share_of_the_budget() -> None:
    assert smoke_budget(9) == 0
    observer = _smoke("backoffer", "unsafe", 0, budget=smoke_budget(9))
    assert observer.examples == 0 and observer.first is None


def test_run_machine_takes_no_source_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    digests: list[Any] = []
    real = hypothesis.core.function_digest  # type: ignore[attr-defined]

    def spy(function: Any) -> bytes:
        digests.append(function)
        return real(function)

    monkeypatch.setattr(hypothesis.core, "function_digest", spy)
    observer = Observer()
    machine = seed(0)(build_machine(find_model("backoffer"), "locked", observer=observer))
    config = settings(max_examples=3, database=None, deadline=None, derandomize=False)
    run_machine(machine, settings=config)
    assert observer.examples >= 3
    assert digests == []


def test_smoke_module_caches_the_simplest_calls_per_model() -> None:
    spec = find_model("backoffer")
    smoke_module._cache.pop(spec.cls, None)
    first = smoke_module._simplest_calls(spec)
    assert smoke_module._simplest_calls(spec) is first
