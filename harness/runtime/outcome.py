"""What one controlled run produced: per-thread results, the trace, and any hang report.

A run never raises because of the code under test; it returns a `RunResult` and leaves the
verdict to the caller (a test, the stateful machine, the CLI). Hangs are data too: a
`Deadlock` names the wait-for cycle, a `Livelock` the hot locations, a `Stuck` every thread's
stack -- enough to understand the problem without re-running it.
"""

from __future__ import annotations

import types
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from harness.runtime.sync import Lock, user_site
from harness.runtime.trace import Trace


class Preemption(NamedTuple):
    """A switch away from a thread that could have gone on.

    `step` is the global scheduling point; `point` is the thread's own count of points, which
    is how a schedule pins the switch (see `harness.schedule.drawn`).
    """

    step: int
    thread: int
    point: int
    target: int


@dataclass(frozen=True)
class WorkerError:
    """An exception that escaped a worker callable, with its formatted traceback."""

    thread: int
    exception: BaseException
    traceback: str

    def __str__(self) -> str:
        return f"thread {self.thread} raised {type(self.exception).__name__}: {self.exception}"


@dataclass(frozen=True)
class Waiter:
    """A blocked thread in a deadlock: what it waits for, who holds it, where it waits."""

    thread: int
    waits_for: str
    held_by: int | None
    where: str


@dataclass(frozen=True)
class Deadlock:
    """Every unfinished thread is blocked and no timeout can wake any of them."""

    waiters: tuple[Waiter, ...]
    cycle: tuple[int, ...]

    @classmethod
    def of(cls, blocked: list[tuple[int, Any, types.FrameType | None]]) -> Deadlock:
        """The deadlock of threads ``(number, what it is blocked on, its frame)``: who waits
        for which lock held by whom, where, and the first wait-for cycle among them."""
        waiters = []
        edges: dict[int, int] = {}
        for tid, on, frame in blocked:
            where = user_site(frame) if frame is not None else "?"
            if isinstance(on, Lock):
                holder = None if on.internal else on.owner
                what = "a notification (Condition/Event wait)" if on.internal else on.name
            elif getattr(on, "joined", False):  # a thread started by the code (`children`)
                holder, what = on.tid, f"thread {on.tid} to end (join)"
            else:
                holder, what = None, "nothing runnable"
            if holder is not None:
                edges[tid] = holder
            waiters.append(Waiter(tid, what, holder, where))
        return cls(tuple(waiters), _find_cycle(edges))

    def describe(self) -> str:
        lines = ["deadlock: every unfinished thread is blocked"]
        if self.cycle:
            lines.append("wait-for cycle: " + " -> ".join(f"thread {t}" for t in self.cycle))
        for w in self.waiters:
            holder = "" if w.held_by is None else f", held by thread {w.held_by}"
            lines.append(f"  thread {w.thread} waits for {w.waits_for}{holder}, at {w.where}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Livelock:
    """The run exceeded its step bound; `hot` lists the most visited locations."""

    max_steps: int
    hot: tuple[tuple[str, int], ...]
    #: The threads still running when the bound was hit (all of them children of the code
    #: under test: a thread it started never ended, `harness.runtime.children`).
    running: tuple[int, ...] = ()

    @classmethod
    def of(cls, max_steps: int, recent: list[str], running: list[int]) -> Livelock:
        """The livelock whose most recent points were at `recent` locations, with the threads
        still `running` (a thread the code started that never ends is no livelock of the
        round's workers: `harness.runtime.children`)."""
        return cls(max_steps, tuple(Counter(recent).most_common(5)), tuple(sorted(running)))

    def describe(self) -> str:
        spots = ", ".join(f"{loc} ({n}x)" for loc, n in self.hot)
        return f"livelock: more than {self.max_steps} scheduling points; hottest: {spots}"


@dataclass(frozen=True)
class Stuck:
    """A thread stopped reaching scheduling points (e.g. blocked in uninstrumented C code)."""

    thread: int
    seconds: float
    stacks: dict[int, str]
    #: Whether a scheduler controlled the threads. A controlled thread that stops reaching
    #: points is blocked outside instrumented code (a limitation of the harness); a
    #: free-running round (`harness.stress`) that stops making progress may as well be a
    #: deadlock of the code under test, which the stress engine's reproduction decides.
    controlled: ClassVar[bool] = True

    def describe(self) -> str:
        lines = [
            f"stuck: thread {self.thread} reached no scheduling point for {self.seconds:.1f} s "
            "(blocked or spinning outside instrumented code, e.g. on a lock created outside "
            "the harness World); its OS thread is abandoned"
        ]
        for tid, stack in sorted(self.stacks.items()):
            lines.append(f"--- thread {tid} ---\n{stack.rstrip()}")
        return "\n".join(lines)


@dataclass
class RunResult:
    """Everything one run produced. `hang` is None when every thread finished."""

    returns: list[Any]
    errors: list[WorkerError]
    trace: Trace
    steps: int
    hang: Deadlock | Livelock | Stuck | None = None
    elapsed_virtual: float = 0.0
    preemptions: list[Preemption] = field(default_factory=list)
    #: ``(step, thread)`` for every free choice (start, block, finish) that was not the lowest
    #: runnable thread; empty for schedules that only preempt (`harness.schedule.drawn`).
    forced: list[tuple[int, int]] = field(default_factory=list)
    #: The threads the code under test started (numbered after the workers), by number:
    #: ``thread 2, started by worker 0 at pkg.pool:42`` (`harness.runtime.children`).
    children: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every thread finished and none raised."""
        return self.hang is None and not self.errors

    def describe(self) -> str:
        parts = []
        if self.hang is not None:
            parts.append(self.hang.describe())
        for err in self.errors:
            parts.append(f"{err}\n{err.traceback.rstrip()}")
        return "\n".join(parts) if parts else "ok"


def _find_cycle(edges: dict[int, int]) -> tuple[int, ...]:
    """The first wait-for cycle (thread -> holder of what it waits for), closed, or ()."""
    for start in sorted(edges):
        path = [start]
        node = edges[start]
        while node in edges and node not in path:
            path.append(node)
            node = edges[node]
        if node in path:
            cycle = path[path.index(node) :]
            return (*cycle, node)
    return ()
