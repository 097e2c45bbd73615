"""Finish what Hypothesis's shrinker leaves: fewest steps, workers, calls and preemptions.

Why a second pass: Hypothesis shrinks the *drawn* data, and a round found through seeded noise
keeps that noise unless removing it all still fails. But every round records the switches it
actually took, and replaying them as explicit preemptions reproduces it exactly. On that
explicit form a simple deterministic reducer (delta debugging: drop chunks, then single items)
can remove every step, worker, call and preemption the failure does not need, replaying the
scenario on a fresh model each time. The result is 1-minimal: removing any one remaining
element makes the failure go away.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from harness.failure import CounterexampleFound, Failure, Step
from harness.model import ModelSpec
from harness.runtime.executor import DEFAULT_STUCK_AFTER, Executor
from harness.runtime.outcome import Preemption
from harness.scenario import ScenarioRunner, replay

T = TypeVar("T")

#: Replays one minimisation may spend (each is one fresh model and the whole scenario,
#: about a millisecond for small models).
DEFAULT_BUDGET = 1500


def same_bug(candidate: Failure, original: Failure) -> bool:
    if candidate.kind != original.kind:
        return False
    if candidate.kind == "exception":
        return _exception_type(candidate.message) == _exception_type(original.message)
    return True


def _exception_type(message: str) -> str:
    return message.split(" raised ", 1)[-1].split(":", 1)[0]


def _reduce(items: list[T], keeps_failing: Callable[[list[T]], bool], floor: int = 0) -> list[T]:
    """Delta-debugging style: drop ever smaller chunks while the failure persists."""
    chunk = max(1, len(items) // 2)
    while chunk >= 1 and len(items) > floor:
        i = 0
        progressed = False
        while i < len(items) and len(items) > floor:
            candidate = items[:i] + items[i + chunk :]
            if len(candidate) >= floor and keeps_failing(candidate):
                items = candidate
                progressed = True
            else:
                i += chunk
        if not progressed:
            chunk //= 2
    return items


def _without_worker(step: Step, worker: int) -> Step:
    calls = step.calls[:worker] + step.calls[worker + 1 :]

    def renumber(t: int) -> int:
        return t - 1 if t > worker else t

    taken = [
        Preemption(p.step, renumber(p.thread), p.point, renumber(p.target))
        for p in step.taken
        if worker not in (p.thread, p.target)
    ]
    return replace(step, calls=calls, taken=taken)


class Minimizer:
    """Reduces one failure by replaying variations of its scenario."""

    def __init__(
        self,
        spec: ModelSpec,
        failure: Failure,
        *,
        executor: Executor | None = None,
        stuck_after: float = DEFAULT_STUCK_AFTER,
        budget: int = DEFAULT_BUDGET,
    ) -> None:
        self.spec = spec
        self.original = failure
        self.best = failure
        self.executor = executor
        self.stuck_after = stuck_after
        self.budget = budget
        self.replays = 0

    def _context(self) -> dict[str, Any]:
        """What every replay of this failure shares: seed, parameters, granularity, runtime."""
        return {
            "seed": self.original.seed,
            "params": self.original.params,
            "granularity": self.original.granularity,
            "executor": self.executor,
            "stuck_after": self.stuck_after,
            "capture": False,
        }

    def _replay(self, steps: list[Step]) -> Failure | None:
        return replay(self.spec, self.original.variant, steps=steps, **self._context())

    def _try(self, steps: list[Step]) -> bool:
        if self.replays >= self.budget or not steps:
            return False
        self.replays += 1
        found = self._replay(steps)
        if found is None or not same_bug(found, self.original):
            return False
        self.best = found
        return True

    def run(self) -> Failure:
        """Cheap deletions to a fixpoint first; searches only for what deletions cannot do."""
        self._deletions()
        before = None
        while before != self._size() and self.replays < self.budget:
            before = self._size()
            self._search_without_steps()
            self._fewer_workers_and_preemptions()
            self._deletions()
        return self.best

    def _deletions(self) -> None:
        before = None
        while before != self._size() and self.replays < self.budget:
            before = self._size()
            _reduce(list(self.best.scenario), self._try, floor=1)
            self._serialise_set_up_rounds()
            for index in range(len(self.best.scenario)):
                if index < len(self.best.scenario) and self.best.scenario[index].kind == "round":
                    self._reduce_round(index)

    def _fewer_workers_and_preemptions(self) -> None:
        """When dropping a worker or a preemption alone fails, the race may still be there
        with the preemption elsewhere: search single preemptions on the smaller round."""
        last = self.best.scenario[-1]
        if last.kind != "round":
            return
        for worker in reversed(range(last.workers)):
            current = self.best.scenario[-1]
            if current.workers <= 2 or worker >= current.workers:
                continue
            smaller = _without_worker(current, worker)
            self._search_one_preemption([*self.best.scenario[:-1], smaller])
        if len(self.best.scenario[-1].taken) > 1:
            self._search_one_preemption(list(self.best.scenario))

    def _size(self) -> tuple[int, int, int, int]:
        rounds = [s for s in self.best.scenario if s.kind == "round"]
        return (
            len(self.best.scenario),
            sum(s.workers for s in rounds),
            sum(s.total_calls for s in rounds),
            sum(len(s.taken) for s in rounds),
        )

    def _search_without_steps(self) -> None:
        # A step that set state up may still be removable if the preemption moves: without
        # it the threads reach their points at other counts. Search single preemptions.
        index = 0
        while index < len(self.best.scenario) - 1 and self.replays < self.budget:
            steps = self.best.scenario[:index] + self.best.scenario[index + 1 :]
            if not self._search_one_preemption(steps):
                index += 1

    def _serialise_set_up_rounds(self) -> None:
        """A round before the failing one that only sets state up reads better as calls."""
        index = 0
        while index < len(self.best.scenario) - 1 and self.replays < self.budget:
            step = self.best.scenario[index]
            if step.kind == "round":
                calls = [Step("sequential", [[call]]) for worker in step.calls for call in worker]
                steps = [*self.best.scenario[:index], *calls, *self.best.scenario[index + 1 :]]
                if self._try(steps):
                    continue  # the scenario changed; look at the same index again
            index += 1

    def _search_one_preemption(self, steps: list[Step]) -> bool:
        """Find one preemption that makes `steps` fail the same way (last step a round)."""
        last = steps[-1] if steps else None
        if last is None or last.kind != "round":
            return False
        probe = self._replay([*steps[:-1], replace(last, taken=[])])
        self.replays += 1
        if probe is not None:
            return self._accept_probe(probe)
        counts = self._points_per_thread(steps[:-1], last)
        for thread, count in enumerate(counts):
            for point in range(1, count + 1):
                for target in range(last.workers):
                    if target == thread or self.replays >= self.budget:
                        continue
                    taken = [Preemption(0, thread, point, target)]
                    if self._try([*steps[:-1], replace(last, taken=taken)]):
                        return True
        return False

    def _accept_probe(self, probe: Failure) -> bool:
        if same_bug(probe, self.original):
            self.best = probe
            return True
        return False

    def _points_per_thread(self, before: list[Step], last: Step) -> list[int]:
        """How many points each worker reaches in `last` run without preemption."""
        try:
            with ScenarioRunner(self.spec, self.original.variant, **self._context()) as runner:
                for step in before:
                    runner.run_step(step)
                result = runner.parallel(last.calls, [])
        except CounterexampleFound:
            return [0] * last.workers
        counts = [0] * last.workers
        for event in result.trace:
            counts[event.thread] += 1
        return counts

    def _with_step(self, index: int, step: Step) -> list[Step]:
        steps = list(self.best.scenario)
        steps[index] = step
        return steps

    def _reduce_round(self, index: int) -> None:
        # Workers: drop each (preemptions involving it go too; the rest are renumbered).
        worker = len(self.best.scenario[index].calls) - 1
        while worker >= 0 and index < len(self.best.scenario):
            step = self.best.scenario[index]
            if step.workers > 2 and worker < step.workers:
                self._try(self._with_step(index, _without_worker(step, worker)))
            worker -= 1
        if index >= len(self.best.scenario):
            return
        # Calls: drop from each worker, keeping at least one.
        for worker in range(self.best.scenario[index].workers):
            if index >= len(self.best.scenario):
                return
            step = self.best.scenario[index]
            if worker >= step.workers:
                break

            def keeps(calls: list[tuple[str, dict[str, object]]], w: int = worker) -> bool:
                current = self.best.scenario[index]
                new_calls = [list(c) for c in current.calls]
                new_calls[w] = calls
                return self._try(self._with_step(index, replace(current, calls=new_calls)))

            _reduce(list(step.calls[worker]), keeps, floor=1)
        if index >= len(self.best.scenario):
            return
        # Preemptions: the ones the failure does not need.
        step = self.best.scenario[index]

        def keeps_taken(taken: list[Preemption]) -> bool:
            current = self.best.scenario[index]
            return self._try(self._with_step(index, replace(current, taken=taken)))

        _reduce(list(step.taken), keeps_taken)


def minimize(
    spec: ModelSpec,
    failure: Failure,
    *,
    executor: Executor | None = None,
    stuck_after: float = DEFAULT_STUCK_AFTER,
    budget: int = DEFAULT_BUDGET,
) -> Failure:
    """The smallest failure reachable from `failure` by removing parts of its scenario."""
    return Minimizer(spec, failure, executor=executor, stuck_after=stuck_after, budget=budget).run()
