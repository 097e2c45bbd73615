"""PCT: deterministic per seed, the published bound, and it catches the gallery's bugs."""

from __future__ import annotations

from typing import Any

import pytest

from harness.catalog import find_model
from harness.runtime import Executor, World
from harness.schedule.pct import PCTSchedule, pct_guarantee
from harness.settings import Settings
from harness.verify import Scenario, default_params, run_scenario, verify_spec
from tests.conftest import COUNTERS
from tests.targets.counters import Counter


def test_guarantee_is_one_over_n_k_to_the_d_minus_1() -> None:
    assert pct_guarantee(2, 10, 1) == 0.5
    assert pct_guarantee(2, 10, 2) == 1 / 20
    assert pct_guarantee(3, 10, 3) == 1 / 300


def test_same_seed_same_trace(executor: Executor) -> None:
    def trace(seed: int) -> list[int]:
        with World():
            c = Counter()
            result = executor.run(
                [c.incr, c.incr, c.incr], PCTSchedule(seed, threads=3, steps=20), modules=COUNTERS
            )
        return result.trace.threads()

    assert trace(7) == trace(7)
    assert len({tuple(trace(s)) for s in range(8)}) > 1


def test_depth_1_never_preempts(executor: Executor) -> None:
    with World():
        c = Counter()
        result = executor.run([c.incr, c.incr], PCTSchedule(3, depth=1), modules=COUNTERS)
    assert result.preemptions == []
    assert c.n == 2


#: A scenario of each unsafe gallery variant in which the race can show (found by DFS).
UNSAFE = [
    ("counter", "unsafe", {"workers": 2, "calls": 1}),
    ("lazy-init", "unsafe", {"workers": 2, "calls": 1}),
    ("dict-iteration", "unsafe", {"workers": 2, "calls": 1}),
    ("bank", "naive", {"workers": 2, "calls": 1}),
    ("lru", "unsafe", {"workers": 2, "calls": 2}),
    ("backoffer", "unsafe", {"workers": 2, "calls": 1}),
    ("backoffer", "tripwire", {"workers": 2, "calls": 1}),
    ("cachetools-lru", "unsafe", {"workers": 2, "calls": 1}),
]
_SCENARIOS: dict[tuple[str, str], Scenario] = {}


def racy_scenario(name: str, variant: str, shape: dict[str, int]) -> Scenario:
    """The first scenario of the shape in which DFS finds the race."""
    key = (name, variant)
    if key not in _SCENARIOS:
        plan: dict[str, Any] = {"bound": 1, **shape}
        found = verify_spec(find_model(name), variant, Settings(shrink=False), **plan)
        assert found.failing_scenario is not None
        _SCENARIOS[key] = found.failing_scenario
    return _SCENARIOS[key]


def runs_to_find(name: str, variant: str, shape: dict[str, int], seed: int) -> int | None:
    """PCT runs (at most 100) until the scenario fails; k estimated from the runs so far."""
    spec = find_model(name)
    scenario = racy_scenario(name, variant, shape)
    params = default_params(spec)
    steps = 10
    for i in range(100):
        pct = PCTSchedule(seed * 1000 + i, threads=shape["workers"], depth=2, steps=steps)
        failure, _ = run_scenario(spec, variant, scenario, pct, params=params)
        steps = max(steps, pct.steps_seen)
        if failure is not None:
            return i + 1
    return None


@pytest.mark.parametrize(("name", "variant", "shape"), UNSAFE)
def test_pct_depth_2_catches_every_unsafe_variant(
    name: str, variant: str, shape: dict[str, int]
) -> None:
    found = [runs_to_find(name, variant, shape, seed) for seed in range(5)]
    assert all(n is not None for n in found), found


@pytest.mark.slow
@pytest.mark.parametrize(("name", "variant", "shape"), UNSAFE)
def test_pct_depth_2_catches_every_unsafe_variant_in_99_of_100_seeds(
    name: str, variant: str, shape: dict[str, int]
) -> None:
    found = [runs_to_find(name, variant, shape, seed) for seed in range(100)]
    assert sum(n is not None for n in found) >= 99, found
