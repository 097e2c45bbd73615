"""Command line: ``harness hunt MODEL``, ``harness verify MODEL``, ``harness replay FILE``,
``harness models``.

Exit codes: 0 clean, 1 counterexample found, 2 usage or input error, not tested, broken model
or limitation -- always one clear line on stderr, never a traceback -- and 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness import plain, report
from harness.catalog import UNAVAILABLE, all_models
from harness.counterexample import DEFAULT_DIRECTORY, emit_test, load, replay_artifact, save
from harness.errors import UsageError
from harness.failure import Failure
from harness.html import write_html
from harness.hunt import DEFAULT_MAX_EXAMPLES, HuntResult, hunt_spec
from harness.machine import HUNT_STRATEGIES
from harness.runtime.points import DEFAULT_GRANULARITY, GRANULARITIES
from harness.verify_cli import add_verify_parser, run_verify


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    hunt = sub.add_parser("hunt", help="hunt a model's races (every variant unless one is named)")
    hunt.add_argument(
        "model",
        help="model id (backoffer, backoffer.locked), package.module:Class or file.py:Class "
        "(a Model, or any class: hunted as it is)",
    )
    hunt.add_argument("--variant", help="only this variant")
    hunt.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="VALUE",
        help="a plain class's constructor argument: a Python literal (else a string); "
        "NAME=VALUE for a keyword; repeat for more",
    )
    hunt.add_argument(
        "--methods", help="a plain class's methods to call, comma-separated (default: public)"
    )
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
        "--strategy",
        choices=HUNT_STRATEGIES,
        default="random",
        help="how each drawn round is scheduled: the drawn preemptions (random, default), "
        "PCT, or every schedule up to 2 preemptions (dfs)",
    )
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
    add_verify_parser(sub)
    replay = sub.add_parser("replay", help="re-run a saved counterexample and compare its trace")
    replay.add_argument("file", help="a counterexample .json written by harness hunt")
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.add_argument("--full", action="store_true", help="show every scheduling point")
    replay.add_argument("--variant", help="replay against another variant (e.g. the fix)")
    replay.add_argument(
        "--emit-test",
        metavar="PATH",
        help="write a pytest regression test that re-runs this interleaving",
    )
    replay.add_argument("--html", metavar="OUT", help="write a self-contained HTML view")
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
    spec, variants = plain.resolve(args.model, args.variant, **plain.cli_options(args))
    note = plain.skipped_note(spec)
    if note is not None:
        print(f"harness: note: {note}", file=sys.stderr)
    results: list[HuntResult] = []
    paths: dict[str, str] = {}
    interrupt: BaseException | None = None
    for variant in variants:
        try:
            result = hunt_spec(
                spec,
                variant,
                seed=args.seed,
                max_examples=args.max_examples,
                granularity=args.points,
                shrink=not args.no_shrink,
                strategy=args.strategy,
            )
        except (KeyboardInterrupt, SystemExit) as exc:
            partial = getattr(exc, "harness_result", None)
            if partial is None:
                raise
            result, interrupt = partial, exc
        failure = result.failure or result.first_failure
        if failure is not None:
            paths[variant] = str(_save(failure, artifacts))
        results.append(result)
        if not args.json:
            print(report.hunt_text(result, paths.get(variant)))
        if interrupt is not None:
            break
    if args.json:
        print(json.dumps(report.hunt_json(spec.name, results, paths)))
    for r in results:
        if r.kind in ("broken-model", "limitation", "not-tested"):
            print(f"harness: {report.headline(r)}", file=sys.stderr)
    if isinstance(interrupt, SystemExit) and isinstance(interrupt.code, int):
        return interrupt.code
    return report.exit_code(results, check=args.check)


def _save(failure: Failure, directory: Path) -> Path:
    """Save where asked; if that fails, save in a temp directory and say so: never lose it."""
    try:
        return save(failure, directory)
    except OSError as exc:
        fallback = save(failure, tempfile.mkdtemp(prefix="harness-counterexamples-"))
        print(
            f"harness: cannot write to {directory} ({exc.strerror or exc}); "
            f"counterexample saved to {fallback}",
            file=sys.stderr,
        )
        return fallback


def _replay(args: argparse.Namespace) -> int:
    artifact = load(args.file)
    outcome = replay_artifact(artifact, args.variant)
    if args.emit_test:
        emitted = emit_test(artifact, args.emit_test, args.variant)
        if not args.json:
            print(f"regression test written: {emitted}")
    if args.html:
        if outcome.failure is None:
            raise UsageError("--html needs a counterexample that still fails")
        written = write_html(outcome.failure, args.html)
        if not args.json:
            print(f"HTML view written: {written}")
    if args.json:
        print(json.dumps(outcome.to_json()))
    elif outcome.failure is None:
        print(
            f"{artifact.model}.{args.variant or artifact.variant}: no longer fails "
            f"({outcome.divergence})"
        )
    else:
        print(report.failure_text(outcome.failure, full=args.full))
        print()
        if outcome.identical_trace:
            print("reproduced: the trace is identical, step by step")
        else:
            print(f"reproduced, but the {outcome.divergence}")
    return 1 if outcome.reproduced else 0


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
    for module, why in sorted(UNAVAILABLE.items()):
        print(f"(unavailable: {module} {why})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # `harness hunt mymodels:Model` run from a project directory finds `mymodels` there, as
    # `python -m` would (a console script's sys.path starts at its own bin directory).
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        args = _parser().parse_args(argv)
        if args.command == "hunt":
            return _hunt(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "verify":
            return run_verify(args, _save)
        return _models(args)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
