"""Scheduler-aware locks: the one primitive every `threading` and `queue` object is built on.

Why only a lock: CPython's `threading.Condition`, `Event`, `Semaphore`, `BoundedSemaphore`,
`Barrier`, the pure-Python `RLock` and `queue.Queue` are all written in Python on top of
`threading.Lock()` / `threading._allocate_lock()`. Replace that one factory (see `world`) and
all of them become controllable, including objects created by third-party code, while keeping
their exact stdlib semantics.

A thread that would block in a real C-level `acquire()` would never reach another scheduling
point; instead a controlled thread that finds the lock taken tells the run it is blocked on
it and parks, and `release()` makes the waiters runnable again. Threads the scheduler does not
control (pytest's, xdist's, the test thread) use the real lock underneath, unchanged.
"""

from __future__ import annotations

import _thread
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from harness.runtime.registry import controlled_thread, free_world, owner_clock

REAL_ALLOCATE_LOCK = _thread.allocate_lock
# Frames skipped when naming a site: the harness and the stdlib built on its locks (a Future's
# wait, a pool's `submit` starting a thread), so that a site is a line of the user's code.
_IGNORED_MODULES = ("harness.", "threading", "queue", "importlib", "concurrent.futures")
# Locks are numbered per creation site, so that a lock created elsewhere (by pytest, or by the
# thread pool growing) never renames the model's locks: names must be equal between runs.
_per_site: dict[str, int] = {}


def reset_lock_numbering() -> None:
    """Number locks from 1 again, so that names are identical between identical examples."""
    _per_site.clear()


@contextmanager
def unnumbered() -> Iterator[None]:
    """Locks created in the block (by the harness, for its own threads) number nothing: a
    thread the harness creates in one run and reuses in the next must not rename the locks
    the code under test creates at the same site afterwards."""
    saved = dict(_per_site)
    try:
        yield
    finally:
        _per_site.clear()
        _per_site.update(saved)


def user_site(frame: Any) -> str:
    """``module:line`` of the innermost frame outside the harness and the stdlib primitives;
    when there is none (the code under test *is* `queue`, hunted as a plain class), the
    innermost frame outside the harness -- never the harness's own line."""
    fallback = outside_harness = None
    while frame is not None:
        name = frame.f_globals.get("__name__", "?")
        here = f"{name}:{frame.f_lineno}"
        fallback = fallback or here
        if not name.startswith("harness.") and name != "harness":
            if not name.startswith(_IGNORED_MODULES):
                return here
            outside_harness = outside_harness or here
        frame = frame.f_back
    return outside_harness or fallback or "?"


def caller_site(depth: int = 2) -> str:
    """`user_site` of the caller `depth` frames up."""
    return user_site(sys._getframe(depth))


def _kind_of_creator(frame: Any) -> tuple[bool, str]:
    """Name a lock after the stdlib object it serves (Event, Queue, RLock...).

    A lock made by `Condition.wait` is a waiter: what its thread really waits for is a
    notification, not a lock someone holds, which matters when a deadlock is explained.
    """
    if frame.f_globals.get("__name__") not in ("threading", "queue"):
        return False, "Lock"
    if frame.f_code.co_name == "wait":
        return True, "Condition wait"
    owner = frame.f_locals.get("self")
    return False, type(owner).__name__.lstrip("_") if owner is not None else "Lock"


class SequentialDeadlock(RuntimeError):
    """The test thread would block forever on a lock while no other thread can run."""


class Lock:
    """Drop-in `threading.Lock` that a controlled thread blocks on cooperatively.

    `name` ("Lock#3 (created at bank:14)") identifies it in traces and deadlock reports; it is
    numbered in creation order, which is deterministic for deterministic examples.
    """

    __slots__ = ("__weakref__", "_real", "internal", "name", "owner")

    def __init__(self) -> None:
        self._real = REAL_ALLOCATE_LOCK()
        site = caller_site()
        number = _per_site[site] = _per_site.get(site, 0) + 1
        self.internal, kind = _kind_of_creator(sys._getframe(1))
        self.name = f"{kind} {site}#{number}"
        self.owner: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        agent = controlled_thread()
        if agent is not None and agent.run is not None:
            return acquire(agent.run, agent, self, blocking, timeout)
        clock = owner_clock()
        if clock is None:
            free = free_world() if blocking else None
            if free is not None:
                return bool(free.free_acquire(self._real, timeout))
            return self._real.acquire(blocking, timeout)
        if self._real.acquire(False):
            return True
        # The test thread, in a sequential step: no other thread of the example can run, so
        # a wait would never end on virtual time. A timeout passes at once; a wait without
        # one can never succeed, which is a deadlock of the model itself.
        if not blocking:
            return False
        if timeout is not None and timeout >= 0:
            clock.advance(timeout)
            return False
        raise SequentialDeadlock(
            f"a sequential step would wait forever for {self.name}: no other thread can release it"
        )

    def try_acquire(self, tid: int) -> bool:
        """Take the lock for controlled thread `tid` if it is free (never blocks)."""
        if self._real.acquire(False):
            self.owner = tid
            return True
        return False

    def release(self) -> None:
        self._real.release()
        self.owner = None
        agent = controlled_thread()
        if agent is not None and agent.run is not None:
            released(agent.run, agent, self)

    def locked(self) -> bool:
        return self._real.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._real = REAL_ALLOCATE_LOCK()
        self.owner = None

    def __repr__(self) -> str:
        state = "locked" if self._real.locked() else "unlocked"
        return f"<harness {state} {self.name}>"


# -- what the primitives do on a controlled thread of a run ------------------------------------
# `run` is the `harness.runtime.executor.Run` the thread belongs to (not imported: the
# executor builds on this module). Each is a scheduling point first, then the semantics.


def acquire(run: Any, w: Any, lock: Lock, blocking: bool, timeout: float) -> bool:
    """`Lock.acquire` on controlled thread `w`: a point, then blocking cooperatively until the
    lock is free or the timeout passes on virtual time."""
    # One that can come back without the lock (non-blocking, or a timeout) tells the
    # systematic search so: whether it gets the lock depends on when it runs.
    gives_up = not blocking or (timeout is not None and timeout >= 0)
    run.sync_point(w, "acquire", lock.name, gives_up=gives_up)
    if lock.try_acquire(w.tid):
        return True
    if not blocking:
        return False
    deadline = None if timeout is None or timeout < 0 else run.clock.elapsed + timeout
    while True:
        if deadline is not None and run.clock.elapsed >= deadline:
            return False
        (w.run or run).block(w, lock, deadline)  # a carried child's run is a later one
        if lock.try_acquire(w.tid):
            return True
        if w.timed_out:
            return False


def released(run: Any, w: Any, lock: Lock) -> None:
    """After `Lock.release` on controlled thread `w`: wake its waiters, then a point."""
    if run.aborting:
        return
    run.wake_waiters(lock)
    run.sync_point(w, "release", lock.name)


#: What a sleeping thread is blocked on.
SLEEP = "sleep"


def sleep(run: Any, w: Any, seconds: float) -> None:
    """`time.sleep` on controlled thread `w`: a point, then asleep until virtual time passes
    `seconds` (the scheduler runs the others, or moves the clock on when none can run)."""
    run.sync_point(w, "sleep", f"{seconds:g}s")
    if seconds > 0:
        run.block(w, SLEEP, run.clock.elapsed + seconds)
