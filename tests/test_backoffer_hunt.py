"""The seed, end to end: the unsafe Backoffer is caught every time, minimally; fixes pass."""

from __future__ import annotations

import statistics

import pytest

from harness.hunt import HuntResult, hunt

SEED_BATCHES = [range(start, start + 10) for start in range(0, 100, 10)]


def _shape(result: HuntResult) -> tuple[int, int, list[int], int]:
    assert result.failure is not None
    shape = result.failure.shape()
    return shape["steps"], shape["threads"], shape["calls_per_worker"], shape["preemptions"]


@pytest.mark.parametrize("granularity", ["access", "gil"])
@pytest.mark.parametrize("seeds", [20, pytest.param(100, marks=pytest.mark.slow)])
def test_unsafe_backoffer_is_caught_in_every_seed(granularity: str, seeds: int) -> None:
    firsts = []
    for seed in range(seeds):
        result = hunt("backoffer", "unsafe", seed=seed, granularity=granularity, shrink=False)
        assert result.found, f"seed {seed}: no counterexample in {result.examples} examples"
        assert result.first_example is not None and result.first_example <= 100
        firsts.append(result.first_example)
    assert statistics.median(firsts) <= 5, sorted(firsts)


@pytest.mark.parametrize("granularity", ["access", "gil"])
@pytest.mark.parametrize(
    "seeds",
    [SEED_BATCHES[0], *(pytest.param(b, marks=pytest.mark.slow) for b in SEED_BATCHES[1:5])],
    ids=lambda r: f"seeds{r.start}-{r.stop - 1}",
)
def test_shrunk_counterexample_is_minimal_and_names_the_lost_update(
    granularity: str, seeds: range
) -> None:
    not_minimal = []
    for seed in seeds:
        result = hunt("backoffer", "unsafe", seed=seed, granularity=granularity)
        failure = result.failure
        assert failure is not None
        if _shape(result) != (1, 2, [1, 1], 1):
            not_minimal.append((seed, failure.shape()))
            continue
        assert failure.kind == "invariant" and failure.invariant is not None
        assert "lost update" in failure.message
        # It names what lost the update: a map and its key (backoff fn, sleep or count per
        # config: the v5.1 check-then-act at backoff.go:187, or ``+=`` on a map entry) or the
        # total_sleep field.
        assert "['regionMiss']" in failure.message or "total_sleep" in failure.message
        [round_] = failure.scenario
        assert [[op for op, _ in calls] for calls in round_.calls] == [["backoff"], ["backoff"]]
        assert failure.trace is not None and len(failure.trace) > 10
    # >= 95 of 100 seeds must be minimal: at most one miss per batch of ten.
    assert len(not_minimal) <= 1, not_minimal


@pytest.mark.parametrize("granularity", ["access", "gil"])
def test_tripwire_fails_with_gos_map_error_in_minimal_shape(granularity: str) -> None:
    messages = set()
    for seed in range(10):
        result = hunt("backoffer", "tripwire", seed=seed, granularity=granularity)
        failure = result.failure
        assert failure is not None
        assert failure.kind == "exception", failure.describe()
        assert "raised ConcurrentMapWrites" in failure.message
        steps, threads, calls, preemptions = _shape(result)
        assert (steps, threads, calls) == (1, 2, [1, 1]), failure.describe()
        # A read that overlaps a write needs one preemption ("concurrent map read and map
        # write"); the seed's two overlapping writes need two ("concurrent map writes").
        message = failure.message.split(": ", 1)[1]
        assert {"concurrent map read and map write": 1, "concurrent map writes": 2}[message] == (
            preemptions
        ), failure.describe()
        messages.add(message)
    assert messages  # at least one; both kinds show up across seeds in practice


@pytest.mark.parametrize("granularity", ["gil", "access", "opcode"])
@pytest.mark.parametrize("variant", ["locked", "fork"])
@pytest.mark.parametrize("examples", [100, pytest.param(1_000, marks=pytest.mark.slow)])
def test_fixed_variants_pass_a_thousand_examples(
    variant: str, granularity: str, examples: int
) -> None:
    result = hunt("backoffer", variant, seed=7, granularity=granularity, max_examples=examples)
    assert result.broken is None
    assert not result.found, result.failure.describe() if result.failure else ""
    assert result.examples >= examples


def test_same_seed_gives_the_same_counterexample() -> None:
    a = hunt("backoffer", "unsafe", seed=11)
    b = hunt("backoffer", "unsafe", seed=11)
    assert a.failure is not None and b.failure is not None
    assert a.failure.describe() == b.failure.describe()
    assert a.failure.trace == b.failure.trace
