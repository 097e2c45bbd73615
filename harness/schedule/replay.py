"""Run exactly the thread a recorded trace ran at each step.

Why it exists alongside `PreemptionSchedule`: a trace records which thread executed every
scheduling point, which is the most direct description of an interleaving and does not depend
on how the schedule that produced it was expressed. Replaying it checks that the code still
behaves the same way, step by step.
"""

from __future__ import annotations

from collections.abc import Sequence


class ReplaySchedule:
    """`threads[i]` is the thread that reached scheduling point i + 1 in the recording."""

    def __init__(self, threads: Sequence[int]) -> None:
        self.threads = tuple(threads)

    def reset(self) -> None:
        """Stateless: nothing to rewind."""

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int:
        # After point `step` (or a block/finish during it) the recording says which thread
        # reached point `step + 1`: that is the thread to run now. Beyond the recording, or if
        # the code changed so that thread cannot run, fall back to the non-preemptive rule;
        # the caller compares traces and reports the divergence.
        wanted = self.threads[step] if step < len(self.threads) else None
        if wanted is not None and wanted in runnable:
            return wanted
        return current if current is not None else runnable[0]
