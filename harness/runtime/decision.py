"""What the executor asks of a scheduling strategy: the decision-source contract.

Why here and not in `harness.schedule`: the runtime is the bottom layer and must not import
the strategies built on it. The strategies implement this Protocol; the executor only calls it.
"""

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
