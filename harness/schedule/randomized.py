"""Seeded uniform choice at every scheduling point.

A baseline strategy and a cheap way to explore: with 2 threads and one preemption needed it
finds a lost update in about half the runs (measured on the Backoffer). The generator is a private
`random.Random(seed)`, reseeded on `reset`, so a seed names one schedule exactly.
"""

from __future__ import annotations

import random


class RandomSchedule:
    """At each point, pick uniformly among the runnable threads (the current one included)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._fresh = True  # seeding costs microseconds: skip it for the first run

    def reset(self) -> None:
        if not self._fresh:
            self._rng = random.Random(self.seed)
        self._fresh = False

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int:
        if len(runnable) == 1:
            return runnable[0]
        return runnable[self._rng.randrange(len(runnable))]

    def __repr__(self) -> str:
        return f"RandomSchedule(seed={self.seed})"
