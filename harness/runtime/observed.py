"""A run that tells its decision source what each thread does between decisions.

Why a subclass: systematic exploration needs, at every scheduling point, the frame and the
point a thread is at, and when it blocks, wakes or ends; ordinary runs need none of it. The
executor uses `ObservedRun` only for a decision source that is an `AccessObserver`, so the hot
path of every other run is exactly what it was.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Protocol, runtime_checkable

from harness.runtime.executor import Run
from harness.runtime.points import Point
from harness.runtime.worker import RunAborted, Worker

_SKIPPED = ("harness.", "threading", "queue", "importlib")


def user_frame(frame: types.FrameType | None) -> types.FrameType | None:
    """The innermost frame outside the harness and the stdlib primitives built on its locks."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "?")
        if not name.startswith(_SKIPPED) and name != "harness":
            return frame
        frame = frame.f_back
    return None


@runtime_checkable
class AccessObserver(Protocol):
    """What `ObservedRun` reports, in the order things happen on the thread holding the CPU.

    `reach` comes before the decision at a point, `resume` once the thread runs again (at
    once, or after others ran): values read then are the ones the step will see.
    """

    def bind(self, run: Run) -> None: ...

    def started(self, tid: int) -> None: ...

    def reach(self, tid: int, point: Point, frame: types.FrameType | None) -> None: ...

    def reach_sync(
        self, tid: int, kind: str, target: str, frame: types.FrameType | None, gives_up: bool
    ) -> None:
        """A point inside a primitive; `gives_up`: an acquire that can return without the
        lock (non-blocking or with a timeout), whose outcome then depends on the order."""

    def resume(self, tid: int) -> None: ...

    def blocked(self, tid: int, on: Any, deadline: float | None) -> None: ...

    def unblocked(self, tid: int) -> None: ...

    def clock_advances(self) -> None: ...

    def finished(self, tid: int) -> None: ...


class ObservedRun(Run):
    """`Run` plus a report of every point, block, wake-up and end to an `AccessObserver`."""

    observer: AccessObserver

    def bind(self, observer: AccessObserver) -> None:
        self.observer = observer
        observer.bind(self)

    def at_point(self, w: Worker, point: Point, frame: types.FrameType | None) -> None:
        if self.aborting:
            raise RunAborted
        if frame is None:
            frame = sys._getframe(2)
        self.observer.reach(w.tid, point, frame)
        super().at_point(w, point, frame)
        self.observer.resume(w.tid)

    def sync_point(self, w: Worker, kind: str, target: str, *, gives_up: bool = False) -> None:
        if self.aborting:
            raise RunAborted
        self.observer.reach_sync(w.tid, kind, target, user_frame(sys._getframe(2)), gives_up)
        super().sync_point(w, kind, target)
        self.observer.resume(w.tid)

    def block(self, w: Worker, on: Any, deadline: float | None) -> None:
        self.observer.blocked(w.tid, on, deadline)
        super().block(w, on, deadline)
        self.observer.unblocked(w.tid)

    def _pick_next(self) -> int | None:
        if not self.runnable:
            self.observer.clock_advances()
        return super()._pick_next()

    def execute(self, w: Worker) -> None:
        if not self.aborting:
            self.observer.started(w.tid)
        super().execute(w)

    def _finished(self, w: Worker) -> None:
        if not w.lost and not self.aborting:
            self.observer.finished(w.tid)
        super()._finished(w)
