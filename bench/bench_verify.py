#!/usr/bin/env python
"""Systematic exploration against frontrun's DPOR, and `harness verify` over the gallery.

Run from the repository root (no installation needed):

    python bench/bench_verify.py [--frontrun PATH] [--no-frontrun] [--no-gallery]
                                 [--other-reductions] [--json PATH]

1. The locked Backoffer of `backoffer_scenario` (one lock, no statement counters), 2 workers x
   3 ``backoff(regionMiss)`` calls, exhausted by `harness.schedule.dfs` at bound 2 and without
   a bound, with DPOR (and, with ``--other-reductions``, sleep sets only and no reduction at
   bound 2: 66,596 schedules and 278 s for sleep sets alone, more for none), schedules and time.
   frontrun 0.7.0's DPOR exhausts the same scenario (``stop_on_first=False``) in the same
   run, under its own launcher in its own virtualenv (as `bench_peers.py` runs it).
2. `verify_spec` of every gallery variant at bound 2, 2 workers x 2 calls: verdict,
   scenarios, schedules, pruned branches, seconds (fixed variants must say verified; unsafe
   ones give a counterexample, with its preemptions).
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

from backoffer_scenario import calls_of, make_backoffer, shows_lost_update
from common import REPO_ROOT, loadavg, now

from harness.catalog import all_models
from harness.runtime import Executor, World
from harness.schedule.dfs import DfsSearch
from harness.verify import verify_spec
from harness_gallery.backoffer import LockedBackoffer

DEFAULT_FRONTRUN = "/tmp/frontrun-venv/bin/frontrun"
THREADS, CALLS = 2, 3

FRONTRUN_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    sys.path[:0] = [sys.argv[1], sys.argv[1] + "/bench"]
    import frontrun
    from backoffer_scenario import calls_of, make_backoffer, shows_lost_update
    from harness_gallery.backoffer import LockedBackoffer
    def explore():
        t0 = time.perf_counter()
        r = frontrun.explore(
            setup=lambda: make_backoffer(LockedBackoffer),
            workers=calls_of(3), count=2,
            invariant=lambda bo: not shows_lost_update(bo, 6),
            strategy="dpor", stop_on_first=False, reproduce_on_failure=0, total_timeout=120,
        )
        return {"seconds": time.perf_counter() - t0, "executions": r.num_explored,
                "property_holds": r.property_holds}
    explore()  # warm-up
    cells = [explore() for _ in range(3)]
    print("FRONTRUN-JSON " + json.dumps({"version": frontrun.__version__, "cells": cells}))
    """
).lstrip()


def exhaust_locked(bound: int | None, reduction: str) -> dict[str, Any]:
    """Every schedule of the locked Backoffer 2x3 (fresh object each), as `verify` runs them."""
    work = calls_of(CALLS)
    search = DfsSearch(bound, reduction)
    lost = 0
    with Executor() as ex, World():
        started = perf_counter()
        while (schedule := search.next_schedule()) is not None:
            bo = make_backoffer(LockedBackoffer)
            body: Callable[[], Any] = functools.partial(work, bo)
            result = ex.run(
                [body] * THREADS,
                schedule,
                modules=["harness_gallery.backoffer"],
                capture_values=False,
            )
            lost += (not result.ok) or shows_lost_update(bo, THREADS * CALLS)
            search.finish(schedule)
        seconds = perf_counter() - started
    return {
        "bound": bound,
        "reduction": reduction,
        "schedules": search.stats.schedules,
        "pruned": search.stats.pruned + search.stats.redundant,
        "seconds": seconds,
        "failures": lost,
    }


def measure_frontrun(launcher: str | None) -> dict[str, Any]:
    if launcher is None or not Path(launcher).exists():
        return {"error": f"no frontrun launcher at {launcher} (see bench/README.md)"}
    python = Path(launcher).parent / "python"
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        script = Path(tmp) / "frontrun_exhaust.py"
        script.write_text(FRONTRUN_SCRIPT)
        proc = subprocess.run(
            [launcher, str(python), str(script), str(REPO_ROOT)],
            capture_output=True,
            text=True,
            cwd=tmp,
            timeout=900,
            check=False,
        )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FRONTRUN-JSON ")), None)
    if proc.returncode != 0 or line is None:
        return {"error": f"frontrun failed (exit {proc.returncode})", "stderr": proc.stderr[-2000:]}
    out: dict[str, Any] = json.loads(line[len("FRONTRUN-JSON ") :])
    seconds = sorted(c["seconds"] for c in out["cells"])
    out["median_seconds"] = seconds[len(seconds) // 2]
    return out


def measure_gallery() -> list[dict[str, Any]]:
    rows = []
    for name, spec in sorted(all_models().items()):
        for variant in spec.cls.variants:
            started = perf_counter()
            r = verify_spec(spec, variant, bound=2, workers=2, calls=2, max_seconds=120)
            rows.append(
                {
                    "model": f"{name}.{variant}",
                    "expected_failure": variant in spec.cls.expect_failure,
                    "verdict": r.verdict,
                    "scenarios": r.scenarios,
                    "schedules": r.schedules,
                    "pruned": r.pruned,
                    "preemptions": r.preemptions,
                    "kind": r.failure.kind if r.failure else None,
                    "seconds": perf_counter() - started,
                }
            )
            print(f"  {rows[-1]}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--frontrun", default=DEFAULT_FRONTRUN)
    parser.add_argument("--no-frontrun", action="store_true")
    parser.add_argument("--no-gallery", action="store_true")
    parser.add_argument("--other-reductions", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "date": now(),
        "loadavg_before": loadavg(),
        "command": "python bench/bench_verify.py " + " ".join(argv or sys.argv[1:]),
    }
    print("1. locked Backoffer 2x3, exhausted", flush=True)
    exhaust_locked(2, "dpor")  # warm-up: pool started, point tables built
    report["harness"] = []
    cells_wanted = [(2, "dpor"), (None, "dpor")]
    if args.other_reductions:
        cells_wanted += [(2, "sleep"), (2, "none")]
    for bound, reduction in cells_wanted:
        cells = [exhaust_locked(bound, reduction) for _ in range(3)]
        cell = dict(cells[0], seconds=sorted(c["seconds"] for c in cells)[1])
        report["harness"].append(cell)
        print(f"  {cell}", flush=True)
    report["frontrun"] = (
        {"error": "skipped"} if args.no_frontrun else measure_frontrun(args.frontrun)
    )
    print(f"  frontrun: {report['frontrun']}", flush=True)
    if not args.no_gallery:
        print("2. harness verify, bound 2, 2 workers x 2 calls", flush=True)
        report["gallery"] = measure_gallery()
    report["loadavg_after"] = loadavg()
    fr = report["frontrun"]
    if "median_seconds" in fr:
        for cell in report["harness"][:2]:
            ratio = fr["median_seconds"] / cell["seconds"]
            print(
                f"  bound {cell['bound']}: {cell['schedules']} schedules in {cell['seconds']:.3f} s"
                f" vs frontrun {fr['cells'][0]['executions']} executions in "
                f"{fr['median_seconds']:.3f} s: {ratio:.1f}x faster"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
