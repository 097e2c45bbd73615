"""Turns a `Model` into a Hypothesis `RuleBasedStateMachine` that hunts its races.

One example = one object under test, built by an ``initialize`` rule inside a patched `World`,
then a sequence of steps Hypothesis chooses:

* ``sequential``: one operation on the test thread (no interleaving: it sets up state);
* ``parallel``: a round of 2..`max_workers` worker threads (drawn weighted toward more, shrunk
  toward 2), each calling 1..`max_ops_per_worker` operations, run by the controlled executor
  under a `DrawnSchedule` drawn in the same rule -- so Hypothesis shrinks the scenario and
  the interleaving together, toward fewer preemptions.

After every step the model's invariants run. A failure -- an invariant's AssertionError, an
exception escaping a worker, a deadlock, a livelock, a stuck thread -- is recorded as a
structured `Failure` and raised as `CounterexampleFound`. A crash inside the model's own code
is a `BrokenModelError` instead: a bug in the test, not a race.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from harness.failure import CounterexampleFound, Failure, Step
from harness.model import BrokenModelError, Model, ModelSpec, OpRecord
from harness.runtime.executor import DEFAULT_STUCK_AFTER, Executor, shared_executor
from harness.runtime.outcome import Deadlock, Livelock, RunResult
from harness.runtime.points import DEFAULT_GRANULARITY, check_granularity
from harness.runtime.world import _REAL_TIME, World
from harness.schedule.drawn import DrawnSchedule, ThreadPreemption
from harness.trace import Trace

_real_perf_counter = _REAL_TIME["perf_counter"]

#: Most preemptions drawn for one round (shrinking brings a real bug down to what it needs).
MAX_PREEMPTIONS = 12
#: Scheduling points per operation that a drawn preemption may target, by granularity.
POINTS_PER_OPERATION = {"gil": 48, "access": 160, "opcode": 400}
#: Scheduling points one round may take before it is called a livelock.
ROUND_MAX_STEPS = 20_000


class Observer:
    """Counts examples and keeps the failures seen, for `hunt` and the pytest plugin.

    Hypothesis re-runs the shrunk example last, so `last` is the minimal counterexample.
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


def _workers_strategy(
    max_workers: int, worker_calls: st.SearchStrategy[list[tuple[str, dict[str, Any]]]]
) -> st.SearchStrategy[list[list[tuple[str, dict[str, Any]]]]]:
    """2..max workers' calls, weighted toward more threads (more overlap), shrinking toward 2.

    A list of per-worker call lists, so that shrinking deletes whole workers.
    """
    many = max(2, max_workers - 2)
    return st.one_of(
        st.lists(worker_calls, min_size=2, max_size=max_workers),
        st.lists(worker_calls, min_size=many, max_size=max_workers),
    )


def _schedule_strategy(max_workers: int, points: int) -> st.SearchStrategy[list[ThreadPreemption]]:
    preemption = st.builds(
        ThreadPreemption,
        st.integers(0, max_workers - 1),
        st.integers(1, points),
        st.integers(0, max_workers - 2),
    )
    return st.lists(preemption, max_size=MAX_PREEMPTIONS)


def build_machine(
    spec: ModelSpec,
    variant: str,
    *,
    granularity: str = DEFAULT_GRANULARITY,
    executor: Executor | None = None,
    observer: Observer | None = None,
    stuck_after: float = DEFAULT_STUCK_AFTER,
    max_steps: int = ROUND_MAX_STEPS,
) -> type[RuleBasedStateMachine]:
    """A new state machine class testing `variant` of the model in `spec`."""
    check_granularity(granularity)
    cls: type[Model] = spec.cls
    if variant not in cls.variants:
        known = ", ".join(cls.variants)
        raise BrokenModelError(f"model {cls.name!r} has no variant {variant!r} (known: {known})")
    ops = {op.name: op for op in spec.operations}
    call = st.one_of([op.strategy() for op in spec.operations])
    worker_calls = st.lists(call, min_size=1, max_size=cls.max_ops_per_worker)
    rounds = _workers_strategy(cls.max_workers, worker_calls)
    schedules = _schedule_strategy(
        cls.max_workers, POINTS_PER_OPERATION[granularity] * cls.max_ops_per_worker
    )
    params = st.fixed_dictionaries(dict(cls.parameters))
    modules = list(cls.instrument)

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.world: World | None = None
            self.model: Model | None = None
            self.scenario: list[Step] = []
            self.seed = 0
            self.params: dict[str, Any] = {}
            if observer is not None:
                observer.example_started()

        # -- building the object under test -------------------------------------------------

        @initialize(seed=st.integers(0, 2**32 - 1), params=params)
        def build(self, seed: int, params: dict[str, Any]) -> None:
            self.seed, self.params = seed, params
            self.world = World(owner_virtual=False).__enter__()
            with self.world.virtual_time():
                try:
                    self.model = cls(variant, random.Random(seed), params)
                except Exception as exc:
                    raise BrokenModelError(
                        f"setup of model {cls.name!r} raised {type(exc).__name__}: {exc}"
                    ) from exc
            self._check_invariants(None)

        def teardown(self) -> None:
            if self.world is not None:
                self.world.__exit__(None, None, None)
                self.world = None

        # -- steps ----------------------------------------------------------------------------

        @rule(call=call)
        def sequential(self, call: tuple[str, dict[str, Any]]) -> None:
            model, world = self._ready()
            name, args = call
            self.scenario.append(Step("sequential", [[(name, args)]]))
            op = ops[name]
            with world.virtual_time():
                try:
                    result = op.call(model, None, args)
                except op.raises as exc:
                    model.history.append(OpRecord(None, name, args, None, exc))
                except Exception as exc:
                    model.history.append(OpRecord(None, name, args, None, exc))
                    self._fail(
                        "exception",
                        f"{name} raised {type(exc).__name__}: {exc}",
                        details="".join(traceback.format_exception(exc)),
                    )
                else:
                    model.history.append(OpRecord(None, name, args, result))
            self._check_invariants(None)

        @rule(calls=rounds, schedule=schedules)
        def parallel(
            self, calls: list[list[tuple[str, dict[str, Any]]]], schedule: list[ThreadPreemption]
        ) -> None:
            model, world = self._ready()
            step = Step("round", calls, schedule)
            self.scenario.append(step)
            with world.virtual_time():
                model.begin_round(len(calls))
            workers = [self._worker(model, i, c) for i, c in enumerate(calls)]
            result = (executor or shared_executor()).run(
                workers,
                DrawnSchedule(schedule),
                granularity=granularity,
                modules=modules,
                max_steps=max_steps,
                stuck_after=stuck_after,
            )
            step.preemptions = result.preemptions
            step.steps = result.steps
            if result.hang is not None:
                kind = (
                    "deadlock"
                    if isinstance(result.hang, Deadlock)
                    else "livelock"
                    if isinstance(result.hang, Livelock)
                    else "stuck"
                )
                self._fail(kind, result.hang.describe().split("\n")[0], result,
                           details=result.hang.describe())
            with world.virtual_time():
                model.end_round()
            if result.errors:
                err = result.errors[0]
                exc = err.exception
                self._fail(
                    "exception",
                    f"worker {err.thread} raised {type(exc).__name__}: {exc}",
                    result,
                    details=err.traceback,
                )
            self._check_invariants(result)

        # -- helpers --------------------------------------------------------------------------

        def _ready(self) -> tuple[Model, World]:
            assert self.model is not None and self.world is not None, "initialize did not run"
            return self.model, self.world

        @staticmethod
        def _worker(
            model: Model, worker: int, calls: list[tuple[str, dict[str, Any]]]
        ) -> Callable[[], None]:
            def body() -> None:
                for name, args in calls:
                    op = ops[name]
                    try:
                        result = op.call(model, worker, args)
                    except op.raises as exc:
                        model.history.append(OpRecord(worker, name, args, None, exc))
                    except BaseException as exc:
                        model.history.append(OpRecord(worker, name, args, None, exc))
                        raise
                    else:
                        model.history.append(OpRecord(worker, name, args, result))

            return body

        def _check_invariants(self, result: RunResult | None) -> None:
            model, world = self._ready()
            with world.virtual_time():
                for inv in spec.invariants:
                    try:
                        inv.func(model)
                    except AssertionError as exc:
                        self._fail("invariant", str(exc) or inv.doc or inv.name, result,
                                   invariant=inv.name)
                    except Exception as exc:
                        raise BrokenModelError(
                            f"invariant {inv.name} of model {cls.name!r} raised "
                            f"{type(exc).__name__} (not AssertionError): {exc}"
                        ) from exc

        def _fail(
            self,
            kind: str,
            message: str,
            result: RunResult | None = None,
            *,
            invariant: str | None = None,
            details: str = "",
        ) -> None:
            failure = Failure(
                kind=kind,
                message=message,
                model=cls.name,
                variant=variant,
                granularity=granularity,
                scenario=list(self.scenario),
                invariant=invariant,
                trace=result.trace if result is not None else Trace(),
                seed=self.seed,
                params=dict(self.params),
                details=details,
            )
            if observer is not None:
                observer.failed(failure)
            raise CounterexampleFound(failure)

    Machine.__name__ = Machine.__qualname__ = f"{_camel(cls.name)}{_camel(variant)}Machine"
    return Machine


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))
