"""Pooled worker threads, and the one place where a controlled thread is parked.

Why a pool: creating threads per run costs more than the run itself (measured here: 240-550 runs/s
with fresh threads). Each `Worker` is a daemon thread that lives across runs and parks on its
own raw lock, its *baton*. Handing the CPU to a thread is releasing its baton; the thread that
hands off then parks on its own. No polling, no sleeps, one thread running at a time.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from harness.runtime.sync import REAL_ALLOCATE_LOCK

if TYPE_CHECKING:
    from harness.runtime.executor import Run


class RunAborted(BaseException):
    """Unwinds a controlled thread out of the code under test when its run is abandoned.

    A BaseException so that the model's ``except Exception`` clauses do not swallow it.
    """


def pick_cpu() -> int | None:
    """One CPU for every controlled thread of this process, or None where we cannot pin.

    Only one controlled thread runs at a time, so they lose nothing by sharing a CPU, and a
    hand-off between threads on the same CPU skips the cross-CPU wake-up that otherwise costs
    most of a switch (bench/: 2-6x more runs per second). pytest-xdist workers get different
    CPUs by worker number, other processes by pid.
    """
    if not hasattr(os, "sched_getaffinity") or os.environ.get("HARNESS_NO_PIN"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    xdist = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(xdist[2:]) if xdist.startswith("gw") and xdist[2:].isdigit() else os.getpid()
    return allowed[index % len(allowed)]


class Worker:
    """A reusable daemon thread plus its scheduling state within the current run."""

    def __init__(self, slot: int, cpu: int | None = None) -> None:
        self.slot = slot
        self.cpu = cpu
        self.baton = REAL_ALLOCATE_LOCK()
        self.baton.acquire()
        self.run: Run | None = None
        self.tid = -1
        self.lost = False
        # Scheduling state, reset by `assign` for every run.
        self.blocked_on: Any = None
        self.deadline: float | None = None
        self.timed_out = False
        self.points = 0  # scheduling points this thread reached in the current run
        self.pending: tuple[list[Any], Any, Any, bool] | None = None
        self.thread = threading.Thread(
            target=self._main, name=f"harness-worker-{slot}", daemon=True
        )
        self.thread.start()
        self.ident: int = self.thread.ident or 0

    def assign(self, run: Run, tid: int) -> None:
        self.run = run
        self.tid = tid
        self.blocked_on = None
        self.deadline = None
        self.timed_out = False
        self.points = 0
        self.pending = None

    def park(self) -> None:
        """Wait here until some thread hands us the CPU; unwind if the run was abandoned."""
        self.baton.acquire()
        run = self.run
        if run is None or run.aborting:
            raise RunAborted

    def pin(self) -> None:
        """Move the calling (this worker's) thread onto the shared CPU, if there is one."""
        if self.cpu is not None:
            try:
                os.sched_setaffinity(0, {self.cpu})  # this thread only, on Linux
            except OSError:
                self.cpu = None

    def _main(self) -> None:
        self.pin()
        try:
            while True:
                self.baton.acquire()  # parked between runs, and before the first hand-off
                run = self.run
                if run is None or self.lost:
                    return
                run.execute(self)
                if self.is_lost():  # the watchdog may have given up on us meanwhile
                    return
        except RunAborted:
            # Raised into an abandoned worker (`executor.interrupt`) outside the code under
            # test, e.g. while it was leaving the run: it was leaving anyway.
            return

    def is_lost(self) -> bool:
        return self.lost

    def shutdown(self, timeout: float = 1.0) -> None:
        """Let a parked thread return; a lost (stuck) one is left to exit on its own."""
        self.run = None
        if self.lost:
            return
        if self.baton.locked():
            self.baton.release()
        self.thread.join(timeout)
