"""The ``harness verify`` subcommand: arguments, progress, and what it prints.

Kept beside `harness.cli` rather than in it so that the hunt's output code stays as it is.
Exit codes: 0 verified or clean, 1 counterexample, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import report
from harness.artifact import DEFAULT_DIRECTORY
from harness.errors import BrokenModelError, UsageError
from harness.hunt import resolve
from harness.keeper import Keeper
from harness.runtime.points import DEFAULT_GRANULARITY, GRANULARITIES
from harness.settings import DEFAULT_BOUND, VERIFY_STRATEGIES, Settings

if TYPE_CHECKING:
    from harness.verify import VerifyResult


def _setup_range(text: str) -> int:
    """``--setup N`` or ``--setup 0..N``: scenarios with 0 to N set-up calls."""
    head, sep, tail = text.partition("..")
    try:
        low, high = (int(head), int(tail)) if sep else (0, int(head))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--setup takes N or 0..N, got {text!r}") from None
    if low != 0 or high < 0:
        raise argparse.ArgumentTypeError(f"--setup takes N or 0..N with N >= 0, got {text!r}")
    return high


_EXAMPLES = """\
examples:
  harness verify counter.locked                  2 workers x 2 calls, up to 2 preemptions
  harness verify counter.locked --setup 1 --calls 1 --workers 3
  harness verify bank.ordered --unbounded --max-seconds 60
"""


def add_verify_parser(sub: Any) -> None:
    verify = sub.add_parser(
        "verify",
        help="every small scenario, every schedule up to a preemption bound",
        description="Every small scenario, every schedule up to a preemption bound.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("model", help="model id with its variant (counter.locked) or module:Class")
    verify.add_argument("--bound", type=int, default=DEFAULT_BOUND, help="preemptions (default 2)")
    verify.add_argument("--unbounded", action="store_true", help="no preemption bound")
    verify.add_argument("--workers", type=int, default=2, help="threads in the round (default 2)")
    verify.add_argument("--calls", type=int, default=2, help="calls per worker (default 2)")
    verify.add_argument(
        "--setup", type=_setup_range, default=0, help="0..N sequential set-up calls (default 0)"
    )
    verify.add_argument(
        "--strategy",
        choices=VERIFY_STRATEGIES,
        default="dfs",
        help="dfs (every schedule, default) or pct (random priority schedules)",
    )
    verify.add_argument("--depth", type=int, default=2, help="PCT bug depth (default 2)")
    verify.add_argument("--max-schedules", type=int, help="stop after this many schedules")
    verify.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    verify.add_argument(
        "--points", choices=GRANULARITIES, default=DEFAULT_GRANULARITY, help="granularity"
    )
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument(
        "--artifacts",
        default=str(DEFAULT_DIRECTORY),
        metavar="DIR",
        help=f"where a counterexample is written (default {DEFAULT_DIRECTORY})",
    )
    verify.add_argument(
        "--no-shrink", action="store_true", help="report the first failure as found"
    )
    verify.add_argument(
        "--no-symmetry",
        action="store_true",
        help="every scenario, even where the model declares interchangeable values",
    )
    verify.add_argument(
        "-q", "--quiet", action="store_true", help="no progress line on stderr (terminal only)"
    )


def _progress(done: int, total: int, schedules: int, seconds: float) -> None:
    if seconds < 2.0:
        return
    rate = schedules / seconds if seconds > 0 else 0.0
    print(
        f"\rverify: {done}/{total} scenarios, {schedules:,} schedules, {rate:,.0f}/s",
        end="",
        file=sys.stderr,
        flush=True,
    )


def run_verify(args: argparse.Namespace) -> int:
    from harness.verify import verify_spec  # the engine only when verifying (cold start)

    if args.bound < 0:
        raise UsageError(f"--bound must be at least 0, got {args.bound}")
    if args.workers < 2:
        raise UsageError(f"--workers must be at least 2, got {args.workers}")
    if args.calls < 1:
        raise UsageError(f"--calls must be at least 1, got {args.calls}")
    if args.max_schedules is not None and args.max_schedules < 1:
        raise UsageError(f"--max-schedules must be at least 1, got {args.max_schedules}")
    if args.max_seconds is not None and not args.max_seconds > 0:
        raise UsageError(f"--max-seconds must be positive, got {args.max_seconds}")
    if args.depth < 1:
        raise UsageError(f"--depth must be at least 1, got {args.depth}")
    spec, variants = resolve(args.model, None)
    if len(variants) != 1:
        raise UsageError(
            f"name one variant to verify: {', '.join(f'{spec.name}.{v}' for v in variants)}"
        )
    tty = sys.stderr.isatty() and not args.json and not args.quiet
    try:
        result = verify_spec(
            spec,
            variants[0],
            Settings(granularity=args.points, shrink=not args.no_shrink),
            bound=None if args.unbounded else args.bound,
            workers=args.workers,
            calls=args.calls,
            setup=args.setup,
            strategy=args.strategy,
            depth=args.depth,
            max_schedules=args.max_schedules,
            max_seconds=args.max_seconds,
            symmetry=not args.no_symmetry,
            progress=_progress if tty else None,
        )
    except BrokenModelError as exc:
        print(f"harness: broken model {spec.name}.{variants[0]}: {exc}", file=sys.stderr)
        return 2
    if tty:
        print("\r\033[K", end="", file=sys.stderr)
    kept = Keeper(Path(args.artifacts), spec).keep(result.failure) if result.failure else None
    artifact = str(kept) if kept is not None else None
    _print(result, artifact, args.json)
    return 1 if result.verdict == "counterexample" else 0


def _print(result: VerifyResult, artifact: str | None, as_json: bool) -> None:
    if as_json:
        data = result.to_json()
        if data["failure"] is not None:
            data["failure"]["artifact"] = artifact
        print(json.dumps(data))
        return
    label = f"{result.model}.{result.variant}"
    print(f"{label}: {result.summary()}")
    if result.failure is not None:
        print()
        print("  " + report.failure_text(result.failure).replace("\n", "\n  "))
        if artifact:
            print(f"  saved: {artifact}")
            print(f"  replay: harness replay {artifact}")
