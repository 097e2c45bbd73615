"""The patched world an example lives in: controllable `threading` and virtual `time`.

Why patch the modules and not ask users to: the code under test must not know it is being
tested. For the whole example (object setup, sequential steps and parallel rounds) we swap
`threading.Lock`/`_allocate_lock` for the scheduler-aware `Lock`, force the pure-Python RLock,
and route `time.sleep`/`monotonic`/`time`/`perf_counter` (and their `_ns` twins) through the
example's `VirtualClock` -- including the private copies `threading` and `queue` took at import,
so their timeouts run on virtual time too. Everything is restored on exit, even when the
example fails.

Only the thread that entered the world (the test thread) and the run's controlled workers see
virtual time; any other thread in the process gets the real functions, so pytest-timeout,
xdist and friends keep working.

Names the code under test bound at import (`from time import sleep`, `from _thread import
RLock`, a `timer=time.monotonic` default) are swapped too, for the instrumented modules (see
`control_imports`). Not covered: a lock *created* at import time stays a real lock (a worker
blocking on it is reported as a limitation by the stuck-thread watchdog), and so does a
`queue.SimpleQueue` created at import (in C; one created while the world is active is the
pure-Python one). `Thread.start` inside a round adopts the thread (`harness.runtime.children`).
"""

from __future__ import annotations

import _thread
import queue
import sys
import threading
import time
from _thread import get_ident
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import TracebackType
from typing import Any

from harness.runtime import children, registry, sync
from harness.runtime.clock import REAL_TIME, VirtualClock, real_monotonic
from harness.runtime.rebind import Rebinding
from harness.runtime.registry import controlled_thread
from harness.runtime.sync import REAL_ALLOCATE_LOCK, Lock, reset_lock_numbering, unnumbered

_REAL_THREADING = {
    name: getattr(threading, name) for name in ("Lock", "_allocate_lock", "_CRLock", "_time")
}

_REAL_THREAD = {name: getattr(threading.Thread, name) for name in ("start", "join", "is_alive")}
_REAL_THREAD_START = _REAL_THREAD["start"]
_REAL_SIMPLE_QUEUE = queue.SimpleQueue
_REAL_THREAD_MODULE = {
    name: getattr(_thread, name)
    for name in ("allocate_lock", "allocate", "RLock")
    if hasattr(_thread, name)
}

_active: World | None = None
#: Real seconds a free-running thread's timed wait lasts before its timeout is taken as passed.
FREE_WAIT_GRACE = 0.005


class UncontrolledThreadError(BaseException):
    """The code under test started a thread the harness cannot control.

    Threads started inside a round are adopted (`harness.runtime.children`) up to the most a
    run controls; past that, a real thread mixed into a controlled round would make its
    interleavings neither explored nor reproducible. Raised by `Thread.start` instead, so the
    hunt reports a clear limitation rather than a false counterexample. A BaseException, like
    `RunAborted`, so that an ``except Exception`` in the code under test cannot turn it into a
    silently different behaviour.
    """


def active_world() -> World | None:
    """The world the process is in right now, if any."""
    return _active


def leave_active_world() -> bool:
    """Leave the active world, if one is still active (restoring `threading` and `time`).

    The last line of defence: a hunt calls it whatever happened, so that no outcome --
    an exception escaping the harness included -- leaves the process patched. True if a world
    had to be left.
    """
    if _active is None:
        return False
    _active.__exit__(None, None, None)
    return True


class World:
    """Context manager that patches `threading` and `time` for one example.

    Worlds do not nest: entering a second one while one is active raises, because two
    examples sharing patched modules would share a clock and lock numbering.
    """

    def __init__(self, owner_virtual: bool = True) -> None:
        self.clock = VirtualClock()
        self.owner: int | None = None
        # Whether the owning (test) thread sees virtual time. The stateful machine turns it on
        # only around model code, so that Hypothesis's own timing stays real.
        self.owner_virtual = owner_virtual
        self.in_model = False  # inside `virtual_time`: see there
        self._rebinding: Rebinding | None = None
        # Free-running threads of the stress engine (`harness.stress`): they see virtual time
        # too, and a sleep advances the shared clock (under a real lock: they run in parallel)
        # and yields instead of waiting, so a model that backs off costs no wall time there;
        # a timed wait gives up after a short real grace (see `free_acquire`).
        self.free_threads: set[int] = set()
        self._clock_lock = REAL_ALLOCATE_LOCK()
        #: Set by the stress engine: a context manager that lets go of the model gate.
        self.free_blocking: Callable[[], AbstractContextManager[None]] = nullcontext
        #: Threads the code started in a round and left waiting (an idle pool's): they join
        #: the next round of this example, and are unwound when the world exits.
        self.children: list[children.Child] = []
        self._pool_lock: tuple[Any, Any] | None = None

    def control_imports(self, modules: Iterable[str]) -> int:
        """Point real primitives that `modules` bound at import (``from _thread import
        RLock``, ``timer=time.monotonic`` defaults...) at this world's controlled ones until
        it is left (see `harness.runtime.rebind`). Returns how many places were swapped."""
        if self._rebinding is not None:
            self._rebinding.undo()
        self._rebinding = Rebinding(modules, REAL_TIME)
        return self._rebinding.count

    def _virtual(self) -> bool:
        return (
            controlled_thread() is not None
            or (self.owner_virtual and get_ident() == self.owner)
            or get_ident() in self.free_threads
        )

    @contextmanager
    def virtual_time(self) -> Iterator[None]:
        """Run model code on the owning thread: virtual time, and no waiting on other threads.

        Inside the block the test thread is the only thread of the example that can run, so a
        timed wait on a lock passes at once on the virtual clock and an endless one is a
        `SequentialDeadlock` (outside it, e.g. while the pool starts a thread, waits are real).
        """
        previous = self.owner_virtual, self.in_model
        self.owner_virtual = self.in_model = True
        try:
            yield
        finally:
            self.owner_virtual, self.in_model = previous

    def advance_free(self, seconds: float) -> None:
        """Move the shared clock on behalf of a free-running thread (they run in parallel)."""
        with self._clock_lock:
            self.clock.advance(seconds)

    def free_acquire(self, real_lock: Any, timeout: float | None) -> bool:
        """A free-running thread's blocking acquire of a patched lock.

        While it waits it lets go of the stress engine's model gate (`free_blocking`): model
        code that waits for a lock held by a thread inside the code under test would otherwise
        keep that thread from ever returning to the model (the cachetools model's own lock).

        A timed wait is real for at most `FREE_WAIT_GRACE` seconds, then the shared clock
        jumps by the whole timeout and the wait times out. Free threads see virtual time, which
        only sleeps move: a timed wait that waited for real would see no time pass and wait
        again forever (`queue.put(timeout=1)` on a full queue). Like the controlled engine,
        which lets a timeout expire when nobody else can run, this lets it expire when nobody
        released the lock for a while.
        """
        if real_lock.acquire(False):
            return True
        with self.free_blocking():
            if timeout is None or timeout < 0:
                return bool(real_lock.acquire())
            if real_lock.acquire(True, min(timeout, FREE_WAIT_GRACE)):
                return True
        self.advance_free(timeout)
        return False

    def __enter__(self) -> World:
        global _active
        if _active is not None:
            raise RuntimeError("a harness World is already active in this process")
        self.owner = get_ident()
        reset_lock_numbering()
        _active = self
        registry.set_owner_world(self)
        self._patch()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _active
        children.release(self.children)
        if self._rebinding is not None:
            self._rebinding.undo()
            self._rebinding = None
        for name, real in _REAL_THREAD_MODULE.items():
            setattr(_thread, name, real)
        for name, real in REAL_TIME.items():
            setattr(time, name, real)
        for name, real in _REAL_THREADING.items():
            setattr(threading, name, real)
        for name, real in _REAL_THREAD.items():
            setattr(threading.Thread, name, real)
        queue.time = real_monotonic  # type: ignore[attr-defined]
        queue.SimpleQueue = _REAL_SIMPLE_QUEUE  # type: ignore[misc]
        if self._pool_lock is not None:
            self._pool_lock[0]._global_shutdown_lock = self._pool_lock[1]
            self._pool_lock = None
        _active = None
        registry.set_owner_world(None)
        self.owner = None

    def _patch(self) -> None:
        clock = self.clock
        virtual = self._virtual
        real = REAL_TIME

        def sleep(seconds: float) -> None:
            if seconds < 0:
                raise ValueError("sleep length must be non-negative")
            agent = controlled_thread()
            if agent is not None and agent.run is not None:
                sync.sleep(agent.run, agent, seconds)
            elif self.owner_virtual and get_ident() == self.owner:
                clock.advance(seconds)
            elif get_ident() in self.free_threads:
                self.advance_free(seconds)
                real["sleep"](0)
            else:
                real["sleep"](seconds)

        def reader(name: str, value: Callable[[], float], scale: int) -> Callable[[], Any]:
            fallback = real[name]
            if scale == 1:
                return lambda: value() if virtual() else fallback()
            return lambda: int(value() * scale) if virtual() else fallback()

        time.sleep = sleep  # type: ignore[assignment]
        time.monotonic = reader("monotonic", clock.monotonic, 1)
        time.monotonic_ns = reader("monotonic_ns", clock.monotonic, 1_000_000_000)
        time.perf_counter = reader("perf_counter", clock.monotonic, 1)
        time.perf_counter_ns = reader("perf_counter_ns", clock.monotonic, 1_000_000_000)
        time.time = reader("time", clock.wall, 1)
        time.time_ns = reader("time_ns", clock.wall, 1_000_000_000)
        threading.Lock = Lock  # type: ignore[assignment,misc,unused-ignore]
        threading._allocate_lock = Lock  # type: ignore[attr-defined]
        threading._CRLock = None  # type: ignore[attr-defined]
        threading._time = time.monotonic  # type: ignore[attr-defined]
        # Code that calls the C module directly (`_thread.allocate_lock()`) gets controlled
        # locks too; the harness keeps its own real factory (`sync.REAL_ALLOCATE_LOCK`).
        for name in ("allocate_lock", "allocate"):
            if hasattr(_thread, name):
                setattr(_thread, name, Lock)
        if hasattr(_thread, "RLock"):
            _thread.RLock = threading._PyRLock  # type: ignore[attr-defined,misc]

        self._patch_threads()
        # queue.py binds `from time import monotonic as time` at import: its timeouts would
        # run on the wall clock (and spin) unless pointed at the virtual one too.
        queue.time = time.monotonic  # type: ignore[attr-defined]

    def _patch_threads(self) -> None:
        """`Thread.start` inside a round adopts the thread (`harness.runtime.children`);
        `join`/`is_alive` of an adopted thread follow it. `queue.SimpleQueue` (in C, so a wait
        on it would block outside the scheduler) is the pure-Python one while the world is
        active, and the thread pool's module-wide lock, made at import, a controlled one:
        a pool built in `setup` then cooperates (its work queue is a SimpleQueue)."""
        real_start, real_join, real_alive = (_REAL_THREAD[n] for n in ("start", "join", "is_alive"))

        def start(thread: threading.Thread) -> None:
            agent = controlled_thread()
            if agent is not None and agent.run is not None:
                children.spawn(agent, thread)
            elif registry.owner_clock() is not None:  # model code on the test thread
                children.defer(thread, self.children)
            else:
                real_start(thread)

        def join(thread: threading.Thread, timeout: float | None = None) -> None:
            child = children.of(thread)
            if child is None:
                real_join(thread, timeout)
            else:
                children.join(child, timeout)

        def is_alive(thread: threading.Thread) -> bool:
            child = children.of(thread)
            return bool(real_alive(thread)) if child is None else not child.done

        threading.Thread.start = start  # type: ignore[method-assign,assignment]
        threading.Thread.join = join  # type: ignore[method-assign,assignment]
        threading.Thread.is_alive = is_alive  # type: ignore[method-assign,assignment]
        queue.SimpleQueue = queue._PySimpleQueue  # type: ignore[attr-defined,misc]
        pool: Any = sys.modules.get("concurrent.futures.thread")
        if pool is not None and not isinstance(pool._global_shutdown_lock, Lock):
            self._pool_lock = (pool, pool._global_shutdown_lock)
            with unnumbered():
                lock = Lock()
            lock.name = "Lock concurrent.futures.thread._global_shutdown_lock"  # not a caller's
            pool._global_shutdown_lock = lock
