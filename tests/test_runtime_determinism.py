"""Determinism is the product: same decisions, same code, same Python -> byte-identical trace."""

from __future__ import annotations

import json
import random

import pytest

from harness.runtime import Executor, RunResult, World
from harness.schedule import DecisionSource, PreemptionSchedule, RandomSchedule, ReplaySchedule
from harness_gallery.backoffer import (
    BO_REGION_MISS,
    BO_TXN_LOCK,
    ERR_REGION_UNAVAILABLE,
    TripwireBackoffer,
)
from tests.conftest import SYNC
from tests.targets.sync_models import Gate

BACKOFFER = ["harness_gallery.backoffer", "harness_gallery.gomap"]


def _backoffer_run(executor: Executor, decisions: DecisionSource, granularity: str) -> RunResult:
    with World():
        bo = TripwireBackoffer(max_sleep=2_000, rng=random.Random(7))

        def worker() -> None:
            bo.backoff(BO_REGION_MISS, ERR_REGION_UNAVAILABLE)
            bo.backoff(BO_TXN_LOCK, ERR_REGION_UNAVAILABLE)

        return executor.run(
            [worker, worker, worker], decisions, granularity=granularity, modules=BACKOFFER
        )


def _bytes(result: RunResult) -> bytes:
    payload = {
        "trace": result.trace.to_json(),
        "hang": None if result.hang is None else result.hang.describe(),
        "errors": [f"{e.thread}:{type(e.exception).__name__}:{e.exception}" for e in result.errors],
        "elapsed": result.elapsed_virtual,
    }
    return json.dumps(payload, sort_keys=True).encode()


@pytest.mark.parametrize("granularity", ["gil", "access", "opcode"])
@pytest.mark.parametrize("seed", [0, 11])
def test_same_random_seed_gives_identical_traces_200_times(
    executor: Executor, granularity: str, seed: int
) -> None:
    reference = _bytes(_backoffer_run(executor, RandomSchedule(seed), granularity))
    assert len(json.loads(reference)["trace"]) > 20
    for _ in range(199):
        assert _bytes(_backoffer_run(executor, RandomSchedule(seed), granularity)) == reference


def test_same_preemptions_give_identical_traces_with_blocking(executor: Executor) -> None:
    def once() -> bytes:
        with World():
            gate = Gate(parties=3)
            result = executor.run(
                [gate.opener, lambda: gate.waiter("x"), lambda: gate.waiter("y")],
                PreemptionSchedule([(3, 1), (9, 0), (15, 1)]),
                modules=SYNC,
            )
        assert result.ok, result.describe()
        return _bytes(result)

    reference = once()
    assert all(once() == reference for _ in range(199))


def test_different_seeds_give_different_interleavings(executor: Executor) -> None:
    traces = {_bytes(_backoffer_run(executor, RandomSchedule(s), "access")) for s in range(20)}
    assert len(traces) > 10


@pytest.mark.parametrize("seed", range(10))
def test_replaying_the_threads_of_a_trace_reproduces_it(executor: Executor, seed: int) -> None:
    original = _backoffer_run(executor, RandomSchedule(seed), "access")
    replayed = _backoffer_run(executor, ReplaySchedule(original.trace.threads()), "access")
    assert replayed.trace == original.trace
    assert original.trace.first_divergence(replayed.trace) is None
