"""PCT: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
ASPLOS 2010).

Each thread gets a distinct random priority; the highest-priority runnable thread always runs.
At d-1 *change points*, steps drawn uniformly from 1..k, the running thread drops below every
initial priority (to 1, 2, ... in order). A bug of depth d -- one that needs d ordering
constraints between threads to show, a lost update is depth 2 -- is then found in a single
run with probability at least 1 / (n k^(d-1)) for n threads and k steps, whatever the
program: a guarantee random switching does not give.

Here k counts the *contended* steps, the scheduling points at which more than one thread
could run: elsewhere a priority change cannot reorder anything at once, and counting only
these makes k (and so the bound's denominator) several times smaller at ``access`` points.

The schedule is a pure function of (seed, threads, depth, steps): reseeded on `reset`, so a
seed names one run exactly. `steps` is the estimate of k; `steps_seen` is the real count of
the last run (pass it as the next run's estimate).
"""

from __future__ import annotations

import random

from harness.errors import UsageError


def pct_guarantee(threads: int, steps: int, depth: int) -> float:
    """The lower bound on the chance that one run finds a given depth-`depth` bug."""
    return 1.0 / float(max(threads, 1) * max(steps, 1) ** max(depth - 1, 0))


class PCTSchedule:
    """Priority scheduling with `depth` - 1 random priority drops over `steps` steps."""

    def __init__(self, seed: int, *, threads: int = 2, depth: int = 2, steps: int = 100) -> None:
        if not isinstance(depth, int) or depth < 1:
            raise UsageError(f"PCT depth must be at least 1, got {depth!r}")
        if not isinstance(steps, int) or steps < 1:
            raise UsageError(f"PCT steps must be a positive integer, got {steps!r}")
        self.seed = seed
        self.threads = threads
        self.depth = depth
        self.steps = steps
        self.steps_seen = 0
        self.reset()

    def reset(self) -> None:
        rng = random.Random(f"pct:{self.seed}:{self.threads}:{self.depth}:{self.steps}")
        initial = list(range(self.depth, self.depth + self.threads))
        rng.shuffle(initial)
        self._priority = dict(enumerate(initial))
        changes = rng.sample(range(1, self.steps + 1), min(self.depth - 1, self.steps))
        self._changes = {step: i + 1 for i, step in enumerate(sorted(changes))}
        self._counts: dict[int, int] = {}
        self.steps_seen = 0

    @property
    def guarantee(self) -> float:
        return pct_guarantee(self.threads, self.steps, self.depth)

    def reached(self, thread: int) -> int:
        return self._counts.get(thread, 0)

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int:
        if current is not None:
            self._counts[current] = self._counts.get(current, 0) + 1
            if len(runnable) > 1:
                self.steps_seen += 1
                drop = self._changes.get(self.steps_seen)
                if drop is not None:
                    self._priority[current] = drop
        priority = self._priority
        return max(runnable, key=lambda t: priority.get(t, 0))

    def __repr__(self) -> str:
        return f"PCTSchedule(seed={self.seed}, threads={self.threads}, depth={self.depth})"
