"""Hunting known-unsafe variants: how fast the first counterexample comes, how small the last is.

    python bench/bench_hunt.py [--seeds N] [--models backoffer counter ...] [--points gil access]
                               [--json PATH]

For each model's known-unsafe variants, each granularity and each seed 0..N-1: one hunt without
shrinking (examples and wall time to the first failure) and one with shrinking. "minimal" means
one parallel round and no other step, 2 workers, 1 call each, 1 preemption; the shapes column
counts (steps, workers, calls, preemptions) of the shrunk counterexamples.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.catalog import all_models
from harness.hunt import hunt

MINIMAL = {"steps": 1, "threads": 2, "calls_per_worker": [1, 1], "preemptions": 1}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(model: str, variant: str, granularity: str, seeds: int) -> dict[str, Any]:
    firsts, first_ms, found = [], [], 0
    for seed in range(seeds):
        result = hunt(model, variant, seed=seed, granularity=granularity, shrink=False)
        if result.found and result.first_example is not None:
            found += 1
            firsts.append(result.first_example)
            first_ms.append((result.seconds_to_first_failure or 0) * 1000)
    minimal, shrink_s, messages, shapes = 0, [], {}, {}
    for seed in range(seeds):
        started = perf_counter()
        result = hunt(model, variant, seed=seed, granularity=granularity)
        shrink_s.append(perf_counter() - started)
        failure = result.failure
        if failure is None:
            continue
        shape = failure.shape()
        if {k: shape[k] for k in MINIMAL} == MINIMAL:
            minimal += 1
        key_shape = (
            f"{shape['steps']}s/{shape['threads']}w/{shape['operations']}c/{shape['preemptions']}p"
        )
        shapes[key_shape] = shapes.get(key_shape, 0) + 1
        key = failure.invariant or failure.message.split(": ", 1)[-1]
        messages[key] = messages.get(key, 0) + 1
    return {
        "model": model,
        "variant": variant,
        "granularity": granularity,
        "seeds": seeds,
        "found": found,
        "examples_to_first_median": statistics.median(firsts) if firsts else None,
        "examples_to_first_p90": _pct(firsts, 0.9) if firsts else None,
        "ms_to_first_median": round(statistics.median(first_ms), 1) if first_ms else None,
        "ms_to_first_p90": round(_pct(first_ms, 0.9), 1) if first_ms else None,
        "minimal": minimal,
        "seconds_to_shrunk_median": round(statistics.median(shrink_s), 2),
        "seconds_to_shrunk_p90": round(_pct(shrink_s, 0.9), 2),
        "failures": messages,
        "shapes": shapes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--models", nargs="+", default=["backoffer"])
    parser.add_argument("--points", nargs="+", default=["gil", "access", "opcode"])
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    for model in args.models:
        spec = all_models()[model]
        for variant in spec.cls.expect_failure:
            for granularity in args.points:
                row = measure(model, variant, granularity, args.seeds)
                rows.append(row)
                print(
                    f"{model}.{variant} {granularity:6} found {row['found']}/{row['seeds']}  "
                    f"examples to first: median {row['examples_to_first_median']} "
                    f"p90 {row['examples_to_first_p90']}  ms to first: median "
                    f"{row['ms_to_first_median']} p90 {row['ms_to_first_p90']}  "
                    f"minimal {row['minimal']}/{row['seeds']}  shrunk in s: median "
                    f"{row['seconds_to_shrunk_median']} p90 {row['seconds_to_shrunk_p90']}  "
                    f"shapes {row['shapes']}  {row['failures']}",
                    flush=True,
                )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"python": platform.python_version(), "rows": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
