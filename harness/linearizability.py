"""Checking results against a sequential reference: is what the threads saw explainable?

Invariants catch a broken state; some bugs only show in what calls return (a read that saw a
value no order of the writes could produce). A model that declares a sequential reference
(`Model.reference`) gets a second check after every step, the one Lincheck makes:

* a sequential call must return what the reference returns;
* a parallel round is *linearizable* if some order of its calls -- each worker's calls in
  program order, and a call that returned before another began placed before it -- run one by
  one on the reference gives every result that was observed (and the same exception types).

The search is depth-first over the workers' next calls, copying the reference at each branch
(or rebuilding it, when it cannot be copied: see `Replica`);
a wrong result prunes the branch at once, so rounds of the harness's size (a few workers, a
few calls each) take microseconds. A round may be linearizable in several orders that leave
the reference in different states, so the check carries the set of possible states from step
to step. Past `MAX_NODES` (or `MAX_STATES`) it gives up for the rest of the scenario: the
check never reports a failure it could not prove.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.model import OpRecord
from harness.runtime.sync import SequentialDeadlock


class Blocked(Exception):
    """The outcome of a call that never returned: it waited for a notification that no other
    call of its round sent (``queue.get()`` on an empty queue). The sequential reference agrees
    when the same call, run alone, would wait forever too (Lincheck calls this suspension)."""


#: Search nodes one step may cost, and distinct states it may leave the reference in, before
#: the check gives up (and reports nothing).
MAX_NODES = 200_000
MAX_STATES = 1_000


@dataclass
class Verdict:
    """The outcome of checking a step: where the reference may be now, or why nowhere."""

    #: The states the reference may be in afterwards; None when the search gave up (the
    #: check then stops for the rest of the scenario).
    states: list[Any] | None = None
    explained: bool = True
    #: The longest prefix of calls the reference explained, and the calls that could not
    #: come next with what the reference would have returned for each.
    prefix: list[OpRecord] = field(default_factory=list)
    blocked: list[tuple[OpRecord, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the first call no order could explain, after the longest explained run."""
        if not self.blocked:
            return "every result is explained"
        record, expected = self.blocked[-1]
        after = f"after {'; '.join(_call(r) for r in self.prefix)}, " if self.prefix else ""
        return (
            f"no order of the calls explains their results: {after}{_call(record)}, but the "
            f"sequential reference {expected}"
        )

    def describe(self) -> str:
        """Every call that could not come next, with what the reference would have done."""
        lines = ["no order of the calls explains their results"]
        if self.prefix:
            lines.append("longest explained order: " + "; ".join(_call(r) for r in self.prefix))
        for record, expected in self.blocked:
            lines.append(f"then {_call(record)}, but the reference {expected}")
        return "\n".join(lines)


def _call(record: OpRecord) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in record.args.items())
    who = "test thread" if record.worker is None else f"worker {record.worker}"
    outcome = (
        f"raised {type(record.error).__name__}"
        if record.error is not None
        else f"returned {record.result!r}"
    )
    return f"{who} {record.op}({args}) {outcome}"


def apply(reference: Any, record: OpRecord) -> str | None:
    """Run `record`'s call on `reference`; None if it agrees, else what the reference did."""
    method = getattr(reference, record.op, None)
    if method is None:
        raise AttributeError(
            f"the sequential reference {type(reference).__name__} has no method {record.op!r}"
        )
    try:
        expected = method(**record.args)
    except Exception as exc:
        if isinstance(record.error, Blocked) and isinstance(exc, SequentialDeadlock):
            return None
        if record.error is not None and type(record.error) is type(exc):
            return None
        return f"raises {type(exc).__name__}: {exc}"
    if isinstance(record.error, Blocked):
        return "returns (it does not wait forever)"
    if record.error is not None:
        return f"returns {expected!r}"
    if expected != record.result:
        return f"returns {expected!r}"
    return None


class Replica:
    """One possible state of the sequential reference, and how to copy it.

    Copies are made with `copy.deepcopy`; a reference that cannot be deep-copied (it holds a
    lock, a file, a generator...) is rebuilt instead: a fresh one from `factory`, with the
    calls that led to this state applied again in order.
    """

    __slots__ = ("factory", "obj", "path")

    def __init__(self, obj: Any, factory: Any = None, path: tuple[OpRecord, ...] = ()) -> None:
        self.obj = obj
        self.factory = factory
        self.path = path

    def copy(self) -> Replica:
        try:
            return Replica(copy.deepcopy(self.obj), self.factory, self.path)
        except Exception:
            if self.factory is None:
                raise
        fresh = self.factory()
        for record in self.path:
            apply(fresh, record)
        return Replica(fresh, self.factory, self.path)

    def run(self, record: OpRecord) -> str | None:
        """`apply` the call to this state (in place); None if the reference agrees."""
        self.path = (*self.path, record)
        return apply(self.obj, record)

    def key(self) -> Any:
        """Equal states collapse into one: by pickled bytes (a reference may say how to
        pickle itself, with ``_harness_state_key``), else by the calls that led here."""
        keyed = getattr(type(self.obj), "_harness_state_key", None)
        try:
            return keyed(self.obj) if keyed is not None else pickle.dumps(self.obj)
        except Exception:
            return tuple((r.op, repr(sorted(r.args.items()))) for r in self.path)


def linearize(states: Sequence[Any], records: Sequence[OpRecord]) -> Verdict:
    """Every state the reference can be in after `records`, from any of `states` (not mutated).

    Orders are not unique (two puts of one key that returned nothing explain each other either
    way) and a later step may tell them apart, so every linearization counts: the verdict
    keeps all the distinct states they end in, and the next step may start from any of them.
    `records` carry their worker and their real-time `start` / `end` numbers; each worker's
    records are in its program order.
    """
    workers = sorted({r.worker for r in records}, key=lambda w: -1 if w is None else w)
    queues = [[r for r in records if r.worker == w] for w in workers]
    best = Verdict(explained=False)
    finals: dict[Any, Any] = {}
    nodes = 0

    def search(state: Replica, heads: list[int], done: list[OpRecord], owned: bool) -> None:
        """Extend the order `done` from `state` in every allowed way. `owned`: `state` is
        this node's own copy, so the last way tried may run on it instead of on a copy (a
        copy is most of the check's cost, and most nodes have one way on)."""
        nonlocal nodes, best
        if all(h == len(q) for h, q in zip(heads, queues, strict=True)):
            finals.setdefault(state.key(), state)
            if len(finals) > MAX_STATES:
                raise _GiveUp
            return
        ways = _ways(queues, heads)
        blocked = []
        for index in ways:
            record = queues[index][heads[index]]
            nodes += 1
            if nodes > MAX_NODES:
                raise _GiveUp
            trial = state if owned and index == ways[-1] else state.copy()
            disagreement = trial.run(record)
            if disagreement is not None:
                blocked.append((record, disagreement))
                continue
            heads[index] += 1
            search(trial, heads, [*done, record], True)
            heads[index] -= 1
        if blocked and len(done) >= len(best.prefix):
            best = Verdict(explained=False, prefix=list(done), blocked=blocked)

    try:
        for state in states:
            root = state if isinstance(state, Replica) else Replica(state)
            search(root, [0] * len(queues), [], False)  # the caller's states stay as they are
    except _GiveUp:
        return Verdict(states=None, explained=True)
    if not finals:
        return best
    # States come back in the form they were given: `Replica`s, or the bare objects.
    replicas = all(isinstance(state, Replica) for state in states)
    found = list(finals.values())
    return Verdict(states=found if replicas else [r.obj for r in found], explained=True)


def _ways(queues: list[list[OpRecord]], heads: list[int]) -> list[int]:
    """The workers whose next call may come next: not one that began after another pending
    call returned (that one must be ordered first)."""
    pending = [q[h] for h, q in zip(heads, queues, strict=True) if h < len(q)]
    return [
        index
        for index, queue in enumerate(queues)
        if heads[index] < len(queue)
        and not any(
            _before(other, queue[heads[index]])
            for other in pending
            if other is not queue[heads[index]]
        )
    ]


def _before(a: OpRecord, b: OpRecord) -> bool:
    """Whether call `a` returned before call `b` began (so `a` must be ordered first)."""
    return a.end is not None and b.start is not None and a.end < b.start


class _GiveUp(Exception):
    """Too many orders to try: the round is not reported."""
