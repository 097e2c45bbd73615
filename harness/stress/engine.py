"""The stress engine: Hypothesis-drawn scenarios on free-running threads, repeated many times.

Why a second engine: the controlled engine explores interleavings of the points it can see,
one thread at a time. Real parallelism -- a free-threaded build, two CPUs writing one dict --
can do things no switch between points expresses (a race inside C code, a torn update the
point granularity does not split). Stress runs the same scenarios as the controlled engine
(same strategies: set-up calls, then a parallel round) with nothing scheduling the threads:
released together by a barrier, each example's round repeated `repeats` times on fresh
objects, with `sys.setswitchinterval` at its minimum on a GIL build so the interpreter
switches as often as it can.

A stress failure is evidence, not a counterexample: nobody recorded the interleaving. So the
scenario is handed to the controlled engine (`harness.stress.reproduce`), which searches
schedules for the same failure and, when it finds it, shrinks it to the usual minimal,
replayable counterexample -- "found under stress, reproduced deterministically". When it does
not, the result says so, with how often and how stress saw it fail, and carries no artifact.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as HypothesisSettings
from hypothesis import strategies as st

from harness import interrupts, progress
from harness.draws import stable_draws
from harness.errors import BrokenModelError, LimitationError
from harness.failure import Call, CounterexampleFound, Failure
from harness.judge import judged
from harness.machine import scenario_strategies
from harness.minimize import minimize
from harness.model import ModelSpec
from harness.runtime.clock import real_perf_counter
from harness.runtime.hooks import gil_enabled, process_hooks
from harness.runtime.instrument import resolve_modules
from harness.scenario import ScenarioRunner
from harness.settings import DEFAULT_REPEATS, Settings
from harness.stress.evidence import StressEvidence
from harness.stress.gate import process_gate
from harness.stress.reproduce import DEFAULT_ATTEMPTS, reproduce
from harness.stress.runner import StressExecutor
from harness.verdict import (
    Clean,
    Counterexample,
    NotTested,
    StressFailure,
    Verdict,
)

if TYPE_CHECKING:
    from harness.hunt import HuntResult


#: The smallest switch interval CPython accepts is any positive value; it rounds to 1 us.
MIN_SWITCH_INTERVAL = 1e-6
#: The settings of a stress run that names none.
STRESS_DEFAULTS = Settings(engine="stress")


@contextmanager
def fast_switching() -> Iterator[float | None]:
    """The minimum switch interval on a GIL build, restored afterwards; the value set, or None
    on a free-threaded build, where threads run in parallel and the interval means nothing."""
    if not gil_enabled():
        yield None
        return
    previous = sys.getswitchinterval()
    sys.setswitchinterval(MIN_SWITCH_INTERVAL)
    try:
        yield sys.getswitchinterval()
    finally:
        sys.setswitchinterval(previous)


class _Stop(Exception):
    """Ends the Hypothesis run at the first example that failed under stress."""


@dataclass
class StressOutcome:
    """The stress phase and the reproduction, before `hunt_stress` turns them into a verdict."""

    evidence: StressEvidence
    failure: Failure | None  # the reproduced failure, not yet minimised


@dataclass
class _Repetitions:
    """What the free-running rounds of one stress run share, and what one drawn example does
    with them: repeat its round on fresh objects until one fails or the model breaks."""

    spec: ModelSpec
    variant: str
    settings: Settings  # free-running: the stress executor, no search
    evidence: StressEvidence
    executor: StressExecutor
    repeats: int
    started: float = field(default_factory=real_perf_counter)
    stopped: list[BaseException] = field(default_factory=list)

    def example(self, seed_: int, params: dict[str, Any], prelude: list[Call], calls: Any) -> None:
        """One Hypothesis example: its round, `repeats` times; stop the run at a failure."""
        evidence = self.evidence
        if evidence.first is not None or self.stopped:
            raise _Stop  # Hypothesis replays the failing example once more: stop again
        evidence.examples += 1
        progress.example_done()
        evidence.example_rounds = evidence.example_failing_rounds = 0
        for _ in range(self.repeats):
            if self.one_round(seed_, params, prelude, calls):
                break
        if evidence.first is not None or self.stopped:
            raise _Stop

    def one_round(
        self, seed_: int, params: dict[str, Any], prelude: list[Call], calls: Any
    ) -> bool:
        """One free-running repetition on a fresh model; True to stop repeating."""
        interrupts.check()
        evidence = self.evidence
        evidence.rounds += 1
        evidence.example_rounds += 1
        try:
            runner = ScenarioRunner(
                self.spec, self.variant, seed=seed_, params=params, settings=self.settings
            )
            with runner:
                for call in prelude:
                    runner.sequential(call)
                runner.parallel(calls, [], None)
        except CounterexampleFound as found:
            self._failed(found.failure)
            # Threads of a hung round are abandoned: repeating would only leak more.
            return found.failure.kind == "stuck"
        except (BrokenModelError, LimitationError) as exc:
            self.stopped.append(exc)
            return True
        finally:
            evidence.entered_rounds = self.executor.entered_rounds
            evidence.overlapping_rounds = self.executor.overlapping_rounds
        return False

    def _failed(self, failure: Failure) -> None:
        evidence = self.evidence
        evidence.record(failure)
        if evidence.first is None:
            progress.failure_found()
            evidence.first = failure
            evidence.first_example = evidence.examples
            evidence.first_round = evidence.example_rounds
            evidence.seconds_to_first_failure = real_perf_counter() - self.started


def _drawn(settings: Settings, spec: ModelSpec, body: Callable[..., None]) -> Callable[[], None]:
    """A Hypothesis test that calls `body` with each drawn scenario (seed, parameters, set-up
    calls, the parallel round): the same strategies as a controlled hunt's, unshrunk."""
    strategies = scenario_strategies(spec, settings.granularity)

    @HypothesisSettings(
        max_examples=settings.max_examples,
        derandomize=False,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    @given(
        seed_=st.integers(0, 2**32 - 1),
        params=strategies.params,
        prelude=st.lists(strategies.call, max_size=2),
        calls=strategies.rounds,
    )
    def example(seed_: int, params: dict[str, Any], prelude: list[Call], calls: Any) -> None:
        body(seed_, params, prelude, calls)

    return hypothesis_seed(settings.seed)(example)


def stress(
    spec: ModelSpec,
    variant: str,
    settings: Settings = STRESS_DEFAULTS,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    evidence: StressEvidence | None = None,
) -> StressOutcome:
    """Run the stress phase, then the deterministic search for what it found (if anything).

    `settings` are the hunt's (seed, examples, granularity, repeats; its executor reproduces).
    `evidence` is filled in as the rounds run, so that a caller interrupted half-way still
    has what was seen. A broken model or a limitation is raised, as in a controlled hunt.
    """
    evidence = evidence if evidence is not None else StressEvidence()
    evidence.gil = gil_enabled()
    gate = process_gate()
    executor = StressExecutor(gate, resolve_modules)
    rounds = _Repetitions(
        spec,
        variant,
        replace(settings.searching(), executor=executor),
        evidence,
        executor,
        repeats=settings.repeats or DEFAULT_REPEATS,
    )
    test = _drawn(settings, spec, rounds.example)
    # The controlled engine's per-instruction hooks stay armed between its runs; point them at
    # nothing so that free threads do not pay for them, and arm the gate's frame events.
    process_hooks().instrumentation.configure({}, settings.granularity)
    process_hooks().activate()
    gate.arm()
    try:
        with fast_switching() as interval, stable_draws():
            evidence.switch_interval = interval
            test()
    except _Stop:
        pass
    finally:
        gate.disarm()
        executor.close()
    if rounds.stopped:
        raise rounds.stopped[0]
    if evidence.first is None:
        return StressOutcome(evidence=evidence, failure=None)
    found = reproduce(spec, evidence.first, settings, attempts=attempts)
    evidence.schedules_tried = found.attempts
    evidence.reproduced = found.failure is not None
    evidence.reproduced_at = found.granularity if found.failure is not None else None
    return StressOutcome(evidence=evidence, failure=found.failure)


def untested_reason(spec: ModelSpec, evidence: StressEvidence) -> str | None:
    """Why a stress hunt without failure tested nothing, or None if two workers were ever
    inside the code under test at once (measured by the model gate)."""
    if evidence.overlapping_rounds:
        return None
    modules = ", ".join(spec.cls.instrument) or "none"
    rounds = f"{evidence.rounds:,} free-running round{'s' if evidence.rounds != 1 else ''}"
    if evidence.entered_rounds == 0:
        return (
            f"no worker entered the code under test (instrumented modules: {modules}) in any "
            f"of {rounds}: check `instrument` names the module of the code under test"
        )
    return (
        f"no two workers were ever inside the code under test ({modules}) at the same time "
        f"in {rounds}: each call finished before another began, so nothing could race "
        "(more --repeats, or the controlled engine, which schedules the overlap)"
    )


def hunt_stress(
    spec: ModelSpec,
    variant: str,
    settings: Settings = STRESS_DEFAULTS,
    *,
    on_failure: Callable[[Failure], None] | None = None,
) -> HuntResult:
    """`hunt_spec` for ``engine="stress"``: stress, reproduce, then minimise like any hunt.

    The verdict carries the stress evidence whatever it is: a `Counterexample` is the
    reproduced, minimised failure (and `on_failure` sees only deterministic failures, which
    replay; never what stress saw, which has no schedule); `StressFailure` when the
    controlled engine could not reproduce it; `Clean` or `NotTested` from the measured overlap,
    never from coverage figures, which free-running rounds do not have. An interrupt is
    re-raised with the partial result, as `hunt_spec` does.
    """
    from harness.hunt import HuntResult, _with_values

    started = real_perf_counter()
    evidence = StressEvidence()
    # What stress saw has no schedule: only a reproduced failure is kept (and saved).
    reproduced: list[Failure] = []

    def result(verdict: Verdict) -> HuntResult:
        return HuntResult(
            verdict=verdict,
            granularity=reproduced[0].granularity if reproduced else settings.granularity,
            seed=settings.seed,
            examples=evidence.examples,
            seconds=real_perf_counter() - started,
            first_example=evidence.first_example,
            seconds_to_first_failure=evidence.seconds_to_first_failure,
            expected_failure=variant in spec.cls.expect_failure,
        )

    name = spec.name

    def run() -> HuntResult:
        failure = stress(spec, variant, settings, evidence=evidence).failure
        if evidence.first is None:
            reason = untested_reason(spec, evidence)
            if reason is not None:
                return result(NotTested(name, variant, reason, stress=evidence))
            return result(Clean(name, variant, stress=evidence))
        if failure is None:
            return result(StressFailure(name, variant, evidence.first, stress=evidence))
        reproduced.append(failure)
        if on_failure is not None:
            on_failure(failure)
        first = failure
        if settings.shrink:
            failure = minimize(spec, failure, settings)
        failure = _with_values(spec, failure, settings)
        if on_failure is not None:
            on_failure(failure)
        return result(Counterexample(name, variant, failure, first, stress=evidence))

    return judged(
        name, variant, run, result, lambda: reproduced[0] if reproduced else None, stress=evidence
    )
