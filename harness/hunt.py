"""`hunt`: run a model's state machine under Hypothesis and return what it found.

This is the main job, used by the CLI and by tests. One hunt = one variant, one seed, one
budget of examples; Hypothesis generates scenarios and schedules until one fails, and
`harness.minimize` shrinks it. The result says how fast the first failure came and carries the
final, shrunk `Failure` -- never text parsed from Hypothesis's output.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

import harness
from harness.catalog import find_model, split_variant
from harness.errors import UsageError
from harness.failure import CounterexampleFound, Failure
from harness.machine import Observer, build_machine, release_machine, run_machine
from harness.minimize import minimize, rank, same_bug
from harness.model import BrokenModelError, Model, ModelSpec
from harness.runtime.executor import DEFAULT_STUCK_AFTER, Executor, shared_executor
from harness.runtime.points import DEFAULT_GRANULARITY, check_granularity
from harness.runtime.world import _REAL_TIME
from harness.scenario import replay_failure
from harness.smoke import smoke, smoke_budget

_real_perf_counter = _REAL_TIME["perf_counter"]
# Typed alias: older Hypothesis releases ship this function without annotations.
_run_machine: Callable[..., None] = run_machine

DEFAULT_MAX_EXAMPLES = 100
#: Steps per example: a few rounds are plenty to overlap operations; more only slows shrinking.
DEFAULT_STEPS_PER_EXAMPLE = 5


class UnknownVariantError(UsageError):
    """The model has no such variant (the message lists the known ones)."""


@dataclass
class HuntResult:
    """Outcome of hunting one variant."""

    model: str
    variant: str
    granularity: str
    seed: int
    found: bool
    examples: int
    seconds: float
    first_example: int | None = None
    seconds_to_first_failure: float | None = None
    failure: Failure | None = None
    first_failure: Failure | None = None
    broken: str | None = None
    expected_failure: bool = False

    @property
    def as_expected(self) -> bool:
        """Found a bug where one is expected, or none where none is."""
        return self.broken is None and self.found == self.expected_failure

    def to_json(self) -> dict[str, Any]:
        failure = self.failure
        counterexample = None
        if failure is not None:
            shape = failure.shape()
            counterexample = {
                "threads": shape["threads"],
                "operations": shape["operations"],
                "preemptions": shape["preemptions"],
                "steps": shape["steps"],
                "artifact": None,
            }
        return {
            "model": self.model,
            "variant": self.variant,
            "granularity": self.granularity,
            "seed": self.seed,
            "found": self.found,
            "expected_failure": self.expected_failure,
            "failure": None
            if failure is None
            else {"kind": failure.kind, "invariant": failure.invariant, "message": failure.message},
            "broken_model": self.broken,
            "examples": self.examples,
            "examples_to_first_failure": self.first_example,
            "seconds_to_first_failure": self.seconds_to_first_failure,
            "seconds": round(self.seconds, 4),
            "counterexample": counterexample,
            "python": platform.python_version(),
            "harness_version": harness.__version__,
        }


def resolve(model: str | type[Model], variant: str | None) -> tuple[ModelSpec, list[str]]:
    """The model spec and the variants to hunt (all of them when none is named)."""
    if isinstance(model, str):
        ref, inline = split_variant(model)
        spec = find_model(ref)
        variant = variant or inline
    else:
        spec = find_model(model)
    variants = list(spec.cls.variants)
    if variant is None:
        return spec, variants
    if variant not in spec.cls.variants:
        raise UnknownVariantError(
            f"model {spec.name!r} has no variant {variant!r}; known variants: {', '.join(variants)}"
        )
    return spec, [variant]


def hunt(model: str | type[Model], variant: str | None = None, **options: Any) -> HuntResult:
    """Hunt one variant (the model's default one if none is given) and return the result.

    `model` is a model id (``backoffer``, ``backoffer.locked``), ``package.module:Class`` or a
    `Model` subclass; `options` are those of `hunt_spec` (seed, max_examples, granularity...).
    """
    spec, variants = resolve(model, variant)
    chosen = variants[0] if len(variants) == 1 else spec.cls.default_variant()
    return hunt_spec(spec, chosen, **options)


def _with_values(
    spec: ModelSpec, failure: Failure, executor: Executor | None, stuck_after: float
) -> Failure:
    """Replay the final counterexample once more, recording keys and values in its trace."""
    again = replay_failure(spec, failure, executor=executor, stuck_after=stuck_after)
    if again is None or not same_bug(again, failure):
        raise BrokenModelError(
            f"model {spec.name!r} is not deterministic: its counterexample did not fail the same "
            "way when replayed (unseeded randomness, wall-clock time or id()-dependent order?)"
        )
    return again


def _explore(
    spec: ModelSpec,
    variant: str,
    *,
    seed: int,
    max_examples: int,
    granularity: str,
    steps_per_example: int,
    hypothesis_shrinks: bool,
    executor: Executor | None,
    stuck_after: float,
    observer: Observer | None = None,
) -> tuple[Observer, str | None]:
    """One Hypothesis run of the model's machine: what it saw, and why the model is broken
    if it is. An `observer` that already counted examples (the smoke phase's) leaves
    Hypothesis the rest of the budget."""
    observer = observer or Observer()
    max_examples -= observer.examples
    machine = build_machine(
        spec,
        variant,
        granularity=granularity,
        executor=executor,
        observer=observer,
        stuck_after=stuck_after,
    )
    machine = hypothesis_seed(seed)(machine)
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if hypothesis_shrinks else [])
    config = settings(
        max_examples=max_examples,
        stateful_step_count=steps_per_example,
        derandomize=False,
        database=None,
        deadline=None,
        phases=phases,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    broken = None
    try:
        with (executor or shared_executor()).pinned():
            _run_machine(machine, settings=config)
    except CounterexampleFound:
        pass
    except BrokenModelError as exc:
        broken = str(exc)
    except Flaky as exc:
        broken = f"the model is not deterministic (Hypothesis saw a flaky failure): {exc}"
    finally:
        release_machine(machine)
    return observer, broken


def hunt_spec(
    spec: ModelSpec,
    variant: str,
    *,
    seed: int = 0,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    granularity: str = DEFAULT_GRANULARITY,
    steps_per_example: int = DEFAULT_STEPS_PER_EXAMPLE,
    shrink: bool = True,
    executor: Executor | None = None,
    stuck_after: float = DEFAULT_STUCK_AFTER,
) -> HuntResult:
    """Hunt, then shrink the first failure with `harness.minimize`.

    Hypothesis stops at the first failure: replaying recorded schedules, our minimiser reaches
    the minimal shape 10-20 times faster than Hypothesis's shrinker (which re-draws whole
    scenarios). Only when it falls short of that shape -- a failure that needs different
    argument values to get smaller -- is the same seed run again with Hypothesis shrinking,
    and the smaller of the two results kept.
    """
    check_granularity(granularity)
    if not isinstance(max_examples, int) or max_examples < 1:
        raise UsageError(f"max_examples must be a positive integer, got {max_examples!r}")
    if not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    explore = partial(
        _explore,
        spec,
        variant,
        seed=seed,
        max_examples=max_examples,
        granularity=granularity,
        steps_per_example=steps_per_example,
        executor=executor,
        stuck_after=stuck_after,
    )
    reduce = partial(minimize, spec, executor=executor, stuck_after=stuck_after)
    started = _real_perf_counter()
    observer = Observer()
    broken = smoke(
        spec,
        variant,
        seed=seed,
        granularity=granularity,
        executor=executor,
        stuck_after=stuck_after,
        budget=smoke_budget(max_examples),
        observer=observer,
    )
    if observer.first is None and broken is None:
        observer, broken = explore(hypothesis_shrinks=False, observer=observer)
    examples = observer.examples
    failure = observer.first if broken is None else None
    if failure is not None:
        try:
            if shrink:
                failure = reduce(failure)
                if not failure.looks_minimal():
                    again, broken = explore(hypothesis_shrinks=True)
                    examples += again.examples
                    if broken is None and again.last is not None:
                        failure = min(failure, reduce(again.last), key=rank)
            failure = _with_values(spec, failure, executor, stuck_after) if not broken else None
        except BrokenModelError as exc:
            broken, failure = str(exc), None
    seconds = _real_perf_counter() - started
    return HuntResult(
        model=spec.name,
        variant=variant,
        granularity=granularity,
        seed=seed,
        found=failure is not None,
        examples=examples,
        seconds=seconds,
        first_example=observer.first_example,
        seconds_to_first_failure=observer.first_seconds,
        failure=failure,
        first_failure=observer.first,
        broken=broken,
        expected_failure=variant in spec.cls.expect_failure,
    )
