"""The reports a run makes when it hangs: who waits for what (deadlock), where it spun (livelock).

Why apart from `Run`: they read the run's state only once, when it is given up on, and say it
for people; the scheduling state itself stays in `harness.runtime.executor`.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING

from harness.runtime.outcome import Deadlock, Livelock, Waiter
from harness.runtime.sync import Lock, user_site

if TYPE_CHECKING:
    from harness.runtime.executor import Run


def livelock(run: Run) -> Livelock:
    """The run passed its step bound: the hottest locations of its last 2,000 points, and
    which threads were still running (a thread the code started that never ends is no
    livelock of the round's workers: `harness.runtime.children`)."""
    window = run.raw[-2000:]
    counts = Counter(point.location for _s, _t, point, _d in window)
    return Livelock(run.max_steps, tuple(counts.most_common(5)), tuple(sorted(run.live)))


def deadlock(run: Run) -> Deadlock:
    """Every unfinished thread is blocked: what each waits for, who holds it, the cycle."""
    frames = sys._current_frames()
    waiters = []
    edges: dict[int, int] = {}
    for tid in sorted(run.live):
        worker = run.workers[tid]
        on = worker.blocked_on
        frame = frames.get(worker.ident)
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
    return Deadlock(tuple(waiters), find_cycle(edges))


def find_cycle(edges: dict[int, int]) -> tuple[int, ...]:
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
