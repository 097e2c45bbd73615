"""Bounded DFS with partial-order reduction: same outcomes as plain DFS, fewer schedules."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.failure import Failure
from harness.hunt import resolve
from harness.runtime.access import MODEL
from harness.scenario import ScenarioRunner
from harness.schedule.dfs import DfsSearch, exhaust
from harness.verify import default_params, run_scenario, scenarios, verify_spec


def find_model(name: str) -> Any:
    """A gallery model, a model named by module:Class, or a plain class."""
    return resolve(name, None)[0]


def _state(runner: ScenarioRunner) -> Any:
    """What a round left behind, in the model's terms: every call's result or error."""
    return tuple(
        sorted(
            (
                -1 if r.worker is None else r.worker,
                r.op,
                repr(sorted(r.args.items())),
                # lazy-init's connection ids come from a process-wide counter: not state
                "id"
                if r.op == "connection"
                else r.result
                if isinstance(r.result, (int, str, bool, type(None)))
                else "obj",
                type(r.error).__name__ if r.error else None,
            )
            for r in runner.history
        )
    )


def _outcome(failure: Failure | None, state: Any) -> Any:
    if failure is not None:
        # the first line is the invariant's own message; the lines assert adds after it show
        # reprs and ids, which differ between runs
        return ("fail", failure.kind, failure.invariant, failure.message.split("\n")[0])
    return ("ok", state)


def outcomes(
    name: str, variant: str, index: int, bound: int, reduction: str, **shape: int
) -> tuple[set[Any], int]:
    spec = find_model(name)
    # every scenario, as enumerated before any symmetry: CASES name them by index
    scenario = scenarios(spec, workers=shape["workers"], calls=shape["calls"], values=False)[index]
    params = default_params(spec)
    search = DfsSearch(bound, reduction)
    seen = set()
    while (schedule := search.next_schedule()) is not None:
        failure, state = run_scenario(
            spec, variant, scenario, schedule, params=params, inspect=_state
        )
        seen.add(_outcome(failure, state))
        search.finish(schedule)
    return seen, search.stats.schedules


CASES = [
    ("counter", "unsafe", 0, {"workers": 2, "calls": 1}),
    ("counter", "locked", 0, {"workers": 2, "calls": 2}),
    ("counter", "unsafe", 0, {"workers": 3, "calls": 1}),
    ("lazy-init", "unsafe", 0, {"workers": 2, "calls": 1}),
    ("lazy-init", "locked", 0, {"workers": 2, "calls": 1}),
    ("dict-iteration", "unsafe", 1, {"workers": 2, "calls": 1}),
    # register || total_priority: the failure needs the iteration preempted once; sleep sets
    # under the bound pruned that schedule (its equivalent costs two preemptions)
    ("dict-iteration", "unsafe", 4, {"workers": 2, "calls": 1}),
    ("lru", "unsafe", 3, {"workers": 2, "calls": 1}),
    ("bank", "naive", 6, {"workers": 2, "calls": 1}),
    ("bank", "ordered", 6, {"workers": 2, "calls": 1}),
    ("queue", "stdlib", 2, {"workers": 2, "calls": 1}),
    ("tests.targets.registers:TicketModel", None, 0, {"workers": 2, "calls": 1}),
    ("tests.targets.registers:WriteBehindModel", None, 0, {"workers": 2, "calls": 1}),
    # A plain class, so no model code between calls: read, read || write(1), read touch
    # nothing in common, and whether a read began after the write returned (the bug) is
    # decided by the order of call starts and returns alone.
    ("tests.targets.registers:ThreadBufferedRegister", None, 6, {"workers": 2, "calls": 2}),
]


@pytest.mark.parametrize(("name", "variant", "index", "shape"), CASES)
def test_dpor_finds_exactly_what_plain_dfs_finds(
    name: str, variant: str | None, index: int, shape: dict[str, int]
) -> None:
    variant = variant or find_model(name).cls.default_variant()
    reduced, n_reduced = outcomes(name, variant, index, 1, "dpor", **shape)
    plain, n_plain = outcomes(name, variant, index, 1, "none", **shape)
    assert reduced == plain
    assert n_reduced <= n_plain


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["unsafe", "locked", "fork"])
def test_dpor_matches_plain_dfs_on_the_backoffer(variant: str) -> None:
    reduced, _ = outcomes("backoffer", variant, 0, 1, "dpor", workers=2, calls=1)
    plain, _ = outcomes("backoffer", variant, 0, 1, "none", workers=2, calls=1)
    assert reduced == plain


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["unsafe", "locked"])
def test_dpor_matches_plain_dfs_across_threads_the_code_starts(variant: str) -> None:
    # Each call submits to a pool the object owns: the pool's threads are threads of the
    # round, and the reduction must see their accesses (plain DFS: ~5,000 schedules, 50 s).
    name = "tests.targets.refresh_cache:RefreshCacheModel"
    reduced, n_reduced = outcomes(name, variant, 0, 1, "dpor", workers=2, calls=1)
    plain, n_plain = outcomes(name, variant, 0, 1, "none", workers=2, calls=1)
    assert reduced == plain
    assert n_reduced < n_plain


def test_verify_sees_threads_the_code_starts() -> None:
    spec = find_model("tests.targets.refresh_cache:RefreshCacheModel")
    unsafe = verify_spec(spec, "unsafe", bound=1, workers=2, calls=1)
    assert unsafe.verdict == "counterexample" and unsafe.preemptions == 1, unsafe
    assert unsafe.failure is not None and unsafe.failure.invariant == "no_refresh_lost"


def test_reduction_prunes_the_locked_counter() -> None:
    _, reduced = outcomes("counter", "locked", 0, 2, "dpor", workers=2, calls=2)
    _, slept = outcomes("counter", "locked", 0, 2, "sleep", workers=2, calls=2)
    _, plain = outcomes("counter", "locked", 0, 2, "none", workers=2, calls=2)
    assert reduced < slept < plain


def test_every_schedule_respects_the_bound() -> None:
    spec = find_model("counter")
    scenario = scenarios(spec, workers=2, calls=2)[0]
    for bound in (0, 1, 2):
        search = DfsSearch(bound, "dpor")
        seen = []
        while (schedule := search.next_schedule()) is not None:
            run_scenario(spec, "locked", scenario, schedule, params={})
            seen.append(schedule.preempts)
            search.finish(schedule)
        assert max(seen) <= bound
        assert max(seen) == bound  # the bound is reached, not just respected


def test_unsafe_backoffer_is_found_at_bound_1_within_10_schedules() -> None:
    result = verify_spec(find_model("backoffer"), "unsafe", bound=1, workers=2, calls=1)
    assert result.verdict == "counterexample"
    assert result.preemptions == 1
    assert result.schedules <= 10


def test_a_deadlock_needs_one_preemption_the_forced_switches_are_free() -> None:
    result = verify_spec(find_model("bank"), "naive", bound=2, workers=2, calls=1)
    assert result.verdict == "counterexample"
    assert result.failure is not None and result.failure.kind == "deadlock"
    assert result.preemptions == 1


def _exhaust_scenario(name: str, index: int, calls: int, **options: Any) -> Any:
    spec, variants = resolve(name, None)
    scenario = scenarios(spec, workers=2, calls=calls, values=False)[index]

    def run_one(schedule: Any) -> Failure | None:
        return run_scenario(spec, variants[0], scenario, schedule, params=default_params(spec))[0]

    return exhaust(run_one, bound=2, **options)


def test_a_failure_comes_with_the_fewest_preemptions_the_bound_allows() -> None:
    """register || total_priority: the bound-2 tree meets a failure with 2 preemptions
    first; the searches at bounds 0 and 1 that follow find the one with 1."""
    first = _exhaust_scenario("dict-iteration.unsafe", 4, 1, deepen=False)
    assert first.failure is not None and first.failing_preemptions == 2
    fewest = _exhaust_scenario("dict-iteration.unsafe", 4, 1)
    assert fewest.failure is not None and fewest.failing_preemptions == 1
    assert fewest.bound_reached == 1
    assert fewest.schedules > first.schedules  # the extra searches are counted


def test_a_scenario_without_failure_is_explored_once_not_once_per_bound() -> None:
    once = _exhaust_scenario("lru.locked", 300, 2)
    single = _exhaust_scenario("lru.locked", 300, 2, deepen=False)
    assert once.exhausted and once.failure is None
    assert once.schedules == single.schedules > 1


def test_same_scenario_same_schedule_sequence() -> None:
    spec = find_model("lazy-init")
    scenario = scenarios(spec, workers=2, calls=1)[0]

    def sequence() -> list[list[tuple[tuple[int, ...], int | None, int]]]:
        runs = []

        def run_one(schedule: Any) -> None:
            run_scenario(spec, "locked", scenario, schedule, params={})
            runs.append(list(schedule.nodes))

        exhaust(run_one, bound=2)
        return runs

    first = sequence()
    assert len(first) > 3
    assert sequence() == first


def test_the_race_analysis_reuses_the_repeated_prefix_and_explores_the_same_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each execution replays a prefix of the last one; its steps' clocks and races are
    kept from the last analysis instead of worked out again. That must not change a single
    decision: the same schedules, in the same order, as with every step analysed afresh."""
    from harness.schedule import dfs

    spec = find_model("backoffer")
    scenario = scenarios(spec, workers=2, calls=1)[0]
    params = default_params(spec)

    def sequence() -> list[list[int]]:
        runs: list[list[int]] = []

        def run_one(schedule: Any) -> None:
            run_scenario(spec, "locked", scenario, schedule, params=params)
            runs.append([chosen for _e, _c, chosen in schedule.nodes])

        exhaust(run_one, bound=2)
        return runs

    reused = sequence()
    analyse = dfs.DfsSearch._races

    def afresh(self: Any, schedule: Any, fps: Any) -> None:
        for node in self.stack:
            node.analysed = None
        analyse(self, schedule, fps)

    monkeypatch.setattr(dfs.DfsSearch, "_races", afresh)
    assert len(reused) > 10
    assert sequence() == reused


_KEYS = [
    (space, obj, name, writes)
    for space in ("attr", "item", "model", "history")
    for obj in ("*", 1, 2)
    for name in ("*", "a", "b")
    for writes in (False, True)
] + [("opaque", "*", "*", True)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.lists(st.sampled_from(_KEYS), max_size=3).map(tuple)),
        max_size=12,
    )
)
def test_the_trace_index_finds_exactly_the_conflicting_earlier_steps(
    steps: list[tuple[int, tuple[Any, ...]]],
) -> None:
    """The race analysis files steps by what they touch and looks a step's conflicts up
    there instead of comparing it with every earlier step; it must find the same ones as
    comparing with all of them -- wildcard objects and names included (a wildcard name was
    once filed where no concrete name looked: a call start missed another thread's return)."""
    from harness.runtime.access import conflict
    from harness.schedule.dfs import _Plans, _Trace

    plans = _Plans()
    trace = _Trace(plans)
    for j, (thread, fp) in enumerate(steps):
        fid = plans.intern(fp)
        expected = [
            i for i, (t, other) in enumerate(steps[:j]) if t != thread and conflict(other, fp)
        ]
        assert trace.dependents(thread, fid) == expected, (j, fp)
        trace.index(j, thread, fid)


def test_outside_python_code_is_the_model_location_and_may_read_the_clock() -> None:
    """A Python function outside the instrumented modules (the model's helpers) is the
    model location plus a read of the virtual clock, whatever its module is called; only
    the harness's own patched time functions are a clock read alone. (Gallery models live
    in ``harness_gallery``, which a prefix test once took for the harness.)"""
    import types

    from harness.runtime.access import CLOCK_READ, Numbering, _python_effect

    def helper(box: Any) -> Any:
        return box.value

    def outside(module: str) -> Any:
        fn = types.FunctionType(helper.__code__, {"__name__": module}, "helper")
        fn.__module__ = module
        return _python_effect(fn, fn.__code__, None, Numbering(), lambda code: False)

    for module in ("harness_gallery.backoffer_spec", "users_model", "harnessed"):
        assert outside(module) == ((CLOCK_READ,), True), module
    assert outside("harness.runtime.world") == ((CLOCK_READ,), False)


def test_a_read_only_worker_loop_between_calls_writes_nothing() -> None:
    """The uninstrumented frames between two points are read, not lumped into one location:
    a loop that only calls the object under test reads names, and no two such steps of two
    threads conflict (they did when all outside code was one shared location)."""
    import sys

    from harness.runtime.access import Numbering, conflict
    from harness.runtime.outside import Outside, frames_between

    frames: list[Any] = []

    def point() -> None:
        frames.append(sys._getframe())

    def loop(calls: int) -> None:
        for _ in range(calls):
            point()

    loop(2)
    first, second = frames
    assert frames_between(first, second) == [first.f_back]  # the loop's frame, once
    outside = Outside(lambda code: code is point.__code__, type(None))
    keys = tuple(outside.between(first, second, Numbering()))
    assert keys and not any(writes for _s, _o, _n, writes in keys)
    assert not conflict(keys, keys)


def test_model_bookkeeping_between_calls_still_conflicts() -> None:
    """An outside function that writes an attribute conflicts with another thread's same
    step: its order is still explored."""
    import sys

    from harness.runtime.access import Numbering, conflict
    from harness.runtime.outside import Outside

    frames: list[Any] = []

    class Books:
        calls = 0

    def point() -> None:
        frames.append(sys._getframe())

    def loop(books: Books) -> None:
        for _ in range(2):
            point()
            books.calls = books.calls + 1

    loop(Books())
    outside = Outside(lambda code: code is point.__code__, type(None))
    keys = tuple(outside.between(frames[0], frames[1], Numbering()))
    assert ("model", "*", "attr:calls", True) in keys
    assert conflict(keys, keys)


class _Target:
    """Stands for an instrumented object: its method is where the points are."""

    def hit(self) -> None:
        _FRAMES.append(sys._getframe())


_FRAMES: list[Any] = []


class _Guarded:
    def __init__(self) -> None:
        self.target = _Target()
        self.lock = threading.Lock()

    def twice(self) -> None:
        self.target.hit()
        self.target.hit()

    def swapping(self) -> None:
        self.target.hit()
        self.target = _Target()
        self.target.hit()

    def under_lock(self) -> None:
        with self.lock:
            self.call(lambda: self.target.hit())  # noqa: PLW0108 -- the lambda is the point
        self.target.hit()

    def call(self, action: Any) -> None:
        action()


def _keys_between(method: Any) -> tuple[Any, ...]:
    from harness.runtime.access import Numbering
    from harness.runtime.outside import Outside

    _FRAMES.clear()
    method()
    first, second = _FRAMES
    outside = Outside(lambda code: code is _Target.hit.__code__, type(threading.Lock()))
    return tuple(outside.between(first, second, Numbering()))


def test_an_attribute_the_stretch_does_not_rebind_is_read_as_the_receiver() -> None:
    """The steps between two points of one thread are atomic, so ``self.target.hit()`` is
    read now: a call into the code under test, which its own points cover. Where the stretch
    itself rebinds ``self.target`` it is not read, and the call is the whole model location."""
    assert MODEL not in _keys_between(_Guarded().twice)
    swapped = _keys_between(_Guarded().swapping)
    assert MODEL in swapped and ("model", "*", "attr:target", True) in swapped


def test_a_with_block_on_a_lock_and_a_lambda_argument_are_seen_through() -> None:
    """Outside code that enters and leaves ``with self.lock`` and passes a lambda on: the
    lock's own acquire and release are points; nothing here is the whole model location."""
    keys = _keys_between(_Guarded().under_lock)
    assert MODEL not in keys


def test_code_under_test_that_only_returns_after_an_implicit_call_touches_nothing() -> None:
    """``if key in self: ... return default`` returns after ``__contains__`` ran its points
    with nothing left to do but return; a frame that goes on computing without a point of its
    own is not quiet."""
    from harness.runtime.outside import returns_quietly
    from harness.runtime.points import compute_points

    def lookup(self: Any, key: Any, default: Any = None) -> Any:
        if key in self:
            return self[key]
        return default

    def busy(self: Any, key: Any, other: Any) -> Any:
        return (key in self) + other  # other.__radd__ may run anything

    for fn, quiet in ((lookup, True), (busy, False)):
        code = fn.__code__
        assert returns_quietly(code, compute_points(code, "m", "access")) is quiet


def test_call_starts_and_returns_order_calls_only_where_it_matters() -> None:
    """Two call starts (or two returns) of different threads commute; a return and another
    thread's start do not. On a plain class the reduction then finds the stale read -- a
    read that began after a write returned -- in a fraction of plain DFS's schedules (with
    starts independent of returns it missed it: 6 schedules, three outcomes of four)."""
    name = "tests.targets.registers:ThreadBufferedRegister"
    scenario = scenarios(find_model(name), workers=2, calls=2)[6]
    assert scenario.round == ((("read", {}), ("read", {})), (("write", {"value": 1}), ("read", {})))
    reduced, n_reduced = outcomes(name, "default", 6, 1, "dpor", workers=2, calls=2)
    plain, n_plain = outcomes(name, "default", 6, 1, "none", workers=2, calls=2)
    assert reduced == plain
    assert any(o[0] == "fail" and o[1] == "linearizability" for o in reduced)
    assert n_reduced * 3 < n_plain


def test_verify_enumerates_only_the_methods_a_hunt_draws() -> None:
    """A plain class's methods that cannot be drawn (Shelf.attach) or are private are kept
    for replaying saved files, but verify does not call them with no arguments."""
    from harness.verify import call_domain

    names = {op for op, _args in call_domain(find_model("tests.targets.plain_classes:Shelf"))}
    assert names == {"put", "total"}
    register = find_model("tests.targets.registers:ThreadBufferedRegister")
    assert {op for op, _args in call_domain(register)} == {"read", "write"}  # not _flush


# -- lock programs: what a release and a later acquire of the same lock mean -----------------


def program_outcomes(program: Sequence[tuple[str, ...]], bound: int | None, reduction: str) -> Any:
    """Every distinct end of a lock program (`tests.targets.lock_programs`) under one
    search: the registers, what each thread read and got, and whether it deadlocked."""
    return program_search(program, bound, reduction)[0]


def program_search(
    program: Sequence[tuple[str, ...]], bound: int | None, reduction: str, cap: int | None = None
) -> tuple[set[Any], int]:
    """`program_outcomes`, and the number of schedules the search ran (-1 if it stopped at
    `cap` schedules before exhausting the tree)."""
    import functools

    from harness.runtime import Executor, World
    from tests.targets import lock_programs

    search = DfsSearch(bound, reduction)
    seen: set[Any] = set()
    with Executor() as ex, World():
        while (schedule := search.next_schedule()) is not None:
            if cap is not None and search.stats.schedules >= cap:
                return seen, -1
            shared = lock_programs.Shared(len(program))
            bodies = [
                functools.partial(lock_programs.run, shared, t, ops)
                for t, ops in enumerate(program)
            ]
            result = ex.run(bodies, schedule, modules=[lock_programs], capture_values=False)
            assert not result.errors, result.describe()
            seen.add((type(result.hang).__name__, shared.state()))
            search.finish(schedule)
    return seen, search.stats.schedules


def _programs(max_ops: int) -> Any:
    from tests.targets.lock_programs import OPERATIONS

    thread = st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=max_ops).map(tuple)
    return st.one_of(
        st.lists(thread, min_size=2, max_size=2),
        st.lists(st.tuples(st.sampled_from(OPERATIONS)), min_size=3, max_size=3),
    )


def _check_lock_program(program: list[tuple[str, ...]], bound: int) -> None:
    plain = program_outcomes(program, bound, "none")
    assert program_outcomes(program, bound, "dpor") == plain
    # Unbounded, three threads waiting on one Event can take thousands of schedules (the
    # Event's state counts as written by every call): compared only when exhausted.
    unbounded, schedules = program_search(program, None, "dpor", cap=300)
    assert unbounded >= plain or schedules < 0


@settings(max_examples=15, deadline=None)
@given(_programs(2))
def test_dpor_reaches_every_end_of_a_lock_program_that_plain_dfs_reaches(
    program: list[tuple[str, ...]],
) -> None:
    """A patient acquire (no timeout) is never reversed with another thread's release
    before it -- it could only have blocked there -- but one that can give up (non-blocking,
    a timeout) must be: it fails where it runs first. Drawn programs of critical sections,
    nested locks in both orders (deadlocks) and tries, against every interleaving at bound
    1, and the unbounded search reaches at least what that does."""
    _check_lock_program(program, 1)


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(_programs(2))
def test_dpor_reaches_every_end_of_a_lock_program_at_bound_2(
    program: list[tuple[str, ...]],
) -> None:
    _check_lock_program(program, 2)


def test_a_try_that_fails_only_inside_the_critical_section_is_found() -> None:
    """The try is ordered after the holder's write by reading it, so only reversing it with
    the holder's release reaches the failed try: a rule that took every acquire for a
    patient one would not."""
    program = [("incr_x_in_a",), ("read_x", "try_a_read_x")]
    ends = program_outcomes(program, 1, "dpor")
    assert any(False in logs[1] for _hang, (_x, _y, logs) in ends), ends
    assert ends == program_outcomes(program, 1, "none")


def test_a_step_that_takes_and_gives_back_a_lock_released_no_held_lock() -> None:
    """Waiting on an Event already set takes the Event's lock and gives it back within one
    step (threading has no points of its own between the two). That release is not one of
    a lock held when the step began: another thread's patient acquire could have run first
    there, so the pair stays a race."""
    import functools

    from harness.runtime import Executor, World
    from tests.targets import lock_programs

    schedule = DfsSearch(None, "dpor").next_schedule()
    assert schedule is not None
    with Executor() as ex, World():
        shared = lock_programs.Shared(2)
        bodies = [
            functools.partial(lock_programs.run, shared, t, ops)
            for t, ops in enumerate([("set_flag",), ("wait_flag",)])
        ]
        ex.run(bodies, schedule, modules=[lock_programs], capture_values=False)
    waiter = [k for k, (_e, _c, chosen) in enumerate(schedule.nodes) if chosen == 1]
    both = [k for k in waiter if k in schedule.acquires and len(schedule.fps[k]) == 2]
    assert both, "the wait's acquire and release in one step"
    assert all(k not in schedule.releases for k in both)


def test_critical_sections_on_one_lock_are_explored_once_per_order() -> None:
    """Two threads, two critical sections each, on one lock and nothing else shared: the
    unbounded search runs one schedule per order of the four sections (6), not one per
    place the waiting thread could have tried the lock."""
    program = [("incr_x_in_a", "write_x_in_a"), ("incr_x_in_a", "write_x_in_a")]
    ends, schedules = program_search(program, None, "dpor")
    assert len(ends) == 1  # the last section always writes 2
    assert schedules == 7, schedules
