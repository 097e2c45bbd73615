"""The model gate: under stress the code under test runs in parallel, the model's code does not.

Why: a model keeps ground truth in its own, uninstrumented code (``self.done += 1`` after
``counter.hit()``), and the deterministic engine makes that code atomic for free -- only one
controlled thread runs at a time and the model has no scheduling points. Free-running threads
would race on the model's books too (on a free-threaded build ``self.done += 1`` loses updates
by itself), and a lost update in the books is a false alarm about the code under test. So a
stress thread holds one real lock, the gate, whenever it runs the model's code, and lets go of
it while it is inside an instrumented module: the code under test races, the books do not.

How the boundary is seen, cheaply (no per-instruction cost):

* 3.12+: a `sys.monitoring` tool of its own with frame events only (start, resume, return,
  yield, unwind, throw). Locations outside instrumented files are switched off at their first
  event, so the rest of the process pays nothing.
* 3.11: a per-thread `sys.settrace` function that watches only call and return events of
  instrumented frames (a generator's resume and yield arrive as call and return).

A thread keeps a depth count of instrumented frames; the gate is released on 0 -> 1 and taken
back on 1 -> 0. The same crossings count how many of a round's workers are inside the code
under test at once (`Occupancy`): the measured overlap a clean stress verdict reports. A
callback from the code under test into the model (a ``sleep=`` hook, say)
runs inside an instrumented frame and therefore without the gate: keep such callbacks to
per-thread state, as the gallery's models do.
"""

from __future__ import annotations

import os
import sys
import types
from _thread import get_ident
from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce
from operator import or_
from typing import Any

from harness.runtime.sync import REAL_ALLOCATE_LOCK

#: Which backend sees frame boundaries: `sys.monitoring` (3.12+) or `sys.settrace` (3.11).
MONITORING: bool = sys.version_info >= (3, 12)
_TOOL_NAME = "harness-stress"
_PREFERRED_IDS = (5, 3, 2, 0, 1)


class Occupancy:
    """How many of one round's workers are inside the code under test right now, and whether
    any, and two or more at once, ever were: evidence that the round could race at all."""

    __slots__ = ("_lock", "entered", "inside", "overlapped")

    def __init__(self) -> None:
        self._lock = REAL_ALLOCATE_LOCK()
        self.inside = 0
        self.entered = False
        self.overlapped = False

    def come_in(self) -> None:
        with self._lock:
            self.inside += 1
            self.entered = True
            if self.inside >= 2:
                self.overlapped = True

    def go_out(self) -> None:
        with self._lock:
            self.inside -= 1


class ThreadGate:
    """One stress thread's view of the gate: the round's lock and its instrumented depth."""

    __slots__ = ("depth", "holding", "lock", "moves", "occupancy")

    def __init__(self, lock: Any, occupancy: Occupancy | None = None) -> None:
        self.lock = lock
        self.occupancy = occupancy or Occupancy()
        self.depth = 0
        self.holding = False
        # Boundary crossings so far: the runner's sign of progress (one writer: this thread).
        self.moves = 0

    def take(self) -> None:
        self.lock.acquire()
        self.holding = True

    def drop(self) -> None:
        if self.holding:
            self.holding = False
            self.lock.release()

    def enter(self) -> None:
        """An instrumented frame starts or resumes."""
        self.moves += 1
        depth = self.depth
        self.depth = depth + 1
        if depth == 0:
            self.occupancy.come_in()
            self.drop()

    def leave(self) -> None:
        """An instrumented frame returns, yields or unwinds."""
        self.moves += 1
        depth = self.depth - 1
        if depth < 0:  # a frame entered before the thread was gated: nothing to undo
            return
        self.depth = depth
        if depth == 0:
            self.occupancy.go_out()
            self.take()


class ModelGate:
    """The process-wide boundary watcher, armed while a stress hunt runs."""

    def __init__(self) -> None:
        self.files: frozenset[str] = frozenset()
        self._realpaths: dict[str, bool] = {}
        self.threads: dict[int, ThreadGate] = {}
        self._tool: int | None = None
        self._armed = False

    # -- which code is the code under test ---------------------------------------------------

    def configure(self, files: dict[str, str]) -> None:
        """Watch the frames of these files (the model's instrumented modules)."""
        real = frozenset(os.path.realpath(f) for f in files)
        if real != self.files:
            self.files = real
            self._realpaths.clear()
            if self._armed and self._tool is not None:
                _monitoring().restart_events()

    def instrumented(self, code: types.CodeType) -> bool:
        name = code.co_filename
        try:
            return self._realpaths[name]
        except KeyError:
            hit = bool(name) and name[0] != "<" and os.path.realpath(name) in self.files
            self._realpaths[name] = hit
            return hit

    # -- per thread ----------------------------------------------------------------------------

    def enter_thread(self, lock: Any, occupancy: Occupancy | None = None) -> ThreadGate:
        """Gate the calling thread with `lock` (one per round, as is `occupancy`); it does not
        hold it yet."""
        state = ThreadGate(lock, occupancy)
        self.threads[get_ident()] = state
        if not MONITORING:
            sys.settrace(self._global_trace)
        return state

    def exit_thread(self) -> None:
        if not MONITORING:
            sys.settrace(None)
        state = self.threads.pop(get_ident(), None)
        if state is not None:
            state.drop()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Let go of the gate while the calling stress thread blocks (on a lock, say), and take
        it back afterwards: a thread waiting must never hold it."""
        state = self.threads.get(get_ident())
        if state is None or not state.holding:
            yield
            return
        state.drop()
        try:
            yield
        finally:
            state.take()

    # -- 3.11: settrace ------------------------------------------------------------------------

    def _global_trace(self, frame: types.FrameType, event: str, _arg: Any) -> Any:
        if event != "call" or not self.instrumented(frame.f_code):
            return None
        state = self.threads.get(get_ident())
        if state is None:
            return None
        state.enter()
        frame.f_trace_lines = False

        def local(_frame: types.FrameType, event: str, _arg: Any) -> Any:
            if event == "return":
                state.leave()
            return local

        return local

    # -- 3.12+: sys.monitoring -----------------------------------------------------------------

    def arm(self) -> None:
        """Switch the frame events on for the stress hunt (no-op on 3.11)."""
        if not MONITORING or self._armed:
            return
        monitoring = _monitoring()
        callbacks = self._callbacks()
        if self._tool is None:
            self._tool = self._claim()
            for event, callback in callbacks.items():
                monitoring.register_callback(self._tool, event, callback)
        monitoring.set_events(self._tool, reduce(or_, callbacks))
        self._armed = True

    def _callbacks(self) -> dict[int, Any]:
        """The frame-event callbacks: entering or resuming instrumented code takes the calling
        thread's gate, returning or yielding from it lets go; code outside the instrumented
        modules switches its local events off, where the event allows that."""
        monitoring = _monitoring()
        events = monitoring.events
        disable = monitoring.DISABLE
        instrumented = self.instrumented
        threads = self.threads

        def on(step: Any, outside: Any) -> Any:
            def callback(code: types.CodeType, *_rest: Any) -> Any:
                if not instrumented(code):
                    return outside
                state = threads.get(get_ident())
                if state is not None:
                    step(state)
                return None

            return callback

        entered, left = on(ThreadGate.enter, disable), on(ThreadGate.leave, disable)
        return {
            events.PY_START: entered,
            events.PY_RESUME: entered,
            events.PY_RETURN: left,
            events.PY_YIELD: left,
            # Global events, fired only on exceptions: DISABLE is not allowed there.
            events.PY_UNWIND: on(ThreadGate.leave, None),
            events.PY_THROW: on(ThreadGate.enter, None),
        }

    def disarm(self) -> None:
        """Switch the frame events off again: outside a stress hunt nothing pays for them."""
        if self._armed and self._tool is not None:
            _monitoring().set_events(self._tool, 0)
        self._armed = False

    @staticmethod
    def _claim() -> int:
        monitoring = _monitoring()
        for tool in _PREFERRED_IDS:
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, _TOOL_NAME)
                return int(tool)
        raise RuntimeError("no free sys.monitoring tool id for the stress engine's model gate")


def _monitoring() -> Any:
    return sys.monitoring  # type: ignore[attr-defined]


_gate: ModelGate | None = None


def process_gate() -> ModelGate:
    """The single gate of this process (a monitoring tool id is a process resource)."""
    global _gate
    if _gate is None:
        _gate = ModelGate()
    return _gate
