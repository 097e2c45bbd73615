"""The harness never hangs and never leaks threads, whatever the workers do."""

from __future__ import annotations

import _thread
import threading
from time import perf_counter
from typing import Any

from harness.runtime import Deadlock, Executor, Livelock, Stuck, World
from harness.schedule import PreemptionSchedule, RandomSchedule
from tests.conftest import COUNTERS, SYNC
from tests.targets.counters import Counter, spin_forever
from tests.targets.sync_models import Accounts


def test_busy_loop_hits_the_step_bound_with_hot_locations(executor: Executor) -> None:
    result = executor.run(
        [spin_forever, spin_forever], RandomSchedule(1), modules=COUNTERS, max_steps=5_000
    )
    assert isinstance(result.hang, Livelock)
    assert result.steps == 5_000
    hottest, count = result.hang.hot[0]
    assert hottest.startswith("tests.targets.counters:") and count > 1_000
    assert "livelock" in result.describe()


def test_worker_stuck_in_uninstrumented_blocking_call_is_reported(executor: Executor) -> None:
    real_lock = _thread.allocate_lock()  # not scheduler-aware: blocks in C
    real_lock.acquire()
    # Pool threads of other executors (shared by other tests) are not ours to count.
    foreign = {t for t in threading.enumerate() if t not in executor.threads()}
    started = perf_counter()
    result = executor.run(
        [real_lock.acquire, Counter().incr], PreemptionSchedule(), modules=COUNTERS, stuck_after=0.3
    )
    # A generous bound, not a speed check: without the watchdog this run would never end.
    assert perf_counter() - started < 60.0
    assert isinstance(result.hang, Stuck)
    assert result.hang.seconds >= 0.3
    assert result.hang.thread == 0
    assert "acquire" in result.hang.stacks[0] or "_main" in result.hang.stacks[0]
    # The executor still works afterwards, on a fresh thread.
    c = Counter()
    assert executor.run([c.incr, c.incr], PreemptionSchedule(), modules=COUNTERS).ok
    assert c.n == 2
    abandoned = [t for t in threading.enumerate() if t not in executor.threads() | foreign]
    assert len(abandoned) == 1
    # Once the C call returns, the abandoned thread exits on its own.
    real_lock.release()
    abandoned[0].join(5)
    assert not abandoned[0].is_alive()


def test_thousand_runs_with_failures_leak_no_threads() -> None:
    start = threading.active_count()
    failures = 0
    with Executor() as ex:
        for i in range(1_000):
            with World():
                if i % 10 == 0:
                    acc = Accounts()
                    # Preempt right after thread 0 took lock_a: a deadlock, every time.
                    result = ex.run(
                        [acc.transfer_ab, acc.transfer_ba],
                        PreemptionSchedule([(5, 0)]),
                        modules=SYNC,
                    )
                    failures += isinstance(result.hang, Deadlock)
                else:
                    c = Counter()
                    result = ex.run([c.incr, c.incr, c.incr], RandomSchedule(i), modules=COUNTERS)
                    assert result.ok
            assert threading.active_count() <= start + 3
    assert failures == 100
    assert threading.active_count() == start


def test_worker_exception_surfaces_with_traceback(executor: Executor) -> None:
    def boom() -> None:
        raise KeyError("regionMiss")

    c = Counter()
    result = executor.run([c.incr, boom, c.incr], PreemptionSchedule(), modules=COUNTERS)
    assert not result.ok and result.hang is None
    [err] = result.errors
    assert err.thread == 1 and isinstance(err.exception, KeyError)
    assert "in boom" in err.traceback and "KeyError: 'regionMiss'" in err.traceback
    assert c.n == 2  # the other threads still ran to completion


class _InterruptedAsItStarts:
    """A worker's baton whose first release is followed by a KeyboardInterrupt, as when a
    signal (Ctrl-C, pytest-timeout's SIGALRM) is handled the moment the call that handed the
    first thread the CPU returns."""

    def __init__(self, baton: Any) -> None:
        self.baton = baton
        self.armed = True

    def acquire(self, *args: Any) -> bool:
        return bool(self.baton.acquire(*args))

    def release(self) -> None:
        self.baton.release()
        if self.armed and threading.current_thread() is threading.main_thread():
            self.armed = False
            raise KeyboardInterrupt

    def locked(self) -> bool:
        return bool(self.baton.locked())


def test_an_interrupt_as_the_first_thread_starts_unwinds_the_run_it_started() -> None:
    """The run is already going when that interrupt is raised: it must be unwound like any
    other, or its threads go on unregistered -- their locks turned real -- while the pool
    hands them to the next run, which then finds a worker "blocked outside instrumented
    code" (seen once after a pytest-timeout, under load)."""
    import pytest

    with Executor() as ex, World():
        workers = ex._take(2)
        batons = [w.baton for w in workers]
        for w in workers:
            w.baton = _InterruptedAsItStarts(w.baton)  # type: ignore[assignment]
        accounts = Accounts()
        with pytest.raises(KeyboardInterrupt):
            ex.run([accounts.transfer_ab, accounts.transfer_ab], RandomSchedule(0), modules=SYNC)
        for w, baton in zip(workers, batons, strict=True):
            w.baton = baton
        again = Accounts()
        result = ex.run(
            [again.transfer_ab, again.transfer_ab], RandomSchedule(1), modules=SYNC, stuck_after=2.0
        )
        assert result.ok, result.describe()
        assert (again.a, again.b) == (80, 120)
        assert not any(w.lost for w in workers)
