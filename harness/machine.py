"""Turns a `Model` into a Hypothesis `RuleBasedStateMachine` that hunts its races.

One example = one object under test. The ``initialize`` rule builds it (in a patched `World`,
through `ScenarioRunner`), runs up to two sequential calls and a first parallel round, so every
example races at least once -- Lincheck's init / parallel / post shape. Further rules add steps:

* ``sequential``: one operation on the test thread (no interleaving: it sets up state);
* ``parallel``: a round of 2..`max_workers` worker threads (weighted toward more, shrunk toward
  2), each calling 1..`max_ops_per_worker` operations, under a schedule drawn in the same rule:
  explicit per-thread preemptions plus, optionally, seeded noise (see `harness.schedule.drawn`).
  A failing example is shrunk by `harness.minimize`, which replays the switches the round
  actually took as explicit preemptions.

All checks happen in `ScenarioRunner`; a failure is recorded in the `Observer` and raised as
`CounterexampleFound`.
"""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    rule,
    run_state_machine_as_test,
)

from harness.failure import Call, Failure
from harness.model import BrokenModelError, Model, ModelSpec
from harness.runtime.executor import DEFAULT_STUCK_AFTER, Executor
from harness.runtime.points import DEFAULT_GRANULARITY, check_granularity
from harness.runtime.world import _REAL_TIME
from harness.scenario import ScenarioRunner
from harness.schedule.drawn import ThreadPreemption

_real_perf_counter = _REAL_TIME["perf_counter"]

#: Most explicit preemptions drawn for one round.
MAX_PREEMPTIONS = 8
#: Scheduling points per operation that an explicit preemption may target, by granularity
#: (measured on the Backoffer: 27 / 119 / 260 per backoff call); a model can override it.
POINTS_PER_OPERATION = {"gil": 32, "access": 128, "opcode": 288}
#: Noise switches at about one point in `rate`.
NOISE_RATES = (4, 8, 16)

Schedule = tuple[list[ThreadPreemption], tuple[int, int] | None]


class Observer:
    """Counts examples and keeps the failures seen, for `hunt` and the pytest plugin.

    Hypothesis re-runs the shrunk example last, so `last` is its minimal counterexample.
    """

    def __init__(self) -> None:
        self.started = _real_perf_counter()
        self.examples = 0
        self.first: Failure | None = None
        self.first_example: int | None = None
        self.first_seconds: float | None = None
        self.last: Failure | None = None

    def example_started(self) -> None:
        self.examples += 1

    def failed(self, failure: Failure) -> None:
        if self.first is None:
            self.first = failure
            self.first_example = self.examples
            self.first_seconds = _real_perf_counter() - self.started
        self.last = failure


def round_strategy(
    max_workers: int, worker_calls: st.SearchStrategy[list[Call]]
) -> st.SearchStrategy[list[list[Call]]]:
    """2..max workers' call lists, weighted toward more threads, shrinking toward 2.

    A list of per-worker lists, so that shrinking deletes whole workers.
    """
    many = max(2, max_workers - 2)
    return st.one_of(
        st.lists(worker_calls, min_size=2, max_size=max_workers),
        st.lists(worker_calls, min_size=many, max_size=max_workers),
    )


def schedule_strategy(max_workers: int, points: int) -> st.SearchStrategy[Schedule]:
    """Explicit preemptions, plus noise.

    Noise is the first branch, so Hypothesis's first example -- its simplest: two workers, one
    call each -- already runs under dense random switching, the cheapest way to meet a race
    between the simplest calls. Shrinking does not need the noise gone: the minimiser rewrites
    the switches a round took as explicit preemptions.
    """
    preemption = st.builds(
        ThreadPreemption,
        st.integers(0, max_workers - 1),
        st.integers(1, points),
        st.integers(0, max_workers - 1),
    )
    noise = st.tuples(st.integers(0, 2**32 - 1), st.sampled_from(NOISE_RATES))
    return st.tuples(st.lists(preemption, max_size=MAX_PREEMPTIONS), noise | st.none())


def _fit(schedule: Schedule, workers: int) -> tuple[list[ThreadPreemption], Any]:
    """Map drawn thread numbers onto the round's workers, so that every draw means something."""
    preemptions, noise = schedule
    fitted = [ThreadPreemption(t % workers, p, g % workers) for t, p, g in preemptions]
    return fitted, noise


#: Strategies per (model class, granularity) kept across hunts: Hypothesis validates a new
#: strategy on its first draw (about 3 ms for the Backoffer's, a hunt's largest fixed cost
#: after the source digests `run_machine` avoids); a reused one is already validated.
_STRATEGY_CACHE_SIZE = 32


_strategy_cache: dict[tuple[type[Model], str], tuple[st.SearchStrategy[Any], ...]] = {}


def _strategies(spec: ModelSpec, granularity: str) -> tuple[st.SearchStrategy[Any], ...]:
    """(call, rounds, schedules, params) of `spec` at `granularity`, built once per class."""
    key = (spec.cls, granularity)
    cached = _strategy_cache.get(key)
    if cached is None:
        if len(_strategy_cache) >= _STRATEGY_CACHE_SIZE:
            _strategy_cache.pop(next(iter(_strategy_cache)))
        cached = _strategy_cache[key] = _build_strategies(spec, granularity)
    return cached


def _build_strategies(spec: ModelSpec, granularity: str) -> tuple[st.SearchStrategy[Any], ...]:
    cls = spec.cls
    operations = spec.operations
    call = st.one_of([op.strategy() for op in operations])
    rounds = round_strategy(
        cls.max_workers, st.lists(call, min_size=1, max_size=cls.max_ops_per_worker)
    )
    per_op = cls.points_per_operation.get(granularity, POINTS_PER_OPERATION[granularity])
    schedules = schedule_strategy(cls.max_workers, per_op * cls.max_ops_per_worker)
    params = st.fixed_dictionaries(dict(cls.parameters))
    return call, rounds, schedules, params


def build_machine(
    spec: ModelSpec,
    variant: str,
    *,
    granularity: str = DEFAULT_GRANULARITY,
    executor: Executor | None = None,
    observer: Observer | None = None,
    stuck_after: float = DEFAULT_STUCK_AFTER,
) -> type[RuleBasedStateMachine]:
    """A new state machine class testing `variant` of the model in `spec`."""
    check_granularity(granularity)
    cls: type[Model] = spec.cls
    if variant not in cls.variants:
        known = ", ".join(cls.variants)
        raise BrokenModelError(f"model {cls.name!r} has no variant {variant!r} (known: {known})")
    call, rounds, schedules, params = _strategies(spec, granularity)
    record = observer.failed if observer is not None else None

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.runner: ScenarioRunner | None = None
            if observer is not None:
                observer.example_started()

        @initialize(
            seed=st.integers(0, 2**32 - 1),
            params=params,
            prelude=st.lists(call, max_size=2),
            calls=rounds,
            schedule=schedules,
        )
        def build(
            self,
            seed: int,
            params: dict[str, Any],
            prelude: list[Call],
            calls: list[list[Call]],
            schedule: Schedule,
        ) -> None:
            self.runner = ScenarioRunner(
                spec,
                variant,
                seed=seed,
                params=params,
                granularity=granularity,
                executor=executor,
                stuck_after=stuck_after,
                on_failure=record,
                capture=False,
            )
            for one in prelude:
                self.runner.sequential(one)
            self.runner.parallel(calls, *_fit(schedule, len(calls)))

        @rule(call=call)
        def sequential(self, call: Call) -> None:
            assert self.runner is not None
            self.runner.sequential(call)

        @rule(calls=rounds, schedule=schedules)
        def parallel(self, calls: list[list[Call]], schedule: Schedule) -> None:
            assert self.runner is not None
            self.runner.parallel(calls, *_fit(schedule, len(calls)))

        def teardown(self) -> None:
            if self.runner is not None:
                self.runner.close()
                self.runner = None

    Machine.__name__ = Machine.__qualname__ = f"{_camel(cls.name)}{_camel(variant)}Machine"
    return Machine


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def run_machine(machine: type[RuleBasedStateMachine], *, settings: Settings) -> None:
    """`run_state_machine_as_test`, minus the two source digests Hypothesis takes per run.

    Hypothesis keys its example database by a hash of the test's source: for a state machine
    it reads and parses the *class*'s source file and then the inner test function's (about
    20 ms on 3.12, most of a hunt's time to its first example, and paid again by every hunt,
    because every hunt builds a new machine class). Hunts run without a database, so the key
    is never used: this hands Hypothesis a factory with no source to hash (a `partial`
    carrying the class's `@seed`) and the database key it would compute (none), as its own
    `find()` does. Where that part of Hypothesis's API is missing, the plain call is used.
    """
    if settings.database is not None or not callable(get_state_machine_test):
        run_state_machine_as_test(machine, settings=settings)
        return
    factory: Any = functools.partial(machine)
    factory._hypothesis_internal_use_seed = getattr(machine, "_hypothesis_internal_use_seed", None)
    test: Any = get_state_machine_test(factory, settings=settings)
    test._hypothesis_internal_database_key = None
    test()
