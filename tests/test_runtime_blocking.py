"""Scheduler-aware primitives: stdlib objects built on locks cooperate with the scheduler."""

from __future__ import annotations

import inspect
import threading
import time
from time import perf_counter

import pytest

from harness.runtime import Deadlock, Executor, World
from harness.schedule import PreemptionSchedule, RandomSchedule
from tests.conftest import SYNC
from tests.targets import sync_models
from tests.targets.counters import LockedCounter, Sleeper
from tests.targets.sync_models import Accounts, Gate, Pipeline, wait_forever


def _line_of(text: str) -> int:
    source = inspect.getsource(sync_models).splitlines()
    return next(i for i, line in enumerate(source, 1) if text in line)


def test_lock_order_inversion_is_a_deadlock_naming_both_locks_and_threads(
    executor: Executor,
) -> None:
    found = None
    for seed in range(50):
        with World():
            acc = Accounts()
            result = executor.run(
                [acc.transfer_ab, acc.transfer_ba], RandomSchedule(seed), modules=SYNC
            )
        if isinstance(result.hang, Deadlock):
            found = result.hang
            break
    assert found is not None, "no schedule of 50 deadlocked"
    assert sorted(found.cycle[:-1]) == [0, 1] and found.cycle[0] == found.cycle[-1]
    waited = {w.thread: w.waits_for for w in found.waiters}
    assert {waited[0], waited[1]} == {
        f"Lock tests.targets.sync_models:{_line_of('self.lock_a = threading.Lock()')}#1",
        f"Lock tests.targets.sync_models:{_line_of('self.lock_b = threading.Lock()')}#1",
    }
    assert {w.held_by for w in found.waiters} == {0, 1}
    text = found.describe()
    assert "thread 0" in text and "thread 1" in text and "sync_models:1" in text


def test_the_deadlocking_schedule_is_reproducible(executor: Executor) -> None:
    # Thread 0 takes lock_a, is preempted right after; thread 1 takes lock_b: deadlock.
    def run(preemptions: list[tuple[int, int]]) -> Deadlock | None:
        with World():
            acc = Accounts()
            hang = executor.run(
                [acc.transfer_ab, acc.transfer_ba], PreemptionSchedule(preemptions), modules=SYNC
            ).hang
        return hang if isinstance(hang, Deadlock) else None

    assert run([]) is None
    hits = [s for s in range(1, 12) if run([(s, 0)]) is not None]
    assert hits, "some single preemption must deadlock the inverted lock order"
    assert all(run([(hits[0], 0)]) is not None for _ in range(5))


def test_an_event_nobody_sets_is_reported_not_hung(executor: Executor) -> None:
    with World():
        event = threading.Event()
        result = executor.run([lambda: wait_forever(event)], PreemptionSchedule(), modules=SYNC)
    assert isinstance(result.hang, Deadlock)
    assert "notification" in result.hang.describe()


@pytest.mark.parametrize("seed", range(30))
def test_queue_producer_consumer_completes_under_random_schedules(
    executor: Executor, seed: int
) -> None:
    with World():
        pipe = Pipeline(items=6, consumers=2)
        result = executor.run(
            [pipe.produce, pipe.consume, pipe.consume], RandomSchedule(seed), modules=SYNC
        )
    assert result.ok, result.describe()
    assert sorted(pipe.consumed) == list(range(6))


@pytest.mark.parametrize("seed", range(20))
def test_event_barrier_semaphore_rlock_condition_cooperate(executor: Executor, seed: int) -> None:
    with World():
        gate = Gate(parties=3)
        result = executor.run(
            [gate.opener, lambda: gate.waiter("x"), lambda: gate.waiter("y")],
            RandomSchedule(seed),
            modules=SYNC,
        )
    assert result.ok, result.describe()
    assert gate.order[0] == "open" and sorted(gate.order[1:]) == ["x", "y"]
    assert gate.max_inside == 1
    assert result.elapsed_virtual == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(20))
def test_locked_counter_never_loses(executor: Executor, seed: int) -> None:
    with World():
        c = LockedCounter()
        result = executor.run(
            [c.incr] * 4, RandomSchedule(seed), modules=["tests.targets.counters"]
        )
    assert result.ok, result.describe()
    assert c.n == 4


def test_sleep_is_virtual_and_ordered_by_deadline(executor: Executor) -> None:
    started = perf_counter()
    with World() as w:
        s = Sleeper()
        result = executor.run(
            [lambda: s.nap("long", 30.0), lambda: s.nap("short", 5.0)],
            PreemptionSchedule(),
            modules=["tests.targets.counters"],
        )
        elapsed_inside = w.clock.elapsed
    assert result.ok, result.describe()
    assert [name for name, _ in s.woke] == ["short", "long"]
    assert s.woke[1][1] - s.woke[0][1] == pytest.approx(25.0)
    assert elapsed_inside == pytest.approx(30.0)
    # 35 s of sleeps took no wall time: a generous bound (real sleeps would need 35 s), so
    # that machine load cannot break it; the virtual clock above is the real check.
    assert perf_counter() - started < 20.0


def test_lock_acquire_timeout_uses_virtual_time(executor: Executor) -> None:
    with World():
        lock = threading.Lock()
        got: list[bool] = []

        def holder() -> None:
            lock.acquire()
            time.sleep(100)
            lock.release()

        def impatient() -> None:
            got.append(lock.acquire(timeout=2))

        result = executor.run([holder, impatient], PreemptionSchedule(), modules=SYNC)
    assert result.ok, result.describe()
    assert got == [False]
    assert result.elapsed_virtual == pytest.approx(100.0)


def test_primitives_behave_normally_outside_runs_and_in_other_threads() -> None:
    with World() as w:
        lock = threading.Lock()
        assert lock.acquire() and lock.locked()
        assert not lock.acquire(blocking=False)
        lock.release()
        event = threading.Event()
        seen: list[float] = []

        def other() -> None:  # an uncontrolled thread: real time, real blocking
            event.wait(5)
            seen.append(time.monotonic())

        t = threading.Thread(target=other)
        t.start()
        time.sleep(3600)  # the test thread's sleep is virtual
        event.set()
        t.join(5)
        assert w.clock.elapsed == 3600
        assert seen and seen[0] != pytest.approx(w.clock.monotonic())
    assert time.sleep.__module__ == "time" or time.sleep.__name__ == "sleep"
    assert threading.Lock is not None and "harness" not in repr(threading.Lock())


def test_test_thread_timeouts_pass_on_virtual_time_and_a_lone_wait_is_a_deadlock() -> None:
    import queue

    from harness.runtime.sync import SequentialDeadlock

    with World() as w, w.virtual_time():  # as the stateful machine runs model code
        q: queue.Queue[int] = queue.Queue(maxsize=1)
        q.put(1)
        started = perf_counter()
        with pytest.raises(queue.Full):
            q.put(2, timeout=5.0)  # nobody can take from it: times out, on the virtual clock
        # Generous (a real timeout would need 5 s): the virtual clock below is the check.
        assert perf_counter() - started < 4.5
        assert w.clock.elapsed == pytest.approx(5.0)
        lock = threading.Lock()
        lock.acquire()
        with pytest.raises(SequentialDeadlock, match="wait forever"):
            lock.acquire()
