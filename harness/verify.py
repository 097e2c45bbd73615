"""`harness verify`: every small scenario, every schedule up to a preemption bound.

A hunt samples; verification enumerates. Scenarios have Lincheck's shape -- optional
sequential set-up calls, then one parallel round of W workers x C calls, the model's
invariants and linearizability checked after -- over a small argument domain per operation
(`Operation.domain` if the model declares one, else each strategy's simplest few values).
When no operation takes ``worker``, workers are interchangeable and rounds that differ only
in the order of their workers are run once. Each scenario is then exhausted with bounded DFS
and partial-order reduction (`harness.schedule.dfs`); a failure comes with the fewest
preemptions the bound allows; every schedule starts from a fresh model.

Verdicts: ``verified`` (every scenario exhausted up to the bound, no failure),
``counterexample`` (the first failure, minimised as hunts minimise), or ``clean`` when a
budget ended the search first or the strategy samples (PCT) -- evidence, never a proof.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

from hypothesis.errors import HypothesisException

from harness.draws import find
from harness.errors import BrokenModelError, UsageError
from harness.failure import Call, CounterexampleFound, Failure
from harness.minimize import minimize, same_bug
from harness.model import Model, ModelSpec, Operation
from harness.runtime.clock import real_perf_counter
from harness.runtime.heap import frozen_heap
from harness.scenario import ScenarioRunner, replay_failure
from harness.schedule.base import CountingSource
from harness.schedule.dfs import REDUCTIONS, ScheduleDiverged, exhaust
from harness.schedule.pct import PCTSchedule, pct_guarantee
from harness.settings import DEFAULT_BOUND, DEFAULTS, VERIFY_STRATEGIES, Settings

STRATEGIES = VERIFY_STRATEGIES
DEFAULT_DOMAIN_SIZE = 2
#: PCT runs per scenario when verifying with ``--strategy pct``.
DEFAULT_PCT_RUNS = 100
_PLAIN = (int, float, str, bytes, bool, type(None))


class NoFiniteDomainError(UsageError):
    """An operation argument has no declared domain and none can be derived from its
    strategy (the message names the operation and the argument)."""


@dataclass(frozen=True)
class Scenario:
    """Sequential set-up calls, then one parallel round (one call list per worker)."""

    setup: tuple[Call, ...]
    round: tuple[tuple[Call, ...], ...]

    def describe(self) -> str:
        def text(call: Call) -> str:
            name, args = call
            return f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"

        parts = [f"setup: {'; '.join(text(c) for c in self.setup)}"] if self.setup else []
        parts += [f"worker {i}: {'; '.join(text(c) for c in w)}" for i, w in enumerate(self.round)]
        return " | ".join(parts)


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (tuple, list, frozenset)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


def simplest_values(strategy: Any, size: int, what: str) -> list[Any]:
    """The `size` simplest distinct values of `strategy`, in Hypothesis's order (fewer if it
    has fewer). Raises `NoFiniteDomainError` when they are not plain data."""
    values: list[Any] = []
    for _ in range(size):
        try:
            value = find(strategy, lambda v: v not in values)
        except HypothesisException:
            break
        except Exception as exc:
            raise NoFiniteDomainError(
                f"{what}: its strategy cannot be searched for simple values "
                f"({type(exc).__name__}: {exc}); declare @operation(domain=...)"
            ) from None
        if not _plain(value):
            raise NoFiniteDomainError(
                f"{what}: no finite domain (its strategy's values, such as {value!r}, are not "
                "plain data); declare one with @operation(domain={...})"
            )
        values.append(value)
    if not values:
        raise NoFiniteDomainError(
            f"{what}: its strategy produced no value; declare @operation(domain={{...}})"
        )
    return values


def call_domain(spec: ModelSpec, size: int = DEFAULT_DOMAIN_SIZE) -> list[Call]:
    """Every call verify tries: each drawn operation with every combination of argument
    values (a plain class's other methods, callable only from a saved file, are not)."""
    calls: list[Call] = []
    for op in spec.operations:
        if not op.drawn:
            continue
        names = sorted(set(op.strategies) | set(op.domain))
        domains = [_domain(spec, op, name, size) for name in names]
        for combo in itertools.product(*domains):
            calls.append((op.name, dict(zip(names, combo, strict=True))))
    return calls


def _domain(spec: ModelSpec, op: Operation, name: str, size: int) -> list[Any]:
    if name in op.domain:
        return list(op.domain[name])
    what = f"model {spec.name!r}: operation {op.name} argument {name!r}"
    return simplest_values(op.strategies[name], size, what)


def default_params(spec: ModelSpec) -> dict[str, Any]:
    """The simplest value of every model parameter (verify checks one configuration)."""
    return {
        name: simplest_values(strategy, 1, f"model {spec.name!r}: parameter {name!r}")[0]
        for name, strategy in spec.cls.parameters.items()
    }


def symmetric(spec: ModelSpec) -> bool:
    """Workers are interchangeable unless an operation is told which worker calls it."""
    return not any(op.takes_worker for op in spec.operations)


def scenarios(
    spec: ModelSpec,
    *,
    workers: int = 2,
    calls: int = 2,
    setup: int = 0,
    size: int = DEFAULT_DOMAIN_SIZE,
    values: bool = True,
) -> list[Scenario]:
    """Every scenario of the shape, deduplicated by worker symmetry where it holds and, with
    `values`, by the model's interchangeable argument values (`one_per_family`)."""
    found = _every_scenario(spec, workers, calls, setup, size)
    return one_per_family(spec, found) if values else found


def _every_scenario(
    spec: ModelSpec, workers: int, calls: int, setup: int, size: int
) -> list[Scenario]:
    domain = call_domain(spec, size)
    sequences = [tuple(s) for s in itertools.product(domain, repeat=calls)]
    index = {id(s): i for i, s in enumerate(sequences)}
    if symmetric(spec):
        rounds: Iterator[tuple[tuple[Call, ...], ...]] = itertools.combinations_with_replacement(
            sequences, workers
        )
    else:
        rounds = itertools.product(sequences, repeat=workers)
    rounds_list = sorted(rounds, key=lambda r: [index[id(w)] for w in r])
    found: list[Scenario] = []
    for n in range(setup + 1):
        for prelude in itertools.product(domain, repeat=n):
            found.extend(Scenario(tuple(prelude), r) for r in rounds_list)
    return found


def one_per_family(spec: ModelSpec, found: list[Scenario]) -> list[Scenario]:
    """The first scenario of each family that renaming the values of the model's
    `interchangeable` arguments (the same permutation everywhere in a scenario) makes of
    one another, in enumeration order; worker order counts as `symmetric` says."""
    names = tuple(spec.cls.interchangeable)
    if not names:
        return found
    positions = {name: _positions(found, name) for name in names}
    renamings = [
        dict(zip(names, choice, strict=True))
        for choice in itertools.product(
            *(list(itertools.permutations(range(len(positions[n])))) for n in names)
        )
    ]
    workers_alike = symmetric(spec)
    seen: set[Any] = set()
    kept: list[Scenario] = []
    for scenario in found:
        family = min(_form(scenario, positions, r, workers_alike) for r in renamings)
        if family not in seen:
            seen.add(family)
            kept.append(scenario)
    return kept


def _positions(found: list[Scenario], name: str) -> dict[str, int]:
    """The distinct values argument `name` takes, as reprs (plain data: reprs are exact),
    numbered in sorted order."""
    values = {
        repr(args[name])
        for scenario in found
        for _op, args in (*scenario.setup, *(c for worker in scenario.round for c in worker))
        if name in args
    }
    return {value: i for i, value in enumerate(sorted(values))}


def _form(
    scenario: Scenario,
    positions: dict[str, dict[str, int]],
    renaming: dict[str, tuple[int, ...]],
    workers_alike: bool,
) -> Any:
    """`scenario` with interchangeable values renamed, as a comparable value."""

    def call(c: Call) -> Any:
        op, args = c
        return (
            op,
            tuple(
                (k, renaming[k][positions[k][repr(v)]] if k in renaming else repr(v))
                for k, v in sorted(args.items())
            ),
        )

    workers = [tuple(call(c) for c in w) for w in scenario.round]
    return (
        tuple(call(c) for c in scenario.setup),
        tuple(sorted(workers) if workers_alike else workers),
    )


def run_scenario(
    spec: ModelSpec,
    variant: str,
    scenario: Scenario,
    decisions: CountingSource,
    *,
    params: dict[str, Any],
    settings: Settings = DEFAULTS,
    inspect: Callable[[ScenarioRunner], Any] | None = None,
) -> tuple[Failure | None, Any]:
    """One execution of `scenario` on a fresh model under `decisions` (values not captured):
    the failure, if any, and `inspect(runner)` afterwards (when it did not fail: the model is
    `runner.model`, the calls made `runner.history`)."""
    try:
        with ScenarioRunner(
            spec, variant, seed=0, params=params, settings=settings.searching()
        ) as runner:
            for call in scenario.setup:
                runner.sequential(call)
            runner.parallel([list(w) for w in scenario.round], [], decisions=decisions)
            return None, inspect(runner) if inspect is not None else None
    except CounterexampleFound as found:
        return found.failure, None


@dataclass
class VerifyResult:
    """What `verify` found, in the terms `harness verify` prints."""

    model: str
    variant: str
    strategy: str
    bound: int | None
    workers: int
    calls: int
    setup: int
    verdict: str  # "verified" | "counterexample" | "clean"
    scenarios: int
    scenarios_done: int
    schedules: int
    pruned: int
    seconds: float
    failure: Failure | None = None
    failing_scenario: Scenario | None = None
    preemptions: int | None = None
    reason: str = ""
    pct_depth: int | None = None
    pct_guarantee: float | None = None
    expected_failure: bool = False
    per_scenario: list[dict[str, Any]] = field(default_factory=list)
    #: The model's interchangeable arguments the scenarios were reduced by, and how many
    #: scenarios there were before (None: not reduced).
    interchangeable: tuple[str, ...] = ()
    scenarios_unreduced: int | None = None

    @property
    def coverage(self) -> float:
        return self.scenarios_done / self.scenarios if self.scenarios else 1.0

    def _families(self) -> str:
        """How the scenarios were counted, when the model's symmetry reduced them."""
        if self.scenarios_unreduced is None:
            return ""
        return (
            f" (one per renaming of {', '.join(self.interchangeable)}: "
            f"{self.scenarios_unreduced:,} without)"
        )

    def summary(self) -> str:
        bound = "unbounded" if self.bound is None else f"bound {self.bound}"
        seconds = f"{self.seconds:.1f} s"
        if self.verdict == "verified":
            return (
                f"verified: {self.scenarios:,} scenarios{self._families()}, "
                f"{self.schedules:,} schedules ({self.pruned:,} pruned), {bound}, no failure, "
                f"{seconds}"
            )
        if self.verdict == "counterexample":
            return (
                f"counterexample: {self.failure.headline() if self.failure else '?'} "
                f"(after {self.schedules:,} schedules, {self.preemptions} preemption(s), "
                f"{seconds})"
            )
        return (
            f"clean: {self.scenarios_done:,} of {self.scenarios:,} scenarios{self._families()}, "
            f"{self.schedules:,} schedules, no failure, {seconds} -- {self.reason}"
        )

    def to_json(self) -> dict[str, Any]:
        failure = self.failure
        return {
            "model": self.model,
            "variant": self.variant,
            "strategy": self.strategy,
            "verdict": self.verdict,
            "bound": self.bound,
            "workers": self.workers,
            "calls": self.calls,
            "setup": self.setup,
            "scenarios": self.scenarios,
            "scenarios_done": self.scenarios_done,
            "interchangeable": list(self.interchangeable),
            "scenarios_unreduced": self.scenarios_unreduced,
            "schedules": self.schedules,
            "pruned": self.pruned,
            "seconds": round(self.seconds, 4),
            "reason": self.reason or None,
            "expected_failure": self.expected_failure,
            "pct": None
            if self.pct_depth is None
            else {"depth": self.pct_depth, "guarantee_per_run": self.pct_guarantee},
            "failure": None
            if failure is None
            else {
                "kind": failure.kind,
                "invariant": failure.invariant,
                "message": failure.message,
                "preemptions": self.preemptions,
                "scenario": self.failing_scenario.describe() if self.failing_scenario else None,
                "artifact": None,
            },
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class Plan:
    """What one verification enumerates and how far: the scenario shape, the strategy and
    its budget. Checked when built (`UsageError` names the bad value)."""

    bound: int | None = DEFAULT_BOUND
    workers: int = 2
    calls: int = 2
    setup: int = 0
    strategy: str = "dfs"
    reduction: str = "dpor"
    domain_size: int = DEFAULT_DOMAIN_SIZE
    max_schedules: int | None = None
    max_seconds: float | None = None
    depth: int = 2
    pct_runs: int = DEFAULT_PCT_RUNS
    #: One scenario per renaming of the model's interchangeable values (False: all).
    symmetry: bool = True

    def __post_init__(self) -> None:
        bound = self.bound
        if bound is not None and (not isinstance(bound, int) or bound < 0):
            raise UsageError(f"bound must be a non-negative integer, got {bound!r}")
        workers, calls, setup = self.workers, self.calls, self.setup
        if not isinstance(workers, int) or workers < 2:
            raise UsageError(f"workers must be at least 2 (a round races threads), got {workers!r}")
        if not isinstance(calls, int) or calls < 1:
            raise UsageError(f"calls must be at least 1, got {calls!r}")
        if not isinstance(setup, int) or setup < 0:
            raise UsageError(f"setup must be a non-negative number of calls, got {setup!r}")
        if self.strategy not in STRATEGIES:
            raise UsageError(
                f"unknown strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}"
            )
        if self.reduction not in REDUCTIONS:
            raise UsageError(
                f"unknown reduction {self.reduction!r}: choose one of {', '.join(REDUCTIONS)}"
            )
        if self.max_schedules is not None and self.max_schedules < 1:
            raise UsageError(f"max_schedules must be at least 1, got {self.max_schedules!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise UsageError(f"max_seconds must be positive, got {self.max_seconds!r}")


Progress = Callable[[int, int, int, float], None]


def verify_spec(
    spec: ModelSpec,
    variant: str,
    settings: Settings = DEFAULTS,
    *,
    progress: Progress | None = None,
    **plan: Any,
) -> VerifyResult:
    """Verify one variant; see the module docstring. `plan` holds the fields of `Plan`
    (bound, workers, calls, strategy...); bad values raise `UsageError`."""
    shape = Plan(**plan)
    if shape.workers > spec.cls.max_workers:
        raise UsageError(
            f"model {spec.name!r} allows at most {spec.cls.max_workers} workers, "
            f"got {shape.workers}"
        )
    every = _every_scenario(spec, shape.workers, shape.calls, shape.setup, shape.domain_size)
    todo = one_per_family(spec, every) if shape.symmetry else every
    reduced = shape.symmetry and bool(spec.cls.interchangeable)
    result = VerifyResult(
        model=spec.name,
        variant=variant,
        strategy=shape.strategy,
        bound=shape.bound,
        workers=shape.workers,
        calls=shape.calls,
        setup=shape.setup,
        verdict="verified",
        scenarios=len(todo),
        scenarios_done=0,
        schedules=0,
        pruned=0,
        seconds=0.0,
        expected_failure=variant in spec.cls.expect_failure,
        pct_depth=shape.depth if shape.strategy == "pct" else None,
        interchangeable=tuple(spec.cls.interchangeable) if reduced else (),
        scenarios_unreduced=len(every) if reduced else None,
    )
    _Verification(spec, variant, settings, shape, result, progress).run(todo)
    if result.verdict == "verified" and result.scenarios_done < len(todo):
        result.verdict = "clean"
        share = math.floor(100 * result.coverage)
        result.reason = f"bound not exhausted: {share}% of scenarios"
    elif result.verdict == "verified" and shape.strategy == "pct":
        result.verdict = "clean"
        result.reason = (
            f"PCT samples: {shape.pct_runs} runs per scenario at depth {shape.depth}, each "
            f"finding a depth-{shape.depth} bug with probability >= {result.pct_guarantee:.2g}"
        )
    return result


class _Verification:
    """One verification's run through its scenarios, counting into its `VerifyResult`."""

    def __init__(
        self,
        spec: ModelSpec,
        variant: str,
        settings: Settings,
        plan: Plan,
        result: VerifyResult,
        progress: Progress | None,
    ) -> None:
        self.spec, self.variant, self.plan, self.result = spec, variant, plan, result
        self.settings = replace(settings, executor=settings.pool())
        self.progress = progress
        self.params = default_params(spec)
        self.started = real_perf_counter()
        self.deadline = None if plan.max_seconds is None else self.started + plan.max_seconds

    def out_of_time(self) -> bool:
        return self.deadline is not None and real_perf_counter() >= self.deadline

    def run(self, todo: list[Scenario]) -> None:
        """Each scenario in turn until one fails, the budget ends or a bound is not
        exhausted; the failure found is minimised and replayed with values."""
        result, plan = self.result, self.plan
        with self.settings.pool().pinned(), frozen_heap():
            for scenario in todo:
                left = None if plan.max_schedules is None else plan.max_schedules - result.schedules
                if (left is not None and left <= 0) or self.out_of_time():
                    break
                failure, preemptions, complete = self.scenario(scenario, left)
                if failure is not None:
                    result.verdict = "counterexample"
                    result.failing_scenario = scenario
                    result.preemptions = preemptions
                    result.failure = _final(self.spec, failure, self.settings)
                    result.scenarios_done += 1
                    break
                if not complete:
                    break
                result.scenarios_done += 1
                if self.progress is not None:
                    elapsed = real_perf_counter() - self.started
                    self.progress(result.scenarios_done, len(todo), result.schedules, elapsed)
        result.seconds = real_perf_counter() - self.started

    def scenario(
        self, scenario: Scenario, left: int | None
    ) -> tuple[Failure | None, int | None, bool]:
        """Explore one scenario's schedules: (failure, its preemptions, all explored)."""
        result, plan = self.result, self.plan

        def run_one(decisions: CountingSource) -> Any:
            found, _ = run_scenario(
                self.spec,
                self.variant,
                scenario,
                decisions,
                params=self.params,
                settings=self.settings,
            )
            return found

        try:
            if plan.strategy == "dfs":
                done = exhaust(
                    run_one,
                    bound=plan.bound,
                    reduction=plan.reduction,
                    max_schedules=left,
                    out_of_time=self.out_of_time,
                )
                result.schedules += done.schedules
                result.pruned += done.pruned + done.redundant
                return done.failure, done.failing_preemptions, done.exhausted
            failure, preemptions, complete, runs, steps = _pct(
                run_one, plan.depth, plan.pct_runs, plan.workers, left, self.out_of_time
            )
        except ScheduleDiverged as exc:
            raise BrokenModelError(f"model {self.spec.name!r}: {exc}") from None
        result.schedules += runs
        guarantee = pct_guarantee(plan.workers, steps, plan.depth)
        if result.pct_guarantee is None or guarantee < result.pct_guarantee:
            result.pct_guarantee = guarantee
        return failure, preemptions, complete


def _pct(
    run_one: Callable[[CountingSource], Any],
    depth: int,
    runs: int,
    workers: int,
    left: int | None,
    out_of_time: Callable[[], bool],
) -> tuple[Failure | None, int | None, bool, int, int]:
    """PCT runs of one scenario: (failure, its preemptions, all runs done, runs, steps)."""
    steps = 0
    done = 0
    for seed in range(runs):
        if (left is not None and done >= left) or out_of_time():
            return None, None, False, done, steps
        schedule = PCTSchedule(seed, threads=workers, depth=depth, steps=max(steps, 1))
        failure = run_one(schedule)
        done += 1
        steps = max(steps, schedule.steps_seen)
        if failure is not None:
            race = failure.race
            return failure, len(race.taken) if race else None, True, done, steps
    return None, None, True, done, steps


def _final(spec: ModelSpec, failure: Failure, settings: Settings) -> Failure:
    """Minimise as a hunt does, then replay once more recording keys and values."""
    if settings.shrink:
        failure = minimize(spec, failure, settings)
    again = replay_failure(spec, failure, replace(settings, capture=True))
    if again is None or not same_bug(again, failure):
        raise BrokenModelError(
            f"model {spec.name!r} is not deterministic: its counterexample did not fail the same "
            "way when replayed"
        )
    return again


def verify(model: str | type[Model], variant: str | None = None, **options: Any) -> VerifyResult:
    """Verify one variant (the model's default one if none is given). `options` are the
    fields of `Plan` and of `harness.settings.Settings` (granularity, shrink...), and
    `progress`."""
    from harness.hunt import resolve

    spec, variants = resolve(model, variant)
    chosen = variants[0] if len(variants) == 1 else spec.cls.default_variant()
    settings, plan = _split(options)
    return verify_spec(spec, chosen, settings, **plan)


def _split(options: dict[str, Any]) -> tuple[Settings, dict[str, Any]]:
    """Settings from the options that name one (``strategy`` is verify's own, a `Plan`
    field); the rest for `verify_spec`."""
    knobs = {k: v for k, v in options.items() if k in _SETTINGS and k not in _PLAN}
    return Settings(**knobs), {k: v for k, v in options.items() if k not in knobs}


_SETTINGS = frozenset(f.name for f in fields(Settings))
_PLAN = frozenset(f.name for f in fields(Plan))

__all__ = [
    "STRATEGIES",
    "NoFiniteDomainError",
    "Plan",
    "Scenario",
    "VerifyResult",
    "call_domain",
    "one_per_family",
    "run_scenario",
    "scenarios",
    "simplest_values",
    "verify",
    "verify_spec",
]
