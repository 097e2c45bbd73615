"""Every schedule of a fixed scenario up to a preemption bound, with partial-order reduction.

Stateless: each schedule re-executes the scenario from a fresh object (the caller's job), and
a `DfsSchedule` replays a prefix of decisions, then continues by a default rule while it
records what every step touched (`harness.runtime.access`). `DfsSearch` keeps the tree of
decisions between executions and says which prefix to run next, until none is left.

* A *decision* is a scheduling point where more than the running thread could go on (or a
  free choice after a block or a finish). A switch away from a thread that could have gone
  on is a *preemption*; a switch forced by blocking, a lock hand-off or a thread's end is not.
  The bound counts preemptions only.
* Reductions (`reduction`):
  ``none``  -- plain DFS: every runnable thread at every point (the oracle the others are
               tested against);
  ``sleep`` -- the same tree with sleep sets (Godefroid 1996): a branch whose first step
               commutes with a sibling already explored is not entered again -- without a
               bound only: the explored sibling runs that step earlier, which can cost more
               preemptions than the bound allows where the pruned branch was within it (an
               unsafe registry's one-preemption failure was missed at bound 1 that way);
  ``dpor``  -- dynamic partial-order reduction (Flanagan & Godefroid, POPL 2005), plus sleep
               sets when unbounded: a branch is added only where the executed trace shows
               two conflicting steps of different threads that were not ordered already,
               and decisions are made only at points whose step can touch something shared.
               With a bound, the alternative is also added where the earlier step's thread
               was switched in (Coons, Musuvathi & McKinley, OOPSLA 2013), which keeps every
               outcome reachable within the bound.
               A release of a lock held when its step began and another thread's later
               acquire of it are never a race to reverse when the acquire waits as long as
               it takes: run first, it could only block until that release (they are never
               co-enabled), and blocking is seen by nobody. One that can give up --
               non-blocking, or with a timeout -- is reversed like any conflict, since it
               fails where it runs first. Without this, every place a waiting thread could
               have tried a held lock was its own schedule: the locked Backoffer 2x3 took
               497 schedules unbounded, now 21.
* Fewest preemptions (`exhaust`): the whole bound is searched once; only when that finds a
  failure with p preemptions are bounds 0, 1, ... p-1 searched in turn for a smaller one. A
  scenario with no failure -- what a proof is made of -- is explored once, not once per
  bound as plain iterative deepening would (a quarter more schedules at bound 2).

The same scenario gives the same sequence of schedules: the tree is walked in a fixed order
(deepest pending decision first, lowest thread first) and every run replays exactly.
"""

from __future__ import annotations

import bisect
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from harness.errors import UsageError
from harness.runtime.access import (
    ANY,
    CLOCK_WRITE,
    MODEL,
    CallEffect,
    Footprint,
    Key,
    Numbering,
    ShapeCache,
    access_keys,
    call_effect,
    coarse,
    conflict,
)
from harness.runtime.heap import frozen_heap
from harness.runtime.outside import Outside
from harness.runtime.points import Point
from harness.runtime.sync import Lock

REDUCTIONS: Final = ("none", "sleep", "dpor")


class ScheduleDiverged(RuntimeError):
    """Replaying a prefix of decisions did not reach the same decisions: the scenario is not
    deterministic, so no exploration of it can be exhaustive."""


@dataclass
class Node:
    """One decision of the tree: who could run, who was running, what was tried."""

    enabled: tuple[int, ...]
    current: int | None
    chosen: int
    preempts_before: int
    sleep: dict[int, Footprint] = field(default_factory=dict)
    backtrack: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    #: The (coarse) footprint of the step each explored thread took here: for sleep sets.
    explored: dict[int, Footprint] = field(default_factory=dict)
    #: The step taken here in the last race analysis, as (thread, footprint number, the
    #: vector clock it got): `DfsSearch._races` reuses it while the trace repeats.
    analysed: tuple[int, int, list[int]] | None = None

    def cost(self, thread: int) -> int:
        return int(self.current is not None and thread != self.current)


class DfsSchedule:
    """The decision source (and step observer) of one execution of a `DfsSearch`."""

    observes_access = True

    def __init__(
        self,
        search: DfsSearch,
        prefix: list[int],
        sleepers: dict[int, Footprint],
        preempts: int,
    ) -> None:
        self.search = search
        self.prefix = prefix
        self._sleepers = sleepers
        self._prefix_preempts = preempts
        self.merge = search.reduction != "none"
        self.reset()

    def reset(self) -> None:
        self.nodes: list[tuple[tuple[int, ...], int | None, int]] = []
        self.fps: list[list[Key]] = []
        self.node_sleep: list[dict[int, Footprint]] = []
        self.preempts = 0
        self.diverged = False
        self.redundant = False
        self.asleep: dict[int, Footprint] = {}
        self._open: dict[int, int] = {}
        self._frame: dict[int, types.FrameType | None] = {}
        self._pending: dict[int, Any] = {}
        self._call: dict[int, CallEffect | None] = {}
        self._retry: dict[int, Footprint] = {}
        self._points: dict[int, int] = {}
        self._finished: set[int] = set()
        self._fresh: set[int] = set()
        self._skip = False
        self._last_closed = -1
        self._number = Numbering()
        # By node: steps that release a lock held when they began, and steps that begin by
        # waiting for a lock as long as it takes: such a pair is never a race to reverse
        # (`_reversible`). `_took`: the lock a step began by taking (or trying to).
        self.releases: dict[int, str] = {}
        self.acquires: dict[int, str] = {}
        self._took: dict[int, str] = {}
        self._wants: dict[int, tuple[str, bool]] = {}  # thread -> (lock, waits for it)

    # -- DecisionSource ------------------------------------------------------------------------

    def reached(self, thread: int) -> int:
        return self._points.get(thread, 0)

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int:
        if self._skip:
            self._skip = False
            return current if current is not None else runnable[0]
        k = len(self.nodes)
        if k < len(self.prefix):
            q = self.prefix[k]
            if q not in runnable:
                self.diverged = True
                q = current if current is not None else runnable[0]
        else:
            q = self._default(current, runnable)
            self.node_sleep.append(dict(self.asleep))
        if current is not None and q != current:
            self.preempts += 1
        self.nodes.append((runnable, current, q))
        self.fps.append([])
        self._open[q] = k
        self.asleep.pop(q, None)
        return q

    def _default(self, current: int | None, runnable: tuple[int, ...]) -> int:
        awake = [t for t in runnable if t not in self.asleep]
        if current is not None and current in awake:
            return current
        bound = self.search.bound
        if awake and (current is None or bound is None or self.preempts < bound):
            return awake[0]
        self.redundant = True  # every runnable thread is asleep: this run repeats others
        return current if current is not None else runnable[0]

    # -- AccessObserver ------------------------------------------------------------------------

    def bind(self, run: Any) -> None:
        self.search._bind(run.hooks.instrumentation)

    def _fp(self, tid: int) -> list[Key]:
        return self.fps[self._open[tid]]

    def started(self, tid: int) -> None:
        self._frame[tid] = None
        self._fresh.add(tid)  # what runs before the first point is read off its stack

    def _arrive(self, tid: int, frame: types.FrameType | None) -> list[Key]:
        """Account for what ran since the thread's last point: code outside the instrumented
        modules (frames that are not this one, its caller or a callee entered directly) and
        the effect of the call made there."""
        self._points[tid] = self._points.get(tid, 0) + 1
        fp = self._fp(tid)
        before = self._frame.get(tid)
        direct = before is not None and frame is not None and frame.f_back is before
        if frame is None:
            fp.append(MODEL)
        elif tid in self._fresh:
            self._fresh.discard(tid)
            fp.extend(self.search.outside.between(None, frame, self._number, tid))
        elif before is None:
            fp.append(MODEL)
        elif not (frame is before or direct or frame is before.f_back):
            fp.extend(self.search.outside.between(before, frame, self._number, tid))
        self._call_made(fp, tid, direct)
        self._frame[tid] = frame
        return fp

    def _call_made(self, fp: list[Key], tid: int, direct: bool) -> None:
        """The effect of the call the thread's last step made, unless it entered
        instrumented code directly (whose own points then tell what it does)."""
        call = self._call.pop(tid, None)
        if call is not None and not direct:
            keys, python = call
            fp.extend(keys)
            if python:
                fp.append(MODEL)

    def reach(self, tid: int, point: Point, frame: types.FrameType | None) -> None:
        self._arrive(tid, frame)
        assert frame is not None
        shape = self.search.shapes.shape(frame.f_code, point)
        if self.merge and not shape.visible:
            self._skip = True
            self._pending[tid] = None
            return
        self._pending[tid] = ("point", shape, frame)
        self._close(tid)

    def reach_sync(
        self,
        tid: int,
        kind: str,
        target: str,
        frame: types.FrameType | None,
        gives_up: bool = False,
    ) -> None:
        fp = self._arrive(tid, frame)
        if kind == "release":
            fp.append(("lock", ANY, target, True))  # released before the point was reached
            k = self._open[tid]
            if self._took.get(k) != target:  # else the step took it too: free at its start
                self.releases[k] = target
        elif kind == "acquire":
            self._wants[tid] = (target, not gives_up)
        self._pending[tid] = ("sync", kind, target)
        self._close(tid)

    def resume(self, tid: int) -> None:
        pending = self._pending.pop(tid, None)
        if pending is None:
            return
        fp = self._fp(tid)
        if pending[0] == "sync":
            _tag, kind, target = pending
            if kind == "acquire":
                fp.append(("lock", ANY, target, True))
                self._takes(tid)
            elif kind == "sleep":
                fp.append(CLOCK_WRITE)
            return
        _tag, shape, frame = pending
        fp.extend(access_keys(shape, frame, self._number))
        if shape.point.kind == "call":
            self._call[tid] = call_effect(
                shape, frame, self._number, self.search._instrumented, Lock
            )

    def blocked(self, tid: int, on: Any, deadline: float | None) -> None:
        retry: list[Key] = []
        if isinstance(on, Lock):
            retry.append(("lock", ANY, on.name, True))
            self._wants[tid] = (on.name, deadline is None)  # retried when woken
        if deadline is not None or not isinstance(on, Lock):
            self._fp(tid).append(CLOCK_WRITE)
            retry.append(CLOCK_WRITE)
        self._retry[tid] = tuple(retry)
        self._close(tid)

    def unblocked(self, tid: int) -> None:
        self._fp(tid).extend(self._retry.pop(tid, ()))
        self._takes(tid)  # a lock's waiter retries its acquire

    def _takes(self, tid: int) -> None:
        """The step `tid` starts now begins with the acquire it wanted (if any)."""
        wanted = self._wants.pop(tid, None)
        if wanted is not None:
            k = self._open[tid]
            self._took[k] = wanted[0]
            if wanted[1]:
                self.acquires[k] = wanted[0]

    def clock_advances(self) -> None:
        if self._last_closed >= 0:
            self.fps[self._last_closed].append(CLOCK_WRITE)

    def finished(self, tid: int) -> None:
        fp = self._fp(tid)
        before = self._frame.get(tid)
        if tid in self._fresh or before is None:
            fp.append(MODEL)  # a body that reached no point (or left no frame to read)
        else:
            fp.extend(self.search.outside.between(before, None, self._number, tid))
        self._call_made(fp, tid, False)
        self._finished.add(tid)
        self._close(tid)

    def _close(self, tid: int) -> None:
        k = self._open[tid]
        self._last_closed = k
        if not self.search.sleeps:
            return
        if k == len(self.prefix) - 1:
            mine = coarse(tuple(self.fps[k]))
            self.asleep = {
                r: fp for r, fp in self._sleepers.items() if r != tid and not conflict(fp, mine)
            }
        elif self.asleep and k >= len(self.prefix):
            mine = coarse(tuple(self.fps[k]))
            for r in [r for r, fp in self.asleep.items() if conflict(fp, mine)]:
                del self.asleep[r]

    def pending_steps(self) -> list[tuple[int, Footprint]]:
        """The next step of every thread that never finished (a deadlock's blocked threads)."""
        return sorted(
            (tid, retry) for tid, retry in self._retry.items() if tid not in self._finished
        )


@dataclass
class SearchStats:
    schedules: int = 0
    redundant: int = 0
    pruned: int = 0
    beyond_bound: int = 0


class DfsSearch:
    """The decision tree of one scenario at one bound (None: unbounded)."""

    def __init__(self, bound: int | None = 2, reduction: str = "dpor") -> None:
        if bound is not None and (not isinstance(bound, int) or bound < 0):
            raise UsageError(f"bound must be a non-negative integer, got {bound!r}")
        if reduction not in REDUCTIONS:
            raise UsageError(f"unknown reduction {reduction!r}: choose one of {REDUCTIONS}")
        self.bound = bound
        self.reduction = reduction
        # Sleep sets only without a bound: with one, the schedule a sleeper stands for can
        # need more preemptions than the one it prunes (module docstring).
        self.sleeps = reduction in ("sleep", "dpor") and bound is None
        self.stack: list[Node] = []
        self.stats = SearchStats()
        self.shapes: ShapeCache = ShapeCache(lambda code: None)
        self._instrumented: Callable[[types.CodeType], bool] = lambda code: False
        self.outside = Outside(self._instrumented, Lock)
        self._instrumentation: Any = None
        self._started = False
        self.exhausted = False
        self._plans = _Plans()

    def _bind(self, instrumentation: Any) -> None:
        if instrumentation is not self._instrumentation:
            self._instrumentation = instrumentation
            self.shapes = ShapeCache(instrumentation.table)
            self._instrumented = lambda code: instrumentation.table(code) is not None
            self.outside = Outside(self._instrumented, Lock, instrumentation.table)

    # -- which schedule next ---------------------------------------------------------------

    def next_schedule(self) -> DfsSchedule | None:
        """The next execution to run, or None when the tree is exhausted."""
        if not self._started:
            self._started = True
            return DfsSchedule(self, [], {}, 0)
        while self.stack:
            k = len(self.stack) - 1
            node = self.stack[k]
            todo = sorted(node.backtrack - node.done - set(node.sleep))
            for q in todo:
                if self.bound is not None and node.preempts_before + node.cost(q) > self.bound:
                    node.done.add(q)
                    self.stats.beyond_bound += 1
                    continue
                node.done.add(q)
                node.chosen = q
                prefix = [n.chosen for n in self.stack]
                sleepers = dict(node.sleep)
                for r in node.done:
                    if r != q and r in node.explored:
                        sleepers[r] = node.explored[r]
                return DfsSchedule(self, prefix, sleepers, node.preempts_before)
            self._drop()
        self.exhausted = True
        return None

    def _drop(self) -> None:
        node = self.stack.pop()
        reachable = {
            t
            for t in node.enabled
            if self.bound is None or node.preempts_before + node.cost(t) <= self.bound
        }
        self.stats.pruned += len(reachable - node.done)

    # -- learning from an execution -----------------------------------------------------------

    def finish(self, schedule: DfsSchedule) -> None:
        """Fold an executed schedule into the tree and add the branches its trace calls for."""
        if schedule.diverged:
            raise ScheduleDiverged(
                "the scenario did not repeat itself under the same decisions (unseeded "
                "randomness, wall-clock time or id()-dependent order in the model?)"
            )
        self.stats.schedules += 1
        self.stats.redundant += schedule.redundant
        fps = [tuple(fp) for fp in schedule.fps]
        nodes = schedule.nodes
        preempts = 0
        start = len(schedule.prefix) - 1 if schedule.prefix else 0
        for k, (enabled, current, chosen) in enumerate(nodes):
            if k < len(self.stack):
                node = self.stack[k]
            else:
                node = Node(enabled, current, chosen, preempts)
                index = k - len(schedule.prefix)
                if 0 <= index < len(schedule.node_sleep):
                    node.sleep = schedule.node_sleep[index]
                node.backtrack = set(enabled) if self.reduction != "dpor" else {chosen}
                node.done = {chosen}
                self.stack.append(node)
            if k >= start and self.sleeps:
                node.explored[chosen] = coarse(fps[k])
            preempts += int(current is not None and chosen != current)
        if self.reduction == "dpor":
            self._races(schedule, fps)

    def _races(self, schedule: DfsSchedule, fps: list[Footprint]) -> None:
        """Flanagan-Godefroid backtracking from the trace of one execution."""
        nodes = schedule.nodes
        threads = [chosen for _e, _c, chosen in nodes]
        events = list(zip(threads, fps, strict=True))
        events += schedule.pending_steps()
        n_threads = 1 + max(
            [t for t, _fp in events] + [t for e, _c, _q in nodes for t in e], default=0
        )
        local, positions = _numbered(events, n_threads)
        block = [0] * len(nodes)
        for i in range(1, len(nodes)):
            block[i] = block[i - 1] if threads[i] == threads[i - 1] else i
        clocks: list[list[int]] = []
        clock_of = [[0] * n_threads for _ in range(n_threads)]
        last_of = [-1] * n_threads
        trace = _Trace(self._plans)
        repeats = True  # so far, the same steps as the last analysis of these nodes
        for j, (p, fp) in enumerate(events):
            fid = self._plans.intern(fp)
            if repeats and j < len(nodes):
                # A step whose trace up to it repeats the last analysis: its races were
                # added then (backtrack sets only grow) and its clock is the same.
                kept = self.stack[j].analysed
                if kept is not None and kept[0] == p and kept[1] == fid:
                    mine = _fit(kept[2], n_threads)
                    clocks.append(mine)
                    clock_of[p] = mine
                    last_of[p] = j
                    trace.index(j, p, fid)
                    continue
                repeats = False
            deps = trace.dependents(p, fid)
            before = clock_of[p]
            prev = last_of[p]
            concurrent = [i for i in deps if before[events[i][0]] <= local[i]]
            if concurrent:
                concurrent = _reversible(schedule, j, concurrent)
                late = [i for i in concurrent if i > prev]
                early = [i for i in concurrent if i < prev]
                for i in [*late, *([max(early)] if early else [])]:
                    if i < len(nodes):
                        self._backtrack(i, p, before, local, positions, block)
            if j >= len(nodes):
                continue
            mine = list(before)
            for i in deps:
                mine = [a if a >= b else b for a, b in zip(mine, clocks[i], strict=True)]
            mine[p] = local[j] + 1
            clocks.append(mine)
            clock_of[p] = mine
            last_of[p] = j
            trace.index(j, p, fid)
            self.stack[j].analysed = (p, fid, mine)

    def _backtrack(
        self,
        i: int,
        p: int,
        before: list[int],
        local: list[int],
        positions: list[list[int]],
        block: list[int],
    ) -> None:
        """Make sure the tree tries, before step `i`, a thread that leads to `p`'s step."""
        node = self.stack[i]
        enabled = node.enabled
        wanted: list[int] = []
        for q in enabled:
            if q == p:
                wanted.append(q)
                continue
            seq = positions[q]
            at = bisect.bisect_right(seq, i)
            if at < len(seq) and local[seq[at]] < before[q]:
                wanted.append(q)
        choices = wanted if wanted else list(enabled)
        targets = [i] if block[i] == i else [i, block[i]]
        for k in targets:
            node = self.stack[k]
            usable = [q for q in choices if q in node.enabled]
            if not usable:
                continue
            if wanted and (set(usable) & (node.backtrack | node.done)):
                continue
            if wanted:
                node.backtrack.add(p if p in usable else usable[0])
            else:
                node.backtrack.update(usable)


def _numbered(
    events: list[tuple[int, Footprint]], n_threads: int
) -> tuple[list[int], list[list[int]]]:
    """Each event's number among its thread's events, and each thread's event positions."""
    local: list[int] = []
    counts = [0] * n_threads
    positions: list[list[int]] = [[] for _ in range(n_threads)]
    for j, (t, _fp) in enumerate(events):
        local.append(counts[t])
        counts[t] += 1
        positions[t].append(j)
    return local, positions


def _reversible(schedule: DfsSchedule, j: int, concurrent: list[int]) -> list[int]:
    """The unordered conflicting steps before step `j` that are races to reverse: not a
    release of the lock `j` then waits for as long as it takes. The two are never enabled
    together (Flanagan & Godefroid): while the releasing thread holds the lock, `j` could
    only block, which nobody sees, so running it first reaches nothing new."""
    waits = schedule.acquires.get(j)
    if waits is None:
        return concurrent
    releases = schedule.releases
    return [i for i in concurrent if releases.get(i) != waits]


def _fit(clock: list[int], n_threads: int) -> list[int]:
    """A vector clock kept from an execution with a different number of threads, resized:
    the entries added or dropped are threads with no step so far, so they are zero."""
    if len(clock) == n_threads:
        return clock
    if len(clock) < n_threads:
        return clock + [0] * (n_threads - len(clock))
    return clock[:n_threads]


@dataclass(frozen=True)
class _Plan:
    """Where a footprint is filed in a trace's index and where its conflicts are looked up,
    worked out once per distinct footprint (the same few recur in every execution). Reads
    and writes are filed apart: a read can only conflict with a write, which keeps most
    steps -- reads of what nobody writes -- from being compared at all."""

    empty: bool
    opaque: bool
    files: tuple[Any, ...]  # the (bucket, writes) it is filed under
    looks: tuple[Any, ...]  # the (bucket, writes) its conflicts can be in


#: The bucket of every step that touches an item, whatever its key.
_ITEMS: Final = ("items",)
#: Per space (attributes, globals, locks, the model...): the bucket of every step in it, where
#: a key with a wildcard name looks (it conflicts with every name).
_EVERY_NAME: Final = "every name"


class _Plans:
    """Distinct footprints of one search, numbered, with their plans and a memo of which
    pairs conflict: the race analysis asks the same questions of every execution."""

    def __init__(self) -> None:
        self.ids: dict[Footprint, int] = {}
        self.fps: list[Footprint] = []
        self.plans: list[_Plan] = []
        self._conflicts: dict[tuple[int, int], bool] = {}

    def intern(self, fp: Footprint) -> int:
        fid = self.ids.get(fp)
        if fid is None:
            fid = self.ids[fp] = len(self.fps)
            self.fps.append(fp)
            self.plans.append(self._plan(fp))
        return fid

    @staticmethod
    def _plan(fp: Footprint) -> _Plan:
        if any(key[0] == "opaque" for key in fp):
            return _Plan(False, True, (), ())
        files: list[Any] = []
        looks: list[Any] = []
        for key in fp:
            space, obj, name, writes = key
            if space == "item":
                files += [(("item", obj), writes), (_ITEMS, writes)]
                near = [_ITEMS] if obj is ANY else [("item", obj), ("item", ANY)]
            else:
                # Objects are not told apart here (the memoised `conflict` does that): a name
                # meets the same name, the wildcard name, and a wildcard meets every name.
                files += [((space, name), writes), ((space, _EVERY_NAME), writes)]
                near = [(space, _EVERY_NAME)] if name is ANY else [(space, name), (space, ANY)]
            for b in near:
                looks.append((b, True))
                if writes:
                    looks.append((b, False))
        return _Plan(not fp, False, tuple(dict.fromkeys(files)), tuple(dict.fromkeys(looks)))

    def conflict(self, a: int, b: int) -> bool:
        known = self._conflicts.get((a, b))
        if known is None:
            known = self._conflicts[(a, b)] = conflict(self.fps[a], self.fps[b])
        return known


class _Trace:
    """The steps of one execution filed by what they touch, to find a step's earlier
    conflicting steps without comparing it with every one."""

    def __init__(self, plans: _Plans) -> None:
        self.plans = plans
        self.buckets: dict[Any, list[int]] = {}
        self.opaque: list[int] = []
        self.every: list[int] = []
        self.thread: dict[int, int] = {}
        self.fid: dict[int, int] = {}

    def index(self, j: int, thread: int, fid: int) -> None:
        plan = self.plans.plans[fid]
        if plan.empty:
            return
        self.thread[j] = thread
        self.fid[j] = fid
        self.every.append(j)
        if plan.opaque:
            self.opaque.append(j)
            return
        for b in plan.files:
            self.buckets.setdefault(b, []).append(j)

    def dependents(self, thread: int, fid: int) -> list[int]:
        """Earlier steps of other threads whose footprints conflict with this one."""
        plan = self.plans.plans[fid]
        if plan.empty:
            return []
        candidates: set[int] = set(self.opaque)
        if plan.opaque:
            candidates.update(self.every)
        else:
            for b in plan.looks:
                filed = self.buckets.get(b)
                if filed:
                    candidates.update(filed)
        if not candidates:
            return []
        thread_of, fid_of, conflicts = self.thread, self.fid, self.plans.conflict
        return sorted(i for i in candidates if thread_of[i] != thread and conflicts(fid_of[i], fid))


@dataclass
class Exhaustion:
    """What `exhaust` did: schedules run, the bound reached, and the failing run if any."""

    schedules: int = 0
    redundant: int = 0
    pruned: int = 0
    beyond_bound: int = 0
    bound_reached: int | None = None
    exhausted: bool = False
    failure: Any = None
    failing_preemptions: int | None = None


def exhaust(
    run_one: Callable[[DfsSchedule], Any],
    *,
    bound: int | None = 2,
    reduction: str = "dpor",
    max_schedules: int | None = None,
    out_of_time: Callable[[], bool] = lambda: False,
    deepen: bool = True,
) -> Exhaustion:
    """Run `run_one(schedule)` for every schedule up to `bound` preemptions.

    `run_one` executes the scenario from scratch under the schedule and returns a failure or
    None; the first failure ends the search. With `deepen`, a failure found with p > 0
    preemptions is followed by searches at bounds 0 ... p-1, and the first of them to fail
    gives the failure returned: it has the fewest preemptions any schedule within the bound
    needs. A budget (`max_schedules`, `out_of_time`) ends the search early with
    ``exhausted`` False (a failure already found is still returned).
    """
    with frozen_heap():
        return _exhaust(run_one, bound, reduction, max_schedules, out_of_time, deepen)


def _exhaust(
    run_one: Callable[[DfsSchedule], Any],
    bound: int | None,
    reduction: str,
    max_schedules: int | None,
    out_of_time: Callable[[], bool],
    deepen: bool,
) -> Exhaustion:
    result = Exhaustion()
    if not _search(run_one, bound, reduction, result, max_schedules, out_of_time):
        return result
    result.exhausted = result.failure is None
    fewer = result.failing_preemptions
    if not deepen or result.failure is None or not fewer:
        return result
    for level in range(fewer):
        smaller = Exhaustion()
        finished = _search(run_one, level, reduction, smaller, None, out_of_time)
        result.schedules += smaller.schedules
        result.redundant += smaller.redundant
        result.pruned += smaller.pruned
        result.beyond_bound += smaller.beyond_bound
        if smaller.failure is not None:
            result.failure = smaller.failure
            result.failing_preemptions = smaller.failing_preemptions
            result.bound_reached = level
            break
        if not finished:
            break  # out of time: the failure at hand is the best known
    return result


def _search(
    run_one: Callable[[DfsSchedule], Any],
    level: int | None,
    reduction: str,
    result: Exhaustion,
    max_schedules: int | None,
    out_of_time: Callable[[], bool],
) -> bool:
    """One search of the tree at `level`, to its first failure or its end (True), or until
    the budget runs out (False); counts into `result`."""
    search = DfsSearch(level, reduction)
    result.bound_reached = level
    try:
        while True:
            if (max_schedules is not None and result.schedules >= max_schedules) or out_of_time():
                return False
            schedule = search.next_schedule()
            if schedule is None:
                return True
            failure = run_one(schedule)
            search.finish(schedule)
            result.schedules += 1
            if failure is not None:
                result.failure = failure
                result.failing_preemptions = schedule.preempts
                return True
    finally:
        _add(result, search)


def _add(result: Exhaustion, search: DfsSearch) -> None:
    result.redundant += search.stats.redundant
    result.pruned += search.stats.pruned
    result.beyond_bound += search.stats.beyond_bound
