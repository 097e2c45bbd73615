"""Run the current thread until it blocks or ends, except at a few chosen steps.

This is the shape Hypothesis draws and shrinks: a short list of `StepPreemption(step, choice)`.
Shrinking removes preemptions, moves them earlier and lowers `choice`, so the final
counterexample has as few context switches as the bug needs (one, for a lost update).
`choice` indexes the *other* runnable threads modulo their number, so every drawn value is
valid whatever the run looks like: no rejected examples, no dead schedules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class StepPreemption(NamedTuple):
    """At scheduling point `step`, switch to the `choice`-th other runnable thread.

    A request of this strategy, named apart from `harness.runtime.outcome.Preemption` (a switch
    that happened) and `harness.schedule.drawn.ThreadPreemption` (a request at a thread's own
    point): "Preemption" alone means the one that happened."""

    step: int
    choice: int = 0


class PreemptionSchedule:
    """Non-preemptive by default; preempts exactly at the listed steps.

    When the running thread blocks or finishes, the lowest-numbered runnable thread goes on:
    a fixed rule, so that only the listed preemptions vary between schedules.
    """

    def __init__(self, preemptions: Iterable[StepPreemption | tuple[int, int]] = ()) -> None:
        self.preemptions = tuple(StepPreemption(*p) for p in preemptions)
        self._at: dict[int, int] = {}
        for step, choice in self.preemptions:
            self._at.setdefault(step, choice)

    def reset(self) -> None:
        """Stateless: nothing to rewind."""

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int:
        if current is None:
            return runnable[0]
        choice = self._at.get(step)
        if choice is None or len(runnable) < 2:
            return current
        others = [t for t in runnable if t != current]
        return others[choice % len(others)]

    def __repr__(self) -> str:
        inner = ", ".join(f"({s}, {c})" for s, c in self.preemptions)
        return f"PreemptionSchedule([{inner}])"
