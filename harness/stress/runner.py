"""Free-running rounds: the workers of a round on real threads, released together, unscheduled.

`StressExecutor.run` has the signature of `Executor.run`, so `ScenarioRunner` runs a round on
it unchanged -- same worker bodies, same history, same checks afterwards -- but nothing
decides who runs: the operating system (and, on a GIL build, the interpreter's switch
interval) interleaves the threads. The decision source and granularity are ignored, no trace
is recorded, and a round that fails cannot be replayed: that is what the deterministic
reproduction step is for (`harness.stress.reproduce`).

Overlap is the point, so the threads wait at a barrier and the last to arrive releases the
others; they then race through the model gate (`harness.stress.gate`) into the code under test.
Threads are pooled across rounds (starting a thread costs more than a small round) and are not
pinned to a CPU, unlike the controlled engine's.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
import types
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.runtime.clock import real_monotonic
from harness.runtime.outcome import RunResult, Stuck, WorkerError
from harness.runtime.sync import REAL_ALLOCATE_LOCK
from harness.runtime.trace import Trace
from harness.runtime.world import active_world
from harness.schedule.base import DecisionSource
from harness.stress.gate import ModelGate, Occupancy, ThreadGate

_yield = getattr(os, "sched_yield", None) or (lambda: None)


@dataclass(frozen=True)
class StressHang(Stuck):
    """Threads of a free-running round that did not finish in time: a deadlock or a hang.

    Without scheduling control the harness cannot tell a deadlock from a thread blocked
    elsewhere; the deterministic reproduction tells which (any hang kind counts as the same).
    """

    controlled: ClassVar[bool] = False

    def describe(self) -> str:
        lines = [
            f"hang: {len(self.stacks) or 1} thread(s) of a free-running round made no progress "
            f"for {self.seconds:.1f} s (a deadlock, or blocked outside the model); "
            "their OS threads are abandoned"
        ]
        for tid, stack in sorted(self.stacks.items()):
            lines.append(f"--- thread {tid} ---\n{stack.rstrip()}")
        return "\n".join(lines)


class _Round:
    """The shared state of one round: barrier, results, and who has finished."""

    def __init__(self, fns: Sequence[Callable[[], Any]]) -> None:
        self.fns = fns
        self.n = len(fns)
        self.count_lock = REAL_ALLOCATE_LOCK()
        self.gate_lock = REAL_ALLOCATE_LOCK()
        self.arrived = 0
        self.go = False
        self.finished: set[int] = set()
        self.gates: list[ThreadGate | None] = [None] * self.n
        self.occupancy = Occupancy()
        self.returns: list[Any] = [None] * self.n
        self.errors: list[WorkerError] = []
        self.done = REAL_ALLOCATE_LOCK()
        self.done.acquire()


class _FreeThread:
    """A pooled daemon thread that runs one worker of a round when its baton is released."""

    def __init__(self, slot: int, gate: ModelGate, cpus: set[int] | None) -> None:
        self.gate = gate
        self.cpus = cpus
        self.baton = REAL_ALLOCATE_LOCK()
        self.baton.acquire()
        self.task: tuple[_Round, int] | None = None
        self.lost = False
        self.thread = threading.Thread(
            target=self._main, name=f"harness-stress-{slot}", daemon=True
        )
        self.thread.start()
        self.ident: int = self.thread.ident or 0

    def _main(self) -> None:
        if self.cpus:
            try:
                os.sched_setaffinity(0, self.cpus)  # not the controlled engine's single CPU
            except OSError:
                self.cpus = None
        while True:
            self.baton.acquire()
            task = self.task
            if task is None or self.lost:
                return
            self._work(*task)

    def _work(self, rnd: _Round, tid: int) -> None:
        with rnd.count_lock:
            rnd.arrived += 1
            last = rnd.arrived == rnd.n
        if last:
            rnd.go = True
        else:
            while not rnd.go:
                _yield()
        state = self.gate.enter_thread(rnd.gate_lock, rnd.occupancy)
        rnd.gates[tid] = state
        try:
            state.take()
            rnd.returns[tid] = rnd.fns[tid]()
        except BaseException as exc:
            text = "".join(traceback.format_exception(exc))
            with rnd.count_lock:
                rnd.errors.append(WorkerError(tid, exc, text))
        finally:
            self.gate.exit_thread()
            with rnd.count_lock:
                rnd.finished.add(tid)
                everyone = len(rnd.finished) == rnd.n
            if everyone:
                rnd.done.release()

    def shutdown(self) -> None:
        self.task = None
        if not self.lost and self.baton.locked():
            self.baton.release()


def _all_cpus() -> set[int] | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    count = os.cpu_count() or 1
    return set(range(count))


class StressExecutor:
    """Runs rounds on free threads; pass it to `ScenarioRunner` as its executor."""

    def __init__(
        self,
        gate: ModelGate,
        modules_files: Callable[[Sequence[str | types.ModuleType]], dict[str, str]],
    ) -> None:
        self.gate = gate
        self._files = modules_files
        self._pool: list[_FreeThread] = []
        self._cpus = _all_cpus()
        self.rounds = 0
        #: Rounds in which a worker entered the code under test; in which two were in it at once.
        self.entered_rounds = 0
        self.overlapping_rounds = 0

    def pinned(self) -> AbstractContextManager[None]:
        """Nothing to pin: free threads run on every CPU, and nothing hands rounds over."""
        return nullcontext()

    def close(self) -> None:
        for worker in self._pool:
            worker.shutdown()
        self._pool.clear()

    def _take(self, n: int) -> list[_FreeThread]:
        self._pool = [w for w in self._pool if not w.lost]
        while len(self._pool) < n:
            self._pool.append(_FreeThread(len(self._pool), self.gate, self._cpus))
        return self._pool[:n]

    def run(
        self,
        workers: Sequence[Callable[[], Any]],
        decisions: DecisionSource,
        *,
        granularity: str = "access",
        modules: Sequence[str | types.ModuleType] = (),
        max_steps: int = 0,
        stuck_after: float = 5.0,
        capture_values: bool = False,
    ) -> RunResult:
        """One free-running round of `workers`; `decisions` and `granularity` are ignored."""
        del decisions, granularity, max_steps, capture_values
        self.gate.configure(self._files(modules))
        world = active_world()
        rnd = _Round(list(workers))
        threads = self._take(rnd.n)
        if world is not None:
            world.free_threads.update(t.ident for t in threads)
            world.free_blocking = self.gate.released
        self.rounds += 1
        try:
            for tid, thread in enumerate(threads):
                thread.task = (rnd, tid)
                thread.baton.release()
            hang = self._watch(rnd, threads, stuck_after)
            self.entered_rounds += rnd.occupancy.entered
            self.overlapping_rounds += rnd.occupancy.overlapped
        finally:
            if world is not None:
                world.free_threads.difference_update(t.ident for t in threads)
        return RunResult(
            returns=list(rnd.returns),
            errors=sorted(rnd.errors, key=lambda e: e.thread),
            trace=Trace([]),
            steps=0,
            hang=hang,
            elapsed_virtual=world.clock.elapsed if world is not None else 0.0,
        )

    @classmethod
    def _watch(
        cls, rnd: _Round, threads: list[_FreeThread], stuck_after: float
    ) -> StressHang | None:
        """Wait for the round; a hang is `stuck_after` seconds in which no thread crossed into
        or out of the code under test nor finished (a slow round on a loaded machine is not)."""
        tick = min(0.05, stuck_after / 4)
        last, since = cls._progress(rnd), real_monotonic()
        while not rnd.done.acquire(timeout=tick):
            now, progress = real_monotonic(), cls._progress(rnd)
            if progress != last:
                last, since = progress, now
            elif now - since >= stuck_after:
                return cls._abandon(rnd, threads, now - since)
        return None

    @staticmethod
    def _progress(rnd: _Round) -> tuple[int, int]:
        moves = sum(gate.moves for gate in rnd.gates if gate is not None)
        return moves, len(rnd.finished)

    @staticmethod
    def _abandon(rnd: _Round, threads: list[_FreeThread], seconds: float) -> StressHang:
        frames = sys._current_frames()
        with rnd.count_lock:
            late = [tid for tid in range(rnd.n) if tid not in rnd.finished]
        stacks = {
            tid: "".join(traceback.format_stack(frames[threads[tid].ident]))
            for tid in late
            if threads[tid].ident in frames
        }
        for tid in late:
            threads[tid].lost = True
        return StressHang(late[0] if late else 0, seconds, stacks)
