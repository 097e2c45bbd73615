"""frontrun's side of bench_peers.py, run under frontrun's launcher in frontrun's own venv.

    frontrun <venv>/bin/python bench/peer_frontrun.py OPTIONS_JSON

Imports nothing of the harness (it is not installed there): only `backoffer_scenario`, the
scenario every tool runs. Prints one ``PEER-JSON`` line (see `common.emit_peer_json`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import frontrun  # noqa: E402
from backoffer_scenario import calls_of, make_backoffer, shows_lost_update  # noqa: E402
from common import emit_peer_json  # noqa: E402

from harness_gallery.backoffer import LockedBackoffer, UnsafeBackoffer  # noqa: E402


def explore(
    cls: type[UnsafeBackoffer],
    threads: int,
    calls: int,
    strategy: str,
    always_ok: bool = False,
    oracle: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    def invariant(bo: UnsafeBackoffer) -> bool:
        return always_ok or not shows_lost_update(bo, threads * calls)

    t0 = time.perf_counter()
    r = frontrun.explore(
        setup=lambda: make_backoffer(cls, oracle=oracle),
        workers=calls_of(calls),
        count=threads,
        invariant=invariant,
        strategy=strategy,
        reproduce_on_failure=0,
        **kw,
    )
    took = time.perf_counter() - t0
    return {
        "threads": threads,
        "calls": calls,
        "strategy": strategy,
        "variant": cls.__name__,
        "oracle": oracle,
        "seconds": took,
        "executions": r.num_explored,
        "property_holds": r.property_holds,
        "found": r.property_holds is False,
        "first_failing_execution": r.failures[0][0] if r.failures else None,
        "inconclusive_reason": getattr(r, "inconclusive_reason", None),
    }


def main() -> None:
    opts = json.loads(sys.argv[1])
    out: dict[str, Any] = {
        "version": frontrun.__version__,
        "python": sys.version.split()[0],
        "cells": [],
    }
    cells = out["cells"]
    explore(UnsafeBackoffer, 2, 1, "dpor")  # untimed warm-up, as the harness's runs get
    for threads, calls in opts["scenarios"]:
        for rep in range(opts["dpor_reps"]):
            c = explore(UnsafeBackoffer, threads, calls, "dpor", total_timeout=opts["cap"])
            c.update(kind="first", rep=rep)
            cells.append(c)
        for seed in range(opts["random_seeds"]):
            c = explore(
                UnsafeBackoffer, threads, calls, "random", seed=seed, max_attempts=opts["attempts"]
            )
            c.update(kind="first", rep=seed)
            cells.append(c)
        c = explore(
            UnsafeBackoffer,
            threads,
            calls,
            "random",
            always_ok=True,
            seed=12345,
            max_attempts=opts["rate_attempts"],
        )
        c.update(kind="rate")
        cells.append(c)
        for oracle in (False, True):
            c = explore(
                LockedBackoffer,
                threads,
                calls,
                "dpor",
                oracle=oracle,
                stop_on_first=False,
                total_timeout=opts["exhaust_cap"],
            )
            c.update(kind="exhaust", cap=opts["exhaust_cap"])
            cells.append(c)
            print(json.dumps(c), file=sys.stderr, flush=True)
    emit_peer_json(out)


if __name__ == "__main__":
    main()
