"""Threads the code under test starts inside a round: adopted as controlled threads.

Why: code under test starts threads of its own (a background refresh, a `ThreadPoolExecutor`
whose `submit` starts its workers), and a race between such a thread and its caller is as real
as one between two callers. A real OS thread mixed into a controlled round would run whenever
the operating system liked, so its interleavings would be neither explored nor reproducible.

How: while a controlled thread holds the CPU, `Thread.start` (patched by the `World`) starts no
thread of its own. The thread's `run()` is handed to a `ChildWorker` -- a harness thread parked
on its baton like any pooled worker -- which joins the run as one more thread, numbered after
the round's workers in start order (start order is deterministic under the scheduler, so
replays and shrinking name the same thread). The start is a scheduling point of the parent
(``start thread 2``), where the schedule may switch to the child at once, as a real start may.
`join()` and `is_alive()` of an adopted thread follow the child; `Event`, `Condition`,
`Queue` and `Future` waits are controlled already (they are built on the patched lock).

The end of a round: the run goes on while any of its threads is live, so a child still
running when the workers return is scheduled to its end, within the round's step bound (a
child that never ends is a `Livelock` whose `running` threads are all children: the scenario
reports it as a limitation with the child's start site, never as a counterexample). A child
blocked with no timeout once every worker returned -- a pool's idle thread waiting for work
-- is no hang: the round ends there, and the child stays parked in the `World`, joining the
next round of the same example as it was (`adopt`), so that the pool finds its thread again.
When the World exits, parked children are unwound (`release`) and their harness threads
return to the spares.

Threads started outside a round (by `setup`, on the test thread) are real threads, as before.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.runtime import registry
from harness.runtime.clock import VirtualClock
from harness.runtime.outcome import WorkerError
from harness.runtime.sync import (
    REAL_ALLOCATE_LOCK,
    Lock,
    caller_site,
    unnumbered,
)
from harness.runtime.worker import RunAborted, Worker

if TYPE_CHECKING:
    from harness.runtime.executor import Run

#: Threads a round may hold in all, workers and children (the executor's `MAX_THREADS`).
MAX_THREADS = 64
#: Real seconds `release` waits for one parked child to unwind before giving up on it.
UNWIND_PATIENCE = 1.0


@dataclass
class Child:
    """A thread the code under test started, and the harness thread running it."""

    thread: threading.Thread
    worker: ChildWorker
    #: Who started it and where: ``worker 0`` / ``thread 2``, ``module:line``.
    parent: str
    site: str
    done: bool = False

    def label(self, tid: int, carried: bool = False) -> str:
        """``thread 2, started by worker 0 at pkg.pool:42``: a column of the report."""
        when = " before this round" if carried else ""
        return f"thread {tid}, started by {self.parent} at {self.site}{when}"


#: Every adopted thread, so that `join`/`is_alive` know theirs (weak: the thread may go).
_CHILDREN: weakref.WeakKeyDictionary[threading.Thread, Child] = weakref.WeakKeyDictionary()
#: Harness threads that ran a child to its end, parked in `ChildWorker._main`, reusable.
_SPARE: list[ChildWorker] = []


class _Unwinding:
    """The `run` of a parked child being unwound: every point raises `RunAborted` again
    (code that catches it and goes on cannot escape), a release wakes nobody."""

    aborting = True
    clock = VirtualClock()  # a timed acquire of a held lock reads it, then blocks (raises)

    def sync_point(self, _w: Any, kind: str, _target: str, *, gives_up: bool = False) -> None:
        # An acquire goes on (`harness.runtime.sync.acquire`): a free lock is taken, so that a
        # `finally` re-taking a Condition's lock unwinds cleanly (nothing else runs meanwhile);
        # a held one blocks, which raises. A release wakes nobody (the run is aborting).
        if kind != "acquire":
            raise RunAborted

    def __getattr__(self, _name: str) -> Callable[..., None]:
        def unwind(*_args: Any) -> None:
            raise RunAborted

        return unwind


_UNWINDING: Any = _Unwinding()


class ChildWorker(Worker):
    """A harness thread that runs, when scheduled, the `run()` of one adopted thread."""

    #: A thread blocked on a ChildWorker waits for its end (`join`): deadlock reports say so.
    joined = True

    def __init__(self, cpu: int | None) -> None:
        self.child: Child | None = None
        self.returned = REAL_ALLOCATE_LOCK()  # released when an unwound child has returned
        self.returned.acquire()
        super().__init__(-1, cpu)

    def _main(self) -> None:
        self.pin()
        try:
            while True:
                self.baton.acquire()
                child = self.child
                if self.run is None or self.lost or child is None:
                    return
                _execute(self, child)
        except RunAborted:
            return


def of(thread: threading.Thread) -> Child | None:
    """The adopted thread's record, or None for a thread the harness did not adopt."""
    return _CHILDREN.get(thread)


def spawn(parent: Worker, thread: threading.Thread) -> None:
    """`thread.start()` called by controlled thread `parent`: adopt it into the parent's run."""
    run = parent.run
    assert run is not None
    _check_startable(thread)
    tid = len(run.workers)
    site = caller_site(2)
    if tid >= MAX_THREADS:
        from harness.runtime.world import UncontrolledThreadError

        raise UncontrolledThreadError(
            f"the code under test started a thread ({thread.name}) at {site} inside a round "
            f"that already has {MAX_THREADS} threads, the most a run controls"
        )
    parent_name = f"worker {parent.tid}" if parent.tid < len(run.fns) else f"thread {parent.tid}"
    child = _adopted(thread, _spare(parent), parent_name, site)
    _join_run(run, child.worker, tid)
    run.children[tid] = child.label(tid)
    _quiet_pool_logger()
    run.sync_point(parent, "start", f"thread {tid}")


def defer(thread: threading.Thread, parked: list[Child]) -> None:
    """`thread.start()` called by model code on the test thread (`setup`, a sequential step):
    no other thread runs there, so the thread is adopted parked, runnable, and runs from the
    next parallel round on, numbered like a child left waiting by an earlier round."""
    _check_startable(thread)
    parked.append(_adopted(thread, _spare(None), "the test thread", caller_site(2)))


def _check_startable(thread: threading.Thread) -> None:
    if not thread._initialized:  # type: ignore[attr-defined]
        raise RuntimeError("thread.__init__() not called")
    if thread._started.is_set() or thread in _CHILDREN:  # type: ignore[attr-defined]
        raise RuntimeError("threads can only be started once")


def _adopted(thread: threading.Thread, worker: ChildWorker, parent: str, site: str) -> Child:
    """Record `thread` as run by `worker`, and started where `threading` looks."""
    child = Child(thread, worker, parent, site)
    _CHILDREN[thread] = worker.child = child
    worker.blocked_on = worker.deadline = None
    thread._ident = worker.ident  # type: ignore[attr-defined]
    if hasattr(thread, "_native_id"):
        thread._native_id = worker.thread.native_id
    # Nobody waits on `_started` (only a real `start` would): the flag is all `set` would do.
    thread._started._flag = True  # type: ignore[attr-defined]
    return child


def _spare(parent: Worker | None) -> ChildWorker:
    """A harness thread for a new child: a spare one, or one made now, as if uncontrolled.

    Making a thread takes a real `Thread.start` handshake (an Event the new thread sets): the
    parent leaves the registry meanwhile, so that its locks are plain real locks for it, and
    the locks made number nothing (`unnumbered`).
    """
    while _SPARE:
        worker = _SPARE.pop()
        if not worker.lost and worker.thread.is_alive():
            return worker
    if parent is None:
        with unnumbered():
            return ChildWorker(None)
    registry.unregister(parent.ident)
    try:
        with unnumbered():
            return ChildWorker(parent.cpu)
    finally:
        registry.register(parent.ident, parent)


def _join_run(run: Run, worker: ChildWorker, tid: int) -> None:
    """Make `worker` thread `tid` of `run`, runnable."""
    run.workers.append(worker)
    worker.assign(run, tid)
    registry.register(worker.ident, worker)
    run.live.add(tid)
    run._set_runnable(tid, True)


def _execute(w: ChildWorker, child: Child) -> None:
    """Body of a harness thread for one adopted thread (called on that thread).

    The run in charge when the child ends may be a later round's than the one it started in
    (`adopt`): whatever it reports goes to `w.run`, read afresh.
    """
    run = w.run
    assert run is not None
    thread = child.thread
    if not run.aborting:
        run.hooks.enter_thread()
        active: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]
        own = active.get(w.ident)
        active[w.ident] = thread  # `current_thread()` in the child is the user's thread
        try:
            thread.run()
        except RunAborted:
            pass
        except BaseException as exc:
            # Real threading would print it and go on; here it is the code's failure.
            now = w.run
            if now is not None and not now.aborting:
                text = "".join(traceback.format_exception(exc))
                now.errors.append(WorkerError(w.tid, exc, text))
        finally:
            if own is not None:
                active[w.ident] = own
            run.hooks.exit_thread()
    _ended(child)
    w.child = None
    now = w.run
    if now is _UNWINDING or now is None:
        w.run = None
        registry.unregister(w.ident)
        _SPARE.append(w)
        w.returned.release()
        return
    _SPARE.append(w)  # before the hand-off below: after it, another thread holds the CPU
    now._finished(w)


def _ended(child: Child) -> None:
    """Mark the thread ended where `threading` and the stdlib look."""
    child.done = True
    thread = child.thread
    thread._is_stopped = True  # type: ignore[attr-defined]
    # A pool registers its threads for an exit-time join; an adopted thread has no OS
    # thread of its own to join (3.13 would wait on a handle that never started).
    pool = sys.modules.get("concurrent.futures.thread")
    queues = getattr(pool, "_threads_queues", None)
    if queues is not None:
        queues.pop(thread, None)


def join(child: Child, timeout: float | None) -> None:
    """`Thread.join` of an adopted thread: a controlled caller blocks until the child ends."""
    if child.done:
        return
    agent = registry.controlled_thread()
    if agent is child.worker:
        raise RuntimeError("cannot join current thread")
    run = agent.run if agent is not None else None
    if agent is None or run is None:
        clock = registry.owner_clock()
        if timeout is not None and clock is not None:
            clock.advance(timeout)
            return
        from harness.runtime.world import UncontrolledThreadError

        raise UncontrolledThreadError(
            f"the code under test joined a thread ({child.thread.name}) started at "
            f"{child.site} outside a parallel round (in setup or a sequential step): such a "
            "thread runs from the next round on, so it cannot be waited for there"
        )
    run.sync_point(agent, "join", f"thread {child.worker.tid}")
    deadline = None if timeout is None else run.clock.elapsed + max(timeout, 0)
    while not child.done:
        if deadline is not None and run.clock.elapsed >= deadline:
            return
        (agent.run or run).block(agent, child.worker, deadline)
        if agent.timed_out and not child.done:
            return


def idle(run: Run) -> bool:
    """Only children are left and none can run or time out: the round is over, not hung."""
    return bool(run.live) and min(run.live) >= len(run.fns)


def settle(run: Run, parked: list[Child]) -> None:
    """After a run: children it left parked (`idle`) go into `parked`, for the next round."""
    for tid in sorted(run.live):
        worker = run.workers[tid]
        if isinstance(worker, ChildWorker) and worker.child is not None and not worker.lost:
            parked.append(worker.child)
    for worker in run.workers[len(run.fns) :]:
        assert isinstance(worker, ChildWorker)
        if worker.child is None or worker.child not in parked:
            registry.unregister(worker.ident)


def adopt(run: Run, parked: list[Child]) -> None:
    """Before a run: the children an earlier round left parked join it, numbered after the
    workers in the order they were parked, blocked on what they waited for (runnable if it
    is free now: work put on a queue between the rounds)."""
    carried = list(parked)
    parked.clear()
    for child in carried:
        worker = child.worker
        on, deadline = worker.blocked_on, worker.deadline
        tid = len(run.workers)
        _join_run(run, worker, tid)
        run.children[tid] = child.label(tid, carried=True)
        worker.blocked_on, worker.deadline = on, deadline
        if _still_blocked(on):
            run._set_runnable(tid, False)


def _still_blocked(on: Any) -> bool:
    if isinstance(on, Lock):
        return on.locked()
    if isinstance(on, ChildWorker):
        return on.child is not None and not on.child.done
    return on is not None


def release(parked: list[Child]) -> int:
    """Unwind the children left parked when the World exits; how many would not return."""
    stuck = 0
    carried = list(parked)
    parked.clear()
    for child in carried:
        worker = child.worker
        worker.run = _UNWINDING
        registry.register(worker.ident, worker)
        worker.baton.release()
        if not worker.returned.acquire(timeout=UNWIND_PATIENCE):
            worker.lost = True
            registry.unregister(worker.ident)
            stuck += 1
    return stuck


class _DropRunAborted(logging.Filter):
    """A pool thread unwound by the harness is not an "Exception in worker" to log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, RunAborted):
                return False
            exc = exc.__context__
        return True


_FILTER = _DropRunAborted()


def _quiet_pool_logger() -> None:
    logger = logging.getLogger("concurrent.futures")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
