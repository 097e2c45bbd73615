"""`hunt`: run a model's state machine under Hypothesis and return what it found.

This is the main job, used by the CLI and by tests. One hunt = one variant, one seed, one
budget of examples; Hypothesis generates scenarios and schedules until one fails, and
`harness.minimize` shrinks it. The result says how fast the first failure came and carries the
final, shrunk `Failure` -- never text parsed from Hypothesis's output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as HypothesisSettings
from hypothesis.errors import Flaky

from harness import interrupts, plain
from harness.catalog import find_model, split_variant
from harness.errors import BrokenModelError, UsageError
from harness.evidence import Evidence
from harness.failure import CounterexampleFound, Failure
from harness.judge import judged
from harness.machine import Observer, build_machine, release_machine, run_machine
from harness.minimize import minimize, rank, same_bug
from harness.model import Model, ModelSpec
from harness.runtime.clock import real_perf_counter
from harness.scenario import replay_failure
from harness.settings import (
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_STEPS_PER_EXAMPLE,
    DEFAULTS,
    ENGINES,
    MAX_EXAMPLES,
    Settings,
)
from harness.smoke import smoke, smoke_budget
from harness.verdict import (
    BrokenModel,
    Clean,
    Counterexample,
    Interrupted,
    NotTested,
    Verdict,
)

# Typed alias: older Hypothesis releases ship this function without annotations.
_run_machine: Callable[..., None] = run_machine

__all__ = [
    "DEFAULT_MAX_EXAMPLES",
    "DEFAULT_STEPS_PER_EXAMPLE",
    "ENGINES",
    "MAX_EXAMPLES",
    "HuntResult",
    "Settings",
    "UnknownVariantError",
    "hunt",
    "hunt_spec",
    "resolve",
    "untested_reason",
]


class UnknownVariantError(UsageError):
    """The model has no such variant (the message lists the known ones)."""


@dataclass
class HuntResult:
    """Outcome of hunting one variant: the verdict, and how the hunt went."""

    verdict: Verdict
    granularity: str
    seed: int
    examples: int
    seconds: float
    first_example: int | None = None
    seconds_to_first_failure: float | None = None
    expected_failure: bool = False

    @property
    def model(self) -> str:
        return self.verdict.model

    @property
    def variant(self) -> str:
        return self.verdict.variant

    @property
    def kind(self) -> str:
        return self.verdict.kind

    @property
    def found(self) -> bool:
        return isinstance(self.verdict, Counterexample)

    @property
    def failure(self) -> Failure | None:
        """The shrunk counterexample, if the verdict is one."""
        return self.verdict.failure if isinstance(self.verdict, Counterexample) else None

    @property
    def first_failure(self) -> Failure | None:
        """The first failure as found, before shrinking (also kept when interrupted)."""
        verdict = self.verdict
        if isinstance(verdict, Counterexample):
            return verdict.first_failure
        return verdict.found if isinstance(verdict, Interrupted) else None

    @property
    def broken(self) -> str | None:
        """Why the model is broken, when the verdict says so."""
        return self.verdict.reason if isinstance(self.verdict, BrokenModel) else None

    @property
    def evidence(self) -> Evidence | None:
        """The controlled engine's coverage figures (None under stress, which has none: its
        evidence is `verdict.stress`)."""
        verdict = self.verdict
        if verdict.stress is not None:
            return None
        return verdict.evidence if isinstance(verdict, (Clean, NotTested)) else None

    @property
    def engine(self) -> str:
        return self.verdict.engine

    @property
    def as_expected(self) -> bool:
        """Found a bug where one is expected, or none where none is (and really tested)."""
        if not isinstance(self.verdict, (Clean, Counterexample)):
            return False
        return self.found == self.expected_failure


def resolve(model: str | type[Model], variant: str | None) -> tuple[ModelSpec, list[str]]:
    """The model spec and the variants to hunt (all of them when none is named)."""
    if isinstance(model, str):
        ref, inline = split_variant(model)
        if inline is not None and variant is not None and inline != variant:
            raise UsageError(
                f"{model} names variant {inline!r} and variant= names {variant!r}: "
                "give the variant once"
            )
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


def hunt(
    model: str | type[Model],
    variant: str | None = None,
    *,
    on_failure: Callable[[Failure], None] | None = None,
    **options: Any,
) -> HuntResult:
    """Hunt one variant (the model's default one if none is given) and return the result.

    `model` is a model id (``backoffer``, ``backoffer.locked``), ``package.module:Class`` or a
    `Model` subclass; `options` are the fields of `harness.settings.Settings` (seed,
    max_examples, granularity, strategy, stuck_after...), checked before anything runs.
    """
    spec, variants = resolve(model, variant)
    chosen = variants[0] if len(variants) == 1 else spec.cls.default_variant()
    return hunt_spec(spec, chosen, Settings(**options), on_failure=on_failure)


def _with_values(spec: ModelSpec, failure: Failure, settings: Settings) -> Failure:
    """Replay the final counterexample once more, recording keys and values in its trace."""
    again = replay_failure(spec, failure, replace(settings, capture=True))
    if again is None or not same_bug(again, failure):
        raise BrokenModelError(
            f"model {spec.name!r} is not deterministic: its counterexample did not fail the same "
            "way when replayed (unseeded randomness, wall-clock time or id()-dependent order?)"
        )
    return again


def _explore(
    spec: ModelSpec,
    variant: str,
    settings: Settings,
    observer: Observer,
    *,
    hypothesis_shrinks: bool,
) -> None:
    """One Hypothesis run of the model's machine, reporting to `observer`.

    Raises `BrokenModelError` or `LimitationError` when the run shows the model broken or the
    code doing something the harness cannot control.
    """
    # The smoke phase may have spent part of the budget already (counted in `observer`).
    max_examples = max(1, settings.max_examples - observer.examples)
    machine = build_machine(spec, variant, settings, observer=observer)
    machine = hypothesis_seed(settings.seed)(machine)
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if hypothesis_shrinks else [])
    config = HypothesisSettings(
        max_examples=max_examples,
        stateful_step_count=settings.steps_per_example,
        derandomize=False,
        database=None,
        deadline=None,
        phases=phases,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    try:
        with settings.pool().pinned():
            _run_machine(machine, settings=config)
    except CounterexampleFound:
        pass
    except Flaky as exc:
        interrupts.check()  # an interrupt Hypothesis saw as a flaky failure is an interrupt
        raise BrokenModelError(
            f"the model is not deterministic (Hypothesis saw a flaky failure): {exc}"
        ) from exc
    finally:
        release_machine(machine)


def untested_reason(spec: ModelSpec, evidence: Evidence) -> str | None:
    """Why a hunt without failure tested nothing, or None if it did interleave workers inside
    the code under test."""
    if evidence.racing_rounds:
        return None
    modules = ", ".join(spec.cls.instrument) or "none"
    rounds = f"{evidence.rounds:,} parallel round{'s' if evidence.rounds != 1 else ''}"
    if evidence.points == 0:
        compiled = plain.compiled_note(spec)
        if compiled is not None:
            return f"no scheduling point was reached in any of {rounds}: {compiled}"
        return (
            f"no scheduling point was reached in any of {rounds}: none of the code of the "
            f"instrumented modules ({modules}) ran in a round -- check `instrument` names the "
            "module of the code under test and that the operations call it"
        )
    if evidence.max_active_workers < 2:
        return (
            f"only one worker ever ran instrumented code ({modules}) in a round, in each of "
            f"{rounds}: the others never reached it, so nothing could race"
        )
    return (
        f"the workers never interleaved inside instrumented code ({modules}) in {rounds}: "
        "each ran to the end before the next began"
    )


def hunt_spec(
    spec: ModelSpec,
    variant: str,
    settings: Settings = DEFAULTS,
    *,
    on_failure: Callable[[Failure], None] | None = None,
) -> HuntResult:
    """Hunt, then shrink the first failure with `harness.minimize`; return the verdict.

    Hypothesis stops at the first failure: replaying recorded schedules, our minimiser reaches
    the minimal shape 10-20 times faster than Hypothesis's shrinker (which re-draws whole
    scenarios). Only when it falls short of that shape -- a failure that needs different
    argument values to get smaller -- is the same seed run again with Hypothesis shrinking,
    and the smaller of the two results kept.

    `on_failure` is called with the first failure the moment it is found (before shrinking)
    and with the final counterexample, so a caller can put it on disk at once. An interrupt
    (Ctrl-C, SIGTERM, a pytest-timeout) is re-raised as itself with the partial result --
    an `Interrupted` verdict keeping any failure already found -- as ``exc.harness_result``.
    Whatever happens, the patched `threading` and `time` are restored before returning.

    ``settings.engine == "stress"`` runs the scenarios on free-running threads instead,
    `settings.repeats` rounds per example, and reproduces what they find with this engine
    (`harness.stress.engine`).
    """
    if settings.engine == "stress":
        from harness.stress.engine import hunt_stress

        return hunt_stress(spec, variant, settings, on_failure=on_failure)
    started, observer = real_perf_counter(), Observer(on_first=on_failure)

    def result(verdict: Verdict, examples: int) -> HuntResult:
        return HuntResult(
            verdict=verdict,
            granularity=settings.granularity,
            seed=settings.seed,
            examples=examples,
            seconds=real_perf_counter() - started,
            first_example=observer.first_example,
            seconds_to_first_failure=observer.first_seconds,
            expected_failure=variant in spec.cls.expect_failure,
        )

    return judged(
        spec.name,
        variant,
        lambda: result(*_search(spec, variant, settings, observer, on_failure)),
        lambda verdict: result(verdict, observer.examples),
        lambda: observer.first,
    )


def _search(
    spec: ModelSpec,
    variant: str,
    settings: Settings,
    observer: Observer,
    on_failure: Callable[[Failure], None] | None,
) -> tuple[Verdict, int]:
    """The smoke phase, then Hypothesis, then shrinking: the verdict of a hunt that was not
    interrupted, and the examples it ran (a shrinking search's included)."""
    smoke(spec, variant, settings, budget=smoke_budget(settings.max_examples), observer=observer)
    if observer.first is None:
        _explore(spec, variant, settings, observer, hypothesis_shrinks=False)
    examples = observer.examples
    failure = observer.first
    if failure is None:
        evidence = observer.coverage.evidence(examples)
        reason = untested_reason(spec, evidence)
        if reason is not None:
            return NotTested(spec.name, variant, reason, evidence), examples
        return Clean(spec.name, variant, evidence), examples
    if settings.shrink:
        failure, more = _shrink(spec, variant, failure, settings)
        examples += more
    failure = _with_values(spec, failure, settings)
    if on_failure is not None:
        on_failure(failure)
    return Counterexample(spec.name, variant, failure, observer.first), examples


def _shrink(
    spec: ModelSpec, variant: str, failure: Failure, settings: Settings
) -> tuple[Failure, int]:
    """Our minimiser first; Hypothesis's shrinker only when that falls short of minimal.
    Returns the smallest failure and the examples the second search ran."""
    reduced = minimize(spec, failure, settings)
    if reduced.looks_minimal():
        return reduced, 0
    again = Observer()
    _explore(spec, variant, settings, again, hypothesis_shrinks=True)
    if again.last is None:
        return reduced, again.examples
    other = minimize(spec, again.last, settings)
    return min(reduced, other, key=rank), again.examples
