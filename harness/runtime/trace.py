"""What a run did, scheduling point by scheduling point.

The executor appends cheap raw tuples on its hot path; this module turns them into
`TraceEvent`s for people (reports) and for files (artifacts, replay). An event holds only
deterministic data -- module names, line numbers, thread numbers, small scalar values -- so
two runs with the same decisions give equal traces, and a trace written today compares equal
to a replay tomorrow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

from harness.runtime.points import MISSING, Point, safe_value

#: Marks a key or value that was not captured (not cheap to read without running user code).
UNKNOWN: Any = MISSING


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One scheduling point: which thread reached it, where, and what it touched."""

    step: int
    thread: int
    location: str
    kind: str
    target: str
    key: Any = UNKNOWN
    value: Any = UNKNOWN
    obj: int = 0  # which object was accessed, numbered by first appearance (0: not known)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "thread": self.thread,
            "location": self.location,
            "kind": self.kind,
            "target": self.target,
        }
        if self.key is not UNKNOWN:
            out["key"] = self.key
        if self.value is not UNKNOWN:
            out["value"] = self.value
        if self.obj:
            out["obj"] = self.obj
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TraceEvent:
        return cls(
            step=int(data["step"]),
            thread=int(data["thread"]),
            location=str(data["location"]),
            kind=str(data["kind"]),
            target=str(data["target"]),
            key=data.get("key", UNKNOWN),
            value=data.get("value", UNKNOWN),
            obj=int(data.get("obj", 0)),
        )

    @property
    def what(self) -> str:
        """The accessed location with the key filled in: ``self.d['regionMiss']``."""
        if self.key is not UNKNOWN and "[" in self.target:
            return f"{self.target.split('[', 1)[0]}[{self.key!r}]"
        return self.target

    def access(self) -> str:
        """``write self.d['k'] = 2``: what the event did, in one phrase."""
        value = "" if self.value is UNKNOWN else f" = {_short(self.value)}"
        return f"{self.kind} {self.what}{value}".rstrip()

    def happened(self) -> str:
        """`access` in the past tense, for sentences: ``wrote self.d['k'] = 2``."""
        verb, _, rest = self.access().partition(" ")
        return f"{_PAST.get(verb, verb)} {rest}".rstrip()

    def render(self) -> str:
        return f"#{self.step:<5} T{self.thread}  {self.location:<28} {self.access()}"


_PAST = {"write": "wrote", "delete": "deleted", "acquire": "acquired", "release": "released"}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) and value.startswith("<") else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


RawEvent = tuple[int, int, Point, "list[Any] | None"]


def event_from_raw(raw: RawEvent) -> TraceEvent:
    step, thread, point, detail = raw
    if detail is None:
        return TraceEvent(step, thread, point.location, point.kind, point.target)
    key, value, obj = detail
    return TraceEvent(
        step,
        thread,
        point.location,
        point.kind,
        point.target,
        UNKNOWN if key is MISSING else safe_value(key),
        UNKNOWN if value is MISSING else safe_value(value),
        obj,
    )


class Trace(Sequence[TraceEvent]):
    """The ordered events of one run; converted from raw records on first use."""

    def __init__(self, raw: list[RawEvent] | None = None, events: list[TraceEvent] | None = None):
        self._raw = raw if raw is not None else []
        self._events = events

    @property
    def events(self) -> list[TraceEvent]:
        if self._events is None:
            self._events = [event_from_raw(r) for r in self._raw]
            self._raw = []
        return self._events

    def __len__(self) -> int:
        return len(self._events) if self._events is not None else len(self._raw)

    def __getitem__(self, index: Any) -> Any:
        return self.events[index]

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return self.events == other.events

    __hash__ = None  # type: ignore[assignment]

    def threads(self) -> list[int]:
        """The thread that reached each point, in order: what `ReplaySchedule` replays."""
        if self._events is None:
            return [r[1] for r in self._raw]
        return [e.thread for e in self.events]

    def fingerprint(self) -> tuple[int, tuple[Any, ...]]:
        """A key equal for two traces with the same threads at the same points, and the
        points it was made from (hold them: the key is built from their ids). Computed with
        C-level iteration only, so that a hunt can recognise a round it has seen before."""
        if self._events is None:
            raw = self._raw
            points = tuple(map(itemgetter(2), raw))
            return hash((tuple(map(itemgetter(1), raw)), tuple(map(id, points)))), points
        events = tuple(self._events)
        return hash(events), events

    def runs(self) -> Iterator[tuple[int, Any]]:
        """``(thread, distinct points)`` for each run of consecutive points of one thread, in
        order, each run's points once, in order of first appearance. What conflict coverage
        needs (accesses of different threads are ordered by their runs), at mostly C-level
        cost. For a trace read from a file the events stand in for the points."""
        if self._events is None:
            for thread, run in groupby(self._raw, key=itemgetter(1)):
                points = list(map(itemgetter(2), run))
                yield thread, dict(zip(map(id, points), points, strict=True)).values()
            return
        for thread, events in groupby(self._events, key=lambda e: e.thread):
            unique = {(e.location, e.kind, e.target): e for e in events}
            yield thread, unique.values()

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in self.events]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> Trace:
        return cls(events=[TraceEvent.from_json(d) for d in data])

    def first_divergence(self, other: Trace) -> int | None:
        """Index of the first event that differs from `other`, or None if they are equal."""
        mine, theirs = self.events, other.events
        for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            if a != b:
                return i
        return None if len(mine) == len(theirs) else min(len(mine), len(theirs))

    def format(self, limit: int | None = None) -> str:
        events = self.events if limit is None else self.events[-limit:]
        return "\n".join(e.render() for e in events)
