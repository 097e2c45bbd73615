#!/usr/bin/env python
"""The harness against its peers on the shared Backoffer's lost update, in one run.

Run from the repository root (no installation needed):

    python bench/bench_peers.py [--seconds S] [--json PATH] [--frontrun PATH] [--no-frontrun]

The system under test is always `models.backoffer.UnsafeBackoffer` shared by several threads,
each calling ``bo.backoff(CONFIGS["regionMiss"], cfg.err)``. A lost update is detected by the
same checks everywhere (`lost_update`): the number of recorded calls is not the number of calls
made, ``total_sleep`` differs from the sum of the per-config sleeps, or a backoff function's
``attempts`` differs from the calls recorded for its config.

1. Naive stress (what a user would write): per run a fresh Backoffer, N threads (2 and 4)
   released together by a `threading.Barrier`, each making C calls; the sleep is either a
   no-op (``sleep=lambda s: None``) or ``time.sleep(0)`` (releases the GIL); at the default
   switch interval and at ``sys.setswitchinterval(1e-6)``. S seconds of wall clock per cell.
2. The harness: ``hunt("backoffer", "unsafe", seed=s, granularity="access", shrink=False)``
   for seeds 0, 1, ... until S seconds are spent: seeds that found the bug, examples and
   seconds to the first failure. Also the raw runtime on the very scenario given to frontrun
   (`Executor.run`, `RandomSchedule`, a new seed per run): runs/s and runs to the first
   lost update.
3. frontrun (PyPI, a separate virtualenv; run under its own ``frontrun`` launcher in a
   subprocess, so this process is not affected): ``frontrun.explore`` with the DPOR and the
   random strategies on 2 threads x 1 and 2 threads x 3 calls: time and executions to the
   first counterexample, executions/s of the random strategy, and the time for DPOR to
   exhaust the `LockedBackoffer` (capped; the cap is reported when hit).
4. A table of ratios (ours / theirs) and, with ``--json``, every number.

The machine may be shared (CI): the load average before and after is printed and stored.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from time import perf_counter  # bound before any World is entered: always the real clock
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from harness.hunt import hunt  # noqa: E402
from harness.runtime import Executor, World  # noqa: E402
from harness.schedule import RandomSchedule  # noqa: E402
from models.backoffer import CONFIGS, UnsafeBackoffer, shows_lost_update  # noqa: E402

CFG = CONFIGS["regionMiss"]
MODEL_MODULE = "models.backoffer"
FRONTRUN_SCENARIOS: tuple[tuple[int, int], ...] = ((2, 1), (2, 3))
DEFAULT_FRONTRUN = "/tmp/frontrun-venv/bin/frontrun"


def no_sleep(seconds: float) -> None:
    """The injected sleep of the no-op variant."""


def yield_sleep(seconds: float) -> None:
    """The injected sleep of the ``time.sleep(0)`` variant: releases the GIL, sleeps nothing."""
    time.sleep(0)


SLEEPS: dict[str, Callable[[float], None]] = {"noop": no_sleep, "sleep0": yield_sleep}


def loadavg() -> list[float]:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else []


# -- 1. naive stress ---------------------------------------------------------------------------


def naive_cell(threads: int, calls: int, sleep: str, switch: float | None, seconds: float) -> dict:
    """Fresh Backoffer + Barrier + `threads` new threads per run, for `seconds` of wall clock."""
    sleep_fn = SLEEPS[sleep]
    old_switch = sys.getswitchinterval()
    if switch is not None:
        sys.setswitchinterval(switch)
    runs = found = 0
    first_at: float | None = None
    try:
        start = perf_counter()
        while perf_counter() - start < seconds:
            bo = UnsafeBackoffer(sleep=sleep_fn)
            barrier = threading.Barrier(threads)

            def work(bo: UnsafeBackoffer = bo, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                for _ in range(calls):
                    bo.backoff(CFG, CFG.err)

            pool = [threading.Thread(target=work) for _ in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            runs += 1
            if shows_lost_update(bo, threads * calls):
                found += 1
                if first_at is None:
                    first_at = perf_counter() - start
        elapsed = perf_counter() - start
    finally:
        sys.setswitchinterval(old_switch)
    return {
        "threads": threads,
        "calls": calls,
        "sleep": sleep,
        "switch_interval": switch if switch is not None else old_switch,
        "runs": runs,
        "found": found,
        "share": found / runs if runs else 0.0,
        "runs_per_s": runs / elapsed,
        "seconds": elapsed,
        "seconds_to_first": first_at,
    }


def measure_naive(seconds: float, calls: int) -> list[dict]:
    cells = []
    for switch in (None, 1e-6):
        for sleep in SLEEPS:
            for threads in (2, 4):
                cell = naive_cell(threads, calls, sleep, switch, seconds)
                cells.append(cell)
                print(
                    f"  naive {threads}x{calls} sleep={sleep:<6} "
                    f"switch={cell['switch_interval']:g}: "
                    f"{cell['found']}/{cell['runs']} runs found it",
                    flush=True,
                )
    return cells


# -- 2. the harness ----------------------------------------------------------------------------


def measure_hunts(seconds: float, max_seeds: int) -> dict:
    """Hunts with seeds 0, 1, ... until `seconds` have passed (at least one hunt)."""
    seeds: list[dict] = []
    start = perf_counter()
    while len(seeds) < max_seeds and (not seeds or perf_counter() - start < seconds):
        seed = len(seeds)
        r = hunt("backoffer", "unsafe", seed=seed, granularity="access", shrink=False)
        seeds.append(
            {
                "seed": seed,
                "found": r.found,
                "examples": r.examples,
                "first_example": r.first_example,
                "seconds_to_first_failure": r.seconds_to_first_failure,
                "seconds": r.seconds,
                "invariant": getattr(r.first_failure, "invariant", None),
            }
        )
    elapsed = perf_counter() - start
    found = [s for s in seeds if s["found"]]
    firsts = [s["seconds_to_first_failure"] for s in found if s["seconds_to_first_failure"]]
    examples = [s["first_example"] for s in found if s["first_example"] is not None]
    return {
        "seeds": len(seeds),
        "found": len(found),
        "share": len(found) / len(seeds),
        "max_examples": 100,
        "seconds": elapsed,
        "seconds_to_first_median": statistics.median(firsts) if firsts else None,
        "seconds_to_first_max": max(firsts) if firsts else None,
        "examples_to_first_median": statistics.median(examples) if examples else None,
        "examples_to_first_max": max(examples) if examples else None,
        "per_seed": seeds,
    }


def measure_runtime(threads: int, calls: int, seconds: float, variant: str = "unsafe") -> dict:
    """`Executor.run` on the frontrun scenario: runs/s, runs and time to the first lost update."""
    cell: dict[str, Any] = {"threads": threads, "calls": calls, "granularity": "access"}
    seed = 0
    runs = found = not_ok = 0
    first_run: int | None = None
    first_s: float | None = None
    with Executor() as ex, World():
        start = perf_counter()
        while perf_counter() - start < seconds or runs < 5:
            seed += 1
            bo = UnsafeBackoffer(sleep=no_sleep)  # inside the World: scheduler-aware locks

            def work(bo: UnsafeBackoffer = bo) -> None:
                for _ in range(calls):
                    bo.backoff(CFG, CFG.err)

            # As hunting runs: no key/value capture (only the final counterexample is replayed
            # with it), which is what frontrun's executions are compared against.
            result = ex.run(
                [work] * threads,
                RandomSchedule(seed),
                granularity="access",
                modules=[MODEL_MODULE],
                capture_values=False,
            )
            runs += 1
            not_ok += not result.ok
            bad = (not result.ok) or shows_lost_update(bo, threads * calls)
            if bad:
                found += 1
                if first_run is None:
                    first_run, first_s = runs, perf_counter() - start
        elapsed = perf_counter() - start
    cell.update(
        runs=runs,
        seconds=elapsed,
        runs_per_s=runs / elapsed,
        found_share=found / runs,
        not_ok=not_ok,
        runs_to_first=first_run,
        seconds_to_first=first_s,
    )
    return cell


# -- 3. frontrun -------------------------------------------------------------------------------

FRONTRUN_SCRIPT = textwrap.dedent(
    '''
    """Written and run by bench/bench_peers.py under the frontrun launcher; prints JSON."""
    import json
    import sys
    import time

    sys.path.insert(0, sys.argv[1])
    opts = json.loads(sys.argv[2])

    import frontrun
    from models.backoffer import CONFIGS, LockedBackoffer, UnsafeBackoffer, shows_lost_update

    CFG = CONFIGS["regionMiss"]


    def no_sleep(seconds):
        pass




    def explore(cls, threads, calls, strategy, always_ok=False, **kw):
        def worker(bo):
            for _ in range(calls):
                bo.backoff(CFG, CFG.err)

        def invariant(bo):
            return always_ok or not shows_lost_update(bo, threads * calls)

        t0 = time.perf_counter()
        r = frontrun.explore(
            setup=lambda: cls(sleep=no_sleep),
            workers=worker,
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
            "seconds": took,
            "executions": r.num_explored,
            "property_holds": r.property_holds,
            "found": r.property_holds is False,
            "first_failing_execution": r.failures[0][0] if r.failures else None,
            "inconclusive_reason": getattr(r, "inconclusive_reason", None),
        }


    out = {"version": frontrun.__version__, "python": sys.version.split()[0], "cells": []}
    cells = out["cells"]
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
            UnsafeBackoffer, threads, calls, "random", always_ok=True, seed=12345,
            max_attempts=opts["rate_attempts"],
        )
        c.update(kind="rate")
        cells.append(c)
        c = explore(
            LockedBackoffer, threads, calls, "dpor", stop_on_first=False,
            total_timeout=opts["exhaust_cap"],
        )
        c.update(kind="exhaust", cap=opts["exhaust_cap"])
        cells.append(c)
        print(json.dumps(c), file=sys.stderr, flush=True)
    print("FRONTRUN-JSON " + json.dumps(out))
    '''
).lstrip()


def frontrun_launcher(option: str | None) -> str | None:
    for candidate in (option, shutil.which("frontrun"), DEFAULT_FRONTRUN):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def measure_frontrun(launcher: str | None, seconds: float) -> dict:
    if launcher is None:
        return {
            "error": "no frontrun launcher found (install: python3 -m venv /tmp/frontrun-venv && "
            "/tmp/frontrun-venv/bin/pip install frontrun==0.7.0, or pass --frontrun PATH)"
        }
    python = Path(launcher).parent / "python"  # the launcher's own virtualenv
    opts = {
        "scenarios": [list(s) for s in FRONTRUN_SCENARIOS],
        "dpor_reps": 3,
        "random_seeds": 5,
        "attempts": 500,
        "rate_attempts": 200,
        "cap": 60.0,
        "exhaust_cap": max(2.0 * seconds, 5.0),
    }
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        script = Path(tmp) / "frontrun_peer.py"
        script.write_text(FRONTRUN_SCRIPT)
        cmd = [launcher, str(python), str(script), str(REPO_ROOT), json.dumps(opts)]
        started = perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                check=False,
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=10 * seconds + 300,
            )
        except subprocess.TimeoutExpired:
            return {"error": "frontrun subprocess timed out", "command": cmd}
        took = perf_counter() - started
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FRONTRUN-JSON ")), None)
    if proc.returncode != 0 or line is None:
        return {
            "error": f"frontrun subprocess failed (exit {proc.returncode})",
            "stderr": proc.stderr[-3000:],
            "stdout": proc.stdout[-2000:],
            "command": cmd,
        }
    out = json.loads(line[len("FRONTRUN-JSON ") :])
    out.update(command=[*cmd[:3], "<repo>", "<options>"], options=opts, wall_seconds=took)
    return out


def frontrun_summary(fr: dict) -> dict:
    """Medians per (scenario, strategy) from the raw frontrun cells."""
    summary: dict[str, Any] = {}
    for threads, calls in FRONTRUN_SCENARIOS:
        key = f"{threads}x{calls}"
        cells = [c for c in fr.get("cells", []) if (c["threads"], c["calls"]) == (threads, calls)]
        entry: dict[str, Any] = {}
        for strategy in ("dpor", "random"):
            firsts = [c for c in cells if c["kind"] == "first" and c["strategy"] == strategy]
            hits = [c for c in firsts if c["found"]]
            entry[strategy] = {
                "tries": len(firsts),
                "found": len(hits),
                "seconds_to_first_median": statistics.median(c["seconds"] for c in hits)
                if hits
                else None,
                "executions_to_first_median": statistics.median(c["executions"] for c in hits)
                if hits
                else None,
            }
        rate = next((c for c in cells if c["kind"] == "rate"), None)
        if rate:
            entry["random_executions_per_s"] = rate["executions"] / rate["seconds"]
            entry["random_rate_executions"] = rate["executions"]
        exhaust = next((c for c in cells if c["kind"] == "exhaust"), None)
        if exhaust:
            entry["locked_dpor"] = {
                "seconds": exhaust["seconds"],
                "executions": exhaust["executions"],
                "property_holds": exhaust["property_holds"],
                "capped": exhaust["seconds"] >= exhaust["cap"] * 0.98,
                "cap": exhaust["cap"],
                "inconclusive_reason": exhaust["inconclusive_reason"],
            }
        summary[key] = entry
    return summary


# -- 4. report ---------------------------------------------------------------------------------


def _f(value: float | None, fmt: str = ".3g") -> str:
    return "-" if value is None else format(value, fmt)


def _ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "-"
    return f"{ours / theirs:.3g}x"


def render(report: dict) -> str:
    lines = []
    load = "/".join(f"{x:.2f}" for x in report["loadavg_before"])
    load_after = "/".join(f"{x:.2f}" for x in report["loadavg_after"])
    lines.append(
        f"Python {report['python']}, {report['cpu_count']} CPUs, load average {load} before, "
        f"{load_after} after (other processes share the CPUs), {report['date']}"
    )
    lines.append("")
    lines.append(f"== 1. Naive stress, {report['settings']['seconds']:g} s per cell ==")
    lines.append(
        f"{'threads x calls':<16}{'sleep':<8}{'switch':>9}{'runs':>9}{'found':>7}"
        f"{'share':>10}{'runs/s':>9}"
    )
    for c in report["naive"]:
        shape = f"{c['threads']}x{c['calls']}"
        lines.append(
            f"{shape:<16}{c['sleep']:<8}{c['switch_interval']:>9.0e}"
            f"{c['runs']:>9,}{c['found']:>7}{c['share']:>10.2e}{c['runs_per_s']:>9,.0f}"
        )
    h = report["harness_hunt"]
    lines.append("")
    lines.append(
        f"== 2. Harness: hunt(backoffer, unsafe, access, shrink=False), seeds 0..{h['seeds'] - 1}"
        f" in {h['seconds']:.1f} s =="
    )
    lines.append(
        f"found by {h['found']}/{h['seeds']} seeds ({h['share']:.0%}) within "
        f"{h['max_examples']} examples; examples to first failure median "
        f"{_f(h['examples_to_first_median'])}, max {_f(h['examples_to_first_max'])}; "
        f"seconds median {_f(h['seconds_to_first_median'])}, max {_f(h['seconds_to_first_max'])}"
    )
    lines.append("raw runtime on frontrun's scenario (Executor.run, RandomSchedule, access):")
    for c in report["harness_runtime"]:
        lines.append(
            f"  {c['threads']}x{c['calls']}: {c['runs_per_s']:,.0f} runs/s, lost update in "
            f"{c['found_share']:.0%} of runs, first at run {c['runs_to_first']} "
            f"({_f(c['seconds_to_first'] and c['seconds_to_first'] * 1000)} ms)"
        )
    lines.append("")
    fr = report["frontrun"]
    if "error" in fr:
        lines.append(f"== 3. frontrun: NOT MEASURED: {fr['error']} ==")
        if fr.get("stderr"):
            lines.append(textwrap.indent(fr["stderr"][-1500:], "   | "))
    else:
        lines.append(
            f"== 3. frontrun {fr['version']} (Python {fr['python']}, own launcher, subprocess, "
            f"{fr['wall_seconds']:.1f} s) =="
        )
        for key, e in report["frontrun_summary"].items():
            for strategy in ("dpor", "random"):
                s = e[strategy]
                lines.append(
                    f"  {key} {strategy:<6}: found {s['found']}/{s['tries']}, median "
                    f"{_f(s['executions_to_first_median'])} executions, "
                    f"{_f(s['seconds_to_first_median'] and s['seconds_to_first_median'] * 1000)}"
                    " ms to first counterexample"
                )
            lines.append(
                f"  {key} random: {_f(e.get('random_executions_per_s'), ',.0f')} executions/s "
                f"({e.get('random_rate_executions')} executions)"
            )
            ld = e.get("locked_dpor")
            if ld:
                state = (
                    f"NOT exhausted, stopped by the {ld['cap']:g} s cap"
                    if ld["capped"] or ld["property_holds"] is None
                    else "exhausted"
                )
                lines.append(
                    f"  {key} DPOR on LockedBackoffer: {ld['executions']} executions, "
                    f"{ld['seconds']:.2f} s, {state} (property_holds={ld['property_holds']})"
                )
    lines.append("")
    lines.append("== 4. Ratios (ours / theirs) ==")
    for row in report["ratios"]:
        lines.append(f"  {row['what']:<62}{row['ours']:>12}{row['theirs']:>12}{row['ratio']:>9}")
    lines.append(f"total {report['total_seconds']:.1f} s")
    return "\n".join(lines)


def ratios(report: dict) -> list[dict]:
    rows = []
    h = report["harness_hunt"]
    best_naive = max(report["naive"], key=lambda c: c["share"])
    rows.append(
        {
            "what": "detection share: harness seeds vs best naive cell's runs",
            "ours": f"{h['share']:.0%}",
            "theirs": f"{best_naive['share']:.2e}",
            "ratio": _ratio(h["share"], best_naive["share"]) if best_naive["share"] else "inf",
        }
    )
    runtime = {(c["threads"], c["calls"]): c for c in report["harness_runtime"]}
    for key, e in report.get("frontrun_summary", {}).items():
        threads, calls = (int(x) for x in key.split("x"))
        ours = runtime.get((threads, calls), {})
        ours_s = ours.get("seconds_to_first")
        for strategy in ("dpor", "random"):
            theirs_s = e[strategy]["seconds_to_first_median"]
            rows.append(
                {
                    "what": f"{key} time to first counterexample, runtime vs frontrun {strategy}",
                    "ours": f"{_f(ours_s and ours_s * 1000)} ms",
                    "theirs": f"{_f(theirs_s and theirs_s * 1000)} ms",
                    "ratio": _ratio(ours_s, theirs_s),
                }
            )
        hunt_s = h["seconds_to_first_median"]
        theirs_s = e["dpor"]["seconds_to_first_median"]
        rows.append(
            {
                "what": f"{key} time to first: hunt (median, Hypothesis) vs frontrun dpor",
                "ours": f"{_f(hunt_s and hunt_s * 1000)} ms",
                "theirs": f"{_f(theirs_s and theirs_s * 1000)} ms",
                "ratio": _ratio(hunt_s, theirs_s),
            }
        )
        rate = e.get("random_executions_per_s")
        rows.append(
            {
                "what": f"{key} executions/s, runtime random vs frontrun random",
                "ours": _f(ours.get("runs_per_s"), ",.0f"),
                "theirs": _f(rate, ",.0f"),
                "ratio": _ratio(ours.get("runs_per_s"), rate),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="wall clock per naive cell (8 cells) and for the hunts; the harness runtime gets "
        "a fifth of it per scenario, frontrun's LockedBackoffer DPOR is capped at 2x (default 10)",
    )
    parser.add_argument("--naive-calls", type=int, default=3, help="calls per naive thread")
    parser.add_argument("--max-seeds", type=int, default=1000, help="hunts at most")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--frontrun", help=f"frontrun launcher (default: PATH, {DEFAULT_FRONTRUN})")
    parser.add_argument("--no-frontrun", action="store_true", help="skip frontrun")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error("--seconds must be positive")
    began = perf_counter()
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "settings": {"seconds": args.seconds, "naive_calls": args.naive_calls},
        "loadavg_before": loadavg(),
    }
    print("1. naive stress", flush=True)
    report["naive"] = measure_naive(args.seconds, args.naive_calls)
    print("2. harness", flush=True)
    report["harness_hunt"] = measure_hunts(args.seconds, args.max_seeds)
    report["harness_runtime"] = [
        measure_runtime(t, c, max(args.seconds / 5, 0.5)) for t, c in FRONTRUN_SCENARIOS
    ]
    print("3. frontrun", flush=True)
    if args.no_frontrun:
        report["frontrun"] = {"error": "skipped (--no-frontrun)"}
    else:
        report["frontrun"] = measure_frontrun(frontrun_launcher(args.frontrun), args.seconds)
    if "error" not in report["frontrun"]:
        report["frontrun_summary"] = frontrun_summary(report["frontrun"])
    report["loadavg_after"] = loadavg()
    report["total_seconds"] = perf_counter() - began
    report["ratios"] = ratios(report)
    print()
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0 if "error" not in report["frontrun"] else 2


if __name__ == "__main__":
    sys.exit(main())
