#!/usr/bin/env python
"""The harness against its peers on the shared Backoffer's lost update, in one run.

Run from the repository root (no installation needed):

    python bench/bench_peers.py [--seconds S] [--exhaust-cap C] [--json PATH]
                                [--frontrun PATH] [--no-frontrun] [--no-hunts]

The system under test is always `harness_gallery.backoffer.UnsafeBackoffer` shared by several
threads, each calling ``bo.backoff(CONFIGS["regionMiss"], cfg.err)``, built by
`backoffer_scenario` for every tool alike (without the model's statement counters: see
`make_backoffer`). A lost update is detected by the same check everywhere (`shows_lost_update`):
the number of recorded calls is not the number of calls made, ``total_sleep`` differs from the
sum of the per-config sleeps, or a backoff function's ``attempts`` differs from the calls
recorded for its config.

1. Naive stress (what a user would write): per run a fresh Backoffer, N threads (2 and 4)
   released together by a `threading.Barrier`, each making C calls; the sleep is either a
   no-op or ``time.sleep(0)`` (releases the GIL); at the default switch interval and at
   ``sys.setswitchinterval(1e-6)``. S seconds of wall clock per cell.
2. The harness: ``hunt("backoffer", "unsafe", seed=s, granularity="access", shrink=False)``
   for seeds 0, 1, ... until S seconds are spent (unless ``--no-hunts``: report.py takes
   bench_hunt's instead). And the raw runtime on the very scenarios given to frontrun
   (`Executor.run` under the schedule a hunt draws: seeded noise, a new seed per run) at
   every granularity: runs/s and
   the waits between lost updates.
3. frontrun (PyPI, a separate virtualenv; run under its own ``frontrun`` launcher in a
   subprocess, so this process is not affected): ``frontrun.explore`` with the DPOR and the
   random strategies on 2 threads x 1 and 2 threads x 3 calls: time and executions to the
   first counterexample, executions/s of the random strategy, and the time for DPOR to
   exhaust the `LockedBackoffer`, with and without the model's statement counters (capped at
   C seconds; the cap is reported when hit).
4. A table of ratios (ours / theirs) and, with ``--json``, every number (per-run samples
   included, for report.py's plot).

The machine may be shared (CI): the load average before and after is printed and stored.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from time import perf_counter  # bound before any World is entered: always the real clock
from typing import Any

from backoffer_scenario import calls_of, make_backoffer, no_sleep, shows_lost_update
from common import PEER_MARK, REPO_ROOT, loadavg, now, waits

from harness.hunt import hunt
from harness.machine import NOISE_RATES
from harness.runtime import GRANULARITIES, Executor, World
from harness.schedule.drawn import DrawnSchedule
from harness_gallery.backoffer import UnsafeBackoffer
from harness_gallery.backoffer_spec import BackofferModel

MODEL_MODULE = "harness_gallery.backoffer"
FRONTRUN_SCENARIOS: tuple[tuple[int, int], ...] = ((2, 1), (2, 3))
DEFAULT_FRONTRUN = "/tmp/frontrun-venv/bin/frontrun"
DEFAULT_INTERLEAVE = "/tmp/interleave-venv/bin/python"
DEFAULT_RUNPARALLEL = "/tmp/runparallel-venv/bin/python"
RUNPARALLEL_SCENARIOS: tuple[tuple[int, int], ...] = ((2, 1), (2, 3), (4, 3))
BENCH_DIR = REPO_ROOT / "bench"
#: The Python the first-failure ratios are taken on: interleave-test needs 3.12+, and every
#: tool runs on the same minor version (point counts and hook costs differ between them).
PEERS_PYTHON = (3, 12)
#: Detection times kept per cell: enough for a distribution, bounded for a JSON file.
MAX_SAMPLES = 2000
WARMUP_SECONDS = 0.1


def yield_sleep(seconds: float) -> None:
    """The injected sleep of the ``time.sleep(0)`` variant: releases the GIL, sleeps nothing."""
    time.sleep(0)


SLEEPS: dict[str, Callable[[float], None]] = {"noop": no_sleep, "sleep0": yield_sleep}


# -- 1. naive stress ---------------------------------------------------------------------------


def detect_for(seconds: float, one_run: Callable[[], bool], min_runs: int = 1) -> dict[str, Any]:
    """Call `one_run` (True: it showed the bug) for `seconds` of wall clock.

    Returns the runs, the detections, the rate and the waits between detections (the
    distribution of the time to a first failure, see `common.waits`), at most `MAX_SAMPLES`.
    """
    runs = 0
    found_at: list[float] = []
    found = 0
    start = perf_counter()
    while perf_counter() - start < seconds or runs < min_runs:
        runs += 1
        if one_run():
            found += 1
            if len(found_at) < MAX_SAMPLES:
                found_at.append(perf_counter() - start)
    elapsed = perf_counter() - start
    return {
        "runs": runs,
        "found": found,
        "share": found / runs,
        "runs_per_s": runs / elapsed,
        "seconds": elapsed,
        "seconds_to_first": found_at[0] if found_at else None,
        "waits": waits(found_at),
    }


def naive_cell(
    threads: int, calls: int, sleep: str, switch: float | None, seconds: float
) -> dict[str, Any]:
    """Fresh Backoffer + Barrier + `threads` new threads per run, for `seconds` of wall clock."""
    sleep_fn = SLEEPS[sleep]
    work = calls_of(calls)
    old_switch = sys.getswitchinterval()

    def one_run() -> bool:
        bo = make_backoffer(UnsafeBackoffer, sleep_fn)
        barrier = threading.Barrier(threads)

        def released() -> None:
            barrier.wait()
            work(bo)

        pool = [threading.Thread(target=released) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return shows_lost_update(bo, threads * calls)

    if switch is not None:
        sys.setswitchinterval(switch)
    try:
        measured = detect_for(seconds, one_run)
    finally:
        sys.setswitchinterval(old_switch)
    return {
        "threads": threads,
        "calls": calls,
        "sleep": sleep,
        "switch_interval": switch if switch is not None else old_switch,
        **measured,
    }


def measure_naive(seconds: float, calls: int) -> list[dict[str, Any]]:
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


def scenario_model(threads: int, calls: int) -> type[BackofferModel]:
    """The catalog's Backoffer model bounded to the peers' scenario: rounds of `threads`
    workers making 1..`calls` calls each (the hunt still draws configs, a prelude and extra
    steps as usual)."""
    return type(
        f"Backoffer{threads}x{calls}Model",
        (BackofferModel,),
        {"max_workers": threads, "max_ops_per_worker": calls, "__module__": __name__},
    )


def measure_hunts(
    seconds: float, max_seeds: int, model: str | type[BackofferModel] = "backoffer"
) -> dict[str, Any]:
    """Hunts with seeds 0, 1, ... until `seconds` have passed (at least one hunt), after one
    untimed warm-up hunt (imports, the pool's threads, the point tables)."""
    hunt(model, "unsafe", seed=max_seeds, granularity="access", shrink=False, max_examples=5)
    seeds: list[dict[str, Any]] = []
    start = perf_counter()
    while len(seeds) < max_seeds and (not seeds or perf_counter() - start < seconds):
        seed = len(seeds)
        t0 = perf_counter()
        r = hunt(model, "unsafe", seed=seed, granularity="access", shrink=False)
        wall = perf_counter() - t0
        seeds.append(
            {
                "seed": seed,
                "found": r.found,
                "examples": r.examples,
                "first_example": r.first_example,
                "seconds_to_first_failure": r.seconds_to_first_failure,
                "seconds": r.seconds,
                "wall_seconds": wall,
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
        "seconds_to_first": firsts,
        "wall_seconds_median": statistics.median(s["wall_seconds"] for s in seeds),
        "examples_to_first_median": statistics.median(examples) if examples else None,
        "examples_to_first_max": max(examples) if examples else None,
        "per_seed": seeds,
    }


#: The middle of the noise rates a hunt draws from.
HUNT_NOISE_RATE = NOISE_RATES[len(NOISE_RATES) // 2]


def measure_runtime(threads: int, calls: int, granularity: str, seconds: float) -> dict[str, Any]:
    """`Executor.run` on the frontrun scenario, a new noise seed per run.

    As hunting runs: the random part of the schedule a hunt draws (a switch at about one point
    in `HUNT_NOISE_RATE`, like frontrun's random bursts of a few opcodes; a uniform choice at
    every point would hand the CPU over at half of them), and no key/value capture (only the
    final counterexample is replayed with it).
    """
    seed = 0
    work = calls_of(calls)
    not_ok = points = 0
    with Executor() as ex, World():

        def one_run() -> bool:
            nonlocal seed, not_ok, points
            seed += 1
            bo = make_backoffer(UnsafeBackoffer)  # inside the World: scheduler-aware locks
            result = ex.run(
                [lambda: work(bo)] * threads,
                DrawnSchedule((), (seed, HUNT_NOISE_RATE)),
                granularity=granularity,
                modules=[MODEL_MODULE],
                capture_values=False,
            )
            not_ok += not result.ok
            points += result.steps
            return (not result.ok) or shows_lost_update(bo, threads * calls)

        detect_for(WARMUP_SECONDS, one_run)  # the pool started, the point tables built
        not_ok = points = 0
        measured = detect_for(seconds, one_run, min_runs=5)
    return {
        "threads": threads,
        "calls": calls,
        "granularity": granularity,
        **measured,
        "not_ok": not_ok,
        "points_per_run": points / measured["runs"],
    }


# -- 3. frontrun -------------------------------------------------------------------------------


def scenario_keys() -> list[str]:
    """The frontrun scenarios as the summaries name them ("2x1", ...)."""
    return [f"{threads}x{calls}" for threads, calls in FRONTRUN_SCENARIOS]


def frontrun_launcher(option: str | None) -> str | None:
    for candidate in (option, shutil.which("frontrun"), DEFAULT_FRONTRUN):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def run_peer(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run one peer's script (`cmd`, from bench/) and return the JSON it printed, or an error.

    Each peer runs in its own virtualenv and process, so nothing it patches reaches this one.
    """
    started = perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            check=False,
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"subprocess timed out after {timeout:.0f} s", "command": cmd}
    took = perf_counter() - started
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(PEER_MARK)), None)
    if proc.returncode not in (0,) or line is None:
        return {
            "error": f"subprocess failed (exit {proc.returncode})",
            "stderr": proc.stderr[-3000:],
            "stdout": proc.stdout[-2000:],
            "command": cmd,
        }
    out: dict[str, Any] = json.loads(line[len(PEER_MARK) :])
    out.update(command=[*cmd[:-1], "<options>"], wall_seconds=took)
    return out


def measure_frontrun(launcher: str | None, seconds: float, exhaust_cap: float) -> dict[str, Any]:
    if launcher is None:
        return {
            "error": "no frontrun launcher found (install: python3.12 -m venv /tmp/frontrun-venv "
            "&& /tmp/frontrun-venv/bin/pip install frontrun==0.7.0, or pass --frontrun PATH)"
        }
    python = Path(launcher).parent / "python"  # the launcher's own virtualenv
    opts = {
        "scenarios": [list(s) for s in FRONTRUN_SCENARIOS],
        "dpor_reps": 5,
        "random_seeds": 10,
        "attempts": 500,
        "rate_attempts": 200,
        "cap": 60.0,
        "exhaust_cap": exhaust_cap,
    }
    cmd = [launcher, str(python), "peer_frontrun.py", json.dumps(opts)]
    out = run_peer(cmd, timeout=10 * seconds + 4 * exhaust_cap + 300)
    out["options"] = opts
    return out


def measure_interleave(python: str | None, seconds: float, exhaust_cap: float) -> dict[str, Any]:
    """interleave-test 0.1.0 from its own virtualenv (see `peer_interleave`)."""
    if python is None or not Path(python).exists():
        return {
            "error": "no interleave-test virtualenv (install: python3.12 -m venv "
            f"{Path(DEFAULT_INTERLEAVE).parent.parent} && {Path(DEFAULT_INTERLEAVE).parent}/pip "
            "install interleave-test==0.1.0, or pass --interleave PYTHON)"
        }
    opts = {
        "scenarios": [list(s) for s in FRONTRUN_SCENARIOS],
        "seeds": 20,
        "dfs_reps": 3,
        "attempts": 500,
        "rate_attempts": 200,
        "exhaust_cap": exhaust_cap,
    }
    out = run_peer(
        [python, "peer_interleave.py", json.dumps(opts)],
        timeout=20 * seconds + 3 * exhaust_cap + 300,
    )
    out["options"] = opts
    return out


def measure_runparallel(python: str | None, seconds: float) -> dict[str, Any]:
    """pytest-run-parallel 0.10.0 from its own virtualenv (see `peer_runparallel`)."""
    if python is None or not Path(python).exists():
        return {
            "error": "no pytest-run-parallel virtualenv (install: python3.12 -m venv "
            f"{Path(DEFAULT_RUNPARALLEL).parent.parent} && {Path(DEFAULT_RUNPARALLEL).parent}/pip "
            "install pytest-run-parallel==0.10.0, or pass --runparallel PYTHON)"
        }
    # Enough parametrized cases for the budget at a few hundred runs/s (collecting many more
    # would cost more than the runs); the session stops when the budget is spent.
    opts = {
        "scenarios": [list(s) for s in RUNPARALLEL_SCENARIOS],
        "seconds": seconds,
        "cases": int(600 * seconds) + 100,
    }
    out = run_peer(
        [python, "peer_runparallel.py", json.dumps(opts)],
        timeout=len(RUNPARALLEL_SCENARIOS) * (seconds + 120) + 60,
    )
    out["options"] = opts
    for cell in out.get("cells", []):
        cell["waits"] = waits(cell.pop("found_at"))[:MAX_SAMPLES]
    return out


def frontrun_summary(fr: dict[str, Any]) -> dict[str, Any]:
    """Medians per (scenario, strategy) from the raw frontrun cells."""
    summary: dict[str, Any] = {}
    for key in scenario_keys():
        cells = [c for c in fr.get("cells", []) if f"{c['threads']}x{c['calls']}" == key]
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
                "seconds_to_first": [c["seconds"] for c in hits],
            }
        rate = next((c for c in cells if c["kind"] == "rate"), None)
        if rate:
            entry["random_executions_per_s"] = rate["executions"] / rate["seconds"]
            entry["random_rate_executions"] = rate["executions"]
        for c in cells:
            if c["kind"] == "exhaust":
                entry["locked_dpor_oracle" if c.get("oracle") else "locked_dpor"] = {
                    "seconds": c["seconds"],
                    "executions": c["executions"],
                    "property_holds": c["property_holds"],
                    "capped": c["seconds"] >= c["cap"] * 0.98,
                    "cap": c["cap"],
                    "inconclusive_reason": c["inconclusive_reason"],
                }
        summary[key] = entry
    return summary


def interleave_summary(il: dict[str, Any]) -> dict[str, Any]:
    """Medians per (scenario, strategy) from the raw interleave-test cells."""
    summary: dict[str, Any] = {}
    for key in scenario_keys():
        cells = [c for c in il.get("cells", []) if f"{c['threads']}x{c['calls']}" == key]
        entry: dict[str, Any] = {}
        for strategy in ("random", "pct", "dfs"):
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
                "seconds_to_first": [c["seconds"] for c in hits],
            }
        rate = next((c for c in cells if c["kind"] == "rate"), None)
        if rate:
            entry["random_executions_per_s"] = rate["executions"] / rate["seconds"]
            entry["random_rate_executions"] = rate["executions"]
        exhaust = next((c for c in cells if c["kind"] == "exhaust"), None)
        if exhaust:
            entry["locked_dfs"] = exhaust
        summary[key] = entry
    return summary


# -- 4. report ---------------------------------------------------------------------------------


def _f(value: float | None, fmt: str = ".3g") -> str:
    return "-" if value is None else format(value, fmt)


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def window_share(cell: dict[str, Any], window: float) -> float | None:
    """The share of consecutive `window`-second stretches of `cell` with a detection in them.

    This is a stress peer's detection rate "in the same time" as a tool that needs `window`
    seconds: measured, not derived from the per-run share under an independence assumption.
    Only the stretch covered by the recorded detections counts when `MAX_SAMPLES` cut them.
    """
    found_at, total = [], 0.0
    for wait in cell["waits"]:
        total += wait
        found_at.append(total)
    covered = cell["seconds"] if len(found_at) == cell["found"] else found_at[-1]
    windows = int(covered // window) if window > 0 else 0
    if windows == 0:
        return None
    hit = {int(t // window) for t in found_at if t < windows * window}
    return len(hit) / windows


def lock_dpor_line(key: str, label: str, ld: dict[str, Any]) -> str:
    state = (
        f"NOT exhausted, stopped by the {ld['cap']:g} s cap"
        if ld["capped"] or ld["property_holds"] is None
        else "exhausted"
    )
    return (
        f"  {key} DPOR on {label}: {ld['executions']} executions, {ld['seconds']:.2f} s, {state}"
        f" (property_holds={ld['property_holds']})"
    )


#: The two exhaustion cells: the fair scenario, and the model's own (with its oracle's lock).
LOCKED_CELLS = {
    "locked_dpor": "LockedBackoffer (one lock)",
    "locked_dpor_oracle": "LockedBackoffer + ExecDetails lock nested",
}


def render(report: dict[str, Any]) -> str:  # noqa: C901, PLR0912, PLR0915 -- one section per measured part, in report order
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
    h = report.get("harness_hunt")
    lines.append("")
    if h:
        lines.append(
            f"== 2. Harness: hunt(backoffer, unsafe, access, shrink=False), seeds "
            f"0..{h['seeds'] - 1} in {h['seconds']:.1f} s =="
        )
        lines.append(
            f"found by {h['found']}/{h['seeds']} seeds ({h['share']:.0%}) within "
            f"{h['max_examples']} examples; examples to first failure median "
            f"{_f(h['examples_to_first_median'])}, max {_f(h['examples_to_first_max'])}; "
            f"seconds median {_f(h['seconds_to_first_median'])}, "
            f"max {_f(h['seconds_to_first_max'])}"
        )
    else:
        lines.append("== 2. Harness (hunts skipped: --no-hunts) ==")
    lines.append("raw runtime on frontrun's scenario (Executor.run, hunting noise, no capture):")
    for c in report["harness_runtime"]:
        lines.append(
            f"  {c['threads']}x{c['calls']} {c['granularity']:<6}: {c['runs_per_s']:,.0f} runs/s,"
            f" {c['points_per_run']:,.0f} points/run, lost update in {c['share']:.0%} of runs, "
            f"first after {_ms(c['seconds_to_first'])}"
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
                    f"{_ms(s['seconds_to_first_median'])} to first counterexample"
                )
            lines.append(
                f"  {key} random: {_f(e.get('random_executions_per_s'), ',.0f')} executions/s "
                f"({e.get('random_rate_executions')} executions)"
            )
            for name, label in LOCKED_CELLS.items():
                if name in e:
                    lines.append(lock_dpor_line(key, label, e[name]))
    lines.append("")
    for key, h in report.get("harness_hunt_scenarios", {}).items():
        lines.append(
            f"harness hunt {key} (2 workers, 1..{key[-1]} calls): found by {h['found']}/"
            f"{h['seeds']} seeds; time to first failure median {_ms(h['seconds_to_first_median'])}"
            f", max {_ms(h['seconds_to_first_max'])}; whole hunt (no shrink) median "
            f"{_ms(h['wall_seconds_median'])}"
        )
    il = report.get("interleave", {})
    lines.append("")
    if "error" in il:
        lines.append(f"== 3b. interleave-test: NOT MEASURED: {il['error']} ==")
        if il.get("stderr"):
            lines.append(textwrap.indent(il["stderr"][-1500:], "   | "))
    elif il:
        lines.append(
            f"== 3b. interleave-test {il['version']} (Python {il['python']}, own venv, "
            f"subprocess, {il['wall_seconds']:.1f} s) =="
        )
        for key, e in report["interleave_summary"].items():
            for strategy in ("random", "pct", "dfs"):
                st = e[strategy]
                lines.append(
                    f"  {key} {strategy:<6}: found {st['found']}/{st['tries']}, median "
                    f"{_f(st['executions_to_first_median'])} schedules, "
                    f"{_ms(st['seconds_to_first_median'])} to first failure"
                )
            lines.append(
                f"  {key} random: {_f(e.get('random_executions_per_s'), ',.0f')} executions/s"
            )
            ex = e.get("locked_dfs")
            if ex:
                state = "exhausted" if ex["exhausted"] else f"NOT exhausted ({ex['cap']:g} s cap)"
                lines.append(
                    f"  {key} DFS on LockedBackoffer: {ex['executions']} schedules, "
                    f"{ex['seconds']:.2f} s, {state}"
                )
    rp = report.get("runparallel", {})
    lines.append("")
    if "error" in rp:
        lines.append(f"== 3c. pytest-run-parallel: NOT MEASURED: {rp['error']} ==")
        if rp.get("stderr"):
            lines.append(textwrap.indent(rp["stderr"][-1500:], "   | "))
    elif rp:
        lines.append(
            f"== 3c. pytest-run-parallel {rp['version']} (pytest {rp['pytest']}, Python "
            f"{rp['python']}, real threads) =="
        )
        for c in rp["cells"]:
            load = "/".join(f"{x:.2f}" for x in c["loadavg"])
            lines.append(
                f"  {c['threads']}x{c['calls']}: {c['found']}/{c['runs']:,} runs showed it "
                f"({_f(c['share'], '.2%')}), {_f(c['runs_per_s'], ',.0f')} runs/s, switch "
                f"interval {_f(c['switch_interval'], 'g')}, load {load}"
            )
    lines.append("")
    lines.append("== 4. Ratios (ours / theirs) ==")
    for row in report["ratios"]:
        lines.append(
            f"  {row['what']:<72}{format_value(row, 'ours'):>12}"
            f"{format_value(row, 'theirs'):>12}{_f(row['ratio']):>9}x"
        )
    lines.append(f"total {report['total_seconds']:.1f} s")
    return "\n".join(lines)


def format_value(row: dict[str, Any], side: str) -> str:
    """One side of a ratio row in its unit."""
    value = row[side]
    if row["unit"] == "s":
        return _ms(value)
    if row["unit"] == "share":
        return "-" if value is None else f"{value:.1%}"
    return _f(value, ",.0f")


def _row(
    key: str, what: str, unit: str, ours: float | None, theirs: float | None
) -> dict[str, Any]:
    ratio = ours / theirs if ours is not None and theirs else None
    return {"key": key, "what": what, "unit": unit, "ours": ours, "theirs": theirs, "ratio": ratio}


def _detection_row(
    key: str, label: str, hunt: dict[str, Any], cells: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Hunt seeds that found it vs the best stress cell's windows as long as the slowest hunt."""
    window = hunt["seconds_to_first_max"]
    if not cells or window is None:
        return None
    best = max(cells, key=lambda c: window_share(c, window) or 0.0)
    sleep = f" {best['sleep']}" if "sleep" in best else ""
    row = _row(
        key,
        f"detection within {_ms(window)} (the slowest hunt): hunt seeds vs windows of the "
        f"best {label} cell ({best['threads']}x{best['calls']}{sleep}, switch "
        f"{best['switch_interval']:g})",
        "share",
        hunt["share"],
        window_share(best, window),
    )
    return {**row, "window": window, "cell": {k: v for k, v in best.items() if k != "waits"}}


#: (summary key in the report, peer label, strategies) of the model-checking peers.
PEERS = (
    ("frontrun_summary", "frontrun", ("dpor", "random")),
    ("interleave_summary", "interleave-test", ("random", "pct", "dfs")),
)


def ratios(report: dict[str, Any], hunt: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Ours / theirs from one report: `hunt` (default: the report's own hunts) supplies the
    harness's detection share; the per-scenario hunts supply its time to first failure."""
    rows = []
    hunt = hunt or report.get("harness_hunt")
    if hunt:
        stress = [
            ("detection", "naive", report["naive"]),
            (
                "detection_runparallel",
                "pytest-run-parallel",
                report.get("runparallel", {}).get("cells", []),
            ),
        ]
        for key, label, cells in stress:
            row = _detection_row(key, label, hunt, cells)
            if row:
                rows.append(row)
    runtime = {(c["threads"], c["calls"], c["granularity"]): c for c in report["harness_runtime"]}
    hunts = report.get("harness_hunt_scenarios", {})
    for key in scenario_keys():
        threads, calls = (int(x) for x in key.split("x"))
        ours_hunt = hunts.get(key)
        for summary_key, peer, strategies in PEERS:
            e = report.get(summary_key, {}).get(key)
            if not e:
                continue
            if ours_hunt:
                rows += [
                    _row(
                        f"ttf_hunt_{peer}_{strategy}_{key}",
                        f"{key} time to first failure, hunt (median) vs {peer} {strategy}",
                        "s",
                        ours_hunt["seconds_to_first_median"],
                        e[strategy]["seconds_to_first_median"],
                    )
                    for strategy in strategies
                ]
            for granularity in GRANULARITIES:
                ours = runtime.get((threads, calls, granularity))
                if not ours:
                    continue
                ttf = statistics.median(ours["waits"]) if ours["waits"] else None
                rows += [
                    _row(
                        f"ttf_runtime_{granularity}_{peer}_{strategy}_{key}",
                        f"{key} time to first, runtime {granularity} vs {peer} {strategy}",
                        "s",
                        ttf,
                        e[strategy]["seconds_to_first_median"],
                    )
                    for strategy in strategies
                    if strategy != "dfs"
                ]
                rows.append(
                    _row(
                        f"rate_{granularity}_{peer}_{key}",
                        f"{key} executions/s, runtime {granularity} vs {peer} random (opcode)",
                        "/s",
                        ours["runs_per_s"],
                        e.get("random_executions_per_s"),
                    )
                )
    return rows


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 -- the parts run in turn, each one line
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="wall clock per naive cell (8 cells) and for the hunts; the harness runtime gets "
        "a fifth of it per scenario and granularity (default 10)",
    )
    parser.add_argument(
        "--exhaust-cap",
        type=float,
        default=60.0,
        help="seconds frontrun's DPOR may take to exhaust each LockedBackoffer (default 60)",
    )
    parser.add_argument("--naive-calls", type=int, default=3, help="calls per naive thread")
    parser.add_argument("--max-seeds", type=int, default=1000, help="hunts at most")
    parser.add_argument(
        "--no-hunts", action="store_true", help="skip the hunts (report.py takes bench_hunt's)"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--frontrun", help=f"frontrun launcher (default: PATH, {DEFAULT_FRONTRUN})")
    parser.add_argument("--no-frontrun", action="store_true", help="skip frontrun")
    parser.add_argument(
        "--interleave", default=DEFAULT_INTERLEAVE, help="Python of interleave-test's venv"
    )
    parser.add_argument("--no-interleave", action="store_true", help="skip interleave-test")
    parser.add_argument(
        "--runparallel", default=DEFAULT_RUNPARALLEL, help="Python of pytest-run-parallel's venv"
    )
    parser.add_argument("--no-runparallel", action="store_true", help="skip pytest-run-parallel")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error("--seconds must be positive")
    began = perf_counter()
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": now(),
        "settings": {
            "seconds": args.seconds,
            "naive_calls": args.naive_calls,
            "exhaust_cap": args.exhaust_cap,
        },
        "loadavg_before": loadavg(),
    }
    if sys.version_info[:2] != PEERS_PYTHON:
        print(
            f"warning: this is Python {platform.python_version()}; the peers run on "
            f"{PEERS_PYTHON[0]}.{PEERS_PYTHON[1]}, so the first-failure ratios compare two "
            "Pythons (run this script with a 3.12 interpreter that has the project installed)",
            flush=True,
        )
    print("1. naive stress", flush=True)
    report["naive"] = measure_naive(args.seconds, args.naive_calls)
    print("2. harness", flush=True)
    if not args.no_hunts:
        report["harness_hunt"] = measure_hunts(args.seconds, args.max_seeds)
    report["harness_hunt_scenarios"] = {
        f"{t}x{c}": measure_hunts(args.seconds / 2, args.max_seeds, scenario_model(t, c))
        for t, c in FRONTRUN_SCENARIOS
    }
    report["harness_runtime"] = [
        measure_runtime(t, c, granularity, max(args.seconds / 5, 0.5))
        for t, c in FRONTRUN_SCENARIOS
        for granularity in GRANULARITIES
    ]
    print("3. frontrun", flush=True)
    if args.no_frontrun:
        report["frontrun"] = {"error": "skipped (--no-frontrun)"}
    else:
        report["frontrun"] = measure_frontrun(
            frontrun_launcher(args.frontrun), args.seconds, args.exhaust_cap
        )
    if "error" not in report["frontrun"]:
        report["frontrun_summary"] = frontrun_summary(report["frontrun"])
    print("3b. interleave-test", flush=True)
    report["interleave"] = (
        {"error": "skipped (--no-interleave)"}
        if args.no_interleave
        else measure_interleave(args.interleave, args.seconds, args.exhaust_cap)
    )
    if "error" not in report["interleave"]:
        report["interleave_summary"] = interleave_summary(report["interleave"])
    print("3c. pytest-run-parallel", flush=True)
    report["runparallel"] = (
        {"error": "skipped (--no-runparallel)"}
        if args.no_runparallel
        else measure_runparallel(args.runparallel, args.seconds)
    )
    report["loadavg_after"] = loadavg()
    report["total_seconds"] = perf_counter() - began
    report["ratios"] = ratios(report)
    print()
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    peers = ("frontrun", "interleave", "runparallel")
    errors = [report[p].get("error") for p in peers]
    failed = [e for e in errors if e is not None and not e.startswith("skipped")]
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
