"""Command line: ``harness hunt MODEL``, ``harness models``.

Exit codes (DESIGN.md): 0 no failure found, 1 counterexample found, 2 usage or input error --
always one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.catalog import all_models
from harness.counterexample import DEFAULT_DIRECTORY, save
from harness.errors import UsageError
from harness.hunt import DEFAULT_MAX_EXAMPLES, HuntResult, hunt_spec, resolve
from harness.runtime.points import DEFAULT_GRANULARITY, GRANULARITIES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    hunt = sub.add_parser("hunt", help="hunt a model's races (every variant unless one is named)")
    hunt.add_argument(
        "model", help="model id (backoffer, backoffer.locked) or package.module:Class"
    )
    hunt.add_argument("--variant", help="only this variant")
    hunt.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    hunt.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    hunt.add_argument(
        "--points",
        choices=GRANULARITIES,
        default=DEFAULT_GRANULARITY,
        help="scheduling-point granularity (default access)",
    )
    hunt.add_argument("--json", action="store_true", help="print one JSON object")
    hunt.add_argument(
        "--artifacts",
        default=str(DEFAULT_DIRECTORY),
        help=f"where counterexamples are written (default {DEFAULT_DIRECTORY})",
    )
    hunt.add_argument("--no-shrink", action="store_true", help="report the first failure as found")
    hunt.add_argument(
        "--check",
        action="store_true",
        help="exit 0 when every variant behaved as its model expects "
        "(known-unsafe ones caught, fixed ones clean), else 1",
    )
    models = sub.add_parser("models", help="list the known models and their variants")
    models.add_argument("--json", action="store_true")
    return parser


def _hunt(args: argparse.Namespace) -> int:
    if args.max_examples < 1:
        raise UsageError(f"--max-examples must be at least 1, got {args.max_examples}")
    if args.seed < 0:
        raise UsageError(f"--seed must be non-negative, got {args.seed}")
    artifacts = Path(args.artifacts)
    if artifacts.exists() and not artifacts.is_dir():
        raise UsageError(f"--artifacts {artifacts} exists and is not a directory")
    spec, variants = resolve(args.model, args.variant)
    results: list[HuntResult] = []
    paths: dict[str, str] = {}
    for variant in variants:
        result = hunt_spec(
            spec,
            variant,
            seed=args.seed,
            max_examples=args.max_examples,
            granularity=args.points,
            shrink=not args.no_shrink,
        )
        if result.failure is not None:
            paths[variant] = str(save(result.failure, artifacts))
        results.append(result)
        if not args.json:
            _print_result(result, paths.get(variant))
    if args.json:
        objects = [_result_json(r, paths.get(r.variant)) for r in results]
        if len(objects) == 1:
            print(json.dumps(objects[0]))
        else:
            print(
                json.dumps(
                    {
                        "model": spec.name,
                        "found": any(r.found for r in results),
                        "variants": objects,
                    }
                )
            )
    for r in results:
        if r.broken:
            print(f"harness: broken model {r.model}.{r.variant}: {r.broken}", file=sys.stderr)
    if any(r.broken for r in results):
        return 2
    if args.check:
        return 0 if all(r.as_expected for r in results) else 1
    return 1 if any(r.found for r in results) else 0


def _result_json(result: HuntResult, artifact: str | None) -> dict[str, Any]:
    data = result.to_json()
    if data["counterexample"] is not None:
        data["counterexample"]["artifact"] = artifact
    return data


def _print_result(result: HuntResult, artifact: str | None) -> None:
    label = f"{result.model}.{result.variant}"
    expectation = "expected" if result.expected_failure else "NOT expected"
    if result.broken:
        print(f"{label}: broken model: {result.broken}")
        return
    if result.failure is None:
        verdict = "as expected" if not result.expected_failure else "but a race was expected"
        print(
            f"{label}: no failure in {result.examples} examples ({result.seconds:.2f} s, "
            f"{result.granularity} points) -- {verdict}"
        )
        return
    first = result.seconds_to_first_failure or 0.0
    print(
        f"{label}: COUNTEREXAMPLE ({expectation}) after {result.first_example} examples, "
        f"{first * 1000:.0f} ms; shrunk in {result.seconds:.2f} s total"
    )
    print("  " + result.failure.describe().replace("\n", "\n  "))
    if artifact:
        print(f"  saved: {artifact}")
    print()


def _models(args: argparse.Namespace) -> int:
    models = all_models()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "model": name,
                        "summary": spec.cls.summary,
                        "origin": spec.origin,
                        "variants": dict(spec.cls.variants),
                        "expect_failure": list(spec.cls.expect_failure),
                    }
                    for name, spec in sorted(models.items())
                ]
            )
        )
        return 0
    for name, spec in sorted(models.items()):
        print(f"{name}: {spec.cls.summary}")
        for variant, text in spec.cls.variants.items():
            mark = " (known unsafe)" if variant in spec.cls.expect_failure else ""
            print(f"  {name}.{variant}{mark}: {text}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "hunt":
            return _hunt(args)
        return _models(args)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
