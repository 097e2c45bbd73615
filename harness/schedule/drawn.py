"""The schedule Hypothesis draws and shrinks: a few preemptions, each pinned to one thread.

A preemption is ``(thread, point, choice)``: when worker `thread` reaches its `point`-th
scheduling point (counting its own points only, from 1), switch to the `choice`-th other
runnable thread. Between preemptions the running thread goes on until it blocks or finishes,
and then the lowest-numbered runnable thread continues (a fixed rule, not a decision).

Why per-thread counts rather than global step numbers: a thread's own point count does not
depend on how the other threads were interleaved, so when Hypothesis deletes one preemption the
others keep their meaning. Shrinking therefore does what a developer wants: it deletes
preemptions (fewer context switches), lowers `thread` and `choice` toward 0 and moves `point`
earlier, and the final counterexample needs exactly the preemptions the bug needs -- one, for
a lost update. Unreachable preemptions (a point the thread never reaches) are simply no-ops,
so every drawn value is valid whatever the run looks like.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class ThreadPreemption(NamedTuple):
    """When `thread` reaches its own `point`-th scheduling point, switch away."""

    thread: int
    point: int
    choice: int = 0


class DrawnSchedule:
    """Non-preemptive except at the listed per-thread points."""

    def __init__(self, preemptions: Iterable[ThreadPreemption | tuple[int, int, int]]) -> None:
        self.preemptions = tuple(ThreadPreemption(*p) for p in preemptions)
        self._at: dict[tuple[int, int], int] = {}
        for thread, point, choice in self.preemptions:
            self._at.setdefault((thread, point), choice)
        self._counts: dict[int, int] = {}

    def reset(self) -> None:
        self._counts = {}

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int:
        if current is None:
            return runnable[0]
        count = self._counts[current] = self._counts.get(current, 0) + 1
        choice = self._at.get((current, count))
        if choice is None or len(runnable) < 2:
            return current
        others = [t for t in runnable if t != current]
        return others[choice % len(others)]

    def __repr__(self) -> str:
        inner = ", ".join(f"(T{t}@{p}->{c})" for t, p, c in self.preemptions)
        return f"DrawnSchedule([{inner}])"
