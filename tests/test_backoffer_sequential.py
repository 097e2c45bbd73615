"""Sequential semantics of the v5.1 Backoffer model and of the Go-map tripwire.

No threads here: these tests pin down what the models do when used correctly (one thread), so
that any invariant violation the harness later reports under concurrency is the race, not a
modelling mistake. Sleeps are recorded by an injected fake; nothing really sleeps.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

import harness_gallery.gomap as gomap_module
from harness_gallery.backoffer import (
    BO_MAX_DATA_NOT_READY,
    BO_PD_RPC,
    BO_REGION_MISS,
    BO_STALE_CMD,
    BO_TIKV_RPC,
    BO_TIKV_SERVER_BUSY,
    BO_TXN_LOCK,
    BO_TXN_LOCK_FAST,
    COMMIT_MAX_BACKOFF,
    CONFIGS,
    ERR_QUERY_INTERRUPTED,
    ERR_REGION_UNAVAILABLE,
    ERR_TIKV_SERVER_TIMEOUT,
    ERR_TIKV_STALE_COMMAND,
    GC_RESOLVE_LOCK_MAX_BACKOFF,
    PD_RPC_MAX_BACKOFF,
    PREWRITE_MAX_BACKOFF,
    BackoffConfig,
    Context,
    ErrorRecord,
    Jitter,
    LockedBackoffer,
    TiKVError,
    TripwireBackoffer,
    UnsafeBackoffer,
    Vars,
    backoff_fn_state,
    expo,
    new_backoff_fn,
    promised_invariants,
)
from harness_gallery.gomap import (
    CONCURRENT_MAP_ITERATION_AND_WRITE,
    CONCURRENT_MAP_READ_AND_WRITE,
    CONCURRENT_MAP_WRITES,
    ConcurrentMapWrites,
    GoMap,
)

VARIANTS = [UnsafeBackoffer, TripwireBackoffer, LockedBackoffer]
ERR = TiKVError("some region error")


class FakeSleep:
    """Records every requested sleep (seconds, like time.sleep); optionally runs a side effect."""

    def __init__(self, side_effect: Any = None) -> None:
        self.seconds: list[float] = []
        self.side_effect = side_effect

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if self.side_effect is not None:
            self.side_effect()

    @property
    def ms(self) -> list[int]:
        return [round(s * 1000) for s in self.seconds]


@pytest.fixture(params=VARIANTS, ids=lambda cls: cls.__name__)
def variant(request: pytest.FixtureRequest) -> type[UnsafeBackoffer]:
    cls: type[UnsafeBackoffer] = request.param
    return cls


def make(
    cls: type[UnsafeBackoffer], max_sleep: int = 0, **kwargs: Any
) -> tuple[UnsafeBackoffer, FakeSleep]:
    fake = FakeSleep()
    return cls(None, max_sleep, sleep=fake, rng=random.Random(7), **kwargs), fake


def snapshot(bo: UnsafeBackoffer) -> dict[str, Any]:
    """Everything a child must not change in its parent (values, not identities)."""
    return {
        "total_sleep": bo.total_sleep,
        "errors": list(bo.errors),
        "configs": list(bo.configs),
        "sleep_ms": bo.sleep_ms_by_config(),
        "times": bo.times_by_config(),
        "fns": bo.fns_by_config(),
        "fn_map": bo.fn,
        "sleep_map": bo.backoff_sleep_ms,
        "times_map": bo.backoff_times,
        "states": {k: backoff_fn_state(f) for k, f in bo.fns_by_config().items()},
    }


# --- configs and schedules ---------------------------------------------------------------------


def test_configs_table_is_v51() -> None:
    expected = {
        "tikvRPC": (100, 2000, Jitter.EQUAL_JITTER),
        "tiflashRPC": (100, 2000, Jitter.EQUAL_JITTER),
        "txnLock": (200, 3000, Jitter.EQUAL_JITTER),
        "pdRPC": (500, 3000, Jitter.EQUAL_JITTER),
        "regionMiss": (2, 500, Jitter.NO_JITTER),
        "regionScheduling": (2, 500, Jitter.NO_JITTER),
        "tikvServerBusy": (2000, 10000, Jitter.EQUAL_JITTER),
        "tiflashServerBusy": (2000, 10000, Jitter.EQUAL_JITTER),
        "txnNotFound": (2, 500, Jitter.NO_JITTER),
        "staleCommand": (2, 1000, Jitter.NO_JITTER),
        "maxTsNotSynced": (2, 500, Jitter.NO_JITTER),
        "dataNotReady": (100, 2000, Jitter.NO_JITTER),
        "regionNotInitialized": (2, 1000, Jitter.NO_JITTER),
        "txnLockFast": (100, 3000, Jitter.EQUAL_JITTER),
    }
    assert {n: (c.base, c.cap, c.jitter) for n, c in CONFIGS.items()} == expected
    assert all(name == cfg.name == str(cfg) for name, cfg in CONFIGS.items())
    assert CONFIGS["regionMiss"] is BO_REGION_MISS
    assert BO_REGION_MISS.err is ERR_REGION_UNAVAILABLE
    assert (PREWRITE_MAX_BACKOFF, COMMIT_MAX_BACKOFF) == (20000, 41000)
    assert (PD_RPC_MAX_BACKOFF, GC_RESOLVE_LOCK_MAX_BACKOFF) == (20000, 100000)


def test_expo() -> None:
    assert [expo(2, 500, n) for n in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 500, 500]
    assert expo(100, 2000, 4) == 1600
    assert expo(100, 2000, 5) == 2000
    assert expo(3, 10**9, 10_000) == 10**9


def test_region_miss_no_jitter_schedule(variant: type[UnsafeBackoffer]) -> None:
    bo, fake = make(variant)
    results = [bo.backoff(BO_REGION_MISS, ERR) for _ in range(11)]
    assert results == [None] * 11
    assert fake.ms == [2, 4, 8, 16, 32, 64, 128, 256, 500, 500, 500]
    assert bo.total_sleep == sum(fake.ms) == 2010
    assert bo.sleep_ms_by_config() == {"regionMiss": 2010}
    assert bo.times_by_config() == {"regionMiss": 11}


def _run_fn(jitter: Jitter, base: int, cap: int, seed: int, n: int) -> list[tuple[int, int]]:
    """(sleep, last_sleep before the call) for n calls of a fresh function."""
    fake = FakeSleep()
    fn = new_backoff_fn(base, cap, jitter, random.Random(seed), sleep=fake)
    ctx = Context()
    out = []
    for _ in range(n):
        before = backoff_fn_state(fn).last_sleep
        real = fn(ctx, -1)
        assert real == fake.ms[-1]
        out.append((real, before))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_full_jitter_bounds(seed: int) -> None:
    sleeps = [s for s, _ in _run_fn(Jitter.FULL_JITTER, 10, 300, seed, 40)]
    for attempt, s in enumerate(sleeps):
        assert 0 <= s < expo(10, 300, attempt)
    assert len(set(sleeps)) > 5  # the rng is really used


@pytest.mark.parametrize("seed", range(5))
def test_equal_jitter_bounds(seed: int) -> None:
    sleeps = [s for s, _ in _run_fn(Jitter.EQUAL_JITTER, 100, 2000, seed, 40)]
    for attempt, s in enumerate(sleeps):
        e = expo(100, 2000, attempt)
        assert e // 2 <= s < e // 2 + e // 2
    assert len(set(sleeps)) > 5


@pytest.mark.parametrize("seed", range(5))
def test_decorr_jitter_bounds(seed: int) -> None:
    runs = _run_fn(Jitter.DECORR_JITTER, 10, 400, seed, 40)
    for s, last in runs:
        assert 10 <= s <= 400
        assert s < 10 + (3 * last - 10) or s == 400
    assert len({s for s, _ in runs}) > 5


def test_jitter_is_deterministic_per_seed() -> None:
    assert _run_fn(Jitter.EQUAL_JITTER, 100, 2000, 3, 20) == _run_fn(
        Jitter.EQUAL_JITTER, 100, 2000, 3, 20
    )
    assert _run_fn(Jitter.EQUAL_JITTER, 100, 2000, 3, 20) != _run_fn(
        Jitter.EQUAL_JITTER, 100, 2000, 4, 20
    )


def test_base_clamped_to_two_and_intn_panics_like_go() -> None:
    fake = FakeSleep()
    fn = new_backoff_fn(0, 100, Jitter.NO_JITTER, random.Random(0), sleep=fake)
    ctx = Context()
    assert [fn(ctx, -1) for _ in range(3)] == [2, 4, 8]
    # DecorrJitter with cap < base: 3*last - base goes <= 0 and Go's rand.Intn panics.
    bad = new_backoff_fn(10, 3, Jitter.DECORR_JITTER, random.Random(0), sleep=fake)
    assert bad(ctx, -1) == 3
    with pytest.raises(ValueError, match="invalid argument to Intn"):
        bad(ctx, -1)


def test_config_sleeps_use_config_jitter(variant: type[UnsafeBackoffer]) -> None:
    bo, fake = make(variant)
    for _ in range(6):
        assert bo.backoff(BO_TIKV_RPC, ERR) is None
    for attempt, s in enumerate(fake.ms):
        e = expo(100, 2000, attempt)
        assert e // 2 <= s < e
    bo2, fake2 = make(variant)
    bo2.backoff(BO_TIKV_SERVER_BUSY, ERR)
    bo2.backoff(BO_PD_RPC, ERR)
    bo2.backoff(BO_TXN_LOCK, ERR)
    assert 1000 <= fake2.ms[0] < 2000
    assert 250 <= fake2.ms[1] < 500
    assert 100 <= fake2.ms[2] < 200


def test_txn_lock_fast_base_comes_from_vars(variant: type[UnsafeBackoffer]) -> None:
    bo, fake = make(variant, vars=Vars(backoff_lock_fast=10))
    bo.backoff(BO_TXN_LOCK_FAST, ERR)
    assert 5 <= fake.ms[0] < 10
    assert backoff_fn_state(bo.fns_by_config()["txnLockFast"]).base == 10
    bo2, fake2 = make(variant)
    bo2.backoff_with_max_sleep_txn_lock_fast(-1, ERR)
    assert 50 <= fake2.ms[0] < 100


def test_max_sleep_ms_caps_one_sleep(variant: type[UnsafeBackoffer]) -> None:
    bo, fake = make(variant)
    assert bo.backoff_with_cfg_and_max_sleep(BO_MAX_DATA_NOT_READY, 30, ERR) is None
    capped = backoff_fn_state(bo.fns_by_config()["dataNotReady"])
    # Go advances with the uncapped sleep: last_sleep is 100, not the 30 really slept.
    assert (capped.attempts, capped.last_sleep) == (1, 100)
    assert bo.backoff_with_cfg_and_max_sleep(BO_MAX_DATA_NOT_READY, 0, ERR) is None
    assert bo.backoff_with_cfg_and_max_sleep(BO_MAX_DATA_NOT_READY, -1, ERR) is None
    assert bo.backoff(BO_MAX_DATA_NOT_READY, ERR) is None
    assert fake.ms == [30, 0, 400, 800]
    assert bo.total_sleep == 1230
    assert bo.sleep_ms_by_config() == {"dataNotReady": 1230}
    state = backoff_fn_state(bo.fns_by_config()["dataNotReady"])
    assert (state.attempts, state.last_sleep) == (4, 800)


# --- budget, noop, context, killed ---------------------------------------------------------------


def test_budget_exceeded_returns_first_configs_error(variant: type[UnsafeBackoffer]) -> None:
    bo, fake = make(variant, max_sleep=5)
    assert bo.backoff(BO_REGION_MISS, ERR) is None  # 2
    assert bo.backoff(BO_STALE_CMD, ERR) is None  # 2 -> total 4 < 5
    assert bo.backoff(BO_REGION_MISS, ERR) is None  # 4 -> total 8
    before = (bo.total_sleep, bo.sleep_ms_by_config(), bo.times_by_config())
    other = TiKVError("stale")
    result = bo.backoff(BO_STALE_CMD, other)
    assert result is ERR_REGION_UNAVAILABLE  # configs[0], not staleCommand's error
    assert result is not ERR_TIKV_STALE_COMMAND
    assert fake.ms == [2, 2, 4]
    assert (bo.total_sleep, bo.sleep_ms_by_config(), bo.times_by_config()) == before
    # Still recorded, even though over budget.
    assert [c.name for c in bo.configs] == ["regionMiss", "staleCommand"] * 2
    assert len(bo.errors) == 4
    assert bo.errors[-1].err is other
    assert bo.ctx.exec_details is not None
    assert bo.ctx.exec_details.backoff_count == 3


def test_budget_unlimited_when_max_sleep_not_positive(variant: type[UnsafeBackoffer]) -> None:
    bo, fake = make(variant, max_sleep=0)
    for _ in range(20):
        assert bo.backoff(BO_REGION_MISS, ERR) is None
    assert len(fake.ms) == 20


def test_new_with_vars_applies_weight() -> None:
    bo = UnsafeBackoffer.new_with_vars(None, PREWRITE_MAX_BACKOFF, None)
    assert bo.max_sleep == 40000
    assert UnsafeBackoffer(None, PREWRITE_MAX_BACKOFF).max_sleep == 20000
    assert LockedBackoffer.new_with_vars(None, 10, Vars(backoff_weight=3)).max_sleep == 30


def test_noop_never_sleeps(variant: type[UnsafeBackoffer]) -> None:
    fake = FakeSleep()
    bo = variant.new_noop(sleep=fake)
    assert bo.backoff(BO_TIKV_RPC, ERR) is ERR_TIKV_SERVER_TIMEOUT
    assert bo.backoff(BO_REGION_MISS, ERR) is ERR_TIKV_SERVER_TIMEOUT
    assert fake.seconds == []
    assert bo.total_sleep == 0
    assert bo.fn is None and bo.backoff_sleep_ms is None and bo.backoff_times is None
    assert len(bo.errors) == 2 and len(bo.configs) == 2
    assert bo.vars is None


def test_done_context_changes_nothing(variant: type[UnsafeBackoffer]) -> None:
    bo, fake = make(variant)
    assert bo.backoff(BO_REGION_MISS, ERR) is None
    before = snapshot(bo)
    bo.ctx.cancel()
    other = TiKVError("late")
    assert bo.backoff(BO_REGION_MISS, other) is other
    assert bo.backoff_with_cfg_and_max_sleep(BO_TIKV_RPC, 10, other) is other
    assert snapshot(bo) == before
    assert fake.ms == [2]
    assert bo.ctx.exec_details is not None
    assert bo.ctx.exec_details.backoff_count == 1


def test_cancel_during_sleep_returns_zero_and_does_not_advance() -> None:
    ctx = Context()
    fake = FakeSleep(side_effect=ctx.cancel)
    fn = new_backoff_fn(2, 500, Jitter.NO_JITTER, random.Random(0), sleep=fake)
    assert fn(ctx, -1) == 0
    assert fake.ms == [2]
    state = backoff_fn_state(fn)
    assert (state.attempts, state.last_sleep) == (0, 2)
    assert fn(ctx, -1) == 0  # already done: no sleep at all
    assert fake.ms == [2]


def test_killed_returns_query_interrupted_after_accounting(
    variant: type[UnsafeBackoffer],
) -> None:
    kv = Vars()
    bo, fake = make(variant, vars=kv)
    assert bo.backoff(BO_REGION_MISS, ERR) is None
    kv.killed = True
    assert bo.backoff(BO_REGION_MISS, ERR) is ERR_QUERY_INTERRUPTED
    assert str(ERR_QUERY_INTERRUPTED) == "query interrupted"
    assert fake.ms == [2, 4]
    assert bo.total_sleep == 6
    assert bo.times_by_config() == {"regionMiss": 2}
    assert bo.ctx.exec_details is not None
    assert bo.ctx.exec_details.backoff_count == 2
    assert bo.ctx.exec_details.backoff_duration_ms == 6


# --- accounting invariants ------------------------------------------------------------------------


def test_accounting_invariants_hold_sequentially(variant: type[UnsafeBackoffer]) -> None:
    bo, fake = make(variant, max_sleep=3000)
    plan = [BO_REGION_MISS, BO_TIKV_RPC, BO_REGION_MISS, BO_STALE_CMD, BO_TIKV_RPC] * 6
    first_fns: dict[str, Any] = {}
    slept_by_name: dict[str, int] = {}
    exceeded = 0
    for cfg in plan:
        sleeps_before = len(fake.seconds)
        result = bo.backoff(cfg, ERR)
        if result is None:
            assert len(fake.seconds) == sleeps_before + 1
            slept_by_name[cfg.name] = slept_by_name.get(cfg.name, 0) + 1
        else:
            assert result is BO_REGION_MISS.err
            assert len(fake.seconds) == sleeps_before
            exceeded += 1
        for name, fn in bo.fns_by_config().items():
            assert first_fns.setdefault(name, fn) is fn  # identity never changes (I5)
    slept = len(fake.seconds)
    assert exceeded > 0 and slept > 0
    assert len(bo.errors) == len(bo.configs) == exceeded + slept
    assert bo.total_sleep == sum(bo.sleep_ms_by_config().values()) == sum(fake.ms)
    assert sum(bo.times_by_config().values()) == slept
    assert bo.times_by_config() == slept_by_name
    assert set(bo.sleep_ms_by_config()) == set(bo.times_by_config())
    assert set(bo.fns_by_config()) == set(slept_by_name)
    for name, fn in bo.fns_by_config().items():
        assert backoff_fn_state(fn).attempts == slept_by_name[name]
    details = bo.ctx.exec_details
    assert details is not None
    assert (details.backoff_count, details.backoff_duration_ms) == (slept, sum(fake.ms))
    # Every slept call saw total < budget, so the overshoot is below one max sleep.
    assert bo.total_sleep < 3000 + 2000


def test_errors_record_the_error_and_ignore_time_in_equality() -> None:
    bo, _ = make(UnsafeBackoffer)
    bo.backoff(BO_REGION_MISS, ERR)
    assert bo.errors == [ErrorRecord(ERR, 123.0)]
    assert str(bo.errors[0]).startswith("some region error at ")


# --- clone, fork, update_using_forked -----------------------------------------------------------


def _busy_parent(cls: type[UnsafeBackoffer]) -> tuple[UnsafeBackoffer, FakeSleep]:
    bo, fake = make(cls, max_sleep=10_000)
    for _ in range(3):
        bo.backoff(BO_REGION_MISS, ERR)
    bo.backoff(BO_TIKV_RPC, ERR)
    return bo, fake


def test_fork_copies_totals_not_maps(variant: type[UnsafeBackoffer]) -> None:
    parent, fake = _busy_parent(variant)
    child, cancel = parent.fork()
    assert type(child) is variant
    assert child.parent is parent
    assert child.max_sleep == parent.max_sleep
    assert child.total_sleep == parent.total_sleep > 0
    assert child.errors == parent.errors and child.errors is not parent.errors
    assert child.configs == []
    assert child.fn is None and child.backoff_sleep_ms is None and child.backoff_times is None
    assert child.vars is parent.vars
    assert child.ctx is not parent.ctx
    assert child.ctx.exec_details is parent.ctx.exec_details
    assert child.map_factory is parent.map_factory
    # Parent unchanged by the child's calls; the child's schedule restarts at base.
    before = snapshot(parent)
    n = len(fake.ms)
    assert child.backoff(BO_REGION_MISS, ERR) is None
    assert child.backoff(BO_STALE_CMD, ERR) is None
    assert fake.ms[n:] == [2, 2]
    assert snapshot(parent) == before
    assert child.total_sleep == parent.total_sleep + 4
    assert len(child.errors) == len(parent.errors) + 2
    assert child.fn is not parent.fn and child.backoff_sleep_ms is not parent.backoff_sleep_ms
    # Cancel: child only; parent's cancel reaches its forks.
    cancel()
    assert child.ctx.done and not parent.ctx.done
    other, _ = parent.fork()
    parent.ctx.cancel()
    assert other.ctx.done


def test_fork_of_done_context_is_born_done() -> None:
    parent, _ = make(UnsafeBackoffer)
    parent.ctx.cancel()
    child, _ = parent.fork()
    assert child.ctx.done


def test_clone_copies_totals_keeps_ctx_and_parent(variant: type[UnsafeBackoffer]) -> None:
    parent, _ = _busy_parent(variant)
    clone = parent.clone()
    assert type(clone) is variant
    assert clone.parent is None  # parent's parent
    assert clone.ctx is parent.ctx
    assert (clone.max_sleep, clone.total_sleep) == (parent.max_sleep, parent.total_sleep)
    assert clone.errors == parent.errors and clone.errors is not parent.errors
    assert clone.configs == [] and clone.fn is None
    assert clone.backoff_sleep_ms is None and clone.backoff_times is None
    before = snapshot(parent)
    clone.backoff(BO_TIKV_RPC, ERR)
    assert snapshot(parent) == before
    child, _ = parent.fork()
    assert child.clone().parent is parent


def test_clone_does_not_copy_noop() -> None:
    bo = UnsafeBackoffer.new_noop(sleep=FakeSleep())
    assert bo.clone().noop is False


def test_update_using_forked_replaces_not_adds(variant: type[UnsafeBackoffer]) -> None:
    parent, _ = _busy_parent(variant)
    t0 = parent.total_sleep
    a, _ = parent.fork()
    b, _ = parent.fork()
    for _ in range(3):
        a.backoff(BO_REGION_MISS, ERR)
    b.backoff(BO_STALE_CMD, ERR)
    parent.update_using_forked(a)
    assert parent.total_sleep == a.total_sleep == t0 + 2 + 4 + 8
    parent.update_using_forked(b)  # the last one to finish wins
    assert parent.total_sleep == b.total_sleep == t0 + 2
    assert parent.total_sleep != t0 + (a.total_sleep - t0) + (b.total_sleep - t0)
    assert parent.sleep_ms_by_config() == {"staleCommand": 2}
    assert parent.times_by_config() == {"staleCommand": 1}
    assert parent.configs == b.configs and parent.errors == b.errors
    assert parent.backoff_sleep_ms is not b.backoff_sleep_ms
    assert parent.backoff_times is not b.backoff_times
    assert type(parent.backoff_times) is type(b.backoff_times)


# --- variant specifics and harness contracts ---------------------------------------------------


def test_variants_use_their_maps() -> None:
    cases: list[tuple[type[UnsafeBackoffer], type]] = [
        (UnsafeBackoffer, dict),
        (TripwireBackoffer, GoMap),
    ]
    for cls, map_type in cases:
        bo, _ = make(cls)
        bo.backoff(BO_REGION_MISS, ERR)
        assert type(bo.fn) is map_type
        assert type(bo.backoff_sleep_ms) is map_type
        assert type(bo.backoff_times) is map_type
    bo, _ = make(UnsafeBackoffer, map_factory=GoMap)
    bo.backoff(BO_REGION_MISS, ERR)
    assert isinstance(bo.fn, GoMap)


def test_variants_behave_identically_sequentially() -> None:
    plan = [BO_REGION_MISS, BO_TIKV_RPC, BO_STALE_CMD, BO_TIKV_RPC, BO_REGION_MISS] * 5
    outcomes = []
    for cls in VARIANTS:
        bo, fake = make(cls, max_sleep=2500)
        results = [bo.backoff(cfg, ERR) for cfg in plan]
        outcomes.append(
            (results, fake.ms, bo.total_sleep, bo.sleep_ms_by_config(), bo.times_by_config())
        )
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert any(r is not None for r in outcomes[0][0])


def test_default_sleep_is_time_sleep_looked_up_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bo = UnsafeBackoffer()
    fake = FakeSleep()
    monkeypatch.setattr(time, "sleep", fake)  # patched after construction on purpose
    assert bo.backoff(BO_REGION_MISS, ERR) is None
    assert bo.backoff(BO_REGION_MISS, ERR) is None
    assert fake.ms == [2, 4]


def test_locks_are_looked_up_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []

    class RecordingLock:
        def __init__(self) -> None:
            self.held = False

        def acquire(self) -> bool:
            assert not self.held
            self.held = True
            events.append("acquire")
            return True

        def release(self) -> None:
            assert self.held
            self.held = False
            events.append("release")

    monkeypatch.setattr(threading, "Lock", RecordingLock)
    bo = LockedBackoffer(sleep=FakeSleep())
    assert isinstance(bo._lock, RecordingLock)
    assert bo.ctx.exec_details is not None
    assert isinstance(bo.ctx.exec_details._lock, RecordingLock)
    bo.backoff(BO_REGION_MISS, ERR)
    # Outer Backoffer lock around the statement-counter lock.
    assert events == ["acquire", "acquire", "release", "release"]
    assert not bo._lock.held
    events.clear()
    bo.ctx.cancel()
    bo.backoff(BO_REGION_MISS, ERR)  # early return still releases
    assert events == ["acquire", "release"]
    child, _ = bo.fork()
    assert child._lock is not bo._lock


def test_locked_lock_released_after_each_call() -> None:
    bo = LockedBackoffer(None, 3, sleep=FakeSleep())
    bo.backoff(BO_REGION_MISS, ERR)
    bo.backoff(BO_REGION_MISS, ERR)
    assert bo.backoff(BO_REGION_MISS, ERR) is ERR_REGION_UNAVAILABLE
    lock = bo._lock
    assert lock.acquire(blocking=False)
    lock.release()


def test_promised_invariants() -> None:
    assert promised_invariants("locked", shared=True) == promised_invariants("unsafe", shared=False)
    assert len(promised_invariants("locked", shared=True)) == 10
    assert "I2" not in promised_invariants("unsafe", shared=True)
    assert "I9" in promised_invariants("tripwire", shared=True)
    with pytest.raises(KeyError):
        promised_invariants("nope", shared=True)


def test_custom_config() -> None:
    cfg = BackoffConfig("custom", 3, 20, Jitter.NO_JITTER, TiKVError("custom error"))
    bo, fake = make(UnsafeBackoffer, max_sleep=10)
    results = [bo.backoff(cfg, ERR) for _ in range(4)]
    assert fake.ms == [3, 6, 12]
    assert results == [None, None, None, cfg.err]


# --- GoMap -------------------------------------------------------------------------------------


def test_gomap_behaves_like_a_dict_sequentially() -> None:
    m: GoMap[str, int] = GoMap({"a": 1})
    ref = {"a": 1}
    m["b"] = 2
    ref["b"] = 2
    assert m == ref and m == GoMap(ref) and m != {"a": 1}
    assert m["a"] == 1 and m.get("zz") is None and m.get("zz", 5) == 5
    assert "b" in m and "zz" not in m
    assert len(m) == 2 and list(m) == ["a", "b"] and sorted(m.items()) == [("a", 1), ("b", 2)]
    assert m.setdefault("c", 3) == 3 and m.setdefault("c", 4) == 3
    assert m.pop("c") == 3 and m.pop("c", 9) == 9
    with pytest.raises(KeyError):
        m.pop("c")
    with pytest.raises(KeyError):
        del m["zz"]
    with pytest.raises(KeyError):
        _ = m["zz"]
    m.update({"d": 4}, e=5)
    assert m.popitem() == ("e", 5)
    del m["d"]
    assert m.to_dict() == {"a": 1, "b": 2}
    copy = m.copy()
    copy["x"] = 0
    assert "x" not in m
    assert repr(m) == "GoMap({'a': 1, 'b': 2})"
    m.clear()
    assert m == {} and len(m) == 0
    assert m._writing is False  # failed writes above did not leave the flag set


def test_gomap_write_during_write_raises_concurrent_map_writes() -> None:
    m: GoMap[str, int] = GoMap({"k": 1})
    m._writing = True  # another goroutine is inside a write
    for write in (
        lambda: m.__setitem__("k", 2),
        lambda: m.__delitem__("k"),
        lambda: m.setdefault("n", 0),
        lambda: m.pop("k"),
        m.popitem,
        m.clear,
    ):
        with pytest.raises(ConcurrentMapWrites) as info:
            write()
        assert info.value.args == (CONCURRENT_MAP_WRITES,)
        assert str(info.value) == "concurrent map writes"
    assert m.to_dict() == {"k": 1}
    assert m._writing is True  # the failed writer does not touch the other writer's flag


def test_gomap_read_during_write_raises_read_and_write() -> None:
    m: GoMap[str, int] = GoMap({"k": 1})
    m._writing = True
    for read in (lambda: m["k"], lambda: m.get("k"), lambda: "k" in m, m.copy):
        with pytest.raises(ConcurrentMapWrites) as info:
            read()
        assert str(info.value) == "concurrent map read and map write"
        assert info.value.args == (CONCURRENT_MAP_READ_AND_WRITE,)
    with pytest.raises(ConcurrentMapWrites) as info:
        list(m)
    assert info.value.args == (CONCURRENT_MAP_ITERATION_AND_WRITE,)
    assert len(m) == 1  # Go's len() does not check
    assert repr(m) == "GoMap({'k': 1})" and m == {"k": 1}  # observers never trip


def test_gomap_overlapping_writes_detected_inside_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Simulate a second goroutine scheduled at the call inside the write window."""
    m: GoMap[str, int] = GoMap()
    real_apply = gomap_module._apply
    seen: list[str] = []

    def intruding_write(op: Any, *args: Any) -> Any:
        monkeypatch.setattr(gomap_module, "_apply", real_apply)
        try:
            m["other"] = 1
        except ConcurrentMapWrites as exc:
            seen.append(str(exc))
        return real_apply(op, *args)

    monkeypatch.setattr(gomap_module, "_apply", intruding_write)
    m["mine"] = 1
    assert seen == ["concurrent map writes"]

    def intruding_read(op: Any, *args: Any) -> Any:
        monkeypatch.setattr(gomap_module, "_apply", real_apply)
        try:
            m.get("mine")
        except ConcurrentMapWrites as exc:
            seen.append(str(exc))
        return real_apply(op, *args)

    monkeypatch.setattr(gomap_module, "_apply", intruding_read)
    m["mine"] = 2
    assert seen[1:] == ["concurrent map read and map write"]


def test_gomap_recheck_catches_a_writer_that_finished_inside_our_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other writer checked the flag before we set it, and cleared it while we wrote."""
    m: GoMap[str, int] = GoMap()
    real_apply = gomap_module._apply

    def other_writer_finishes(op: Any, *args: Any) -> Any:
        result = real_apply(op, *args)
        m._writing = False
        return result

    monkeypatch.setattr(gomap_module, "_apply", other_writer_finishes)
    with pytest.raises(ConcurrentMapWrites) as info:
        m["k"] = 1
    assert info.value.args == (CONCURRENT_MAP_WRITES,)


def test_tripwire_backoffer_trips_on_reentrant_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second 'worker' entering backoff() while the first is inside the fn-map write."""
    bo, _ = make(TripwireBackoffer)
    real_apply = gomap_module._apply
    seen: list[str] = []

    def second_worker(op: Any, *args: Any) -> Any:
        monkeypatch.setattr(gomap_module, "_apply", real_apply)
        try:
            bo.backoff(BO_REGION_MISS, ERR)
        except ConcurrentMapWrites as exc:
            seen.append(str(exc))
        return real_apply(op, *args)

    monkeypatch.setattr(gomap_module, "_apply", second_worker)
    assert bo.backoff(BO_REGION_MISS, ERR) is None
    assert seen == ["concurrent map read and map write"]
    assert bo.times_by_config() == {"regionMiss": 1}  # the intruder never got to sleep
