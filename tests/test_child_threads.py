"""Threads the code under test starts inside a round are controlled (issue 16, part 2).

A `Thread.start` or a `ThreadPoolExecutor.submit` inside an operation adopts the new thread
into the round: it is scheduled, traced and reported as its own column, numbered after the
workers in start order, so its counterexample replays step by step.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.artifact import load, save
from harness.explain import explain, interleaving
from harness.html import render_html
from harness.hunt import hunt
from harness.replay import replay_artifact
from harness.runtime import Executor, World
from harness.runtime.children import of
from harness.schedule.drawn import DrawnSchedule
from harness.schedule.randomized import RandomSchedule
from harness.verdict import Limitation
from tests.targets.refresh_cache import RefreshCacheModel, SpinnerModel

MODULE = "tests.targets.refresh_cache"


class Tally:
    """A plain thread started and joined inside one call; its update is unlocked."""

    def __init__(self) -> None:
        self.n = 0
        self.alive_during: list[bool] = []

    def bump(self) -> None:
        value = self.n
        self.n = value + 1

    def bump_in_thread(self) -> None:
        helper = threading.Thread(target=self.bump)
        helper.start()
        self.alive_during.append(helper.is_alive())
        helper.join()
        assert not helper.is_alive()


def test_a_plain_thread_started_and_joined_in_an_operation_is_controlled() -> None:
    lost = 0
    with Executor() as executor:
        for seed in range(20):
            tally = Tally()
            result = executor.run(
                [tally.bump_in_thread, tally.bump_in_thread],
                RandomSchedule(seed),
                modules=[__name__],
            )
            assert result.ok, result.describe()
            # Two children, numbered after the two workers, each named after its parent.
            assert sorted(result.children) == [2, 3], result.children
            assert all("started by worker" in label for label in result.children.values())
            assert {e.thread for e in result.trace} >= {2, 3}
            assert len(tally.alive_during) == 2  # both joined, after which neither was alive
            lost += tally.n < 2
    # The child's unlocked update races with the other child's: some schedule loses one.
    assert lost > 0


def test_the_pool_race_is_caught_across_the_pool_threads_and_replays(tmp_path: Path) -> None:
    result = hunt(RefreshCacheModel, "unsafe", max_examples=200, seed=0)
    failure = result.failure
    assert failure is not None and failure.invariant == "no_refresh_lost", result.verdict
    table = interleaving(failure)
    # The racing writes are the pool threads', each in a column naming who started it where.
    assert "thread 2, started by worker" in table and "refresh_cache.py:28" in table, table
    writers = {e.thread for e in failure.trace or [] if e.kind == "write"}
    assert writers and min(writers) >= 2, writers
    # The sentences call the pool threads threads, not workers the scenario does not have.
    why = explain(failure)
    for tid in writers:
        assert f"thread {tid}" in why and f"worker {tid}" not in why, why
    assert "worker 2" not in failure.describe() and "worker 3" not in failure.describe()
    # The page has a lane per thread, headed like the table's columns.
    page = render_html(failure)
    threads = max(e.thread for e in failure.trace or []) + 1
    assert page.count('class="head">') == threads >= 4, page[:2000]
    assert "thread 2, started by worker" in page
    outcome = replay_artifact(load(save(failure, tmp_path)), model=f"{MODULE}:RefreshCacheModel")
    assert outcome.reproduced and outcome.identical_trace, outcome.divergence


@pytest.mark.slow
def test_the_locked_pool_passes_500_examples() -> None:
    result = hunt(RefreshCacheModel, "locked", max_examples=500, seed=0)
    assert result.failure is None and result.verdict.kind == "clean", result.verdict


def test_the_locked_pool_passes_50_examples() -> None:
    result = hunt(RefreshCacheModel, "locked", max_examples=50, seed=1)
    assert result.failure is None and result.verdict.kind == "clean", result.verdict


def test_same_seed_same_trace_twice_in_one_process() -> None:
    first = hunt(RefreshCacheModel, "unsafe", max_examples=200, seed=3, shrink=False)
    second = hunt(RefreshCacheModel, "unsafe", max_examples=200, seed=3, shrink=False)
    assert first.failure is not None and second.failure is not None
    assert first.failure.trace == second.failure.trace
    assert first.failure.scenario == second.failure.scenario


def test_a_child_that_never_ends_is_a_limitation_with_its_start_site() -> None:
    result = hunt(SpinnerModel, max_examples=5, seed=0, max_steps=2_000)
    verdict = result.verdict
    assert isinstance(verdict, Limitation), verdict
    assert verdict.what == "a thread started by the code under test that never ends"
    assert verdict.where.startswith(f"{MODULE}:"), verdict.where
    assert result.failure is None


def test_a_preemption_naming_a_child_replays_it() -> None:
    """A schedule that switches to thread 2 at the parent's start point runs the child first."""
    with Executor() as executor:
        tally = Tally()
        # Worker 0 reaches its start point; preempting it there hands the CPU to the child.
        plain = executor.run([tally.bump_in_thread], DrawnSchedule(), modules=[__name__])
        start = next(e for e in plain.trace if e.kind == "start")
        count = sum(1 for e in plain.trace if e.thread == 0 and e.step <= start.step)
        tally = Tally()
        switched = executor.run(
            [tally.bump_in_thread], DrawnSchedule([(0, count, 1)]), modules=[__name__]
        )
    assert [p.target for p in switched.preemptions] == [1]
    after = [e.thread for e in switched.trace if e.step > start.step]
    assert after and after[0] == 1, after


def test_outside_a_round_threads_are_real_and_adopted_ones_are_forgotten() -> None:
    ran: list[str] = []
    with World():
        thread = threading.Thread(target=lambda: ran.append(threading.current_thread().name))
        thread.start()  # the test thread, outside model code: a real thread
        thread.join()
    assert ran == [thread.name] and of(thread) is None
    assert threading.Thread.start.__qualname__ == "Thread.start"


@pytest.mark.writes_bad_artifacts
@pytest.mark.parametrize("bad", [0, 1])
def test_artifact_thread_numbers_past_the_workers_need_threads(tmp_path: Path, bad: int) -> None:
    from harness.artifact import encode
    from harness.errors import ArtifactError

    result = hunt(RefreshCacheModel, "unsafe", max_examples=200, seed=0)
    assert result.failure is not None
    data = encode(result.failure)
    round_ = next(s for s in data["steps"] if s["kind"] == "round")
    assert round_["threads"] >= 3  # the preemption names a pool thread
    if bad:
        del round_["threads"]
    else:
        round_["threads"] = 2
    import json

    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"threads|is not a worker of this step"):
        load(path)
