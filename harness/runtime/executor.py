"""Runs callables on real threads, one at a time, switching only where a decision source says.

`Executor.run` is the whole runtime seen from outside: give it worker callables and a
`DecisionSource`, get a `RunResult`. Inside, a `Run` holds the scheduling state of one
execution -- step counter, runnable set, trace -- and is driven from the worker threads
themselves: the thread that reaches a scheduling point asks the decision source who goes on
and hands its baton over directly. The test thread only starts the run and keeps watch.

Hangs never hang the harness:
- deadlock: the last runnable thread blocks with nobody left to wake it -> `Deadlock`,
  detected synchronously, with the wait-for cycle;
- livelock: more than `max_steps` scheduling points -> `Livelock` with the hottest spots;
- stuck: no scheduling point for `stuck_after` real seconds (a thread blocked or spinning in
  uninstrumented code) -> `Stuck` with every thread's stack, noticed by the test thread.
Afterwards every parked thread is unwound with `RunAborted`, one at a time, so the pool is
clean for the next run.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from types import TracebackType
from typing import Any, Protocol

from harness.errors import NotCallableWorkerError, NoWorkersError, ScheduleError, UsageError
from harness.runtime import children, registry
from harness.runtime.capture import Values, resolve_write
from harness.runtime.clock import VirtualClock, real_monotonic, real_sleep
from harness.runtime.decision import DecisionSource
from harness.runtime.hooks import process_hooks
from harness.runtime.instrument import resolve_modules
from harness.runtime.outcome import (
    Deadlock,
    Livelock,
    Preemption,
    RunResult,
    Stuck,
    WorkerError,
)
from harness.runtime.points import (
    DEFAULT_GRANULARITY,
    Point,
    check_granularity,
)
from harness.runtime.sync import REAL_ALLOCATE_LOCK, caller_site
from harness.runtime.trace import RawEvent, Trace
from harness.runtime.worker import RunAborted, Worker, pick_cpu
from harness.runtime.world import World, active_world

MAX_THREADS = 64
DEFAULT_MAX_STEPS = 100_000
DEFAULT_STUCK_AFTER = 5.0


class RoundExecutor(Protocol):
    """What runs a round's workers: the controlled `Executor`, or the stress engine's."""

    def run(
        self,
        workers: Sequence[Callable[[], Any]],
        decisions: DecisionSource,
        *,
        granularity: str = ...,
        modules: Sequence[str | types.ModuleType] = ...,
        max_steps: int = ...,
        stuck_after: float = ...,
        capture_values: bool = ...,
    ) -> RunResult: ...

    def pinned(self) -> AbstractContextManager[None]:
        """A block in which the calling thread may hand rounds over cheaply (see
        `Executor.pinned`; an executor of free-running threads pins nothing)."""
        ...


class Run:
    """Scheduling state of one execution. Mutated only by the thread holding the CPU."""

    def __init__(
        self,
        workers: list[Worker],
        fns: Sequence[Callable[[], Any]],
        decisions: DecisionSource,
        clock: VirtualClock,
        max_steps: int,
        capture: bool,
    ) -> None:
        self.workers = list(workers)  # the round's, then the threads it starts (`children`)
        self.children: dict[int, str] = {}  # thread number -> label, for threads it started
        self.fns = fns
        self.choose = decisions.choose
        self.clock = clock
        self.max_steps = max_steps
        self.capture = capture
        self.hooks = process_hooks()
        self.step = 0
        self.switches = 0
        self.finished_count = 0
        self.raw: list[RawEvent] = []
        self.preemptions: list[Preemption] = []
        # Free choices (after a block or a finish) that differ from the lowest runnable thread,
        # as ``(step, thread)``: with `preemptions` they describe the whole interleaving.
        self.forced: list[tuple[int, int]] = []
        self.runnable: tuple[int, ...] = tuple(range(len(fns)))
        self.live: set[int] = set(range(len(fns)))
        self.returns: list[Any] = [None] * len(fns)
        self.errors: list[WorkerError] = []
        self.hang: Deadlock | Livelock | Stuck | None = None
        self.schedule_error: str | None = None
        self.aborting = False
        self.current = -1  # the thread holding the CPU
        self.done = REAL_ALLOCATE_LOCK()
        self.done.acquire()
        self._sync_points: dict[tuple[str, str, str], Point] = {}
        self.values = Values()

    # -- the hot path: a controlled thread reached a scheduling point ------------------------

    def at_point(self, w: Worker, point: Point, frame: types.FrameType | None) -> None:
        """`frame` is the instrumented frame, or None when the caller is a hook callback called
        straight from it (the frame is then fetched only if the trace needs values)."""
        if self.aborting:
            raise RunAborted
        if w.pending is not None:
            resolve_write(w)
        detail = None
        if self.capture and point.owner:
            detail = self.values.capture(w, point, frame or sys._getframe(2))
        self._reach(w, point, detail)

    def _reach(self, w: Worker, point: Point, detail: list[Any] | None) -> None:
        if self.step >= self.max_steps:
            self._abort(self._livelock())
            raise RunAborted
        step = self.step = self.step + 1
        w.points += 1
        self.raw.append((step, w.tid, point, detail))
        nxt = self.choose(step, w.tid, self.runnable)
        if nxt != w.tid:
            self.preemptions.append(Preemption(step, w.tid, w.points, nxt))
            self._hand_off(w, nxt)

    def _hand_off(self, w: Worker, nxt: int) -> None:
        if nxt not in self.runnable:
            self.schedule_error = (
                f"decision source chose thread {nxt!r}, not runnable (runnable: {self.runnable})"
            )
            self._abort(None)
            raise RunAborted
        self._switch_to(nxt)
        w.park()

    def _switch_to(self, nxt: int) -> None:
        """Give the CPU to thread `nxt` (the caller then parks or ends)."""
        self.switches += 1
        self.current = nxt
        self.workers[nxt].baton.release()

    # -- blocking, waking, sleeping: called by the patched primitives -------------------------

    def sync_point(self, w: Worker, kind: str, target: str, *, gives_up: bool = False) -> None:
        """A scheduling point inside a primitive (acquire, release, sleep). `gives_up`: an
        acquire that can return without the lock (only an `ObservedRun` needs to know)."""
        if self.aborting:
            raise RunAborted
        if w.pending is not None:
            resolve_write(w)
        site = caller_site(3)
        key = (site, kind, target)
        point = self._sync_points.get(key)
        if point is None:
            module, _, line = site.rpartition(":")
            point = Point(module, int(line) if line.isdigit() else 0, -1, kind, kind, target)
            self._sync_points[key] = point
        self._reach(w, point, None)

    def block(self, w: Worker, on: Any, deadline: float | None) -> None:
        """Mark `w` blocked on `on` (or asleep until `deadline`) and give the CPU away."""
        w.blocked_on = on
        w.deadline = deadline
        w.timed_out = False
        self._set_runnable(w.tid, False)
        nxt = self._pick_next()
        if nxt is None and children.idle(self):
            self.done.release()  # only children waiting for work are left: the round is over
            w.park()
            return
        if nxt is None:
            self._abort(self._deadlock())
            raise RunAborted
        if nxt != w.tid:
            self._switch_to(nxt)
            w.park()

    def wake_waiters(self, on: Any) -> None:
        for tid in sorted(self.live):
            worker = self.workers[tid]
            if worker.blocked_on is on:
                self._wake(worker)

    def _wake(self, worker: Worker) -> None:
        worker.blocked_on = None
        worker.deadline = None
        self._set_runnable(worker.tid, True)

    def _set_runnable(self, tid: int, runnable: bool) -> None:
        current = set(self.runnable)
        if runnable:
            current.add(tid)
        else:
            current.discard(tid)
        self.runnable = tuple(sorted(current))

    def _pick_next(self) -> int | None:
        """Who runs now that the current thread cannot; advances virtual time if needed."""
        if not self.runnable:
            timed = [
                self.workers[t] for t in sorted(self.live) if self.workers[t].deadline is not None
            ]
            if not timed:
                return None
            wake_at = min(w.deadline for w in timed if w.deadline is not None)
            self.clock.advance_to(wake_at)
            for worker in timed:
                if worker.deadline is not None and worker.deadline <= wake_at:
                    worker.timed_out = True
                    self._wake(worker)
        nxt = self.choose(self.step, None, self.runnable)
        if nxt not in self.runnable:
            self.schedule_error = (
                f"decision source chose thread {nxt!r}, not runnable (runnable: {self.runnable})"
            )
            return self.runnable[0]
        if nxt != self.runnable[0]:
            self.forced.append((self.step, nxt))
        return nxt

    # -- a worker thread's life within the run -----------------------------------------------

    def execute(self, w: Worker) -> None:
        """Body of a worker thread for this run (called on that thread)."""
        if not self.aborting:
            self.hooks.enter_thread()
            try:
                self.returns[w.tid] = self.fns[w.tid]()
            except RunAborted:
                pass
            except BaseException as exc:
                text = "".join(traceback.format_exception(exc))
                self.errors.append(WorkerError(w.tid, exc, text))
            finally:
                self.hooks.exit_thread()
        self._finished(w)

    def _finished(self, w: Worker) -> None:
        if w.lost:
            return
        if w.pending is not None:
            resolve_write(w)
        self.finished_count += 1
        self.live.discard(w.tid)
        self._set_runnable(w.tid, False)
        w.blocked_on = None
        w.deadline = None
        if self.aborting:
            self._unwind_next()
            return
        self.wake_waiters(w)  # threads joining it, if it is a child
        nxt = self._pick_next() if self.live else None
        if nxt is None and (not self.live or children.idle(self)):
            self.done.release()
            return
        if nxt is None:
            self._abort(self._deadlock())
            self._unwind_next()
            return
        self._switch_to(nxt)

    # -- abandoning a run ----------------------------------------------------------------------

    def _abort(self, hang: Deadlock | Livelock | Stuck | None) -> None:
        if not self.aborting:
            self.aborting = True
            self.hang = hang

    def _unwind_next(self) -> None:
        """Wake the next parked thread so it unwinds; the last one out signals the test thread."""
        remaining = sorted(t for t in self.live if not self.workers[t].lost)
        if remaining:
            self.current = remaining[0]
            self.workers[remaining[0]].baton.release()
        else:
            self.done.release()

    def progress(self) -> tuple[int, int, int]:
        return (self.step, self.switches, self.finished_count)

    # -- reports -------------------------------------------------------------------------------

    def _livelock(self) -> Livelock:
        recent = [point.location for *_, point, _d in self.raw[-2000:]]
        return Livelock.of(self.max_steps, recent, list(self.live))

    def _deadlock(self) -> Deadlock:
        frames = sys._current_frames()
        live = [self.workers[tid] for tid in sorted(self.live)]
        return Deadlock.of([(w.tid, w.blocked_on, frames.get(w.ident)) for w in live])

    def result(self) -> RunResult:
        return RunResult(
            returns=list(self.returns),
            errors=sorted(self.errors, key=lambda e: e.thread),
            trace=Trace(self.raw),
            steps=self.step,
            hang=self.hang,
            elapsed_virtual=self.clock.elapsed,
            preemptions=list(self.preemptions),
            forced=list(self.forced),
            children=dict(self.children),
        )


# -- the watchdog's side of a run: abandoning threads that stopped making progress ----------


def declare_stuck(run: Run, seconds: float) -> None:
    """Called by the test thread's watchdog: abandon the thread that stopped progressing."""
    frames = sys._current_frames()
    stacks = {
        tid: "".join(traceback.format_stack(frames[run.workers[tid].ident]))
        for tid in sorted(run.live)
        if run.workers[tid].ident in frames
    }
    culprit = run.current if run.current in run.live else min(run.live)
    run._abort(Stuck(culprit, seconds, stacks))
    worker = run.workers[culprit]
    worker.lost = True
    run.live.discard(culprit)
    interrupt(worker)
    run._unwind_next()


def abandon_all(run: Run) -> None:
    """Last resort when unwinding itself stopped progressing: give up on every thread."""
    for tid in sorted(run.live):
        run.workers[tid].lost = True
        interrupt(run.workers[tid])
    run.live.clear()
    run.done.release()


def interrupt_run(run: Run, patience: float) -> None:
    """Called by the test thread when it is interrupted: make every worker unwind at its
    next point, wait up to `patience` seconds for them, then abandon what is left."""
    if not run.live:
        return
    run._abort(None)
    if not run.done.acquire(timeout=patience):
        abandon_all(run)


class _Abandoned:
    """A worker thread the watchdog gave up on, and where it was when last looked at."""

    def __init__(self, worker: Worker) -> None:
        self.thread = worker.thread
        self.ident = worker.ident
        self.seen: tuple[int, int] | None = _where(worker.ident)
        self.interrupted = False


#: Threads abandoned by runs of this process and still alive (pruned by `abandoned_threads`).
_ABANDONED: list[_Abandoned] = []


def _where(ident: int) -> tuple[int, int] | None:
    """How far the thread got: its CPU time in microseconds where the OS tells (a thread
    blocked in C uses none; one spinning in Python code does), else its innermost frame and
    instruction; None if it is gone."""
    clock = getattr(time, "pthread_getcpuclockid", None)
    if clock is not None:
        try:
            return (0, int(time.clock_gettime(clock(ident)) * 1e6))
        except (OSError, OverflowError):
            return None
    frame = sys._current_frames().get(ident)
    return None if frame is None else (id(frame), frame.f_lasti)


def interrupt(worker: Worker) -> None:
    """Abandon `worker`'s thread, and unwind it out of the code under test as soon as it runs
    Python code again.

    Why: a worker abandoned while stuck where the harness cannot see would otherwise keep going
    there -- a busy loop in an uninstrumented module holds a CPU and, every switch interval,
    the GIL for the rest of the process, and each later hand-off between controlled threads
    waits behind it (20 such hunts made the next hunt more than 20x slower). CPython's
    ``PyThreadState_SetAsyncExc`` raises `RunAborted` in the thread at its next bytecode; the
    worker then leaves the pool's loop and exits (`Worker._main`).

    Only into a thread that is running (its CPU time grows): on 3.11 and 3.12 a pending asynchronous
    exception keeps the interpreter-wide eval breaker set until its thread runs again, which
    slows every other thread (and stalls traced ones). So a thread blocked in C is left alone
    and looked at again before each later run (`recheck_abandoned`): once its call returns and
    it runs Python code, it is interrupted then.
    """
    entry = _Abandoned(worker)
    _ABANDONED.append(entry)
    real_sleep(_SAMPLE_GAP)
    _interrupt_if_running(entry)


#: Seconds between two looks at an abandoned thread (is it running?): it must get the GIL
#: in between, which the watchdog's sleep lets it.
_SAMPLE_GAP = 0.005


def _interrupt_if_running(entry: _Abandoned) -> None:
    now = _where(entry.ident)
    moved, entry.seen = now is not None and now != entry.seen, now
    if not moved or sys.implementation.name != "cpython" or entry.ident == threading.get_ident():
        return
    import ctypes  # only once a thread was abandoned: ~5 ms to import

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(entry.ident), ctypes.py_object(RunAborted)
    )
    entry.interrupted = True


#: Real seconds between two rechecks of the abandoned threads: each costs a system call per
#: thread, which a run of a few hundred microseconds should not pay every time.
_RECHECK_EVERY = 0.05
_next_recheck = 0.0


def recheck_abandoned() -> None:
    """Interrupt abandoned threads that have started running Python code since last looked at
    (called before each run, at most every `_RECHECK_EVERY` seconds; nothing to do in a
    process that never abandoned a thread)."""
    global _next_recheck
    if _ABANDONED and real_monotonic() >= _next_recheck:
        _next_recheck = real_monotonic() + _RECHECK_EVERY
        for entry in list(_ABANDONED):
            if not entry.thread.is_alive():
                _ABANDONED.remove(entry)
            elif not entry.interrupted:
                _interrupt_if_running(entry)


def abandoned_threads() -> int:
    """Abandoned worker threads still alive in this process (stuck where Python cannot reach
    them, e.g. blocked in a C call that never returns): a verdict can say the process carries
    them."""
    _ABANDONED[:] = [entry for entry in _ABANDONED if entry.thread.is_alive()]
    return len(_ABANDONED)


def _check_workers(fns: Any) -> list[Callable[[], Any]]:
    if isinstance(fns, (str, bytes)) or not isinstance(fns, Iterable):
        raise NotCallableWorkerError(f"workers must be a sequence of callables, got {fns!r}")
    checked: list[Callable[[], Any]] = list(fns)
    if not checked:
        raise NoWorkersError("a run needs at least one worker callable, got none")
    if len(checked) > MAX_THREADS:
        raise UsageError(f"a run supports at most {MAX_THREADS} threads, got {len(checked)}")
    for i, fn in enumerate(checked):
        if not callable(fn):
            raise NotCallableWorkerError(f"worker {i} is not callable: {fn!r}")
    return checked


class Executor:
    """Owns a pool of worker threads and runs scenarios on them, one run at a time.

    Use it as a context manager (or call `close`) to stop its threads; an executor that is
    never closed leaves only parked daemon threads behind.
    """

    def __init__(self, pin_cpu: bool = True) -> None:
        self._cpu = pick_cpu() if pin_cpu else None
        self._pinned_depth = 0
        self._pool: list[Worker] = []
        self._lock = threading.RLock()
        self._module_cache: dict[tuple[Any, ...], dict[str, str]] = {}
        self.closed = False

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop and join the pooled threads."""
        self.closed = True
        for worker in self._pool:
            worker.shutdown()
        self._pool.clear()

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Run the calling thread on the workers' CPU for the duration of the block.

        Starting a run and being told it is done are hand-offs too; on one CPU they skip the
        cross-CPU wake-up (bench/: the fixed cost of a run drops about 4x). Wrap a whole hunt
        in it to pay for the migration once; nested uses are free.
        """
        if self._cpu is None or self._pinned_depth:
            self._pinned_depth += 1
            try:
                yield
            finally:
                self._pinned_depth -= 1
            return
        try:
            previous = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {self._cpu})
        except OSError:
            previous = None
        self._pinned_depth += 1
        try:
            yield
        finally:
            self._pinned_depth -= 1
            if previous is not None:
                with suppress(OSError):
                    os.sched_setaffinity(0, previous)

    def threads(self) -> set[threading.Thread]:
        """The pooled threads currently serving this executor (abandoned ones excluded)."""
        return {w.thread for w in self._pool if not w.lost}

    def _take(self, n: int) -> list[Worker]:
        self._pool = [w for w in self._pool if not w.lost]
        while len(self._pool) < n:
            self._pool.append(Worker(len(self._pool), self._cpu))
        return self._pool[:n]

    def _files(self, modules: Sequence[str | types.ModuleType]) -> dict[str, str]:
        key = tuple(modules)
        files = self._module_cache.get(key)
        if files is None:
            files = self._module_cache[key] = resolve_modules(modules)
        return files

    def run(
        self,
        workers: Sequence[Callable[[], Any]],
        decisions: DecisionSource,
        *,
        granularity: str = DEFAULT_GRANULARITY,
        modules: Sequence[str | types.ModuleType] = (),
        max_steps: int = DEFAULT_MAX_STEPS,
        stuck_after: float = DEFAULT_STUCK_AFTER,
        capture_values: bool = True,
    ) -> RunResult:
        """Run `workers` concurrently under `decisions`; instrument only `modules`.

        Every argument is checked before any thread starts. If no `World` is active, one is
        entered for the duration of the run (patched threading, virtual time).
        """
        fns = _check_workers(workers)
        check_granularity(granularity)
        if isinstance(modules, (str, types.ModuleType)):
            modules = [modules]
        files = self._files(modules)
        if not isinstance(max_steps, int) or max_steps < 1:
            raise UsageError(f"max_steps must be a positive integer, got {max_steps!r}")
        if not (stuck_after > 0):
            raise UsageError(
                f"stuck_after must be a positive number of seconds, got {stuck_after!r}"
            )
        if not callable(getattr(decisions, "choose", None)) or not callable(
            getattr(decisions, "reset", None)
        ):
            raise UsageError(f"{decisions!r} is not a decision source (needs choose and reset)")
        if self.closed:
            raise UsageError("this Executor is closed")
        with self._lock, self.pinned():
            world = active_world()
            own_world = World() if world is None else None
            if own_world is not None:
                world = own_world.__enter__()
            elif world is not None and world.owner != threading.get_ident():
                raise UsageError("a run must start on the thread that entered the active World")
            assert world is not None
            try:
                return self._run(
                    fns,
                    decisions,
                    world,
                    granularity,
                    files,
                    max_steps,
                    stuck_after,
                    capture_values,
                )
            finally:
                if own_world is not None:
                    own_world.__exit__(None, None, None)

    def _run(
        self,
        fns: list[Callable[[], Any]],
        decisions: DecisionSource,
        world: World,
        granularity: str,
        files: dict[str, str],
        max_steps: int,
        stuck_after: float,
        capture: bool,
    ) -> RunResult:
        recheck_abandoned()
        hooks = process_hooks()
        hooks.instrumentation.configure(files, granularity)
        hooks.activate()
        decisions.reset()
        workers = self._take(len(fns))
        if getattr(decisions, "observes_access", False):
            # Only systematic exploration pays for reports of every step (see `observed`).
            from harness.runtime.observed import ObservedRun

            run: Run = ObservedRun(workers, fns, decisions, world.clock, max_steps, capture)
            run.bind(decisions)  # type: ignore[attr-defined]
        else:
            run = Run(workers, fns, decisions, world.clock, max_steps, capture)
        for tid, worker in enumerate(workers):
            worker.assign(run, tid)
            registry.register(worker.ident, worker)
        children.adopt(run, world.children)
        try:
            first = decisions.choose(0, None, run.runnable)
            if first not in run.runnable:
                raise ScheduleError(
                    f"decision source chose thread {first!r} to start; threads are {run.runnable}"
                )
            if first != run.runnable[0]:
                run.forced.append((0, first))
            run.current = first
            try:
                # Inside the try: a signal (Ctrl-C, pytest-timeout's SIGALRM) can be handled
                # as this call returns, when the first thread already runs, and that run
                # must be unwound. (None is handled before the call: the interpreter looks
                # for signals at calls and loops, and nothing here before it is either.)
                workers[first].baton.release()
                self._watch(run, stuck_after)
            except BaseException:
                # Interrupted (Ctrl-C, a timeout) while the workers run: unwind them before
                # leaving, so that the pool is clean for the next run in this process.
                interrupt_run(run, stuck_after)
                raise
        finally:
            for worker in workers:
                registry.unregister(worker.ident)
                if not worker.lost:
                    worker.run = None  # parked: let the run and its objects be freed now
            children.settle(run, world.children)
        if run.schedule_error is not None:
            raise ScheduleError(run.schedule_error)
        return run.result()

    @staticmethod
    def _watch(run: Run, stuck_after: float) -> None:
        """Wait for the run to end, declaring it stuck if it stops making progress."""
        tick = min(0.05, stuck_after / 4)
        last = run.progress()
        last_change = real_monotonic()
        while not run.done.acquire(timeout=tick):
            now = real_monotonic()
            progress = run.progress()
            if progress != last:
                last, last_change = progress, now
            elif now - last_change >= stuck_after:
                if isinstance(run.hang, Stuck) or run.aborting:
                    abandon_all(run)
                else:
                    declare_stuck(run, now - last_change)
                last_change = now


_shared: Executor | None = None


def shared_executor() -> Executor:
    """A process-wide executor for callers that do not manage one (CLI, stateful machines)."""
    global _shared
    if _shared is None or _shared.closed:
        _shared = Executor()
    return _shared


def run_threads(
    workers: Sequence[Callable[[], Any]], decisions: DecisionSource, **options: Any
) -> RunResult:
    """Convenience: `Executor.run` on the shared executor."""
    return shared_executor().run(workers, decisions, **options)
