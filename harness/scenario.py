"""Executes a scenario -- sequential calls and parallel rounds -- against one model instance.

The one place where steps are run and checked. The Hypothesis state machine drives it with
drawn steps; the minimiser and replay drive it with recorded ones. Because both go through the
same code, a counterexample found by Hypothesis replays here exactly.

Checks after every step: the model's invariants; for a round also hangs (deadlock, livelock,
stuck thread) and exceptions escaping workers. A failed check raises `CounterexampleFound`
with a `Failure` describing the scenario so far; a crash of the model's own code raises
`BrokenModelError`.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from harness.classify import blame, broken, site
from harness.errors import BrokenModelError, LimitationError
from harness.failure import Call, CounterexampleFound, Failure, Step
from harness.linearizability import Blocked, Replica, linearize
from harness.model import Model, ModelSpec, OpRecord
from harness.runtime.outcome import Deadlock, Livelock, RunResult, Stuck
from harness.runtime.registry import unwinding
from harness.runtime.trace import Trace
from harness.runtime.world import UncontrolledThreadError, World
from harness.schedule.base import CountingSource
from harness.schedule.drawn import DrawnSchedule, ThreadPreemption
from harness.settings import DEFAULTS, Settings


class ScenarioRunner:
    """One model instance in its own `World`, and the steps run against it so far."""

    def __init__(
        self,
        spec: ModelSpec,
        variant: str,
        *,
        seed: int,
        params: dict[str, Any],
        settings: Settings = DEFAULTS,
        on_failure: Callable[[Failure], None] | None = None,
        on_round: Callable[[RunResult], None] | None = None,
    ) -> None:
        """`seed` and `params` are the example's (the model's random seed and parameters);
        `settings` says how rounds run (granularity, hang limits, executor, value capture)."""
        self.spec = spec
        self.cls: type[Model] = spec.cls
        self.variant = variant
        self.seed = seed
        self.params = params
        self.settings = settings
        self.granularity = settings.granularity
        self.on_failure = on_failure
        self.on_round = on_round
        self.ops = {op.name: op for op in spec.operations}
        self.scenario: list[Step] = []
        #: Every completed call, in order: what the linearizability check reads. Kept here,
        #: not on the model, so that a model may use any attribute name it likes.
        self.history: list[OpRecord] = []
        self.last_round: RunResult | None = None
        #: A round ended with its calls waiting as they would alone (`blocked_by_design`):
        self.blocked = False  # nothing more can run on the object; later steps do nothing
        self.world: World | None = World(owner_virtual=False).__enter__()
        try:
            try:
                self.world.control_imports(spec.instrumented_files.values())
                with self.world.virtual_time():
                    self.model = self.cls(variant, random.Random(seed), params)
                    reference = self.model.reference()
                    self.reference_states = (
                        None if reference is None else [Replica(reference, self.model.reference)]
                    )
            except (Exception, SystemExit, GeneratorExit) as exc:
                raise _broken(self.spec, exc, f"setup of model {self.cls.name!r}") from exc
            self.check_invariants(None)
        except CounterexampleFound as found:
            self.close()
            failure = found.failure
            raise BrokenModelError(
                f"invariant {failure.invariant} of model {self.cls.name!r} fails before any "
                f"operation ran (right after setup): {failure.message}"
            ) from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Leave the World (restores threading and time). Safe to call twice."""
        if self.world is not None:
            self.world.__exit__(None, None, None)
            self.world = None

    def __enter__(self) -> ScenarioRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _world(self) -> World:
        if self.world is None:
            raise RuntimeError("this scenario runner is closed")
        return self.world

    # -- steps ---------------------------------------------------------------------------------

    def run_step(self, step: Step) -> None:
        """Run a recorded step again (rounds replay the preemptions they actually took)."""
        if step.kind == "sequential":
            self.sequential(step.calls[0][0])
        else:
            taken = [ThreadPreemption(*p[1:]) for p in step.taken]
            self.parallel(step.calls, taken, forced=step.forced)

    def sequential(self, call: Call) -> None:
        """One operation on the calling (test) thread: no interleaving."""
        world = self._world()
        if self.blocked:
            return
        name, args = call
        self.scenario.append(Step("sequential", [[(name, args)]]))
        op = self.ops[name]
        model = self.model
        with world.virtual_time():
            try:
                result = op.call(model, None, args)
            except UncontrolledThreadError as exc:
                raise _thread_limitation(self.spec, exc) from exc
            except op.raises as exc:
                self.history.append(OpRecord(None, name, args, None, exc))
            except (Exception, SystemExit, GeneratorExit) as exc:
                self.history.append(OpRecord(None, name, args, None, exc))
                details = "".join(traceback.format_exception(exc))
                verdict = blame(exc, self.spec.own_code, self.spec.instrumented_files)
                if verdict.party == "model":
                    raise broken(exc, f"operation {name}", verdict.where, details) from exc
                self.fail(
                    "exception",
                    f"{name} raised {type(exc).__name__}: {exc}",
                    details=details,
                    exception_type=type(exc).__name__,
                    where=verdict.where,
                )
            else:
                self.history.append(OpRecord(None, name, args, result))
        self.check_invariants(None)
        self.check_results(self.history[-1:], None)

    def parallel(
        self,
        calls: list[list[Call]],
        preemptions: list[ThreadPreemption],
        noise: tuple[int, int] | None = None,
        *,
        forced: list[tuple[int, int]] | tuple[()] = (),
        decisions: CountingSource | None = None,
    ) -> RunResult:
        """A round: one controlled worker thread per call list, interleaved by the schedule.

        `decisions` replaces the drawn schedule by another strategy (PCT, DFS); the round is
        recorded as the preemptions and free choices it took, so it replays like any other.
        """
        self._world()  # raises if closed
        if self.blocked and self.last_round is not None:
            return self.last_round
        step = Step("round", calls)
        self.scenario.append(step)
        self._model_hook("begin_round", len(calls))
        schedule: CountingSource = (
            DrawnSchedule(preemptions, noise, forced) if decisions is None else decisions
        )
        first_record = len(self.history)
        result = self.last_round = execute(self, step, schedule)
        if self.on_round is not None:
            self.on_round(result)
        not_a_race(self.spec, result)
        hang = result.hang
        if blocked_by_design(self, result, first_record):
            self.blocked = True  # the calls wait as they would alone: the example ends here
            return result
        if hang is not None:
            shown = None if isinstance(hang, Stuck) else hang
            first_line = hang.describe().split("\n")[0]
            self.fail(_hang_kind(hang), first_line, result, details=hang.describe(), hang=shown)
        self._model_hook("end_round")
        if result.errors:
            err = result.errors[0]
            exc = err.exception
            who = result.children.get(err.thread, f"worker {err.thread}")
            self.fail(
                "exception",
                f"{who} raised {type(exc).__name__}: {exc}",
                result,
                details=err.traceback,
                worker=err.thread,
                exception_type=type(exc).__name__,
                where=blame(exc, self.spec.own_code, self.spec.instrumented_files).where,
            )
        self.check_invariants(result)
        self.check_results(self.history[first_record:], result)
        return result

    def _model_hook(self, name: str, *args: Any) -> None:
        """Call a round hook of the model (`begin_round`, `end_round`): a crash there is the
        model's."""
        with self._world().virtual_time():
            try:
                getattr(self.model, name)(*args)
            except (Exception, SystemExit, GeneratorExit) as exc:
                raise _broken(self.spec, exc, f"{name} of model {self.cls.name!r}") from exc

    # -- checks --------------------------------------------------------------------------------

    def check_invariants(self, result: RunResult | None) -> None:
        world = self._world()
        with world.virtual_time():
            for inv in self.spec.invariants:
                try:
                    inv.func(self.model)
                except AssertionError as exc:
                    self.fail(
                        "invariant", str(exc) or inv.doc or inv.name, result, invariant=inv.name
                    )
                except (Exception, SystemExit, GeneratorExit) as exc:
                    raise _broken(
                        self.spec,
                        exc,
                        f"invariant {inv.name} of model {self.cls.name!r} (not by assert)",
                    ) from exc

    def check_results(self, records: list[OpRecord], result: RunResult | None) -> None:
        """Compare the step's results with the sequential reference, if the model has one."""
        if self.reference_states is None or not records:
            return
        with self._world().virtual_time():
            try:
                verdict = linearize(self.reference_states, records)
            except (Exception, SystemExit, GeneratorExit) as exc:
                raise _broken(
                    self.spec, exc, f"the sequential reference of model {self.cls.name!r}"
                ) from exc
        if not verdict.explained:
            self.fail(
                "linearizability",
                verdict.summary(),
                result,
                details=verdict.describe(),
                linearization=verdict,
            )
        self.reference_states = verdict.states

    def fail(
        self,
        kind: str,
        message: str,
        result: RunResult | None = None,
        **found: Any,
    ) -> None:
        """Raise the scenario so far as a `Failure` of `kind`; `found` are its other fields
        (invariant, details, worker, exception_type, where, hang, linearization)."""
        shown = result or self.last_round
        failure = Failure(
            kind=kind,
            message=message,
            model=self.cls.name,
            variant=self.variant,
            granularity=self.granularity,
            scenario=list(self.scenario),
            # A sequential call that fails shows the last round's interleaving: that is where
            # the state it saw was made.
            trace=shown.trace if shown is not None else Trace(),
            seed=self.seed,
            params=dict(self.params),
            model_ref=self.spec.origin,
            history=list(self.history),
            **found,
        )
        if self.on_failure is not None:
            self.on_failure(failure)
        raise CounterexampleFound(failure)


def replay(
    spec: ModelSpec,
    variant: str,
    *,
    seed: int,
    params: dict[str, Any],
    steps: list[Step],
    settings: Settings = DEFAULTS,
) -> Failure | None:
    """Run recorded steps on a fresh model; the failure they lead to, or None if none."""
    try:
        with ScenarioRunner(spec, variant, seed=seed, params=params, settings=settings) as runner:
            for step in steps:
                runner.run_step(step)
    except CounterexampleFound as found:
        return found.failure
    return None


def replay_failure(
    spec: ModelSpec,
    failure: Failure,
    settings: Settings = DEFAULTS,
) -> Failure | None:
    """Run a failure's recorded scenario again (same seed, parameters and points, at the
    failure's granularity; the rest of `settings` as given)."""
    return replay(
        spec,
        failure.variant,
        seed=failure.seed,
        params=failure.params,
        steps=failure.scenario,
        settings=settings.at(failure.granularity),
    )


def execute(runner: ScenarioRunner, step: Step, schedule: CountingSource) -> RunResult:
    """Run the round `step` on the executor under `schedule`, one worker per call list, and
    record in `step` what it took: each call's first point, the preemptions and free choices,
    the number of points."""
    step.call_points = [[] for _ in step.calls]
    order = itertools.count()
    workers = [
        worker_body(runner, i, c, schedule, step.call_points[i], order)
        for i, c in enumerate(step.calls)
    ]
    settings = runner.settings
    result = settings.pool().run(
        workers,
        schedule,
        granularity=settings.granularity,
        modules=list(runner.cls.instrument),
        max_steps=settings.max_steps,
        stuck_after=settings.stuck_after,
        capture_values=settings.capture,
    )
    step.taken = list(result.preemptions)
    step.forced = list(result.forced)
    step.steps = result.steps
    return result


def worker_body(
    runner: ScenarioRunner,
    worker: int,
    calls: list[Call],
    schedule: CountingSource,
    marks: list[int],
    order: Iterator[int],
) -> Callable[[], None]:
    """One worker's body: its calls on `runner`'s model, each recorded in its history and
    each call's first point in `marks`. `order` numbers call starts and returns in real time
    (only one controlled thread runs at a time, so drawing from it needs no lock)."""
    model, ops, history = runner.model, runner.ops, runner.history

    def body() -> None:
        for name, args in calls:
            marks.append(schedule.reached(worker))
            op = ops[name]
            start = next(order)
            result: Any = None
            error: BaseException | None = None
            try:
                result = op.call(model, worker, args)
            except op.raises as exc:
                error = exc
            except BaseException as exc:
                error = exc
                raise
            finally:
                record = OpRecord(worker, name, args, result, error, start, next(order))
                history.append(record)
            if unwinding():  # the call was cut short by a hang: the round is over for it
                return
        marks.append(schedule.reached(worker))

    return body


def blocked_by_design(runner: ScenarioRunner, result: RunResult, first_record: int) -> bool:
    """Whether a deadlock is the calls' own semantics, not a race: every blocked thread
    waits for a notification (no lock held by another, no cycle) and the sequential
    reference, run in some order of the round's calls, waits forever on the same calls
    and returns what the others returned. Without a reference it cannot tell: False."""
    hang = result.hang
    if not isinstance(hang, Deadlock) or runner.reference_states is None:
        return False
    if hang.cycle or any(w.held_by is not None for w in hang.waiters):
        return False
    # A blocked thread's call is its last record of the round, with whatever unwinding it
    # raised (RunAborted, or what a `finally` in the code under test raised on the way).
    # It is ordered after every call that returned: it must still wait in the state they
    # left -- a put that returned after a get began must have woken it (a lost wake-up
    # is a race, and stays a counterexample).
    records = list(runner.history[first_record:])
    last = {r.worker: i for i, r in enumerate(records)}
    blocked = {last[w.thread] for w in hang.waiters if w.thread in last}
    after = 1 + max((r.end or 0 for i, r in enumerate(records) if i not in blocked), default=0)
    for i in blocked:
        records[i] = dataclasses.replace(records[i], error=Blocked(), start=after, end=None)
    with runner._world().virtual_time():
        try:
            return linearize(runner.reference_states, records).explained
        except (Exception, SystemExit, GeneratorExit) as exc:
            raise _broken(
                runner.spec, exc, f"the sequential reference of model {runner.cls.name!r}"
            ) from exc


def _hang_kind(hang: Deadlock | Livelock | Stuck) -> str:
    """A hung round's failure kind. `Stuck` is a free-running (stress) round's hang: a deadlock
    or a block outside the code, which the stress engine's reproduction tells apart."""
    if isinstance(hang, Livelock):
        return "livelock"
    return "stuck" if isinstance(hang, Stuck) else "deadlock"


def not_a_race(spec: ModelSpec, result: RunResult) -> None:
    """Raise for what a round shows that is no race: a thread the code started itself or a
    worker blocked outside instrumented code (limitations), or a mistake in the model's own
    operation code (a broken model)."""
    name = spec.cls.name
    for err in result.errors:
        exc = err.exception
        if isinstance(exc, UncontrolledThreadError):
            raise _thread_limitation(spec, exc, err.traceback)
        verdict = blame(exc, spec.own_code, spec.instrumented_files)
        if verdict.party == "model":
            raise broken(exc, f"worker {err.thread}'s operation", verdict.where, err.traceback)
    hang = result.hang
    running = hang.running if isinstance(hang, Livelock) else ()
    if running and all(t in result.children for t in running):
        # The round's workers all returned; what ran on is a thread the code started.
        label = result.children[running[0]]
        raise LimitationError(
            f"model {name!r}: {label} never ended: it ran past the round's step bound after "
            "every worker had returned (a daemon loop?); a thread that never ends cannot be "
            "run to completion, so the round cannot be judged",
            what="a thread started by the code under test that never ends",
            where=label.rsplit(" at ", 1)[-1].split(" ", 1)[0],
            details=hang.describe() if hang is not None else "",
        )
    if isinstance(hang, Stuck) and hang.controlled:
        raise LimitationError(
            f"model {name!r}: worker {hang.thread} blocked outside instrumented "
            f"code for {hang.seconds:.1f} s (a real C lock, a blocking C call or a thread "
            "the harness does not control); its OS thread is abandoned",
            what="a worker blocked outside instrumented code",
            where=_stuck_site(hang),
            details=hang.describe(),
        )


def _thread_limitation(
    spec: ModelSpec, exc: BaseException, details: str | None = None
) -> LimitationError:
    """A thread the code started that the harness cannot control (`UncontrolledThreadError`);
    `details` is the traceback (by default `exc`'s own)."""
    return LimitationError(
        f"model {spec.cls.name!r}: {exc}",
        what="a thread started by the code under test",
        where=str(exc).split(" at ", 1)[-1].split(" ", 1)[0],
        details="".join(traceback.format_exception(exc)) if details is None else details,
    )


def _broken(spec: ModelSpec, exc: BaseException, what: str) -> BrokenModelError:
    """The model's own code raised `exc` while doing `what`."""
    where = blame(exc, spec.own_code, spec.instrumented_files).where
    return broken(exc, what, where, "".join(traceback.format_exception(exc)))


def _stuck_site(hang: Stuck) -> str:
    """``file.py:line`` of the innermost frame of the stuck thread's stack (where it blocked)."""
    stack = hang.stacks.get(hang.thread, "")
    frames = re.findall(r'File "([^"]+)", line (\d+)', stack)
    return site(frames[-1][0], int(frames[-1][1])) if frames else ""
