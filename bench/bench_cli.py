#!/usr/bin/env python
"""Cold command line: ``harness hunt backoffer.unsafe --no-shrink``, interpreter start-up included.

    python bench/bench_cli.py [--runs N] [--python PATH ...] [--json PATH]

Each run is a new process, as a user's shell starts it: the console script of the given
interpreter's environment (``<venv>/bin/harness``), so start-up, imports, the model's
discovery, the hunt, the report and the counterexample file are all in. After one untimed run
(which also writes the bytecode caches a user has after their first run) the command runs N
times; wall time per run and the children's CPU time (user + system, from the OS's
accounting of each finished child) are reported as min / median / max. Beside it,
``python -c "import hypothesis"`` and ``python -c pass`` in the same environment: the part of
the figure that is Hypothesis's own import and the interpreter's start-up. Issue 13's bar: a
median wall time <= 350 ms on an idle machine; the load average is printed and stored.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

from common import loadavg, now

COMMAND = ["hunt", "backoffer.unsafe", "--no-shrink"]


def timed(command: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the child, exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = perf_counter()
    status = subprocess.run(
        command,
        check=False,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ).returncode
    wall = perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, status


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def measure(python: str, runs: int) -> dict[str, Any]:
    bindir = Path(python).parent
    harness = bindir / "harness"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cells: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as cwd:
        for label, command in (
            ("harness hunt backoffer.unsafe --no-shrink", [str(harness), *COMMAND]),
            ("python -c 'import hypothesis'", [python, "-c", "import hypothesis"]),
            ("python -c pass", [python, "-c", "pass"]),
        ):
            timed(command, cwd, env)  # untimed: bytecode caches, page cache
            samples = [timed(command, cwd, env) for _ in range(runs)]
            cells[label] = {
                "wall": spread([s[0] for s in samples]),
                "cpu": spread([s[1] for s in samples]),
                "exit_status": sorted({s[2] for s in samples}),
            }
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {"python": version, "interpreter": python, "runs": runs, "cells": cells}


def render(report: dict[str, Any]) -> str:
    load = "/".join(f"{x:.2f}" for x in report["loadavg_before"])
    lines = [f"cold CLI, {report['runs']} runs each, load average {load} before"]
    for m in report["measurements"]:
        for label, c in m["cells"].items():
            w, u = c["wall"], c["cpu"]
            lines.append(
                f"  Python {m['python']}: {label}: wall median {w['median'] * 1000:.0f} ms "
                f"(min {w['min'] * 1000:.0f}, max {w['max'] * 1000:.0f}), cpu median "
                f"{u['median'] * 1000:.0f} ms, exit {c['exit_status']}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--python",
        nargs="+",
        default=[sys.executable],
        help="interpreters of environments with the project installed (default: this one)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "date": now(),
        "platform": platform.platform(),
        "runs": args.runs,
        "loadavg_before": loadavg(),
        "measurements": [measure(p, args.runs) for p in args.python],
    }
    report["loadavg_after"] = loadavg()
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
