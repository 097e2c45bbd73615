"""The contract between the executor and a scheduling strategy."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class DecisionSource(Protocol):
    """Picks the thread that runs next.

    The executor calls `choose` at every scheduling point (``current`` is the thread that
    reached it) and whenever the running thread blocks or finishes (``current`` is None, and
    a different thread must be picked). ``runnable`` is sorted and never empty; the answer must
    be one of its members. ``step`` counts scheduling points from 1 (0 = before the first).

    A decision source must be a pure function of its own construction arguments and the calls
    it has seen: that is what makes runs reproducible. `reset` is called before every run.
    """

    def reset(self) -> None: ...

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int: ...


@runtime_checkable
class CountingSource(DecisionSource, Protocol):
    """A decision source that also tells how many of its own points a thread has reached.

    A scenario's worker reads it between calls to mark where each call's points begin (what
    the minimiser renumbers preemptions by), so every strategy a round can run under has it.
    """

    def reached(self, thread: int) -> int: ...
