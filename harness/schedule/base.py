"""The scheduling strategies' contracts: the executor's `DecisionSource` and its counting kind."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from harness.runtime.decision import DecisionSource

__all__ = ["CountingSource", "DecisionSource"]


@runtime_checkable
class CountingSource(DecisionSource, Protocol):
    """A decision source that also tells how many of its own points a thread has reached.

    A scenario's worker reads it between calls to mark where each call's points begin (what
    the minimiser renumbers preemptions by), so every strategy a round can run under has it.
    """

    def reached(self, thread: int) -> int: ...
