"""The runtime interleaves exactly where its granularity says, and only in instrumented code."""

from __future__ import annotations

import itertools

import pytest

from harness.runtime import Executor, World
from harness.runtime.trace import UNKNOWN
from harness.schedule import PreemptionSchedule, RandomSchedule
from tests.conftest import COUNTERS
from tests.targets.counters import AugmentedCounter, Counter, DictCounter


def _lost(executor: Executor, cls: type, granularity: str, seeds: range) -> int:
    lost = 0
    for seed in seeds:
        with World():
            obj = cls()
            result = executor.run(
                [obj.incr, obj.incr],
                RandomSchedule(seed),
                granularity=granularity,
                modules=COUNTERS,
            )
        assert result.ok, result.describe()
        total = obj.n if cls is Counter else obj.d["k"]
        assert total in (1, 2)
        lost += total == 1
    return lost


@pytest.mark.parametrize("granularity", ["access", "opcode"])
def test_attribute_read_modify_write_loses_updates_at_fine_granularity(
    executor: Executor, granularity: str
) -> None:
    assert _lost(executor, Counter, granularity, range(100)) > 0


def test_attribute_read_modify_write_never_loses_at_gil_points(executor: Executor) -> None:
    # A GIL build cannot switch between LOAD_ATTR and STORE_ATTR: no schedule may lose it.
    with World():
        probe = Counter()
        steps = executor.run(
            [probe.incr, probe.incr], PreemptionSchedule(), granularity="gil", modules=COUNTERS
        ).steps
    for step, choice in itertools.product(range(1, steps + 1), range(2)):
        with World():
            c = Counter()
            executor.run(
                [c.incr, c.incr],
                PreemptionSchedule([(step, choice)]),
                granularity="gil",
                modules=COUNTERS,
            )
        assert c.n == 2, f"lost update at gil granularity with preemption at step {step}"


@pytest.mark.parametrize("granularity", ["gil", "access", "opcode"])
def test_get_then_set_loses_updates_at_every_granularity(
    executor: Executor, granularity: str
) -> None:
    assert _lost(executor, DictCounter, granularity, range(100)) > 0


def test_one_preemption_after_get_returns_loses_the_update(executor: Executor) -> None:
    with World():
        c = DictCounter()
        result = executor.run(
            [c.incr, c.incr], PreemptionSchedule([(2, 0)]), granularity="gil", modules=COUNTERS
        )
    assert c.d == {"k": 1}
    kinds = [(e.thread, e.kind) for e in result.trace]
    # T0 enters, T0 is preempted right after .get() returned; T1 runs its whole increment.
    assert kinds[:3] == [(0, "entry"), (0, "return"), (1, "entry")]


def test_non_preemptive_schedule_is_sequential(executor: Executor) -> None:
    with World():
        c = Counter()
        result = executor.run([c.incr, c.incr, c.incr], PreemptionSchedule(), modules=COUNTERS)
    assert c.n == 3
    threads = result.trace.threads()
    assert threads == sorted(threads)


def test_only_instrumented_modules_produce_points(executor: Executor) -> None:
    def outside() -> None:
        # This function's module (the test) is not instrumented; the counter's is.
        total = 0
        for i in range(50):
            total += i
        c.incr()

    with World():
        c = Counter()
        result = executor.run([outside, outside], RandomSchedule(3), modules=COUNTERS)
    locations = {e.location.rsplit(":", 1)[0] for e in result.trace}
    assert locations == {"tests.targets.counters"}
    assert not executor.run([outside], PreemptionSchedule(), modules=()).trace


def test_trace_names_attribute_and_values(executor: Executor) -> None:
    with World():
        c = Counter()
        result = executor.run(
            [c.incr], PreemptionSchedule(), granularity="access", modules=COUNTERS
        )
    accesses = [(e.kind, e.target, e.value) for e in result.trace if e.kind in ("read", "write")]
    assert accesses == [("read", "self.n", 0), ("write", "self.n", 1)]


def test_trace_names_dict_keys(executor: Executor) -> None:
    with World():
        c = DictCounter()
        result = executor.run(
            [lambda: c.incr("regionMiss")],
            PreemptionSchedule(),
            granularity="access",
            modules=COUNTERS,
        )
    writes = [e for e in result.trace if e.kind == "write" and "[" in e.target]
    assert [(w.target, w.key, w.value) for w in writes] == [("self.d[key]", "regionMiss", 1)]


def test_trace_describes_augmented_assignments(executor: Executor) -> None:
    with World():
        c = AugmentedCounter()
        result = executor.run([c.incr], PreemptionSchedule(), modules=COUNTERS)
    accesses = [
        (e.kind, e.target, e.key, e.value)
        for e in result.trace
        if e.kind in ("read", "write") and e.target != "self.d"
    ]
    assert accesses == [
        ("read", "self.n", UNKNOWN, 0),
        ("write", "self.n", UNKNOWN, 1),
        ("read", "self.d['k']", "k", 0),
        ("write", "self.d['k']", "k", 1),
    ]
