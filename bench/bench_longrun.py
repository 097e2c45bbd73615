#!/usr/bin/env python
"""Long runs stay healthy: memory over 1,000 hunts, and hunts after stuck ones.

    python bench/bench_longrun.py [--part memory|stuck|both] [--json PATH]

1. memory: 1,000 hunts in this process -- 300 failing (the unsafe Backoffer, without
   shrinking) and 700 clean (the locked Backoffer, `--clean-examples` examples each), in
   rounds of 3 failing + 7 clean. The resident set size (RSS, from /proc) is read after the
   first 100 hunts (imports, caches and the pool are warm by then) and after the last; the
   growth between the two is the figure (issue 12's bar: < 5 MB). Live `Observer` and
   `Failure` objects are counted at both points too: a leak shows there first.
2. stuck: how much slower a hunt runs after 20 hunts whose workers got stuck where the harness
   cannot see (bench/stuck_models.py: a busy loop, or a real blocking call), against a fresh
   process doing the same. Each side is its own subprocess: the reference workload (10
   shrinking hunts of the unsafe Backoffer) timed in a fresh process, and after the 20 stuck
   hunts (watchdog at 0.1 s). The ratio after / fresh is the figure (bar: <= 1.5x); live
   abandoned threads and the process's thread count are reported.

Times are wall clock on a possibly shared machine: the load average is printed and stored.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path
from time import perf_counter
from typing import Any

from common import REPO_ROOT, loadavg, now

from harness.failure import Failure
from harness.hunt import hunt
from harness.machine import Observer
from harness.runtime.executor import abandoned_threads

STUCK_HUNTS = 20
REFERENCE_HUNTS = 10


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def live(kind: type) -> int:
    gc.collect()
    return sum(isinstance(o, kind) for o in gc.get_objects())


def memory(total: int, clean_examples: int, warm: int) -> dict[str, Any]:
    """`total` hunts, 3 failing then 7 clean in every 10; RSS after `warm` and at the end."""
    samples: dict[str, Any] = {}
    found = clean = 0
    started = perf_counter()
    for i in range(total):
        if i % 10 < 3:
            r = hunt("backoffer", "unsafe", seed=i, shrink=False)
            found += r.found
        else:
            r = hunt("backoffer", "locked", seed=i, max_examples=clean_examples)
            clean += not r.found
        if i + 1 == warm:
            samples["warm"] = {"rss": rss_bytes(), "observers": live(Observer)}
            samples["warm"]["failures"] = live(Failure)
    end = {"rss": rss_bytes(), "observers": live(Observer), "failures": live(Failure)}
    growth = end["rss"] - samples["warm"]["rss"]
    return {
        "hunts": total,
        "failing": sum(1 for i in range(total) if i % 10 < 3),
        "found": found,
        "clean": clean,
        "clean_examples": clean_examples,
        "warm_after": warm,
        "warm": samples["warm"],
        "end": end,
        "rss_growth_bytes": growth,
        "rss_growth_per_hunt_bytes": growth / (total - warm),
        "seconds": perf_counter() - started,
    }


def reference() -> float:
    """The workload both sides of the stuck comparison time: shrinking hunts."""
    started = perf_counter()
    for seed in range(REFERENCE_HUNTS):
        assert hunt("backoffer", "unsafe", seed=seed).found
    return perf_counter() - started


def stuck_child(kind: str) -> dict[str, Any]:
    """Runs in a subprocess: `kind` stuck hunts first (none for "fresh"), then the reference."""
    from stuck_models import BlockModel, SpinModel

    hunt("backoffer", "unsafe", seed=99, shrink=False)  # warm imports and the pool, untimed
    model = {"spin": SpinModel, "block": BlockModel}.get(kind)
    stuck_kinds: list[str | None] = []
    started = perf_counter()
    if model is not None:
        for seed in range(STUCK_HUNTS):
            r = hunt(model, seed=seed, max_examples=10, stuck_after=0.1, shrink=False)
            stuck_kinds.append(r.failure.kind if r.failure is not None else r.broken)
    stuck_seconds = perf_counter() - started
    return {
        "kind": kind,
        "stuck_hunts": len(stuck_kinds),
        "stuck_outcomes": sorted(set(map(str, stuck_kinds))),
        "stuck_seconds": stuck_seconds,
        "abandoned_alive": abandoned_threads(),
        "threads": threading.active_count(),
        "reference_seconds": reference(),
    }


def stuck() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("fresh", "spin", "block"):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", kind],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("{")), None)
        if proc.returncode != 0 or line is None:
            out[kind] = {"error": f"exit {proc.returncode}", "stderr": proc.stderr[-2000:]}
        else:
            out[kind] = json.loads(line)
    fresh = out["fresh"].get("reference_seconds")
    for kind in ("spin", "block"):
        after = out[kind].get("reference_seconds")
        out[kind]["ratio_to_fresh"] = after / fresh if after and fresh else None
    return out


def render(report: dict[str, Any]) -> str:
    load = "/".join(f"{x:.2f}" for x in report["loadavg_before"])
    lines = [f"Python {report['python']}, load average {load} before, {report['date']}"]
    m = report.get("memory")
    if m:
        mib = m["rss_growth_bytes"] / 2**20
        lines.append(
            f"memory: {m['hunts']} hunts ({m['failing']} failing, {m['found']} found; "
            f"{m['hunts'] - m['failing']} clean at {m['clean_examples']} examples) in "
            f"{m['seconds']:.1f} s; RSS {m['warm']['rss'] / 2**20:.1f} MiB after "
            f"{m['warm_after']} -> {m['end']['rss'] / 2**20:.1f} MiB at the end: growth "
            f"{mib:.2f} MiB ({m['rss_growth_per_hunt_bytes'] / 1024:.2f} KiB per hunt); live "
            f"Observers {m['warm']['observers']} -> {m['end']['observers']}, Failures "
            f"{m['warm']['failures']} -> {m['end']['failures']}"
        )
    s = report.get("stuck")
    if s:
        for kind in ("fresh", "spin", "block"):
            c = s[kind]
            if "error" in c:
                lines.append(f"stuck {kind}: FAILED {c['error']}: {c['stderr'][-500:]}")
                continue
            ratio = c.get("ratio_to_fresh")
            lines.append(
                f"stuck {kind}: {c['stuck_hunts']} stuck hunts ({', '.join(c['stuck_outcomes'])})"
                f" in {c['stuck_seconds']:.1f} s; then {REFERENCE_HUNTS} shrinking hunts in "
                f"{c['reference_seconds']:.2f} s"
                + (f" = {ratio:.2f}x fresh" if ratio else "")
                + f"; abandoned threads alive {c['abandoned_alive']}, threads {c['threads']}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--part", choices=("memory", "stuck", "both"), default="both")
    parser.add_argument("--hunts", type=int, default=1000)
    parser.add_argument("--clean-examples", type=int, default=20)
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(stuck_child(args.child)))
        return 0
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "date": now(),
        "loadavg_before": loadavg(),
    }
    if args.part in ("memory", "both"):
        report["memory"] = memory(args.hunts, args.clean_examples, args.warm)
    if args.part in ("stuck", "both"):
        report["stuck"] = stuck()
    report["loadavg_after"] = loadavg()
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
