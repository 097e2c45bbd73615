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
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from hypothesis import settings as HypothesisSettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    rule,
    run_state_machine_as_test,
)

from harness import interrupts, progress
from harness.draws import stable_draws
from harness.errors import BrokenModelError
from harness.evidence import Coverage
from harness.failure import Call, CounterexampleFound, Failure
from harness.model import Model, ModelSpec
from harness.runtime.clock import real_perf_counter
from harness.runtime.outcome import RunResult
from harness.scenario import ScenarioRunner
from harness.schedule.drawn import ThreadPreemption
from harness.schedule.pct import PCTSchedule
from harness.settings import DEFAULTS, HUNT_STRATEGIES, Settings

#: Most explicit preemptions drawn for one round.
MAX_PREEMPTIONS = 8
#: Scheduling points per operation that an explicit preemption may target, by granularity
#: (measured on the Backoffer: 27 / 119 / 260 per backoff call); a model can override it.
POINTS_PER_OPERATION = {"gil": 32, "access": 128, "opcode": 288}
#: Noise switches at about one point in `rate`.
NOISE_RATES = (4, 8, 16)

Schedule = tuple[list[ThreadPreemption], tuple[int, int] | None]

__all__ = ["HUNT_STRATEGIES", "Observer", "build_machine", "release_machine", "run_machine"]

#: Preemptions a round explores under the ``dfs`` strategy (see `HUNT_STRATEGIES`).
HUNT_DFS_BOUND = 2
#: Schedules one round may take under ``dfs`` before the hunt moves on (an unfinished round
#: is run once more without preemptions so that the scenario goes on).
HUNT_DFS_MAX_SCHEDULES = 50
HUNT_PCT_DEPTH = 2


class Observer:
    """Counts examples and keeps the failures seen, for `hunt` and the pytest plugin.

    Hypothesis re-runs the shrunk example last, so `last` is its minimal counterexample.
    """

    def __init__(self, on_first: Callable[[Failure], None] | None = None) -> None:
        self.started = real_perf_counter()
        self.examples = 0
        self.first: Failure | None = None
        self.first_example: int | None = None
        self.first_seconds: float | None = None
        self.last: Failure | None = None
        self.coverage = Coverage()
        self._on_first = on_first

    def example_started(self) -> None:
        interrupts.check()
        self.examples += 1
        progress.example_done()

    def round_ran(self, result: RunResult) -> None:
        interrupts.check()
        self.coverage.add(result)

    def failed(self, failure: Failure) -> None:
        progress.failure_found()
        if self.first is None:
            self.first = failure
            self.first_example = self.examples
            self.first_seconds = real_perf_counter() - self.started
            if self._on_first is not None:
                self._on_first(failure)
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


class ScenarioStrategies(NamedTuple):
    """What one example of a model is drawn from; shared by every engine, so that the
    controlled and the stress engine explore the same scenarios."""

    call: st.SearchStrategy[Call]
    rounds: st.SearchStrategy[list[list[Call]]]
    schedules: st.SearchStrategy[Schedule]
    params: st.SearchStrategy[dict[str, Any]]


def scenario_strategies(spec: ModelSpec, granularity: str) -> ScenarioStrategies:
    """One call, one parallel round, one schedule and the example's parameters of `spec`."""
    cls: type[Model] = spec.cls
    call = st.one_of([op.strategy() for op in spec.operations])
    rounds = round_strategy(
        cls.max_workers, st.lists(call, min_size=1, max_size=cls.max_ops_per_worker)
    )
    per_op = cls.points_per_operation.get(granularity, POINTS_PER_OPERATION[granularity])
    schedules = schedule_strategy(cls.max_workers, per_op * cls.max_ops_per_worker)
    params = st.fixed_dictionaries(dict(cls.parameters))
    return ScenarioStrategies(call, rounds, schedules, params)


@dataclass
class _Context:
    """What one hunt hands its (shared) machine class: set by `build_machine` before each run."""

    observer: Observer | None = None
    settings: Settings = DEFAULTS


#: Machine classes kept across hunts, per (model class, variant, granularity), at most this
#: many. Why not a new class per hunt: Hypothesis keeps per-class state for every state
#: machine class it has run (`RuleBasedStateMachine._setup_state_per_class`, a cache of rule
#: strategies), which held every hunt's class -- and through its closures the hunt's
#: `Observer` and failures -- for the life of the process (about 115 KB a hunt). A reused
#: class also reuses its strategies, which Hypothesis validates on first use (~3 ms).
_MACHINE_CACHE_SIZE = 64
_machines: dict[
    tuple[type[Model], str, str, str], tuple[type[RuleBasedStateMachine], _Context]
] = {}


def build_machine(
    spec: ModelSpec,
    variant: str,
    settings: Settings = DEFAULTS,
    *,
    observer: Observer | None = None,
) -> type[RuleBasedStateMachine]:
    """The state machine class testing `variant` of the model in `spec`, set up for one hunt.

    The class is shared by every hunt of the same model, variant, granularity and strategy
    (see `_machines`); this call points it at `observer` and `settings` (which the examples
    run without value capture), so one hunt at a time may run it (as one World at a time may
    be active anyway).
    """
    granularity, strategy = settings.granularity, settings.strategy
    cls: type[Model] = spec.cls
    if variant not in cls.variants:
        known = ", ".join(cls.variants)
        raise BrokenModelError(f"model {cls.name!r} has no variant {variant!r} (known: {known})")
    key = (cls, variant, granularity, strategy)
    cached = _machines.get(key)
    if cached is None:
        if len(_machines) >= _MACHINE_CACHE_SIZE:
            _machines.pop(next(iter(_machines)))
        cached = _machines[key] = _new_machine(spec, variant, granularity, strategy)
    machine, context = cached
    context.observer, context.settings = observer, settings.searching()
    return machine


def run_round(
    runner: ScenarioRunner, strategy: str, calls: list[list[Call]], schedule: Schedule
) -> ScenarioRunner:
    """Run a drawn round under `strategy` (see `HUNT_STRATEGIES`); the runner the scenario
    goes on in (``dfs`` explores on copies and hands back a fresh one)."""
    if strategy == "random":
        runner.parallel(calls, *_fit(schedule, len(calls)))
    elif strategy == "pct":
        pct_round(runner, calls, schedule)
    else:
        runner, taken, forced = dfs_round(runner, calls)
        try:
            runner.parallel(calls, taken, forced=forced)
        except BaseException:
            runner.close()  # the caller still holds the closed runner it passed in
            raise
    return runner


def _new_machine(
    spec: ModelSpec, variant: str, granularity: str, strategy: str
) -> tuple[type[RuleBasedStateMachine], _Context]:
    cls = spec.cls
    draws = scenario_strategies(spec, granularity)
    context = _Context()

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.runner: ScenarioRunner | None = None
            if context.observer is not None:
                context.observer.example_started()

        @initialize(
            seed=st.integers(0, 2**32 - 1),
            params=draws.params,
            prelude=st.lists(draws.call, max_size=2),
            calls=draws.rounds,
            schedule=draws.schedules,
        )
        def build(
            self,
            seed: int,
            params: dict[str, Any],
            prelude: list[Call],
            calls: list[list[Call]],
            schedule: Schedule,
        ) -> None:
            observer = context.observer
            self.runner = ScenarioRunner(
                spec,
                variant,
                seed=seed,
                params=params,
                settings=context.settings,
                on_failure=observer.failed if observer is not None else None,
                on_round=observer.round_ran if observer is not None else None,
            )
            for one in prelude:
                self.runner.sequential(one)
            self.runner = run_round(self.runner, strategy, calls, schedule)

        @rule(call=draws.call)
        def sequential(self, call: Call) -> None:
            assert self.runner is not None
            self.runner.sequential(call)

        @rule(calls=draws.rounds, schedule=draws.schedules)
        def parallel(self, calls: list[list[Call]], schedule: Schedule) -> None:
            assert self.runner is not None
            self.runner = run_round(self.runner, strategy, calls, schedule)

        def teardown(self) -> None:
            if self.runner is not None:
                self.runner.close()
                self.runner = None

    Machine.__name__ = Machine.__qualname__ = f"{_camel(cls.name)}{_camel(variant)}Machine"
    return Machine, context


def release_machine(machine: type[RuleBasedStateMachine]) -> None:
    """Forget the hunt a shared machine class was set up for (its observer, its executor)."""
    for cached, context in _machines.values():
        if cached is machine:
            context.observer, context.settings = None, DEFAULTS


def pct_round(runner: ScenarioRunner, calls: list[list[Call]], schedule: Schedule) -> None:
    """Run a drawn round under PCT, seeded from the drawn schedule (so Hypothesis still
    varies it, and replays it exactly)."""
    seed = random.Random(repr(schedule)).getrandbits(32)
    steps = max(1, sum(len(c) for c in calls) * 32)
    pct = PCTSchedule(seed, threads=len(calls), depth=HUNT_PCT_DEPTH, steps=steps)
    runner.parallel(calls, [], decisions=pct)


def dfs_round(
    runner: ScenarioRunner, calls: list[list[Call]]
) -> tuple[ScenarioRunner, list[ThreadPreemption], list[tuple[int, int]]]:
    """Explore a drawn round's schedules up to `HUNT_DFS_BOUND` preemptions.

    Stateless, like `harness.verify`: `runner` is closed (one World at a time), every schedule
    runs on a fresh copy of the scenario so far, and the copy returned has the scenario
    replayed, ready to run the round under the schedule returned: the first failing one, or
    none (no preemption) when every schedule passed.
    """
    # Here, not at the top: the race analysis is a few ms of every CLI start that never uses it.
    from harness.schedule.dfs import DfsSchedule, exhaust

    prior = list(runner.scenario)
    runner.close()

    def fresh(on_failure: Any = None) -> ScenarioRunner:
        copy = ScenarioRunner(
            runner.spec,
            runner.variant,
            seed=runner.seed,
            params=runner.params,
            settings=runner.settings.searching(),
            on_failure=on_failure,
        )
        try:
            for step in prior:
                copy.run_step(step)
        except BaseException:
            copy.close()
            raise
        return copy

    def run_one(decisions: DfsSchedule) -> Failure | None:
        try:
            with fresh() as copy:
                copy.parallel(calls, [], decisions=decisions)
        except CounterexampleFound as found:
            return found.failure
        return None

    done = exhaust(run_one, bound=HUNT_DFS_BOUND, max_schedules=HUNT_DFS_MAX_SCHEDULES)
    race = done.failure.race if done.failure is not None else None
    taken = [ThreadPreemption(*p[1:]) for p in race.taken] if race is not None else []
    return fresh(runner.on_failure), taken, list(race.forced) if race is not None else []


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


# Typed aliases: older Hypothesis releases ship these functions without annotations.
_run_as_test: Callable[..., None] = run_state_machine_as_test
_machine_test: Callable[..., Any] = get_state_machine_test


def run_machine(machine: type[RuleBasedStateMachine], *, settings: HypothesisSettings) -> None:
    """`run_state_machine_as_test`, minus the two source digests Hypothesis takes per run.

    Hypothesis keys its example database by a hash of the test's source: for a state machine
    it reads and parses the *class*'s source file and then the inner test function's (about
    20 ms on 3.12, most of a hunt's time to its first example, and paid again by every hunt,
    because every hunt builds a new machine class). Hunts run without a database, so the key
    is never used: this hands Hypothesis a factory with no source to hash (a `partial`
    carrying the class's `@seed`) and the database key it would compute (none), as its own
    `find()` does. Where that part of Hypothesis's API is missing, the plain call is used.
    """
    with stable_draws():  # no constants from whatever the process has imported
        if settings.database is not None or not callable(get_state_machine_test):
            _run_as_test(machine, settings=settings)
            return
        factory: Any = functools.partial(machine)
        factory._hypothesis_internal_use_seed = getattr(
            machine, "_hypothesis_internal_use_seed", None
        )
        test: Any = _machine_test(factory, settings=settings)
        test._hypothesis_internal_database_key = None
        test()
