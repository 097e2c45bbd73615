"""The controlled runtime: real threads, one running at a time, switched at scheduling points.

Files, by question: where may a thread be preempted? `points`. Which code is instrumented?
`instrument`, with the two hook backends `hooks_monitoring` (3.12+) and `hooks_settrace`
(3.11). Where is a thread parked? `worker`. Who runs next, and what happens on a block, a
deadlock or a hang? `executor`. How do locks and sleeps cooperate? `sync`, `clock`, `world`.
What is recorded? `trace`. What does the executor ask of a strategy? `decision`.

This package is the bottom layer: it imports nothing of the harness but `harness.errors`
(checked by tests/test_architecture.py). The layers above it, and where a thread is parked, a
decision drawn, a failure classified and a report rendered, are in docs/architecture.md.
"""

from harness.runtime.executor import Executor, run_threads, shared_executor
from harness.runtime.outcome import Deadlock, Livelock, RunResult, Stuck, WorkerError
from harness.runtime.points import GRANULARITIES
from harness.runtime.world import World

__all__ = [
    "GRANULARITIES",
    "Deadlock",
    "Executor",
    "Livelock",
    "RunResult",
    "Stuck",
    "WorkerError",
    "World",
    "run_threads",
    "shared_executor",
]
