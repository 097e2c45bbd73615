"""interleave-test's side of bench_peers.py, run by the Python of its own virtualenv (3.12+).

    <interleave-venv>/bin/python bench/peer_interleave.py OPTIONS_JSON

interleave-test 0.1.0 (PyPI, Python >= 3.12) runs a model function under its scheduler: the
model builds the shared Backoffer, starts the workers with `interleave_test.spawn`, joins them
and asserts; every bytecode of traced code (the repository's files: not the standard library,
not site-packages) is a possible switch. Measured, after one untimed warm-up per strategy:

* time and schedules to the first failure, random and PCT with seeds 0..N-1 and DFS (its
  bounded exhaustive search, deterministic: a few repetitions), on each scenario;
* executions/s: random schedules with an always-true check;
* DFS exhausting the `LockedBackoffer` (no bug to find), in slices of schedules on one
  `DFSStrategy`, until it reports exhaustion or the time cap is spent.

Imports nothing of the harness. Prints one ``PEER-JSON`` line (see `common.emit_peer_json`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import interleave_test as it
from backoffer_scenario import calls_of, make_backoffer, shows_lost_update
from common import emit_peer_json

from harness_gallery.backoffer import LockedBackoffer, UnsafeBackoffer

#: Schedules per `explore` call while DFS exhausts the locked Backoffer (the cap is checked
#: between slices).
DFS_SLICE = 50


def model_for(
    cls: type[UnsafeBackoffer], threads: int, calls: int, check: bool = True
) -> Callable[[], None]:
    """One interleave-test model: a fresh Backoffer, `threads` spawned workers, the check."""
    work = calls_of(calls)

    def model() -> None:
        bo = make_backoffer(cls)
        tasks = [it.spawn(work, bo) for _ in range(threads)]
        for task in tasks:
            task.join()
        if check:
            assert not shows_lost_update(bo, threads * calls), "lost update"

    return model


def explore(model: Callable[[], None], **kw: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = it.explore(model, raise_on_failure=False, **kw)
    return result, time.perf_counter() - t0


def first_cell(threads: int, calls: int, strategy: str, seed: int, cap: int) -> dict[str, Any]:
    r, took = explore(
        model_for(UnsafeBackoffer, threads, calls), iterations=cap, seed=seed, strategy=strategy
    )
    return {
        "kind": "first",
        "threads": threads,
        "calls": calls,
        "strategy": strategy,
        "rep": seed,
        "seconds": took,
        "executions": r.schedules_run,
        "found": r.failure is not None,
        "failure_kind": r.failure.kind if r.failure is not None else None,
    }


def exhaust_cell(threads: int, calls: int, cap: float) -> dict[str, Any]:
    strategy = it.DFSStrategy()
    model = model_for(LockedBackoffer, threads, calls)
    runs = 0
    failed = False
    t0 = time.perf_counter()
    while not strategy.exhausted and time.perf_counter() - t0 < cap:
        r, _ = explore(model, iterations=DFS_SLICE, seed=0, strategy=strategy)
        runs += r.schedules_run
        if r.failure is not None:
            failed = True
            break
    took = time.perf_counter() - t0
    return {
        "kind": "exhaust",
        "threads": threads,
        "calls": calls,
        "strategy": "dfs",
        "variant": "LockedBackoffer",
        "seconds": took,
        "executions": runs,
        "exhausted": bool(strategy.exhausted),
        "found": failed,
        "cap": cap,
    }


def main() -> None:
    opts = json.loads(sys.argv[1])
    out: dict[str, Any] = {
        "version": it.__version__,
        "python": sys.version.split()[0],
        "cells": [],
    }
    cells = out["cells"]
    for strategy in ("random", "pct", "dfs"):  # untimed warm-ups
        explore(model_for(UnsafeBackoffer, 2, 1), iterations=5, seed=99, strategy=strategy)
    for threads, calls in opts["scenarios"]:
        for strategy in ("random", "pct"):
            for seed in range(opts["seeds"]):
                cells.append(first_cell(threads, calls, strategy, seed, opts["attempts"]))
        for rep in range(opts["dfs_reps"]):
            cells.append(first_cell(threads, calls, "dfs", rep, opts["attempts"]))
        r, took = explore(
            model_for(UnsafeBackoffer, threads, calls, check=False),
            iterations=opts["rate_attempts"],
            seed=12345,
            strategy="random",
        )
        cells.append(
            {
                "kind": "rate",
                "threads": threads,
                "calls": calls,
                "strategy": "random",
                "seconds": took,
                "executions": r.schedules_run,
            }
        )
        cell = exhaust_cell(threads, calls, opts["exhaust_cap"])
        cells.append(cell)
        print(json.dumps(cell), file=sys.stderr, flush=True)
    emit_peer_json(out)


if __name__ == "__main__":
    main()
