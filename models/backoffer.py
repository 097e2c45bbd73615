"""TiDB v5.1's ``retry.Backoffer``, reproduced in Python as a system under test.

Why: TiDB issue 25778 (v5.1.0 crashed with ``fatal error: concurrent map writes`` in
``BackoffWithCfgAndMaxSleep``) came from one forked Backoffer being handed to several goroutines.
This module re-creates that object faithfully -- same fields, same order of operations, same sleep
schedules -- so that a thread-interleaving harness can rediscover the bug from first principles,
and so that the fixes can be checked against the same invariants.

Faithfulness notes (``store/tikv/retry/backoff.go`` and ``config.go`` at v5.1):

* `UnsafeBackoffer.backoff_with_cfg_and_max_sleep` performs steps 1-8 of the spec in Go's order,
  and its racy statements are written so that a scheduler can split them where Go can: the
  check-then-act on the ``fn`` map, and ``m[k] = m.get(k, 0) + x`` (a read, a call return, then a
  write) for the two statistics maps.
* Go returns errors; so does this model (``None`` on success, an exception object otherwise). It
  never raises them, because raising would unwind through the harness and because callers in Go
  compare and wrap the returned sentinel (``configs[0].err``) -- identity matters.
* All randomness comes from an injected `random.Random`; all sleeping goes through
  ``time.sleep`` looked up at call time (the harness swaps in a virtual clock) or an injected
  ``sleep`` callable (unit tests). Nothing here reads the wall clock into state that is compared.
* The statement counters (``ExecDetails``: Go's ``BackoffCount`` / ``BackoffDuration``, updated
  with ``atomic.AddInt64``) are guarded by a real lock, so they stay right under any race and
  serve as the ground-truth oracle (invariant I9).
* `parent` follows the Go code (Fork sets it, Clone copies it); the v5.1-era ``backoff.go`` we could
  read has no such field -- it is a later client-go addition, kept because it costs nothing and
  lets observers check I10.
* Not modelled: metrics, tracing spans, logging, the ``MismatchClusterID`` fatal check, and the
  ``vars.Hook`` callback; none of them touches the state under test.

Variants: `UnsafeBackoffer` (v5.1 as shipped, plain dicts), `TripwireBackoffer` (the same code
over `gomap.GoMap`, so a racy map access raises Go's error), `LockedBackoffer` (one lock
around each call -- a fix TiDB did not choose). The fix TiDB did choose, one ``fork()`` per
worker, is a usage pattern of the unsafe class, not a class of its own.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any, ClassVar, Final, Self

from harness_gallery.gomap import GoMap

__all__ = [
    "ALL_INVARIANTS",
    "BO_MAX_DATA_NOT_READY",
    "BO_MAX_REGION_NOT_INITIALIZED",
    "BO_MAX_TS_NOT_SYNCED",
    "BO_PD_RPC",
    "BO_REGION_MISS",
    "BO_REGION_SCHEDULING",
    "BO_STALE_CMD",
    "BO_TIFLASH_RPC",
    "BO_TIFLASH_SERVER_BUSY",
    "BO_TIKV_RPC",
    "BO_TIKV_SERVER_BUSY",
    "BO_TXN_LOCK",
    "BO_TXN_LOCK_FAST",
    "BO_TXN_NOT_FOUND",
    "COMMIT_MAX_BACKOFF",
    "CONFIGS",
    "DEF_BACKOFF_LOCK_FAST",
    "DEF_BACKOFF_WEIGHT",
    "ERR_PD_SERVER_TIMEOUT",
    "ERR_QUERY_INTERRUPTED",
    "ERR_REGION_DATA_NOT_READY",
    "ERR_REGION_NOT_INITIALIZED",
    "ERR_REGION_UNAVAILABLE",
    "ERR_RESOLVE_LOCK_TIMEOUT",
    "ERR_TIFLASH_SERVER_BUSY",
    "ERR_TIFLASH_SERVER_TIMEOUT",
    "ERR_TIKV_MAX_TIMESTAMP_NOT_SYNCED",
    "ERR_TIKV_SERVER_BUSY",
    "ERR_TIKV_SERVER_TIMEOUT",
    "ERR_TIKV_STALE_COMMAND",
    "GC_RESOLVE_LOCK_MAX_BACKOFF",
    "MAX_INT32",
    "PD_RPC_MAX_BACKOFF",
    "PREWRITE_MAX_BACKOFF",
    "PROMISES",
    "TXN_LOCK_FAST_NAME",
    "VARIANTS",
    "BackoffConfig",
    "BackoffFn",
    "BackoffFnState",
    "Context",
    "ErrorRecord",
    "ExecDetails",
    "Jitter",
    "LockedBackoffer",
    "MapFactory",
    "SleepFn",
    "TiKVError",
    "TripwireBackoffer",
    "UnsafeBackoffer",
    "Vars",
    "backoff_fn_state",
    "expo",
    "new_backoff_fn",
    "promised_invariants",
    "shows_lost_update",
]

# --------------------------------------------------------------------------------------------
# Errors (Go sentinels: one shared instance each, returned by identity)
# --------------------------------------------------------------------------------------------


class TiKVError(Exception):
    """A sentinel error of the TiKV client (``store/tikv/error``).

    Go compares these by identity (``errors.Cause(err) == ErrRegionUnavailable``), so the model
    hands out the same instance every time instead of building new ones.
    """


ERR_TIKV_SERVER_TIMEOUT: Final = TiKVError("tikv server timeout")
ERR_TIFLASH_SERVER_TIMEOUT: Final = TiKVError("tiflash server timeout")
ERR_RESOLVE_LOCK_TIMEOUT: Final = TiKVError("resolve lock timeout")
ERR_PD_SERVER_TIMEOUT: Final = TiKVError("pd server timeout")
ERR_REGION_UNAVAILABLE: Final = TiKVError("region unavailable")
ERR_TIKV_SERVER_BUSY: Final = TiKVError("tikv server busy")
ERR_TIFLASH_SERVER_BUSY: Final = TiKVError("tiflash server busy")
ERR_TIKV_STALE_COMMAND: Final = TiKVError("tikv stale command")
ERR_TIKV_MAX_TIMESTAMP_NOT_SYNCED: Final = TiKVError("tikv max timestamp not synced")
ERR_REGION_DATA_NOT_READY: Final = TiKVError("region data not ready")
ERR_REGION_NOT_INITIALIZED: Final = TiKVError("region not initialized")
ERR_QUERY_INTERRUPTED: Final = TiKVError("query interrupted")

# --------------------------------------------------------------------------------------------
# Budgets and defaults (milliseconds)
# --------------------------------------------------------------------------------------------

#: Budgets as written in TiDB; `UnsafeBackoffer.new_with_vars` multiplies them by the weight.
PREWRITE_MAX_BACKOFF: Final = 20000
COMMIT_MAX_BACKOFF: Final = 41000
PD_RPC_MAX_BACKOFF: Final = 20000
GC_RESOLVE_LOCK_MAX_BACKOFF: Final = 100000

#: ``kv.DefBackOffWeight`` and ``kv.DefBackoffLockFast``.
DEF_BACKOFF_WEIGHT: Final = 2
DEF_BACKOFF_LOCK_FAST: Final = 100
MAX_INT32: Final = 2**31 - 1

TXN_LOCK_FAST_NAME: Final = "txnLockFast"

SleepFn = Callable[[float], object]
"""Something with ``time.sleep``'s signature: takes seconds."""

MapFactory = Callable[[], MutableMapping[Any, Any]]
"""Builds every map a Backoffer creates: ``dict`` normally, `GoMap` for the tripwire."""


# --------------------------------------------------------------------------------------------
# Context, variables, statement details
# --------------------------------------------------------------------------------------------


class ExecDetails:
    """Per-statement counters (Go's ``util.ExecDetails``), shared by every fork of a Backoffer.

    Go bumps them with ``atomic.AddInt64``; here a lock makes each update atomic at every
    scheduling granularity, so they remain correct under the very races the model exhibits and
    can be used as the oracle (I9). The lock is looked up as ``threading.Lock`` when the object
    is built, so the harness's scheduler-aware lock is used if it has been patched in.
    ``backoff_duration_ms`` is in milliseconds (Go stores nanoseconds).
    """

    def __init__(self) -> None:
        self.backoff_count = 0
        self.backoff_duration_ms = 0
        # Any: whatever `threading.Lock` is at construction time (the harness patches it).
        self._lock: Any = threading.Lock()

    def record_backoff(self, real_sleep_ms: int) -> None:
        """Count one slept call (step 7). Explicit acquire/release keeps the calls visible."""
        lock = self._lock
        lock.acquire()
        try:
            self.backoff_duration_ms += real_sleep_ms
            self.backoff_count += 1
        finally:
            lock.release()

    def __repr__(self) -> str:
        return f"ExecDetails(count={self.backoff_count}, duration_ms={self.backoff_duration_ms})"


class Context:
    """The part of Go's ``context.Context`` the Backoffer uses: cancellation and ExecDetails.

    `done` is a plain attribute so that checking it is a simple load, like Go's non-blocking
    ``select`` on ``ctx.Done()``. Cancelling propagates to every child, like
    ``context.WithCancel``. Children inherit the parent's `exec_details` (Go: ``ctx.Value``).

    No lock is needed for the parent/child link: `with_cancel` registers the child *before*
    looking at ``done`` and `cancel` sets ``done`` *before* walking the children, so a child is
    either walked by the cancel or sees ``done`` itself.
    """

    def __init__(
        self, parent: Context | None = None, exec_details: ExecDetails | None = None
    ) -> None:
        self.parent = parent
        self.done = False
        self._children: list[Context] = []
        if exec_details is None:
            exec_details = parent.exec_details if parent is not None else ExecDetails()
        self.exec_details: ExecDetails | None = exec_details

    def with_cancel(self) -> tuple[Context, Callable[[], None]]:
        """Go's ``context.WithCancel(ctx)``: a child context and the function that cancels it."""
        child = Context(parent=self)
        self._children.append(child)
        if self.done:
            child.cancel()
        return child, child.cancel

    def cancel(self) -> None:
        """Mark this context and all its descendants done. Idempotent."""
        self.done = True
        for child in list(self._children):
            child.cancel()

    def __repr__(self) -> str:
        return f"Context(done={self.done})"


@dataclass
class Vars:
    """Go's ``kv.Variables``: shared (not copied) by clones and forks.

    `killed` is the session's kill flag (Go: ``*uint32`` read atomically); setting it makes the
    next backoff return ``query interrupted`` after its accounting.
    """

    killed: bool = False
    backoff_lock_fast: int = DEF_BACKOFF_LOCK_FAST
    backoff_weight: int = DEF_BACKOFF_WEIGHT


@dataclass(frozen=True)
class ErrorRecord:
    """One entry of ``Backoffer.errors`` (Go: ``errors.Errorf("%s at %s", err, time.Now())``).

    `at` is read from ``time.monotonic`` (virtual under the harness) and excluded from equality,
    so that two runs of the same schedule compare equal.
    """

    err: BaseException
    at: float = field(default=0.0, compare=False)

    def __str__(self) -> str:
        return f"{self.err} at {self.at:.6f}"


# --------------------------------------------------------------------------------------------
# Backoff functions
# --------------------------------------------------------------------------------------------


class Jitter(IntEnum):
    """Go's jitter constants (``NoJitter = 1 + iota`` ...), same values."""

    NO_JITTER = 1
    FULL_JITTER = 2
    EQUAL_JITTER = 3
    DECORR_JITTER = 4


BackoffFn = Callable[[Context, int], int]
"""Go's ``backoffFn``: ``f(ctx, max_sleep_ms) -> real sleep in ms``; sleeps as a side effect."""


def expo(base: int, cap: int, n: int) -> int:
    """``min(cap, base * 2**n)``, Go's ``expo`` (done in floats there; exact ints here).

    Short-circuits once ``2**n`` exceeds `cap`, so a long-lived function does not build huge
    integers.
    """
    if base >= 1 and n >= cap.bit_length():
        return cap
    return min(cap, base * (1 << n))


def _intn(rng: random.Random, n: int) -> int:
    """Go's ``rand.Intn(n)``: uniform in ``[0, n)``; panics (here: ValueError) if ``n <= 0``."""
    if n <= 0:
        raise ValueError("invalid argument to Intn")
    return rng.randrange(n)


def new_backoff_fn(
    base: int,
    cap: int,
    jitter: Jitter,
    rng: random.Random,
    *,
    sleep: SleepFn | None = None,
) -> BackoffFn:
    """Go's ``newBackoffFn``: a closure owning its ``attempts`` and ``last_sleep``.

    A closure (not an object) on purpose: that is how Go keeps this state, and it is why two
    goroutines sharing one function race on ``attempts`` too (invariant I6).

    Per call: compute the sleep from the jitter mode; cap it at `max_sleep_ms` when that is
    ``>= 0``; return 0 without sleeping if the context is already done; otherwise sleep (through
    `sleep` if given, else ``time.sleep`` looked up now, so a patched clock is honoured). If the
    context was cancelled during the sleep, Go's ``select`` takes the ``ctx.Done()`` branch and
    returns 0 without advancing; this model does the same after the (uninterruptible) sleep.
    Otherwise ``attempts += 1``, ``last_sleep = sleep`` (the uncapped value, as in Go) and the
    real (capped) sleep is returned.
    """
    # Go: "To prevent panic in 'rand.Intn'".
    base = max(base, 2)
    attempts = 0
    last_sleep = base

    def backoff_fn(ctx: Context, max_sleep_ms: int) -> int:
        nonlocal attempts, last_sleep
        sleep_ms = 0  # An unknown jitter falls through Go's switch and sleeps 0.
        if jitter == Jitter.NO_JITTER:
            sleep_ms = expo(base, cap, attempts)
        elif jitter == Jitter.FULL_JITTER:
            sleep_ms = _intn(rng, expo(base, cap, attempts))
        elif jitter == Jitter.EQUAL_JITTER:
            v = expo(base, cap, attempts)
            sleep_ms = v // 2 + _intn(rng, v // 2)
        elif jitter == Jitter.DECORR_JITTER:
            sleep_ms = min(cap, base + _intn(rng, last_sleep * 3 - base))
        real_sleep = sleep_ms
        if max_sleep_ms >= 0 and real_sleep > max_sleep_ms:
            real_sleep = max_sleep_ms
        # Go: select { case <-time.After(real): ...; case <-ctx.Done(): return 0 }
        if not ctx.done:
            if sleep is None:
                time.sleep(real_sleep / 1000)
            else:
                sleep(real_sleep / 1000)
            if not ctx.done:  # Cancelled while sleeping: Go's ctx.Done() branch wins.
                attempts += 1
                last_sleep = sleep_ms
                return real_sleep
        return 0

    return backoff_fn


@dataclass(frozen=True)
class BackoffFnState:
    """What a backoff closure currently holds; read by `backoff_fn_state` for invariant I6."""

    base: int
    cap: int
    jitter: Jitter
    attempts: int
    last_sleep: int


def backoff_fn_state(fn: BackoffFn) -> BackoffFnState:
    """Read the closure cells of a function made by `new_backoff_fn`, without calling it.

    Lets an observer check ``attempts == sleeps`` without the closure growing a side API.
    """
    code = getattr(fn, "__code__", None)
    closure = getattr(fn, "__closure__", None)
    if code is None or closure is None:
        raise TypeError(f"{fn!r} is not a closure made by new_backoff_fn")
    cells = {name: cell.cell_contents for name, cell in zip(code.co_freevars, closure, strict=True)}
    try:
        return BackoffFnState(
            base=cells["base"],
            cap=cells["cap"],
            jitter=cells["jitter"],
            attempts=cells["attempts"],
            last_sleep=cells["last_sleep"],
        )
    except KeyError as exc:
        raise TypeError(f"{fn!r} is not a closure made by new_backoff_fn") from exc


# --------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackoffConfig:
    """Go's ``retry.Config``: a name, a sleep schedule and the error returned when over budget.

    `err` is a shared sentinel instance (see `TiKVError`); an over-budget call returns the `err`
    of the *first* config the Backoffer ever recorded.
    """

    name: str
    base: int
    cap: int
    jitter: Jitter
    err: Exception

    def create_backoff_fn(
        self, vars: Vars | None, rng: random.Random, sleep: SleepFn | None = None
    ) -> BackoffFn:
        """Go's ``createBackoffFn``: txnLockFast takes its base from ``vars.backoff_lock_fast``.

        (Go would dereference nil vars here; the model falls back to `base` instead.)
        """
        base = self.base
        if self.name.lower() == TXN_LOCK_FAST_NAME.lower() and vars is not None:
            base = vars.backoff_lock_fast
        return new_backoff_fn(base, self.cap, self.jitter, rng, sleep=sleep)

    def __str__(self) -> str:
        return self.name


_J = Jitter
BO_TIKV_RPC: Final = BackoffConfig("tikvRPC", 100, 2000, _J.EQUAL_JITTER, ERR_TIKV_SERVER_TIMEOUT)
BO_TIFLASH_RPC: Final = BackoffConfig(
    "tiflashRPC", 100, 2000, _J.EQUAL_JITTER, ERR_TIFLASH_SERVER_TIMEOUT
)
BO_TXN_LOCK: Final = BackoffConfig("txnLock", 200, 3000, _J.EQUAL_JITTER, ERR_RESOLVE_LOCK_TIMEOUT)
BO_PD_RPC: Final = BackoffConfig("pdRPC", 500, 3000, _J.EQUAL_JITTER, ERR_PD_SERVER_TIMEOUT)
BO_REGION_MISS: Final = BackoffConfig("regionMiss", 2, 500, _J.NO_JITTER, ERR_REGION_UNAVAILABLE)
BO_REGION_SCHEDULING: Final = BackoffConfig(
    "regionScheduling", 2, 500, _J.NO_JITTER, ERR_REGION_UNAVAILABLE
)
BO_TIKV_SERVER_BUSY: Final = BackoffConfig(
    "tikvServerBusy", 2000, 10000, _J.EQUAL_JITTER, ERR_TIKV_SERVER_BUSY
)
BO_TIFLASH_SERVER_BUSY: Final = BackoffConfig(
    "tiflashServerBusy", 2000, 10000, _J.EQUAL_JITTER, ERR_TIFLASH_SERVER_BUSY
)
BO_TXN_NOT_FOUND: Final = BackoffConfig(
    "txnNotFound", 2, 500, _J.NO_JITTER, ERR_RESOLVE_LOCK_TIMEOUT
)
BO_STALE_CMD: Final = BackoffConfig("staleCommand", 2, 1000, _J.NO_JITTER, ERR_TIKV_STALE_COMMAND)
BO_MAX_TS_NOT_SYNCED: Final = BackoffConfig(
    "maxTsNotSynced", 2, 500, _J.NO_JITTER, ERR_TIKV_MAX_TIMESTAMP_NOT_SYNCED
)
BO_MAX_DATA_NOT_READY: Final = BackoffConfig(
    "dataNotReady", 100, 2000, _J.NO_JITTER, ERR_REGION_DATA_NOT_READY
)
BO_MAX_REGION_NOT_INITIALIZED: Final = BackoffConfig(
    "regionNotInitialized", 2, 1000, _J.NO_JITTER, ERR_REGION_NOT_INITIALIZED
)
#: Go declares base 2 and replaces it with ``vars.BackoffLockFast`` (default 100) at creation.
BO_TXN_LOCK_FAST: Final = BackoffConfig(
    TXN_LOCK_FAST_NAME, DEF_BACKOFF_LOCK_FAST, 3000, _J.EQUAL_JITTER, ERR_RESOLVE_LOCK_TIMEOUT
)
del _J

#: The 14 v5.1 configs by Go name (read-only).
CONFIGS: Final[Mapping[str, BackoffConfig]] = MappingProxyType(
    {
        cfg.name: cfg
        for cfg in (
            BO_TIKV_RPC,
            BO_TIFLASH_RPC,
            BO_TXN_LOCK,
            BO_PD_RPC,
            BO_REGION_MISS,
            BO_REGION_SCHEDULING,
            BO_TIKV_SERVER_BUSY,
            BO_TIFLASH_SERVER_BUSY,
            BO_TXN_NOT_FOUND,
            BO_STALE_CMD,
            BO_MAX_TS_NOT_SYNCED,
            BO_MAX_DATA_NOT_READY,
            BO_MAX_REGION_NOT_INITIALIZED,
            BO_TXN_LOCK_FAST,
        )
    }
)


# --------------------------------------------------------------------------------------------
# The Backoffer
# --------------------------------------------------------------------------------------------


class UnsafeBackoffer:
    """TiDB v5.1's Backoffer, as shipped: correct for one thread, racy when shared.

    Fields mirror Go's: `ctx`, `fn` (lazily created map name -> backoff function), `max_sleep`
    (ms budget, ``<= 0`` = unlimited), `total_sleep`, `errors`, `configs`, `backoff_sleep_ms` and
    `backoff_times` (lazily created maps), `vars`, `noop`, `parent`. `map_factory` builds every
    map (``dict``; `GoMap` in the tripwire); `rng` is the only source of randomness (Go uses the
    global ``math/rand``; clones and forks share it the same way); `sleep` replaces
    ``time.sleep`` for unit tests.

    The constructor is Go's ``NewBackoffer`` (budget used as given, fresh default `Vars`); see
    `new_with_vars` and `new_noop` for the other two Go constructors.
    """

    #: What `map_factory=None` means for this class.
    DEFAULT_MAP_FACTORY: ClassVar[MapFactory] = dict

    def __init__(
        self,
        ctx: Context | None = None,
        max_sleep: int = 0,
        vars: Vars | None = None,
        *,
        noop: bool = False,
        rng: random.Random | None = None,
        sleep: SleepFn | None = None,
        map_factory: MapFactory | None = None,
    ) -> None:
        self.ctx: Context = ctx if ctx is not None else Context()
        self.fn: MutableMapping[str, BackoffFn] | None = None
        self.max_sleep = max_sleep
        self.total_sleep = 0
        self.errors: list[ErrorRecord] = []
        self.configs: list[BackoffConfig] = []
        self.vars: Vars | None = vars if vars is not None else Vars()
        self.noop = noop
        self.backoff_sleep_ms: MutableMapping[str, int] | None = None
        self.backoff_times: MutableMapping[str, int] | None = None
        self.parent: UnsafeBackoffer | None = None
        # A fixed seed by default: an unseeded generator would make runs unreplayable.
        self.rng = rng if rng is not None else random.Random(0)
        self.sleep = sleep
        self.map_factory: MapFactory = (
            map_factory if map_factory is not None else type(self).DEFAULT_MAP_FACTORY
        )
        self._init_sync()

    def _init_sync(self) -> None:
        """Hook for variants that need synchronisation objects; the v5.1 original has none."""

    # -- Go's other constructors ---------------------------------------------------------------

    @classmethod
    def new_with_vars(
        cls,
        ctx: Context | None,
        max_sleep: int,
        vars: Vars | None,
        *,
        rng: random.Random | None = None,
        sleep: SleepFn | None = None,
        map_factory: MapFactory | None = None,
    ) -> Self:
        """Go's ``NewBackofferWithVars``: the budget is multiplied by ``vars.backoff_weight``.

        So ``new_with_vars(ctx, PREWRITE_MAX_BACKOFF, None)`` has a 40000 ms budget, as in TiDB.
        """
        bo = cls(ctx, max_sleep, vars, rng=rng, sleep=sleep, map_factory=map_factory)
        assert bo.vars is not None
        weight = bo.vars.backoff_weight
        if MAX_INT32 // weight >= bo.max_sleep:
            bo.max_sleep *= weight
        return bo

    @classmethod
    def new_noop(
        cls,
        ctx: Context | None = None,
        *,
        rng: random.Random | None = None,
        sleep: SleepFn | None = None,
        map_factory: MapFactory | None = None,
    ) -> Self:
        """Go's ``NewNoopBackoff``: never sleeps, records the error, returns the first config's."""
        bo = cls(ctx, noop=True, rng=rng, sleep=sleep, map_factory=map_factory)
        bo.vars = None  # Go: vars left nil.
        return bo

    # -- the operation under test --------------------------------------------------------------

    def backoff(self, cfg: BackoffConfig, err: Exception) -> Exception | None:
        """Go's ``Backoff``: `backoff_with_cfg_and_max_sleep` without a per-sleep cap."""
        return self.backoff_with_cfg_and_max_sleep(cfg, -1, err)

    def backoff_with_max_sleep_txn_lock_fast(
        self, max_sleep_ms: int, err: Exception
    ) -> Exception | None:
        """Go's ``BackoffWithMaxSleepTxnLockFast`` (used by the lock resolver)."""
        return self.backoff_with_cfg_and_max_sleep(BO_TXN_LOCK_FAST, max_sleep_ms, err)

    def backoff_with_cfg_and_max_sleep(
        self, cfg: BackoffConfig, max_sleep_ms: int, err: Exception
    ) -> Exception | None:
        """Sleep per `cfg`'s schedule and record it; return ``None`` or the error to give up with.

        Steps, in the order of Go's backoff.go: (1) done context -> return `err`, change nothing;
        (2) record `err` and `cfg`; (3) noop or over budget -> return ``configs[0].err``;
        (4) get-or-create the backoff function (the check-then-act whose write crashed v5.1);
        (5) sleep; (6) account in ``total_sleep`` and both maps; (7) statement counters;
        (8) killed -> ``query interrupted``. Statements are laid out so that a scheduler can split
        them exactly where Go's compiled code can be interleaved; do not "tidy" them.
        """
        # 1. Go: select { case <-b.ctx.Done(): return err; default: }
        if self.ctx.done:
            return err
        # 2. Appended even when the call is about to give up.
        self.errors.append(ErrorRecord(err, time.monotonic()))
        self.configs.append(cfg)
        # 3. The FIRST config ever recorded decides the error ("backoffer.maxSleep exceeded").
        if self.noop or (self.max_sleep > 0 and self.total_sleep >= self.max_sleep):
            return self.configs[0].err
        # 4. Lazy map, then check-then-act: backoff.go:187 is the write `self.fn[...] = f`.
        if self.fn is None:
            self.fn = self.map_factory()
        f = self.fn.get(cfg.name)
        if f is None:
            f = cfg.create_backoff_fn(self.vars, self.rng, self.sleep)
            self.fn[cfg.name] = f
        # 5.
        real_sleep = f(self.ctx, max_sleep_ms)
        # 6. Go's `m[k] += x` is a read, then a write. Written as get() + store so that the
        # switch a GIL build can make (right after get() returns) lands between the two.
        self.total_sleep += real_sleep
        if self.backoff_sleep_ms is None:
            self.backoff_sleep_ms = self.map_factory()
        self.backoff_sleep_ms[cfg.name] = self.backoff_sleep_ms.get(cfg.name, 0) + real_sleep
        if self.backoff_times is None:
            self.backoff_times = self.map_factory()
        self.backoff_times[cfg.name] = self.backoff_times.get(cfg.name, 0) + 1
        # 7. Atomic, shared with every fork through the context: the oracle.
        details = self.ctx.exec_details
        if details is not None:
            details.record_backoff(real_sleep)
        # 8. After the accounting, like Go.
        if self.vars is not None and self.vars.killed:
            return ERR_QUERY_INTERRUPTED
        return None

    # -- clone / fork ----------------------------------------------------------------------------

    def clone(self) -> Self:
        """Go's ``Clone``: same context and parent; keeps budget, total sleep and errors.

        Not copied (v5.1): `configs`, `fn` (so every schedule restarts at its base), both maps,
        and `noop`. `errors` is copied rather than shared: Go shares the slice header, but a
        child's ``append`` can never change the length the parent sees, so from the parent's
        side a copy is the faithful model -- and sharing a Python list would make the parent
        grow with the child's calls, which Go's parent never does (I10).
        """
        return self._derive(self.ctx, self.parent)

    def fork(self) -> tuple[Self, Callable[[], None]]:
        """Go's ``Fork``: a clone over a child cancel context, with ``parent = self``.

        Returns ``(child, cancel)`` like Go. Cancelling the parent's context cancels the child.
        """
        ctx, cancel = self.ctx.with_cancel()
        return self._derive(ctx, self), cancel

    def _derive(self, ctx: Context, parent: UnsafeBackoffer | None) -> Self:
        """The body shared by `clone` and `fork`; same class, own (new) maps and locks."""
        child = type(self)(
            ctx, self.max_sleep, rng=self.rng, sleep=self.sleep, map_factory=self.map_factory
        )
        child.vars = self.vars  # Shared, like Go's pointer (even when None).
        child.total_sleep = self.total_sleep
        child.errors = list(self.errors)
        child.parent = parent
        return child

    def update_using_forked(self, forked: UnsafeBackoffer) -> None:
        """Later client-go (PR 1627) ``UpdateUsingForked``: take over a finished fork's state.

        It *replaces* (``total_sleep``, ``errors``, ``configs`` and both maps), it does not add:
        when several forks call it, the last one to finish wins. Maps are copied into new maps
        of this Backoffer's `map_factory`, so parent and fork never share a map afterwards (I10).
        Not in v5.1; with v5.1 forks (which start with empty maps) the parent's pre-fork map
        entries are replaced too.
        """
        self.total_sleep = forked.total_sleep
        self.errors = list(forked.errors)
        self.configs = list(forked.configs)
        self.backoff_sleep_ms = self._copy_map(forked.backoff_sleep_ms)
        self.backoff_times = self._copy_map(forked.backoff_times)

    def _copy_map(self, source: MutableMapping[str, int] | None) -> MutableMapping[str, int] | None:
        if source is None:
            return None
        target: MutableMapping[str, int] = self.map_factory()
        target.update(source)
        return target

    # -- read-only views for observers ---------------------------------------------------------

    def sleep_ms_by_config(self) -> dict[str, int]:
        """`backoff_sleep_ms` as a plain dict (empty if never created); never raises."""
        return _plain(self.backoff_sleep_ms)

    def times_by_config(self) -> dict[str, int]:
        """`backoff_times` as a plain dict (empty if never created); never raises."""
        return _plain(self.backoff_times)

    def fns_by_config(self) -> dict[str, BackoffFn]:
        """`fn` as a plain dict (empty if never created); never raises."""
        return _plain(self.fn)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(total_sleep={self.total_sleep}, max_sleep={self.max_sleep}, "
            f"errors={len(self.errors)}, configs={[c.name for c in self.configs]}, "
            f"backoff_sleep_ms={self.sleep_ms_by_config()}, "
            f"backoff_times={self.times_by_config()})"
        )


def shows_lost_update(bo: UnsafeBackoffer, calls: int) -> bool:
    """True if `bo`, after `calls` slept calls, shows a lost update in its books.

    For stress tests and peers that have no model beside them: the per-config count, the
    total against the per-config sleeps, and each backoff fn's attempts against its count.
    """
    times = bo.times_by_config()
    if sum(times.values()) != calls:
        return True
    if bo.total_sleep != sum(bo.sleep_ms_by_config().values()):
        return True
    return any(
        backoff_fn_state(fn).attempts != times.get(name, 0)
        for name, fn in bo.fns_by_config().items()
    )


def _plain(mapping: MutableMapping[str, Any] | None) -> dict[str, Any]:
    """Snapshot a model map without tripping a GoMap's check (observer access)."""
    if mapping is None:
        return {}
    if isinstance(mapping, GoMap):
        return mapping.to_dict()
    return dict(mapping)


class TripwireBackoffer(UnsafeBackoffer):
    """The v5.1 Backoffer over `GoMap`s: a racy map access raises Go's error.

    Same code, different maps -- so the first overlapping write to ``fn`` (line 187 in Go) or to
    a statistics map fails with ``ConcurrentMapWrites("concurrent map writes")`` instead of
    silently losing an update. Racy non-map fields (``total_sleep``, the closures' ``attempts``)
    are not covered; the invariants catch those.
    """

    DEFAULT_MAP_FACTORY: ClassVar[MapFactory] = GoMap


class LockedBackoffer(UnsafeBackoffer):
    """A Backoffer made safe to share by one lock held for the whole of each call.

    Not what TiDB did (it forked one Backoffer per goroutine), but the obvious alternative, and a
    useful "should never fail" variant for the harness. The lock is looked up as
    ``threading.Lock`` at construction, so the harness's scheduler-aware lock is used.

    The sleep stays *inside* the lock. With it outside, two calls of the same config could both
    read the closure's ``attempts`` before either advanced it and sleep the same step twice
    (breaks I6), and several calls could pass the budget check on a stale ``total_sleep`` (I7
    only in its weak form). Serialising the sleeps costs wall time in production but nothing
    under the harness's virtual clock, and every invariant I1-I10 then holds with N workers.
    Clones and forks get their own lock (they share no mutable state except `vars` and the
    already-atomic `ExecDetails`).
    """

    _lock: Any

    def _init_sync(self) -> None:
        self._lock = threading.Lock()

    def backoff_with_cfg_and_max_sleep(
        self, cfg: BackoffConfig, max_sleep_ms: int, err: Exception
    ) -> Exception | None:
        """The v5.1 body, whole, under the lock (explicit acquire/release: visible calls)."""
        lock = self._lock
        lock.acquire()
        try:
            return super().backoff_with_cfg_and_max_sleep(cfg, max_sleep_ms, err)
        finally:
            lock.release()

    def _derive(self, ctx: Context, parent: UnsafeBackoffer | None) -> Self:
        """Read our state under the lock: cloning while a worker writes is client-go 1803."""
        lock = self._lock
        lock.acquire()
        try:
            return super()._derive(ctx, parent)
        finally:
            lock.release()

    def update_using_forked(self, forked: UnsafeBackoffer) -> None:
        """Replace our state under our lock (the fork is expected to have finished)."""
        lock = self._lock
        lock.acquire()
        try:
            super().update_using_forked(forked)
        finally:
            lock.release()


# --------------------------------------------------------------------------------------------
# Which variant promises what
# --------------------------------------------------------------------------------------------

ALL_INVARIANTS: Final = ("I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "I10")

VARIANTS: Final[Mapping[str, type[UnsafeBackoffer]]] = MappingProxyType(
    {"unsafe": UnsafeBackoffer, "tripwire": TripwireBackoffer, "locked": LockedBackoffer}
)

#: Invariants (I1-I10) each variant promises when ONE instance is shared by N workers.
#: Used by one thread at a time -- sequentially, or one ``fork()`` per worker, TiDB's fix --
#: every variant promises all of them (per Backoffer; "parent total == sum of children" is NOT
#: an invariant of the fork-per-worker fix). When shared, the unsafe variants keep only what
#: does not depend on the racy statements: I8 (configs[0] is fixed by the first append; noop and
#: done contexts touch no shared state), I9 (locked counters) and I10 (forks own their maps).
#: The tripwire additionally turns overlapping map accesses into ConcurrentMapWrites.
PROMISES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "unsafe": frozenset({"I8", "I9", "I10"}),
        "tripwire": frozenset({"I8", "I9", "I10"}),
        "locked": frozenset(ALL_INVARIANTS),
    }
)


def promised_invariants(variant: str, *, shared: bool) -> frozenset[str]:
    """The invariants `variant` promises, shared by several threads or not (see `PROMISES`)."""
    if variant not in PROMISES:
        raise KeyError(f"unknown Backoffer variant {variant!r}; known: {', '.join(PROMISES)}")
    return PROMISES[variant] if shared else frozenset(ALL_INVARIANTS)
