"""Values for the trace: what a point's access read or wrote, taken without running user code.

Why apart from the scheduler: a run records keys and values only when asked (the final replay
of a counterexample; searches turn it off for speed), and how a value is read -- an owner and
a key evaluated from the frame's own variables, objects numbered in order of first appearance
-- is a concern of its own. `Run.at_point` hands it the point and the frame; a write's value is
read at the thread's next point, once the write has happened (`resolve_write`).
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any

from harness.runtime.points import MISSING, Point, evaluate, instance_attr, item_value

if TYPE_CHECKING:
    from harness.runtime.worker import Worker


class Values:
    """The objects of one run, numbered in order of first appearance (deterministic, unlike
    ``id()``), so that an explanation can tell two instances' ``self.n`` apart."""

    def __init__(self) -> None:
        self._objects: dict[int, int] = {}
        self._alive: list[Any] = []  # keeps them alive, so that no id() is reused in the run

    def capture(self, w: Worker, point: Point, frame: types.FrameType) -> list[Any] | None:
        """``[key, value, object number]`` for the trace, read without running user code."""
        assert point.owner is not None
        owner = evaluate(point.owner, frame)
        if owner is MISSING:
            return None
        number = self._objects.get(id(owner))
        if number is None:
            number = self._objects[id(owner)] = len(self._objects) + 1
            self._alive.append(owner)
        kind = point.kind
        if point.key is not None:
            key = evaluate(point.key, frame)
            if key is MISSING:
                return None
            if kind == "read":
                return [key, item_value(owner, key), number]
            detail = [key, MISSING, number]
            if kind == "write":
                w.pending = (detail, owner, key, True)
            return detail
        if point.attr is None:
            return None
        if kind == "read":
            return [MISSING, instance_attr(owner, point.attr), number]
        detail = [MISSING, MISSING, number]
        if kind == "write":
            w.pending = (detail, owner, point.attr, False)
        return detail


def resolve_write(w: Worker) -> None:
    """Fill in the value a write stored, now that it has happened (same thread, no switch)."""
    assert w.pending is not None
    detail, owner, name, is_item = w.pending
    w.pending = None
    detail[1] = item_value(owner, name) if is_item else instance_attr(owner, name)
