"""`explore`: a fixed scenario of plain callables, its schedules searched.

Not every concurrency question is a class with methods to draw. Often it is one concrete
scenario -- "two transfers in opposite directions on this bank" -- written as functions::

    harness.explore(
        setup=lambda: Bank(2),
        workers=[lambda b: b.transfer(0, 1, 5), lambda b: b.transfer(1, 0, 5)],
        invariant=lambda b: sum(b.balances) == 200,
    )

The scenario is fixed: each example builds a fresh object with `setup`, runs one parallel
round in which worker thread i calls ``workers[i](obj)`` once, and checks `invariant(obj)`
after it (and after `setup`, where a failure is a broken scenario). Only the schedule
varies. The verdicts (`harness.verdict`), the reporter (`harness.report`), the artifacts and
their replay are a hunt's, because the scenario becomes a `Model` (`explore_spec`): one
operation per worker, the object built in `setup`, the invariant as its one invariant.

Schedules, by `strategy`:

* ``random`` (default): the first example runs the workers one after another (a bug that
  needs no preemption shows there, minimal), then each example switches threads at random,
  with probability 1/2, 1/4, ... 1/32 per point in turn (`NOISE_RATES`): dense switching
  splits short critical sections, sparse switching lets one thread run far before the other
  starts;
* ``pct``: PCT runs of depth 2 (`harness.schedule.pct`), one seed per example;
* ``dfs``: every schedule with at most `bound` preemptions (a failure with the fewest), with
  partial-order reduction (`harness.schedule.dfs`); `max_examples` caps the schedules. When
  the bound is exhausted without a failure the result says so (`ExploreResult.exhausted`).

Shrinking keeps the scenario and minimises the schedule: a failure found by random switching
or PCT has its switches removed one at a time while it still fails the same way, and then
every schedule with fewer preemptions than remain is searched (bounded DFS, at most
`SHRINK_SCHEDULES` schedules), so the counterexample shown has the fewest preemptions that
scenario needs. A DFS failure has them already.

What is instrumented by default (`instrument=None`), so that `explore` needs no module names:

* the package of the object `setup` returns (its class's top-level package, as for a plain
  class: `harness.plain.default_instrument`), found by calling `setup` once in a patched
  world before the search;
* the modules the setup and worker callables are defined in (each exactly, not its package):
  a lambda's own reads and writes (``lambda c: c.__setitem__(k, c[k] + 1)``) can race too.

Modules with no Python source (builtins, a REPL's ``__main__``) and the ones the harness
controls (`threading`, `queue`, ...) are left out; an explore that instruments nothing is
allowed, and ends `not-tested` when no two workers ever interleave inside instrumented code.
Callables defined anywhere but the module of the object's class (a test's lambdas) count as
the scenario's own code when an exception is blamed: a NameError in a lambda is a broken
scenario, not a race; one raised by the object's code is a counterexample.

Replay: the callables are code, and a counterexample file never names code to run. An
explore's file records the scenario's id (``explore-NAME``), one round of its operations
(one per worker, named after what each worker calls: ``transfer_0``, ``transfer_1``) and the
schedule, with an empty ``model_ref``. `replay_explore` rebuilds the scenario from the same
arguments as the `explore` call and replays the file's schedule on it; nothing in the file is
imported. ``harness replay FILE`` says so in one line.
"""

from __future__ import annotations

import inspect
import keyword
import random
import re
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from harness.artifact import MAX_SEED, Artifact, load
from harness.errors import BrokenModelError, UsageError
from harness.failure import Failure
from harness.hunt import DEFAULT_MAX_EXAMPLES, MAX_EXAMPLES, HuntResult, untested_reason
from harness.judge import judged
from harness.machine import Observer
from harness.minimize import same_bug
from harness.model import Model, ModelSpec, operation, validate_model
from harness.model import invariant as mark_invariant
from harness.plain import default_instrument
from harness.replay import EXPLORE_PREFIX, ReplayOutcome, replay_spec
from harness.runtime import World
from harness.runtime.clock import real_perf_counter
from harness.runtime.executor import DEFAULT_STUCK_AFTER, Executor
from harness.runtime.instrument import resolve_modules
from harness.runtime.points import DEFAULT_GRANULARITY, check_granularity
from harness.runtime.world import active_world
from harness.scenario import replay, replay_failure
from harness.schedule.base import CountingSource
from harness.schedule.dfs import ScheduleDiverged, exhaust
from harness.schedule.drawn import DrawnSchedule
from harness.schedule.pct import PCTSchedule
from harness.settings import Settings
from harness.verdict import (
    Clean,
    Counterexample,
    NotTested,
    Verdict,
)
from harness.verify import Scenario, run_scenario

_real_perf_counter = real_perf_counter

#: The only variant of an explored scenario.
VARIANT = "default"
#: How schedules are searched (see the module docstring).
STRATEGIES = ("random", "pct", "dfs")
#: Switch probabilities 1/rate of the random strategy, in turn.
NOISE_RATES = (2, 4, 8, 16, 32)
#: PCT depth of the ``pct`` strategy (a lost update and a lock-order deadlock are depth 2).
PCT_DEPTH = 2
#: Default preemption bound of the ``dfs`` strategy.
DEFAULT_BOUND = 2
#: Schedules the shrinker's search for fewer preemptions may run.
SHRINK_SCHEDULES = 2_000
#: Most workers of one scenario (a model's `max_workers` bound).
MAX_WORKERS = 64


class ExploreError(UsageError):
    """`explore` was given something it cannot run; the message names the argument."""


@dataclass
class ExploreResult(HuntResult):
    """A hunt's result (same verdict, same reporter), plus how the schedules were searched."""

    strategy: str = "random"
    #: Schedules run by the search (shrinking not included).
    schedules: int = 0
    #: ``dfs`` only: every schedule up to `bound` preemptions ran (no budget cut it short).
    exhausted: bool = False
    bound: int | None = None


class ExploreModel(Model):
    """Base of the models `explore_spec` builds: one per scenario."""

    variants: ClassVar[Any] = {VARIANT: "the scenario as given"}
    instrument_optional: ClassVar[bool] = True
    #: The `setup` callable (a staticmethod in each subclass).
    build: ClassVar[Callable[[], Any]]

    def setup(self) -> None:
        self.obj = type(self).build()


def _fail(argument: str, problem: str) -> ExploreError:
    return ExploreError(f"explore: {argument}: {problem}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_arity(fn: Callable[..., Any], count: int, argument: str, what: str) -> None:
    """Refuse a callable that cannot be called with `count` positional arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a C callable without a readable signature: the run will tell
    try:
        sig.bind(*range(count))
    except TypeError as exc:
        raise _fail(argument, f"{what}, but {_describe(fn)} cannot be called so: {exc}") from None


def _describe(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    if isinstance(code, types.CodeType):
        return f"{name} ({Path(code.co_filename).name}:{code.co_firstlineno})"
    return str(name)


def _identifier(text: str, fallback: str) -> str:
    cleaned = re.sub(r"\W", "_", text.strip("<>")).strip("_")
    if not cleaned or cleaned[0].isdigit() or keyword.iskeyword(cleaned) or not cleaned.isascii():
        return fallback
    return cleaned[:40]


def _called_name(fn: Any, fallback: str) -> str:
    """What a callable is called in reports: its name, or for a lambda the first name its body
    uses (``lambda b: b.transfer(0, 1, 5)`` -> ``transfer``)."""
    name = getattr(fn, "__name__", None)
    if isinstance(name, str) and name != "<lambda>":
        return _identifier(name, fallback)
    code = getattr(fn, "__code__", None)
    if isinstance(code, types.CodeType):
        for used in code.co_names:
            if not used.startswith("__"):
                return _identifier(used, fallback)
    return fallback


def _operation_names(workers: Sequence[Callable[[Any], Any]]) -> list[str]:
    """One operation name per worker; a name several workers share gets their index."""
    names = [_called_name(fn, "worker") for fn in workers]
    return [f"{name}_{i}" if names.count(name) > 1 else name for i, name in enumerate(names)]


def _module_of(fn: Any) -> str | None:
    module = getattr(fn, "__module__", None)
    if not isinstance(module, str) and isinstance(fn, type):
        module = fn.__module__
    return module if isinstance(module, str) else None


def _instrumentable(name: str) -> bool:
    """Whether `name` can be instrumented (`resolve_modules` accepts it): importable, with a
    Python source file, and not one of the modules the scheduler itself runs on."""
    if name in sys.builtin_module_names:
        return False
    try:
        resolve_modules([name])
    except UsageError:
        return False
    return True


def _object_type(setup: Callable[[], Any]) -> type | None:
    """The class of the object `setup` builds, found by building one in a patched world (so
    its locks are the controlled ones, and a thread it starts is refused there, not run).
    A setup that fails here fails again in the first example: that is where it is reported."""
    if active_world() is not None:
        return None
    try:
        with World() as world, world.virtual_time():
            obj = setup()
    except Exception:
        return None
    return type(obj)


def default_instrument_of(
    setup: Callable[[], Any], workers: Sequence[Callable[[Any], Any]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What `explore` instruments when not told (see the module docstring), and the code
    under test: the module of the object's class (callables defined there are its code, a
    lambda in a test is the scenario's, even inside the same package)."""
    kind = _object_type(setup)
    modules = [] if kind is None else [m for m in default_instrument(kind) if _instrumentable(m)]
    for fn in (setup, *workers):
        module = _module_of(fn)
        if module is not None and not _in(module, modules) and _instrumentable(module):
            modules.append(module)
    under_test = (kind.__module__,) if kind is not None and modules else ()
    return tuple(modules), under_test


def _in(module: str | None, modules: Sequence[str]) -> bool:
    return module is not None and any(module == m or module.startswith(m + ".") for m in modules)


def _check_arguments(setup: Any, workers: Any, invariant: Any, name: Any) -> None:
    """Raise `ExploreError` naming the first argument of `explore` that cannot be used."""
    if not callable(setup):
        raise _fail(
            "setup", f"must be a callable returning the object under test, got {_shown(setup)}"
        )
    _check_arity(setup, 0, "setup", "it is called with no arguments")
    if isinstance(workers, (str, bytes)) or not isinstance(workers, Sequence):
        raise _fail(
            "workers", f"must be a list of callables, one per thread, got {_shown(workers)}"
        )
    if len(workers) < 2:
        raise _fail(
            "workers",
            f"needs at least 2 callables (one per thread: a race needs two), got {len(workers)}",
        )
    if len(workers) > MAX_WORKERS:
        raise _fail("workers", f"at most {MAX_WORKERS} threads, got {len(workers)}")
    for i, fn in enumerate(workers):
        if not callable(fn):
            raise _fail(f"workers[{i}]", f"is not callable: {_shown(fn)}")
        _check_arity(fn, 1, f"workers[{i}]", "each worker is called with the object under test")
    if invariant is not None:
        if not callable(invariant):
            raise _fail(
                "invariant", f"must be a callable taking the object, got {_shown(invariant)}"
            )
        _check_arity(invariant, 1, "invariant", "it is called with the object under test")
    if name is not None and (
        not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,50}", name)
    ):
        raise _fail("name", f"must be 1-50 letters, digits, '_' or '-', got {_shown(name)}")


def _instrument_for(
    setup: Callable[[], Any], workers: Sequence[Callable[[Any], Any]], instrument: Any
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The modules to instrument and those that are the code under test (for blame)."""
    if isinstance(instrument, str):
        instrument = (instrument,)
    if instrument is None:
        modules, under_test = default_instrument_of(setup, workers)
    else:
        if not isinstance(instrument, Sequence) or not all(isinstance(m, str) for m in instrument):
            raise _fail("instrument", f"must be module names, got {_shown(instrument)}")
        modules = under_test = tuple(instrument)
        try:
            resolve_modules(modules)
        except UsageError as exc:
            raise _fail("instrument", str(exc)) from None
    return modules, under_test


def explore_spec(
    setup: Callable[[], Any],
    workers: Sequence[Callable[[Any], Any]],
    invariant: Callable[[Any], Any] | None = None,
    *,
    name: str | None = None,
    instrument: Sequence[str] | str | None = None,
) -> ModelSpec:
    """The scenario as a validated model (see the module docstring).

    Raises `ExploreError` for an argument that cannot be used, naming it; `setup` itself runs
    once (to find what to instrument) only when `instrument` is not given.
    """
    _check_arguments(setup, workers, invariant, name)
    modules, under_test = _instrument_for(setup, workers, instrument)
    ops = _operation_names(workers)
    namespace: dict[str, Any] = {
        "name": EXPLORE_PREFIX + (name or _called_name(setup, "scenario")),
        "summary": f"explore({_describe(setup)}, {len(workers)} workers)",
        "instrument": modules,
        "max_workers": max(2, len(workers)),
        "max_ops_per_worker": 1,
        "build": staticmethod(setup),
        "operation_names": tuple(ops),
    }
    for i, (op, fn) in enumerate(zip(ops, workers, strict=True)):
        namespace[op] = operation()(_call(fn, op))
        if not _in(_module_of(fn), under_test):
            # The scenario's own code when an exception is blamed (`harness.classify`).
            namespace[f"_worker_{i}"] = staticmethod(fn)
    if invariant is not None:
        own = getattr(invariant, "__name__", "")
        check = "invariant" if own == "<lambda>" else _identifier(str(own), "invariant")
        check = check if check not in namespace else "invariant"
        namespace[check] = mark_invariant()(_check(invariant, check))
        namespace["_invariant"] = staticmethod(invariant)
    cls = types.new_class("Explored", (ExploreModel,), exec_body=lambda ns: ns.update(namespace))
    spec = validate_model(cls)
    spec.origin = ""  # no importable reference: replay rebuilds it from the callables
    return spec


def _call(fn: Callable[[Any], Any], name: str) -> Callable[[ExploreModel], Any]:
    def call(model: ExploreModel) -> Any:
        return fn(model.obj)

    call.__name__ = call.__qualname__ = name
    return call


def _check(fn: Callable[[Any], Any], name: str) -> Callable[[ExploreModel], None]:
    def check(model: ExploreModel) -> None:
        if fn(model.obj) is False:
            raise AssertionError(f"the invariant {_describe(fn)} returned False")

    check.__name__ = check.__qualname__ = name
    return check


def _scenario(spec: ModelSpec) -> Scenario:
    names: tuple[str, ...] = getattr(spec.cls, "operation_names", ())
    return Scenario((), tuple(((op, {}),) for op in names))


def _check_options(
    strategy: str, seed: int, max_examples: int, bound: int, granularity: str
) -> None:
    if strategy not in STRATEGIES:
        raise _fail("strategy", f"{_shown(strategy)} is not one of {', '.join(STRATEGIES)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise _fail("seed", f"must be an integer from 0 to 2**64-1, got {_shown(seed)}")
    if (
        not isinstance(max_examples, int)
        or isinstance(max_examples, bool)
        or not 1 <= max_examples <= MAX_EXAMPLES
    ):
        raise _fail(
            "max_examples",
            f"must be an integer from 1 to {MAX_EXAMPLES:,}, got {_shown(max_examples)}",
        )
    if not isinstance(bound, int) or isinstance(bound, bool) or bound < 0:
        raise _fail("bound", f"must be a non-negative integer, got {_shown(bound)}")
    check_granularity(granularity)


def explore(
    setup: Callable[[], Any],
    workers: Sequence[Callable[[Any], Any]],
    invariant: Callable[[Any], Any] | None = None,
    *,
    name: str | None = None,
    instrument: Sequence[str] | str | None = None,
    strategy: str = "random",
    seed: int = 0,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    bound: int = DEFAULT_BOUND,
    granularity: str = DEFAULT_GRANULARITY,
    shrink: bool = True,
    executor: Executor | None = None,
    stuck_after: float = DEFAULT_STUCK_AFTER,
    on_failure: Callable[[Failure], None] | None = None,
) -> ExploreResult:
    """Search the schedules of one scenario; see the module docstring.

    `invariant(obj)` fails by raising AssertionError or returning False. `on_failure` is
    called with the first failure the moment it is found and with the final counterexample
    (save them with `harness.artifact.save`). Bad arguments raise `ExploreError`.
    """
    _check_options(strategy, seed, max_examples, bound, granularity)
    spec = explore_spec(setup, workers, invariant, name=name, instrument=instrument)
    settings = Settings(
        seed=seed,
        max_examples=max_examples,
        granularity=granularity,
        strategy=strategy,
        shrink=shrink,
        stuck_after=stuck_after,
        executor=executor,
    )
    return run_explore(spec, settings, bound=bound, on_failure=on_failure)


@dataclass
class _Search:
    """One search of a scenario's schedules: what it needs, and what it found."""

    spec: ModelSpec
    settings: Settings
    observer: Observer
    schedules: int = 0
    exhausted: bool = False

    def run(self, decisions: CountingSource) -> Failure | None:
        """One example: a fresh object, the round under `decisions`, the checks."""
        self.observer.example_started()
        self.schedules += 1
        failure, result = run_scenario(
            self.spec,
            VARIANT,
            _scenario(self.spec),
            decisions,
            params={},
            settings=self.settings,
            inspect=lambda runner: runner.last_round,
        )
        if failure is not None:
            self.observer.failed(failure)
        elif result is not None:
            self.observer.round_ran(result)
        return failure


def run_explore(
    spec: ModelSpec,
    settings: Settings,
    *,
    bound: int = DEFAULT_BOUND,
    on_failure: Callable[[Failure], None] | None = None,
) -> ExploreResult:
    """`explore` on a scenario already built by `explore_spec`, with checked `settings`
    (seed, examples, granularity, strategy, shrink, hang limit, executor)."""
    strategy, seed, max_examples = settings.strategy, settings.seed, settings.max_examples
    started = _real_perf_counter()
    observer = Observer(on_first=on_failure)
    search = _Search(spec, settings, observer)

    def result(verdict: Verdict) -> ExploreResult:
        return ExploreResult(
            verdict=verdict,
            granularity=settings.granularity,
            seed=seed,
            examples=observer.examples,
            seconds=_real_perf_counter() - started,
            first_example=observer.first_example,
            seconds_to_first_failure=observer.first_seconds,
            strategy=strategy,
            schedules=search.schedules,
            exhausted=search.exhausted,
            bound=bound if strategy == "dfs" else None,
        )

    def run() -> ExploreResult:
        with settings.pool().pinned():
            _search(search, strategy, seed, max_examples, bound)
            failure = observer.first
            if failure is None:
                evidence = observer.coverage.evidence(observer.examples)
                reason = untested_reason(spec, evidence)
                if reason is not None:
                    return result(NotTested(spec.name, VARIANT, reason, evidence))
                return result(Clean(spec.name, VARIANT, evidence))
            if settings.shrink and strategy != "dfs":
                failure = _fewest_preemptions(search, failure)
            failure = _with_values(search, failure)
        if on_failure is not None:
            on_failure(failure)
        return result(Counterexample(spec.name, VARIANT, failure, observer.first))

    return judged(spec.name, VARIANT, run, result, lambda: observer.first)


def _search(search: _Search, strategy: str, seed: int, max_examples: int, bound: int) -> None:
    """Run schedules until one fails or the budget is spent."""
    workers = len(_scenario(search.spec).round)
    if strategy == "dfs":
        try:
            done = exhaust(search.run, bound=bound, max_schedules=max_examples)
        except ScheduleDiverged as exc:
            raise BrokenModelError(f"scenario {search.spec.name!r}: {exc}") from None
        search.exhausted = done.exhausted and done.failure is None
        return
    rng = random.Random(seed)
    steps = 1
    for k in range(max_examples):
        decisions: CountingSource
        if strategy == "pct":
            decisions = PCTSchedule(
                rng.getrandbits(32), threads=workers, depth=PCT_DEPTH, steps=steps
            )
        elif k == 0:
            decisions = DrawnSchedule()  # one after another: a bug no switch is needed for
        else:
            decisions = DrawnSchedule(
                (), (rng.getrandbits(32), NOISE_RATES[(k - 1) % len(NOISE_RATES)])
            )
        if search.run(decisions) is not None:
            return
        if isinstance(decisions, PCTSchedule):
            steps = max(steps, decisions.steps_seen)


def _replay_round(search: _Search, failure: Failure, taken: list[Any]) -> Failure | None:
    race = failure.race
    assert race is not None
    found = replay(
        search.spec,
        VARIANT,
        seed=failure.seed,
        params=failure.params,
        steps=[replace(race, taken=taken)],
        settings=search.settings.searching().at(failure.granularity),
    )
    return found if found is not None and same_bug(found, failure) else None


def _fewest_preemptions(search: _Search, failure: Failure) -> Failure:
    """The same scenario failing the same way with as few preemptions as can be found:
    switches removed one at a time, then every schedule with fewer searched (bounded DFS)."""
    best = failure
    changed = True
    while changed:
        changed = False
        race = best.race
        taken = list(race.taken) if race is not None else []
        for i in reversed(range(len(taken))):
            if i >= len(taken):
                continue
            found = _replay_round(search, best, taken[:i] + taken[i + 1 :])
            if found is not None and found.race is not None and len(found.race.taken) < len(taken):
                best, taken, changed = found, list(found.race.taken), True
    race = best.race
    if race is None or len(race.taken) < 2:
        return best

    def run_one(decisions: CountingSource) -> Failure | None:
        found, _ = run_scenario(
            search.spec,
            VARIANT,
            _scenario(search.spec),
            decisions,
            params={},
            settings=search.settings,
        )
        return found if found is not None and same_bug(found, failure) else None

    try:
        done = exhaust(run_one, bound=len(race.taken) - 1, max_schedules=SHRINK_SCHEDULES)
    except ScheduleDiverged:
        return best
    if done.failure is not None and len(done.failure.race.taken) < len(race.taken):
        return done.failure  # type: ignore[no-any-return]
    return best


def _with_values(search: _Search, failure: Failure) -> Failure:
    """Replay the counterexample once more, recording keys and values in its trace."""
    again = replay_failure(search.spec, failure, search.settings)
    if again is None or not same_bug(again, failure):
        raise BrokenModelError(
            f"scenario {search.spec.name!r} is not deterministic: its counterexample did not "
            "fail the same way when replayed (unseeded randomness, wall-clock time or "
            "id()-dependent order in setup or the workers?)"
        )
    return again


def replay_explore(
    path: str | Path | Artifact,
    setup: Callable[[], Any],
    workers: Sequence[Callable[[Any], Any]],
    invariant: Callable[[Any], Any] | None = None,
    *,
    name: str | None = None,
    instrument: Sequence[str] | str | None = None,
) -> ReplayOutcome:
    """Replay an explore counterexample on the scenario these arguments build (the same as
    the `explore` call's): the file gives the schedule, never the code."""
    artifact = path if isinstance(path, Artifact) else load(path)
    spec = explore_spec(setup, workers, invariant, name=name, instrument=instrument)
    return replay_spec(artifact, spec, "")


__all__ = [
    "STRATEGIES",
    "ExploreError",
    "ExploreResult",
    "explore",
    "explore_spec",
    "replay_explore",
    "run_explore",
]
