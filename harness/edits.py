"""The minimiser's edits: pure functions from a round (a `Step`) to a smaller scenario.

One list, used by both of `harness.minimize`'s kinds of moves: the edits phase applies each to
the current best scenario and keeps it when the failure survives; the search phase applies
the same ones and then looks for the single preemption that makes the result fail again.
None of them runs anything: each returns new steps and leaves its input as it was.

A *replacement* is what takes a round's place in the scenario: the steps, and the index of
the edited round among them (a call moved out in front of the round shifts it by one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from harness.failure import Call, Step
from harness.runtime.outcome import Preemption

T = TypeVar("T")
#: The steps that take a round's place, and where the edited round is among them.
Replacement = tuple[list[Step], int]


def reduce(items: list[T], keeps_failing: Callable[[list[T]], bool], floor: int = 0) -> list[T]:
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


def without_worker(step: Step, worker: int) -> Step:
    """The round without `worker`; its preemptions go, the others are renumbered."""

    def renumber(t: int) -> int:
        return t - 1 if t > worker else t

    taken = [
        Preemption(p.step, renumber(p.thread), p.point, renumber(p.target))
        for p in step.taken
        if worker not in (p.thread, p.target)
    ]
    forced = [(at, renumber(tid)) for at, tid in step.forced if tid != worker]
    return replace(
        step,
        calls=step.calls[:worker] + step.calls[worker + 1 :],
        taken=taken,
        forced=forced,
        call_points=step.call_points[:worker] + step.call_points[worker + 1 :],
    )


def without_call(step: Step, worker: int, index: int) -> Step:
    """The round without `worker`'s call number `index`.

    The worker's points inside that call disappear, so its preemptions there go and those of
    its later calls move down by the call's length in points. Without the recorded call
    boundaries (a round that never ran) the preemptions are kept as they are.
    """
    calls = [list(c) for c in step.calls]
    del calls[worker][index]
    marks = step.call_points[worker] if worker < len(step.call_points) else []
    taken = list(step.taken)
    if index < len(marks):
        start = marks[index]
        end = marks[index + 1] if index + 1 < len(marks) else None
        taken = []
        for p in step.taken:
            if p.thread != worker or p.point <= start:
                taken.append(p)
            elif end is not None and p.point > end:
                taken.append(p._replace(point=p.point - (end - start)))
    points = [list(m) for m in step.call_points]
    if index < len(marks):
        points[worker] = []  # stale once a call is gone; the next replay records them anew
    return replace(step, calls=calls, taken=taken, call_points=points)


def reordered(step: Step, order: list[int]) -> Step:
    """The round with its workers in `order` (new position i runs old worker order[i]).
    Threads the code started keep their numbers (after the workers'): which of them starts
    first may change with the order, so this is a candidate the minimiser re-runs."""
    position = {old: new for new, old in enumerate(order)}

    def moved(tid: int) -> int:
        return position.get(tid, tid)

    taken = [Preemption(p.step, moved(p.thread), p.point, moved(p.target)) for p in step.taken]
    forced = [(at, moved(tid)) for at, tid in step.forced]
    points = [step.call_points[old] for old in order] if step.call_points else []
    calls = [step.calls[old] for old in order]
    return replace(step, calls=calls, taken=taken, forced=forced, call_points=points)


def with_args(step: Step, worker: int, index: int, args: dict[str, Any]) -> Step:
    calls = [list(c) for c in step.calls]
    calls[worker][index] = (calls[worker][index][0], args)
    return replace(step, calls=calls)


def sequential(calls: list[Call]) -> list[Step]:
    return [Step("sequential", [[call]]) for call in calls]


def drop_worker(step: Step, worker: int) -> Replacement | None:
    """Without `worker` (a round keeps at least two)."""
    if step.workers <= 2 or worker >= step.workers:
        return None
    return [without_worker(step, worker)], 0


def drop_call(step: Step, worker: int, call: int) -> Replacement | None:
    """Without `worker`'s call number `call` (a worker keeps at least one)."""
    calls = step.calls[worker] if worker < step.workers else []
    if len(calls) < 2 or call >= len(calls):
        return None
    return [without_call(step, worker, call)], 0


def observe_after(step: Step, worker: int) -> Replacement | None:
    """`worker`'s last call run after the round: it may only be observing the race."""
    if worker >= step.workers or len(step.calls[worker]) < 2:
        return None
    last = len(step.calls[worker]) - 1
    return [without_call(step, worker, last), *sequential(step.calls[worker][last:])], 0


def set_up_before(step: Step, worker: int) -> Replacement | None:
    """`worker`'s first call run before the round: set-up reads best as set-up."""
    if worker >= step.workers or len(step.calls[worker]) < 2:
        return None
    return [*sequential(step.calls[worker][:1]), without_call(step, worker, 0)], 1


def worker_before(step: Step, worker: int) -> Replacement | None:
    """A one-call `worker` run before the round instead of in it (a round keeps two)."""
    if worker >= step.workers or len(step.calls[worker]) != 1 or step.workers <= 2:
        return None
    return [*sequential(step.calls[worker]), without_worker(step, worker)], 1


def first_worker(step: Step, first: int) -> Replacement | None:
    """The round with `first` as its worker 0 (worker 0 runs first: a race another worker
    starts costs a switch more than it needs)."""
    if first >= step.workers:
        return None
    order = [first, *(w for w in range(step.workers) if w != first)]
    return [reordered(step, order)], 0


__all__ = [
    "Replacement",
    "drop_call",
    "drop_worker",
    "first_worker",
    "observe_after",
    "reduce",
    "reordered",
    "sequential",
    "set_up_before",
    "with_args",
    "without_call",
    "without_worker",
    "worker_before",
]
