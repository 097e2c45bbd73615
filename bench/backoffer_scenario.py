"""The Backoffer scenario every peer runs, in one place, so that all tools run the same code.

Imported by `bench_peers.py` and by the script it hands to frontrun's launcher, which runs in
frontrun's own virtualenv: so nothing here may import the harness or any third-party package.
"""

from __future__ import annotations

from collections.abc import Callable

import common  # noqa: F401 (puts the repository root on sys.path)

from harness_gallery.backoffer import CONFIGS, Context, UnsafeBackoffer, shows_lost_update

CFG = CONFIGS["regionMiss"]

__all__ = ["CFG", "calls_of", "make_backoffer", "no_sleep", "shows_lost_update"]


def no_sleep(seconds: float) -> None:
    """A sleep that sleeps nothing: every tool's clock then costs the same (nothing)."""


def make_backoffer(
    cls: type[UnsafeBackoffer], sleep: Callable[[float], None] = no_sleep, *, oracle: bool = False
) -> UnsafeBackoffer:
    """A fresh shared Backoffer; without its statement counters unless `oracle` is set.

    The counters (`ExecDetails`) are the harness model's oracle for invariant I9, guarded by a
    second lock that is taken inside the `LockedBackoffer`'s own. `shows_lost_update` does not
    read them, so for the peers they are dead weight -- except to frontrun's DPOR, where that
    nested, never-contended lock multiplies the executions needed to exhaust the locked
    Backoffer 2x3 about thirty-fold (see bench/README.md). Leaving them out is what makes the
    comparison fair; `oracle=True` keeps them to show that effect.
    """
    ctx = Context()
    if not oracle:
        ctx.exec_details = None
    return cls(ctx, sleep=sleep)


def calls_of(calls: int) -> Callable[[UnsafeBackoffer], None]:
    """A worker body: `calls` backoffs on the shared Backoffer, as in TiDB issue 25778."""

    def work(bo: UnsafeBackoffer) -> None:
        for _ in range(calls):
            bo.backoff(CFG, CFG.err)

    return work
