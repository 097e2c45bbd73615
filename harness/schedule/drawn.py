"""The schedule Hypothesis draws: explicit per-thread preemptions, plus optional noise.

A preemption is ``(thread, point, target)``: when worker `thread` reaches its `point`-th
scheduling point (counting its own points only, from 1), the CPU goes to `target` (or, if
`target` cannot run, to the next runnable thread after it). Between preemptions the running
thread goes on until it blocks or finishes; then the lowest-numbered runnable thread continues
(a fixed rule, not a decision).

Per-thread counts rather than global step numbers: a thread's own point count does not depend
on how the other threads were interleaved, so deleting one preemption leaves the others'
meaning intact -- which is what makes a schedule shrinkable.

`noise` = ``(seed, rate)`` adds, at every other point, a switch with probability ``1/rate`` to
a random other thread: dense random interleavings find races in very few examples. Every
switch actually taken is recorded by the run as an explicit preemption, so a noisy schedule
that failed can be rewritten as an explicit one and minimised (`harness.minimize`).

`forced` = ``[(step, thread), ...]`` replaces the fixed rule at the free choices (the start,
a block, a finish) made at global `step`, in order: a strategy that picks someone other than
the lowest runnable thread there (PCT, DFS) is replayed exactly from its preemptions plus
these (`RunResult.forced`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import NamedTuple


class ThreadPreemption(NamedTuple):
    """When `thread` reaches its own `point`-th scheduling point, run `target` instead."""

    thread: int
    point: int
    target: int


class DrawnSchedule:
    """Non-preemptive except at the listed per-thread points (and where noise strikes)."""

    def __init__(
        self,
        preemptions: Iterable[ThreadPreemption | tuple[int, int, int]] = (),
        noise: tuple[int, int] | None = None,
        forced: Iterable[tuple[int, int]] = (),
    ) -> None:
        self.preemptions = tuple(ThreadPreemption(*p) for p in preemptions)
        self.noise = noise
        self.forced = tuple((int(s), int(t)) for s, t in forced)
        self._forced_at = 0
        self._at: dict[tuple[int, int], int] = {}
        for thread, point, target in self.preemptions:
            self._at.setdefault((thread, point), target)
        self._counts: dict[int, int] = {}
        self._rng: random.Random | None = None

    def reset(self) -> None:
        self._counts = {}
        self._forced_at = 0
        self._rng = random.Random(self.noise[0]) if self.noise else None

    def reached(self, thread: int) -> int:
        """How many of its own points `thread` has reached so far in this run.

        Read by a worker between its calls, this marks where each call's points begin, so a
        minimiser that deletes a call can renumber the preemptions of the calls after it.
        """
        return self._counts.get(thread, 0)

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int:
        if current is None:
            forced = self.forced
            i = self._forced_at
            while i < len(forced) and forced[i][0] < step:
                i += 1  # a recorded choice this run never reached (the code changed)
            if i < len(forced) and forced[i][0] == step:
                self._forced_at = i + 1
                if forced[i][1] in runnable:
                    return forced[i][1]
            else:
                self._forced_at = i
            return runnable[0]
        count = self._counts[current] = self._counts.get(current, 0) + 1
        if len(runnable) < 2:
            return current
        target = self._at.get((current, count))
        if target is None:
            rng = self._rng
            if rng is None or self.noise is None or rng.randrange(self.noise[1]):
                return current
            others = [t for t in runnable if t != current]
            return others[rng.randrange(len(others))]
        if target in runnable and target != current:
            return target
        # The wanted thread cannot run now: the next runnable one after it, cyclically.
        later = [t for t in runnable if t > target and t != current]
        return later[0] if later else next(t for t in runnable if t != current)

    def __repr__(self) -> str:
        inner = ", ".join(f"T{t}@{p}->T{g}" for t, p, g in self.preemptions)
        noise = f", noise={self.noise}" if self.noise else ""
        forced = f", forced={list(self.forced)}" if self.forced else ""
        return f"DrawnSchedule([{inner}]{noise}{forced})"
