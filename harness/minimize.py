"""Finish what Hypothesis's shrinker leaves: fewest steps, workers, calls and preemptions.

Why a second pass: Hypothesis shrinks the *drawn* data, and a round found through seeded noise
keeps that noise unless removing it all still fails. But every round records the switches it
actually took, and replaying them as explicit preemptions reproduces it exactly. On that
explicit form a deterministic reducer can remove every step, worker, call and preemption the
failure does not need, replaying the scenario on a fresh model each time.

Two kinds of moves, cheapest first:

* **Edits** replay once. Removing a call renumbers the preemptions of that worker's later calls
  (each round records where each call's points begin), so "the switch inside the second call"
  keeps its meaning when the first call goes. Other edits: drop a step, a worker or a
  preemption; turn a set-up round into sequential calls; move a worker's first call, or a whole
  worker, out of the round into a sequential step before it (set-up reads best as set-up); put
  the workers in another order (a race whose first actor is worker 1 needs an extra switch).
  Argument values move to the simplest one the operation's strategy can draw.
* **Searches** replay the edited scenario with every single preemption in turn, for when an
  edit changes which points the threads reach and no renumbering can say where the switch went.
  They run only when edits are exhausted, on a round edits have already made small, and a
  result is taken only if it is strictly smaller. One search edit adds nothing by itself: an
  argument of the failing round gets a value no other call uses. Hypothesis shrinks towards
  equal arguments (``put(1)`` twice), which often needs more switches than distinct ones; a
  fresh key is what lets a later edit move a call out of the round.

The result is 1-minimal for the edits: none of them, alone, keeps the failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, TypeVar

from hypothesis.errors import HypothesisException

from harness.draws import find
from harness.edits import (
    Replacement,
    drop_call,
    drop_worker,
    first_worker,
    observe_after,
    reduce,
    sequential,
    set_up_before,
    with_args,
    worker_before,
)
from harness.failure import Call, CounterexampleFound, Failure, Step
from harness.model import ModelSpec
from harness.runtime.outcome import Preemption
from harness.scenario import ScenarioRunner, replay
from harness.settings import DEFAULTS, Settings

T = TypeVar("T")


def same_bug(candidate: Failure, original: Failure) -> bool:
    """Whether a replayed variation still shows the failure being minimised."""
    if candidate.kind != original.kind:
        return False
    if candidate.kind == "exception":
        return _exception_type(candidate.message) == _exception_type(original.message)
    return True


def _exception_type(message: str) -> str:
    return message.split(" raised ", 1)[-1].split(":", 1)[0]


def rank(failure: Failure) -> tuple[int, int, int, int, int]:
    """What "smaller" means, most important first: rounds, then the racing round's workers,
    calls and preemptions, then steps (a set-up call outside the round beats one inside)."""
    race = failure.race
    if race is None:
        return (0, 0, 0, 0, len(failure.scenario))
    return (
        len(failure.rounds),
        race.workers,
        race.total_calls,
        len(race.taken),
        len(failure.scenario),
    )


_NONE = object()


class _Replays:
    """One failure being reduced: its best scenario so far, and replays of variations of
    it within the budget."""

    def __init__(
        self,
        spec: ModelSpec,
        failure: Failure,
        settings: Settings = DEFAULTS,
    ) -> None:
        """`settings.budget` caps the replays; each runs at the failure's granularity."""
        self.spec = spec
        self.original = failure
        self.best = failure
        self.settings = settings.at(failure.granularity).searching()
        self.budget = settings.budget
        self.replays = 0
        self._values: dict[tuple[str, str, str], Any] = {}

    def _context(self) -> dict[str, Any]:
        """What every replay of this failure shares: seed, parameters, settings."""
        return {
            "seed": self.original.seed,
            "params": self.original.params,
            "settings": self.settings,
        }

    @property
    def _spent(self) -> bool:
        return self.replays >= self.budget

    def _replay(self, steps: list[Step]) -> Failure | None:
        self.replays += 1
        return replay(self.spec, self.original.variant, steps=steps, **self._context())

    def _try(self, steps: list[Step], *, below: tuple[int, ...] | None = None) -> bool:
        """Replay `steps`; if the same bug shows (and, given `below`, ranks under it), they
        become the best scenario so far."""
        if self._spent or not steps:
            return False
        found = self._replay(steps)
        if found is None or not same_bug(found, self.original):
            return False
        if below is not None and rank(found) >= below:
            return False
        self.best = found
        return True

    def _value(self, op: str, arg: str, avoid: list[Any]) -> Any:
        """The simplest value of `op`'s argument `arg` not in `avoid` (`_NONE` if none)."""
        key = (op, arg, repr(avoid))
        if key not in self._values:
            strategy = self.spec.operation(op).strategies[arg]
            try:
                self._values[key] = find(strategy, lambda v: v not in avoid)
            except HypothesisException:
                self._values[key] = _NONE
        return self._values[key]

    def _size(self) -> tuple[int, int, int, int]:
        rounds = self.best.rounds
        return (
            len(self.best.scenario),
            sum(s.workers for s in rounds),
            sum(s.total_calls for s in rounds),
            sum(len(s.taken) for s in rounds),
        )

    def _calls(self) -> Iterator[tuple[int, int, int, Call]]:
        """Every call of the best scenario as (step index, worker, call index, call)."""
        for index, step in enumerate(self.best.scenario):
            for worker, calls in enumerate(step.calls):
                for position, call in enumerate(calls):
                    yield index, worker, position, call

    def _with_step(self, index: int, *replacement: Step) -> list[Step]:
        return self._replacing(index, (list(replacement), 0))[0]

    def _replacing(self, index: int, edit: Replacement) -> tuple[list[Step], int]:
        """The best scenario with `edit` in place of its step `index`, and where the edited
        round is in it."""
        steps = list(self.best.scenario)
        steps[index : index + 1] = edit[0]
        return steps, index + edit[1]

    def _round(self, index: int) -> Step | None:
        steps = self.best.scenario
        return steps[index] if index < len(steps) and steps[index].kind == "round" else None

    def _race_index(self) -> int | None:
        """Where the last parallel round is in the best scenario."""
        for index in reversed(range(len(self.best.scenario))):
            if self.best.scenario[index].kind == "round":
                return index
        return None


class _Searches(_Replays):
    """The search moves (see the module docstring): an edit whose switch must move."""

    def _search(self) -> bool:
        """Find one edit that fails again, smaller, with the switch elsewhere."""
        below = rank(self.best)
        index = self._race_index()
        if index is None:
            return False
        if self.best.looks_minimal():
            # The round is as small as a race gets; it may still need no switch at all.
            race = self.best.scenario[index]
            without_switch = self._with_step(index, replace(race, taken=[]))
            if race.taken and self._try(without_switch, below=below):
                return True
        for steps, at in self._search_candidates(index):
            if self._spent:
                return False
            if self._search_one_preemption(steps, at, below):
                return True
        return False

    def _search_candidates(self, index: int) -> Iterator[tuple[list[Step], int]]:
        """The edits worth a search, smallest result first, each with where its round is."""
        step = self.best.scenario[index]
        edits = [drop_worker(step, worker) for worker in reversed(range(step.workers))]
        for worker in range(step.workers):
            edits += [drop_call(step, worker, c) for c in reversed(range(len(step.calls[worker])))]
        for worker in range(step.workers):
            edits += [set_up_before(step, worker), observe_after(step, worker)]
        yield from (self._replacing(index, edit) for edit in edits if edit is not None)
        # A step that set state up (or looked at it) may go if the switch moves: without it
        # the threads reach their points at other counts.
        for other in range(len(self.best.scenario)):
            if other != index:
                steps = self.best.scenario[:other] + self.best.scenario[other + 1 :]
                yield steps, index - 1 if other < index else index
        if len(step.taken) > 1:
            for first in range(step.workers):
                edit = first_worker(step, first)
                if edit is not None:
                    yield self._replacing(index, edit)
        if not self.best.looks_minimal():
            for edited in self._fresh_argument_candidates(step):
                yield self._replacing(index, ([edited], 0))

    def _fresh_argument_candidates(self, step: Step) -> Iterator[Step]:
        """The racing round with one argument changed to a value no other call uses."""
        used: dict[str, list[Any]] = {}
        for _index, _worker, _position, (_op, args) in self._calls():
            for arg, value in args.items():
                if value not in used.setdefault(arg, []):
                    used[arg].append(value)
        for worker, calls in enumerate(step.calls):
            for position, (op, args) in enumerate(calls):
                for arg in args:
                    fresh = self._value(op, arg, used[arg])
                    if fresh is not _NONE:
                        yield with_args(step, worker, position, {**args, arg: fresh})

    def _search_one_preemption(self, steps: list[Step], index: int, below: tuple[int, ...]) -> bool:
        """Find at most one preemption for the round at `index` that makes `steps` fail the
        same way, ranked under `below`."""
        if not 0 <= index < len(steps) or steps[index].kind != "round" or self._spent:
            return False
        race = steps[index]

        def with_taken(taken: list[Preemption]) -> list[Step]:
            return [*steps[:index], replace(race, taken=taken), *steps[index + 1 :]]

        if self._try(with_taken([]), below=below):
            return True
        counts = self._points_per_thread(steps[:index], race)
        for thread, count in enumerate(counts):
            for point in range(1, count + 1):
                for target in range(len(counts)):
                    if target == thread or self._spent:
                        continue
                    if self._try(with_taken([Preemption(0, thread, point, target)]), below=below):
                        return True
        return False

    def _points_per_thread(self, before: list[Step], last: Step) -> list[int]:
        """How many points each thread reaches in `last` run without preemption: the workers,
        then the threads the code started (numbered after them)."""
        self.replays += 1
        try:
            with ScenarioRunner(self.spec, self.original.variant, **self._context()) as runner:
                for step in before:
                    runner.run_step(step)
                result = runner.parallel(last.calls, [])
        except CounterexampleFound:
            return [0] * last.workers
        threads = max((event.thread + 1 for event in result.trace), default=0)
        counts = [0] * max(last.workers, threads)
        for event in result.trace:
            counts[event.thread] += 1
        return counts


class Minimizer(_Searches):
    """Reduces one failure by replaying variations of its scenario."""

    def run(self) -> Failure:
        """Edits to a fixpoint; then searches, each success followed by edits again."""
        self._edits()
        while not self._spent and self._search():
            self._edits()
        return self.best

    def _edits(self) -> None:
        before = None
        while before != self._size() and not self._spent:
            before = self._size()
            reduce(list(self.best.scenario), self._try, floor=1)
            self._serialise_set_up_rounds()
            for index in range(len(self.best.scenario)):
                if index < len(self.best.scenario) and self.best.scenario[index].kind == "round":
                    self._reduce_round(index)
            self._reorder_failing_round()
            self._simplify_values()

    def _serialise_set_up_rounds(self) -> None:
        """A round before the failing one that only sets state up reads better as calls."""
        index = 0
        while index < len(self.best.scenario) - 1 and not self._spent:
            step = self.best.scenario[index]
            if step.kind == "round":
                calls = [call for worker in step.calls for call in worker]
                if self._try(self._with_step(index, *sequential(calls))):
                    continue  # the scenario changed; look at the same index again
            index += 1

    def _reduce_round(self, index: int) -> None:
        for edit in self._round_edits(index):
            if self._spent:
                return
            self._try(edit)

    def _round_edits(self, index: int) -> Iterator[list[Step]]:
        """Edits of the round at `index`, each built from the current best (so after a
        success the next one starts from the smaller round)."""
        # Workers: drop each (preemptions involving it go too; the rest are renumbered).
        for worker in reversed(range(len(self.best.scenario[index].calls))):
            step = self._round(index)
            edit = None if step is None else drop_worker(step, worker)
            if edit is not None:
                yield self._replacing(index, edit)[0]
        # Calls: drop each, last first, keeping one per worker.
        for worker in range(len(self.best.scenario[index].calls)):
            for call in reversed(range(len(self.best.scenario[index].calls[worker]))):
                step = self._round(index)
                if step is None or worker >= step.workers:
                    return
                edit = drop_call(step, worker, call)
                if edit is not None:
                    yield self._replacing(index, edit)[0]
        # Set-up inside the round: a worker's last call after it, its first call or a whole
        # one-call worker before it.
        for worker in reversed(range(len(self.best.scenario[index].calls))):
            step = self._round(index)
            if step is None or worker >= step.workers:
                return
            edit = observe_after(step, worker) or worker_before(step, worker)
            if edit is not None:
                yield self._replacing(index, edit)[0]
            if len(step.calls[worker]) > 1:
                step = self._round(index)
                edit = None if step is None else set_up_before(step, worker)
                if edit is not None:
                    yield self._replacing(index, edit)[0]
        # Preemptions: the ones the failure does not need.
        step = self._round(index)
        if step is not None and step.taken:

            def keeps_taken(taken: list[Preemption]) -> bool:
                current = self._round(index)
                return current is not None and self._try(
                    self._with_step(index, replace(current, taken=taken))
                )

            reduce(list(step.taken), keeps_taken)

    def _simplify_values(self) -> None:
        """Each argument to the simplest value its strategy draws, where the bug survives.

        Equal values change together first: two calls race on one key only while they share
        it, so changing one at a time would never get past the first.
        """
        groups: dict[tuple[str, str, str], list[tuple[int, int, int]]] = {}
        for index, worker, position, (op, args) in self._calls():
            for arg, value in args.items():
                groups.setdefault((op, arg, repr(value)), []).append((index, worker, position))
        for (op, arg, _value), places in groups.items():
            simplest = self._value(op, arg, [])
            if self._spent or simplest is _NONE:
                return
            if repr(simplest) == _value:
                continue
            if self._try(self._with_value(places, arg, simplest)) or len(places) == 1:
                continue
            for place in places:
                self._try(self._with_value([place], arg, simplest))

    def _with_value(self, places: list[tuple[int, int, int]], arg: str, value: Any) -> list[Step]:
        """The best scenario with `arg` set to `value` in the calls at `places`."""
        steps = list(self.best.scenario)
        for index, worker, position in places:
            if index < len(steps) and worker < steps[index].workers:
                calls = steps[index].calls[worker]
                if position < len(calls) and arg in calls[position][1]:
                    args = {**calls[position][1], arg: value}
                    steps[index] = with_args(steps[index], worker, position, args)
        return steps

    def _reorder_failing_round(self) -> None:
        """Worker 0 always runs first, so a race that another worker starts costs a switch
        more than it needs: try each worker first (its preemptions follow it)."""
        index = self._race_index()
        step = None if index is None else self._round(index)
        if index is None or step is None or len(step.taken) <= 1:
            return
        for first in range(1, step.workers):
            current = self._round(index)
            if current is None or len(current.taken) <= 1 or first >= current.workers:
                return
            edit = first_worker(current, first)
            before = len(current.taken)
            if edit is not None and self._try(self._replacing(index, edit)[0]):
                self._reduce_round(index)
                race = self.best.race
                if race is not None and len(race.taken) < before:
                    return


def minimize(
    spec: ModelSpec,
    failure: Failure,
    settings: Settings = DEFAULTS,
) -> Failure:
    """The smallest failure reachable from `failure` by removing parts of its scenario."""
    return Minimizer(spec, failure, settings).run()
