"""From a failure seen under stress to a deterministic, replayable one -- or an honest "no".

A free-running round that failed left no schedule behind: the operating system chose the
interleaving and nobody wrote it down. But it left its scenario (seed, parameters, set-up
calls, the round's calls) and what failed (kind, invariant). This module gives that scenario
to the controlled engine and searches schedules until the *same* failure appears -- same kind,
same invariant (for an exception, the same exception type; any hang matches any hang, since a
free run cannot tell a deadlock from a thread blocked elsewhere). The failure found is then an
ordinary one: it records the switches it took, so `harness.minimize` shrinks it and the
counterexample file replays it exactly.

The search is seeded and bounded by a count, never by time, so the same stress failure always
leads to the same counterexample. Its schedules: dense seeded noise at several rates first
(most races need one well-placed switch, and noise finds it in a few tries), then explicit
preemptions at random points; the last third of the budget runs at ``opcode`` points, for races
that only an instruction-level switch exposes. A race inside C code, or one that needs true
parallelism the scheduler cannot express, is never found: the caller then says so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.failure import Call, CounterexampleFound, Failure, Step
from harness.minimize import same_bug
from harness.model import ModelSpec
from harness.scenario import ScenarioRunner
from harness.schedule.drawn import ThreadPreemption
from harness.settings import DEFAULTS, Settings

#: Schedules tried before giving up (each is one fresh model and the whole scenario).
DEFAULT_ATTEMPTS = 600
NOISE_RATES = (2, 4, 8, 16, 32)
HANG_KINDS = frozenset({"deadlock", "livelock", "stuck"})


@dataclass
class Reproduction:
    """The outcome of the search: the failure found (or None) and what it took."""

    failure: Failure | None
    attempts: int
    granularity: str


def matches(candidate: Failure, target: Failure) -> bool:
    """Whether a deterministic failure is the one stress saw (kind and invariant)."""
    if candidate.kind in HANG_KINDS and target.kind in HANG_KINDS:
        return True
    return same_bug(candidate, target) and candidate.invariant == target.invariant


Schedule = tuple[list[ThreadPreemption], tuple[int, int] | None]


def _schedule(rng: random.Random, attempt: int, points: list[int]) -> Schedule:
    """The `attempt`-th schedule to try. `points[w]` is how many points worker w reached in
    the run without switches, so that a preemption lands inside the worker's own code."""
    workers = len(points)

    def one() -> ThreadPreemption:
        thread = rng.randrange(workers)
        target = rng.choice([t for t in range(workers) if t != thread])
        return ThreadPreemption(thread, rng.randint(1, max(1, points[thread])), target)

    kind = attempt % 4
    if kind in (0, 1):  # most races need one switch at the right place and nothing else
        return [one()], None
    if kind == 2:
        return [], (rng.randrange(2**32), NOISE_RATES[attempt // 4 % len(NOISE_RATES)])
    return [one() for _ in range(rng.randint(2, 3))], None


def reproduce(
    spec: ModelSpec,
    target: Failure,
    settings: Settings = DEFAULTS,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Reproduction:
    """Search schedules of `target`'s scenario for the same failure under the controlled engine.

    `target.scenario` is the set-up calls and one free-running round (the stress engine's
    shape); a failure of a set-up call itself is sequential and reproduces at the first try.
    """
    race = target.race
    if race is None:
        setup, calls = target.scenario, None
    else:
        index = target.scenario.index(race)
        setup, calls = target.scenario[:index], race.calls
    rng = random.Random(f"{settings.seed}:{target.seed}")
    # Two thirds of the budget at the hunt's points, the rest at every instruction. Each part
    # starts with a run without any switch, which also tells how many points each worker
    # reaches.
    parts = [(target.granularity, attempts * 2 // 3), ("opcode", attempts)]
    if target.granularity == "opcode":
        parts = parts[1:]
    tried = 0
    searching = settings.searching()
    with settings.pool().pinned():
        for points_at, until in parts:
            at = searching.at(points_at)
            found, points = _attempt(spec, target, setup, calls, ([], None), at)
            tried += 1
            if found is not None and matches(found, target):
                return Reproduction(found, tried, points_at)
            if calls is None:  # a sequential failure: no schedule to search
                return Reproduction(None, tried, points_at)
            while tried < until:
                schedule = _schedule(rng, tried, points)
                found, _ = _attempt(spec, target, setup, calls, schedule, at)
                tried += 1
                if found is not None and matches(found, target):
                    return Reproduction(found, tried, points_at)
    return Reproduction(None, tried, target.granularity)


def _attempt(
    spec: ModelSpec,
    target: Failure,
    setup: list[Step],
    calls: list[list[Call]] | None,
    schedule: Schedule,
    settings: Settings,
) -> tuple[Failure | None, list[int]]:
    """Run the scenario once under `schedule`: the failure, and each worker's point count."""
    runner = None
    failure = None
    try:
        with ScenarioRunner(
            spec,
            target.variant,
            seed=target.seed,
            params=target.params,
            settings=settings,
        ) as runner:
            try:
                for step in setup:
                    runner.run_step(step)
                if calls is not None:
                    runner.parallel(calls, *schedule)
            except CounterexampleFound as found:
                failure = _as_target(runner, found.failure, target)
    except CounterexampleFound as found:  # the fresh model's own first check
        failure = found.failure
    points = [1] * (len(calls) if calls else 0)
    last = runner.scenario[-1] if runner is not None and runner.scenario else None
    if calls is not None and last is not None and last.kind == "round":
        points = [marks[-1] if marks else 1 for marks in last.call_points]
    return failure, points


def _as_target(runner: ScenarioRunner, failure: Failure, target: Failure) -> Failure:
    """The failure, named after the target's invariant when that one is broken too.

    Invariants are checked in order and the first broken one is reported: a lost update often
    breaks several, and the schedule that stress happened to take broke the target's alone.
    A schedule whose state also breaks the target's invariant shows the same failure.
    """
    if failure.kind != "invariant" or target.kind != "invariant":
        return failure
    if failure.invariant == target.invariant or target.invariant is None:
        return failure
    check = next((inv for inv in runner.spec.invariants if inv.name == target.invariant), None)
    if check is None:
        return failure
    try:
        with runner._world().virtual_time():
            check.func(runner.model)
    except AssertionError as exc:
        try:
            runner.fail("invariant", str(exc) or check.doc or check.name, invariant=check.name)
        except CounterexampleFound as named:
            return named.failure
    except Exception:  # the invariant crashed on a state it was not meant for: keep the first
        return failure
    return failure
