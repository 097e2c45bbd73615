"""Hunting known-unsafe variants: how fast the first counterexample comes, how small the last is.

    python bench/bench_hunt.py [--seeds N] [--models backoffer counter ...] [--variants unsafe]
                               [--points gil access] [--json PATH]

For each model's known-unsafe variants (or those named), each granularity and each seed
0..N-1: one hunt, shrinking included. The first failure's example number and time come from
the same hunt as the shrunk one (the hunt finds it before it shrinks it), so one hunt per seed
measures both. "examples to shrunk" counts every example Hypothesis ran in the hunt: the first
failure's number, plus a re-run with Hypothesis shrinking when the harness's minimiser falls
short of the minimal shape; the minimiser's replays are in the time, not the count.
"minimal" is `Failure.looks_minimal`: one parallel round, 2 workers, 1 call each, at most 1
preemption, plus only the sequential steps the failure needs to set it up or to see it; the
shapes column counts (steps, workers, calls, preemptions) of the shrunk counterexamples.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from time import perf_counter
from typing import Any

from common import now, spread

from harness.catalog import all_models
from harness.hunt import DEFAULT_MAX_EXAMPLES, hunt


def one_seed(model: str, variant: str, granularity: str, seed: int) -> dict[str, Any]:
    started = perf_counter()
    result = hunt(model, variant, seed=seed, granularity=granularity)
    row: dict[str, Any] = {
        "seed": seed,
        "found": result.found,
        "examples_to_first": result.first_example,
        "seconds_to_first": result.seconds_to_first_failure,
        "examples_to_shrunk": result.examples if result.found else None,
        "seconds_to_shrunk": perf_counter() - started if result.found else None,
        "shape": None,
        "minimal": False,
        "failure": None,
    }
    failure = result.failure
    if failure is not None:
        shape = failure.shape()
        row["shape"] = (
            f"{shape['steps']}s/{shape['threads']}w/{shape['operations']}c/{shape['preemptions']}p"
        )
        row["minimal"] = failure.looks_minimal()
        row["failure"] = failure.invariant or failure.message.split(": ", 1)[-1]
    return row


def _count(values: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def measure(model: str, variant: str, granularity: str, seeds: int) -> dict[str, Any]:
    # Untimed: the first hunt in a process pays for imports, Hypothesis's set-up and the point
    # tables, which would otherwise land on seed 0's time to first failure alone.
    hunt(model, variant, seed=seeds, granularity=granularity, shrink=False, max_examples=5)
    per_seed = [one_seed(model, variant, granularity, seed) for seed in range(seeds)]
    found = [r for r in per_seed if r["found"]]

    def of(key: str) -> dict[str, Any]:
        return spread([r[key] for r in found if r[key] is not None])

    return {
        "model": model,
        "variant": variant,
        "granularity": granularity,
        "seeds": seeds,
        "max_examples": DEFAULT_MAX_EXAMPLES,
        "found": len(found),
        "minimal": sum(r["minimal"] for r in found),
        "examples_to_first": of("examples_to_first"),
        "seconds_to_first": of("seconds_to_first"),
        "examples_to_shrunk": of("examples_to_shrunk"),
        "seconds_to_shrunk": of("seconds_to_shrunk"),
        "failures": _count([r["failure"] for r in found]),
        "shapes": _count([r["shape"] for r in found]),
        "per_seed": per_seed,
    }


def _g(stats: dict[str, Any], scale: float = 1.0) -> str:
    if stats["median"] is None:
        return "-"
    return f"median {stats['median'] * scale:.3g} p90 {stats['p90'] * scale:.3g}"


def describe(row: dict[str, Any]) -> str:
    return (
        f"{row['model']}.{row['variant']} {row['granularity']:6} "
        f"found {row['found']}/{row['seeds']}  examples to first: {_g(row['examples_to_first'])}"
        f"  ms to first: {_g(row['seconds_to_first'], 1000)}  minimal {row['minimal']}/"
        f"{row['seeds']}  examples to shrunk: {_g(row['examples_to_shrunk'])}  s to shrunk: "
        f"{_g(row['seconds_to_shrunk'])}  shapes {row['shapes']}  {row['failures']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--models", nargs="+", default=["backoffer"])
    parser.add_argument(
        "--variants", nargs="+", help="only these variants (default: every known-unsafe one)"
    )
    parser.add_argument("--points", nargs="+", default=["gil", "access", "opcode"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = []
    began = perf_counter()
    for model in args.models:
        spec = all_models()[model]
        for variant in spec.cls.expect_failure:
            if args.variants and variant not in args.variants:
                continue
            for granularity in args.points:
                row = measure(model, variant, granularity, args.seeds)
                rows.append(row)
                print(describe(row), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "python": platform.python_version(),
            "date": now(),
            "total_seconds": perf_counter() - began,
            "rows": rows,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
