"""What a hunt actually explored: the evidence behind "clean" (and behind "not tested").

"No failure in 100 examples" says nothing if the workers never ran the code under test at the
same time. `Coverage` watches every parallel round's trace and counts what matters for a race:
rounds in which two or more workers interleaved inside instrumented code, the switches taken,
the distinct interleavings, and *conflict pairs* -- two accesses to the same location (the
static target, e.g. ``self.total_sleep`` or ``self.d[k]``) by different workers where at least
one writes -- and whether each pair was seen in both orders. A pair never reversed is an
interleaving the hunt never tried; the report names such pairs.

Cost: one pass over each round's raw trace, a few dict look-ups per access point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from harness.runtime.outcome import Deadlock, RunResult

_ACCESSES = {"read": False, "write": True, "delete": True}
#: Pairs named in the report when some were never seen both ways.
SHOWN_PAIRS = 4

Site = tuple[str, str, str]  # (location, kind, target)


@dataclass(frozen=True)
class Evidence:
    """The explored-space figures of one hunt (all zero when nothing ran)."""

    examples: int = 0
    rounds: int = 0
    racing_rounds: int = 0
    switches: int = 0
    schedules: int = 0
    conflict_pairs: int = 0
    reversed_pairs: int = 0
    points: int = 0
    #: The most workers that reached an instrumented point in one round.
    max_active_workers: int = 0
    never_reversed: tuple[str, ...] = field(default_factory=tuple)
    #: Rounds that ended with every unfinished call waiting for a notification, as the same
    #: calls would alone (``get()`` on an empty queue): no race, but the example ended there.
    blocked_rounds: int = 0

    def line(self) -> str:
        """``110 examples, 96 racing rounds, 1,204 switches, 37/41 conflict pairs seen both
        ways`` -- what the CLI prints after "clean"."""
        parts = [
            _count(self.examples, "example"),
            f"{self.racing_rounds:,} racing round{'s' if self.racing_rounds != 1 else ''} "
            f"of {self.rounds:,}",
            _count(self.switches, "switch", "switches"),
            _count(self.schedules, "distinct interleaving"),
        ]
        if self.conflict_pairs:
            parts.append(
                f"{self.reversed_pairs}/{self.conflict_pairs} conflict pairs seen both ways"
            )
        else:
            parts.append("no conflicting accesses seen")
        if self.blocked_rounds:
            parts.append(
                f"{_count(self.blocked_rounds, 'round')} ended with calls waiting as they "
                "would alone"
            )
        return ", ".join(parts)

    def gaps(self) -> str:
        """The plain statement of low coverage, or "" when every pair was seen both ways."""
        missing = self.conflict_pairs - self.reversed_pairs
        if missing <= 0:
            return ""
        shown = "; ".join(self.never_reversed)
        more = f" (and {missing - len(self.never_reversed)} more)" if missing > SHOWN_PAIRS else ""
        return f"{missing} conflict pair(s) never reversed: {shown}{more}"

    def to_json(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "rounds": self.rounds,
            "racing_rounds": self.racing_rounds,
            "switches": self.switches,
            "distinct_interleavings": self.schedules,
            "conflict_pairs": self.conflict_pairs,
            "conflict_pairs_both_ways": self.reversed_pairs,
            "never_reversed": list(self.never_reversed),
            "points": self.points,
            "max_active_workers": self.max_active_workers,
            "blocked_rounds": self.blocked_rounds,
        }


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


#: Methods that read a container's contents, and methods that change them: an access through
#: one is an access to the container's items (``self.d.get`` and ``self.d[k] = v`` conflict).
_READ_METHODS = frozenset(
    {"get", "__getitem__", "__contains__", "keys", "values", "items", "copy", "index", "count"}
)
_WRITE_METHODS = frozenset(
    {
        "setdefault", "pop", "popitem", "update", "clear", "append", "extend", "insert",
        "remove", "discard", "add", "__setitem__", "__delitem__", "move_to_end", "appendleft",
        "popleft", "sort", "reverse",
    }
)  # fmt: skip


def shared_state(kind: str, target: str) -> tuple[str, bool]:
    """What an access touches, and whether it writes: items of a container are one piece of
    state (``self.d[]``) whether reached by subscript or by a method; an attribute is its own."""
    if "[" in target:
        return target.split("[", 1)[0] + "[]", _ACCESSES[kind]
    head, _, method = target.rpartition(".")
    if head and kind == "read" and method in _READ_METHODS:
        return head + "[]", False
    if head and kind == "read" and method in _WRITE_METHODS:
        return head + "[]", True
    return target, _ACCESSES[kind]


class Coverage:
    """Accumulates `Evidence` over the rounds of a hunt."""

    def __init__(self) -> None:
        self.rounds = 0
        self.racing = 0
        self.switches = 0
        self.points = 0
        self.max_active = 0
        self.blocked = 0
        self._schedules: set[int] = set()
        self._ordered: set[tuple[int, int]] = set()
        self._points: dict[int, Any] = {}
        self._shared: dict[int, tuple[str, bool]] = {}
        self._seen_rounds: dict[int, tuple[Any, ...]] = {}

    def add(self, result: RunResult) -> None:
        """Count one parallel round from its trace."""
        self.rounds += 1
        # In a hunt that goes on, a deadlocked round was one whose calls wait as they would
        # alone (any other deadlock ends the hunt with a counterexample).
        self.blocked += isinstance(result.hang, Deadlock)
        sequence = result.trace.threads()
        self.points += len(sequence)
        active = set(sequence)
        self.max_active = max(self.max_active, len(active))
        runs = sum(1 for _ in groupby(sequence))
        self.switches += max(0, runs - 1)
        if len(active) >= 2 and runs > len(active):
            self.racing += 1
        self._schedules.add(hash(tuple(sequence)))
        # A round seen before (same threads at the same points) adds no conflict pair.
        key, points = result.trace.fingerprint()
        if key in self._seen_rounds:
            return
        self._seen_rounds[key] = points
        self._conflicts(result)

    def _conflicts(self, result: RunResult) -> None:
        # Per run of one thread, each distinct access point once: a few dict look-ups each,
        # keyed by the point's id (kept alive in `_points`).
        seen: dict[str, dict[int, set[int]]] = {}
        ordered = self._ordered
        points = self._points
        shared = self._shared
        for tid, run in result.trace.runs():
            for point in run:
                pid = id(point)
                where = shared.get(pid)
                if where is None:
                    if point.kind not in _ACCESSES:
                        continue
                    points[pid] = point
                    where = shared[pid] = shared_state(point.kind, point.target)
                target, writes = where
                prior = seen.get(target)
                if prior is None:
                    seen[target] = {pid: {tid}}
                    continue
                for other, tids in prior.items():
                    if (len(tids) > 1 or tid not in tids) and (writes or shared[other][1]):
                        ordered.add((other, pid))
                mine = prior.get(pid)
                if mine is None:
                    prior[pid] = {tid}
                else:
                    mine.add(tid)

    def evidence(self, examples: int) -> Evidence:
        pairs: dict[frozenset[Site], bool] = {}
        for a, b in self._ordered:
            key = frozenset((self._site(a), self._site(b)))
            pairs[key] = pairs.get(key, False) or a == b or (b, a) in self._ordered
        never = sorted(_pair_text(k) for k, both in pairs.items() if not both)
        return Evidence(
            examples=examples,
            rounds=self.rounds,
            racing_rounds=self.racing,
            switches=self.switches,
            schedules=len(self._schedules),
            conflict_pairs=len(pairs),
            reversed_pairs=sum(pairs.values()),
            points=self.points,
            max_active_workers=self.max_active,
            never_reversed=tuple(never[:SHOWN_PAIRS]),
            blocked_rounds=self.blocked,
        )

    def _site(self, pid: int) -> Site:
        point = self._points[pid]
        return (point.location, point.kind, point.target)


def _pair_text(pair: frozenset[Site]) -> str:
    sites = sorted(pair)
    a, b = sites[0], sites[-1]
    return f"{a[1]} {a[2]} at {a[0]} / {b[1]} {b[2]} at {b[0]}"
