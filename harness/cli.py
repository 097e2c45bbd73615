"""Command line: ``harness hunt MODEL``, ``harness verify MODEL``, ``harness replay FILE``,
``harness models``.

Exit codes: 0 clean, 1 counterexample found (or reproduced; or, under --engine stress, a
failure seen but not reproduced: no file then), 2 usage or input error, not
tested, broken model or limitation -- always one clear line on stderr, never a traceback -- and
130 interrupted (143 for SIGTERM), after saying where the counterexample found so far is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import harness
from harness import plain, progress, report
from harness.artifact import DEFAULT_DIRECTORY, MAX_SEED, Artifact, load
from harness.catalog import UNAVAILABLE, all_models, split_variant
from harness.errors import UsageError
from harness.hunt import DEFAULT_MAX_EXAMPLES, ENGINES, MAX_EXAMPLES, HuntResult, hunt_spec
from harness.keeper import Keeper
from harness.machine import HUNT_STRATEGIES
from harness.model import ModelSpec
from harness.replay import ReplayOutcome, python_note, replay_artifact, replay_command
from harness.runtime.points import DEFAULT_GRANULARITY, GRANULARITIES
from harness.settings import DEFAULT_REPEATS, Settings
from harness.verify_cli import add_verify_parser, run_verify

#: The most free-running rounds per stress example: beyond it one example takes hours.
MAX_REPEATS = 100_000


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _bounded(low: int, high: int, shown: str) -> Callable[[str], int]:
    """An argparse type: a decimal integer from `low` to `high`, refused without echoing a
    5,000-digit value back."""

    def parse(text: str) -> int:
        digits = text.strip().removeprefix("-")
        if not digits.isascii() or not digits.isdigit() or len(digits) > 25:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {shown}")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {low} to {shown}, got {value}"
            )
        return value

    return parse


_DESCRIPTION = """\
Property-based stress tests for objects shared between threads: hunt a model's races, verify
small scenarios exhaustively, replay a saved counterexample.

exit codes: 0 clean, 1 counterexample (found or reproduced) or failure under
--engine stress, 2 usage or input error, not
tested, broken model or limitation (one line on stderr), 130 interrupted (143 for SIGTERM).
Run `harness COMMAND --help` for a command's options and examples."""

_EXAMPLES = {
    "harness": """\
examples:
  harness models                       list the models you can hunt
  harness hunt backoffer               hunt every variant of the Backoffer
  harness hunt backoffer.locked        hunt one variant
  harness replay .harness/counterexamples/backoffer.unsafe-1bf04d0cfc00.json
""",
    "hunt": """\
examples:
  harness hunt backoffer                         every variant of a catalog model
  harness hunt backoffer --variant unsafe,fork   two of its variants
  harness hunt mypkg.models:CacheModel --seed 3 --max-examples 500
  harness hunt cache.py:LRUCache --arg maxsize=2 --methods get,put
  harness hunt backoffer --json                  one JSON object on stdout

A counterexample is saved under --artifacts and printed with the command that replays it.
""",
    "replay": """\
examples:
  harness replay FILE                          the same interleaving, step by step
  harness replay FILE --variant locked         does the fix still fail? (exit 0: no)
  harness replay FILE --emit-test tests/test_regression.py
  harness replay FILE --html view.html         the threads as swimlanes in a browser

FILE is a counterexample written by `harness hunt` (the path it printed after "saved:").
""",
    "models": """\
examples:
  harness models            each model, its variants, and which are known unsafe
  harness models --json     the same as one JSON array
""",
}


def installed_version() -> str:
    """The version of the installed distribution, which is what a bug report needs; the
    package's own ``__version__`` when run from a checkout that was never installed."""
    import importlib.metadata  # about 25 ms: only for --version

    try:
        return importlib.metadata.version("harness")
    except importlib.metadata.PackageNotFoundError:
        return harness.__version__


class _Version(argparse.Action):
    """``--version``, looked up only when asked for (reading the installed distribution's
    metadata is a cost every other command would pay at start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"harness {installed_version()} (Python {platform.python_version()})")
        parser.exit()


def _command(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose --help shows its usage examples under the options."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=_EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness",
        description=_DESCRIPTION,
        epilog=_EXAMPLES["harness"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action=_Version,
        help="print the harness's version and the Python it runs on, then exit",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    hunt = _command(sub, "hunt", "hunt a model's races (every variant unless one is named)")
    _add_hunt_target(hunt)
    _add_hunt_search(hunt)
    _add_hunt_output(hunt)
    add_verify_parser(sub)
    _add_replay(_command(sub, "replay", "re-run a saved counterexample and compare its trace"))
    models = _command(sub, "models", "list the known models and their variants")
    models.add_argument(
        "--json",
        action="store_true",
        help="print one JSON array: model, summary, origin, variants, expect_failure",
    )
    return parser


def _add_hunt_target(hunt: argparse.ArgumentParser) -> None:
    """What to hunt: the model, its variants, a plain class's constructor and methods."""
    hunt.add_argument(
        "model",
        help="model id (backoffer, backoffer.locked), package.module:Class or file.py:Class "
        "(a Model, or any class: hunted as it is)",
    )
    hunt.add_argument(
        "--variant",
        metavar="V[,V...]",
        help="only these variants, comma-separated (not with MODEL.variant)",
    )
    hunt.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="VALUE",
        help="a plain class's constructor argument: a Python literal (else a string); "
        "NAME=VALUE for a keyword; repeat for more",
    )
    hunt.add_argument(
        "--methods",
        metavar="NAMES",
        help="a plain class's methods to call, comma-separated (default: public)",
    )


def _add_hunt_search(hunt: argparse.ArgumentParser) -> None:
    """How to search: seed, budget, granularity, engine and schedule strategy."""
    hunt.add_argument(
        "--seed",
        type=_bounded(0, MAX_SEED, "2**64-1"),
        default=0,
        metavar="N",
        help="Hypothesis seed, 0 to 2**64-1 (default 0): the same seed finds the same thing",
    )
    hunt.add_argument(
        "--max-examples",
        type=_bounded(1, MAX_EXAMPLES, f"{MAX_EXAMPLES:,}"),
        default=DEFAULT_MAX_EXAMPLES,
        metavar="N",
        help=f"scenarios to try per variant, 1 to {MAX_EXAMPLES:,} "
        f"(default {DEFAULT_MAX_EXAMPLES}); more finds rarer races, slower",
    )
    hunt.add_argument(
        "--points",
        choices=GRANULARITIES,
        default=DEFAULT_GRANULARITY,
        help="where a thread may be preempted: gil (what a GIL build can interleave), access "
        "(default: every attribute/item access too), opcode (every instruction)",
    )
    hunt.add_argument(
        "--engine",
        choices=ENGINES,
        default="controlled",
        help="controlled (the deterministic scheduler, default) or stress (free-running "
        "threads; what they find is reproduced deterministically)",
    )
    hunt.add_argument(
        "--repeats",
        type=_bounded(1, MAX_REPEATS, f"{MAX_REPEATS:,}"),
        default=None,
        metavar="N",
        help=f"--engine stress: free-running rounds per example (default {DEFAULT_REPEATS})",
    )
    hunt.add_argument(
        "--strategy",
        choices=HUNT_STRATEGIES,
        default="random",
        help="controlled engine: how each drawn round is scheduled: the drawn preemptions "
        "(random, default), PCT, or every schedule up to 2 preemptions (dfs)",
    )
    hunt.add_argument(
        "--no-shrink",
        action="store_true",
        help="report the first failure as found, without making it smaller",
    )


def _add_hunt_output(hunt: argparse.ArgumentParser) -> None:
    """What the hunt writes: files, JSON, progress, exit status."""
    hunt.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout (no colour)"
    )
    hunt.add_argument(
        "--artifacts",
        default=str(DEFAULT_DIRECTORY),
        metavar="DIR",
        help=f"where counterexamples are written (default {DEFAULT_DIRECTORY})",
    )
    hunt.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line on stderr (it is shown only on a terminal, for hunts over "
        f"{progress.DELAY:.0f} s)",
    )
    hunt.add_argument(
        "--check",
        action="store_true",
        help="exit 0 when every variant behaved as its model expects "
        "(known-unsafe ones caught, fixed ones clean), else 1",
    )


def _add_replay(replay: argparse.ArgumentParser) -> None:
    replay.add_argument("file", help="a counterexample .json written by harness hunt")
    replay.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: the verdict, model, variant, file, Python written/now",
    )
    replay.add_argument(
        "--full",
        action="store_true",
        help="show every scheduling point, not only those that matter",
    )
    replay.add_argument(
        "--variant", metavar="V", help="replay against another variant (e.g. the fix)"
    )
    replay.add_argument(
        "--model",
        metavar="REF",
        help="the model to replay with: a model id or package.module:Class (needed for a "
        "model outside the catalog, unless --trust-file)",
    )
    replay.add_argument(
        "--trust-file",
        action="store_true",
        help="import the module:Class the file names, if its model is not in the catalog "
        "(files never choose code to run otherwise)",
    )
    replay.add_argument(
        "--emit-test",
        metavar="PATH",
        help="write a pytest regression test that re-runs this interleaving",
    )
    replay.add_argument(
        "--html", metavar="OUT", help="write a self-contained HTML page: the threads as swimlanes"
    )


def _hunt(args: argparse.Namespace) -> int:
    artifacts = _artifacts_dir(args.artifacts)
    spec, variants = _resolve_variants(args)
    note = plain.skipped_note(spec)
    if note is not None:
        print(f"harness: note: {note}", file=sys.stderr)
    colour = not args.json and report.colour_wanted(sys.stdout)
    settings = Settings(
        seed=args.seed,
        max_examples=args.max_examples,
        granularity=args.points,
        shrink=not args.no_shrink,
        strategy=args.strategy,
        engine=args.engine,
        repeats=args.repeats,
    )
    results: list[HuntResult] = []
    paths: dict[str, str] = {}
    interrupt: BaseException | None = None
    for variant in variants:
        keeper = Keeper(artifacts, spec)
        result, interrupt = _hunt_one(args, spec, variant, settings, keeper)
        saved = _keep(keeper, result, interrupt)
        if saved is not None:
            paths[variant] = saved
        if interrupt is not None:
            _say_interrupted(keeper, f"{spec.name}.{variant}", interrupt)
        results.append(result)
        if not args.json:
            print(report.hunt_text(result, paths.get(variant), colour=colour))
        if interrupt is not None:
            break
    return _hunt_exit(args, spec, results, paths, interrupt)


def _artifacts_dir(value: str) -> Path:
    """The --artifacts folder, refused in one line when it cannot be one."""
    if "\0" in value:
        raise UsageError("--artifacts: a path cannot contain a NUL byte")
    artifacts = Path(value)
    if artifacts.exists() and not artifacts.is_dir():
        raise UsageError(f"--artifacts {artifacts} exists and is not a directory")
    return artifacts


def _keep(keeper: Keeper, result: HuntResult, interrupt: BaseException | None) -> str | None:
    """Put the hunt's counterexample (or the failure an interrupt kept) on disk; its path."""
    failure = result.failure or result.first_failure
    saved = None
    if failure is not None:
        saved = keeper.keep(failure) if interrupt is None else keeper.keep_with_values(failure)
    keeper.dump_unsaved()
    return None if saved is None else str(saved)


def _hunt_exit(
    args: argparse.Namespace,
    spec: ModelSpec,
    results: list[HuntResult],
    paths: dict[str, str],
    interrupt: BaseException | None,
) -> int:
    """--json's one object, a stderr line per verdict that is not a result, the exit status."""
    if args.json:
        print(json.dumps(report.hunt_json(spec.name, results, paths)))
    for r in results:
        if r.kind in ("broken-model", "limitation", "not-tested"):
            print(f"harness: {report.headline(r)}", file=sys.stderr)
    if isinstance(interrupt, SystemExit) and isinstance(interrupt.code, int):
        return interrupt.code
    return report.exit_code(results, check=args.check)


def _hunt_one(
    args: argparse.Namespace, spec: ModelSpec, variant: str, settings: Settings, keeper: Keeper
) -> tuple[HuntResult, BaseException | None]:
    """Hunt one variant, with a progress line on a terminal; an interrupt comes back with the
    partial result it carries (re-raised when it carries none)."""
    show = progress.wanted(sys.stderr, quiet=args.quiet)
    line = progress.Progress(f"{spec.name}.{variant}", sys.stderr) if show else None
    try:
        with progress.showing(line):
            result = hunt_spec(spec, variant, settings, on_failure=keeper.found)
    except (KeyboardInterrupt, SystemExit) as exc:
        partial = getattr(exc, "harness_result", None)
        if partial is None:
            raise
        return partial, exc
    return result, None


def _resolve_variants(args: argparse.Namespace) -> tuple[ModelSpec, list[str]]:
    """The model and the variants to hunt: MODEL.variant, or --variant a,b, or all of them.

    Naming a variant both ways is refused: silently preferring one would hunt something the
    user did not ask for.
    """
    _ref, inline = split_variant(args.model)
    if inline is not None and args.variant is not None:
        raise UsageError(
            f"{args.model} names variant {inline!r} and --variant names {args.variant!r}: "
            "give the variant once"
        )
    options = plain.cli_options(args)
    if args.variant is None:
        return plain.resolve(args.model, None, **options)
    wanted = [v.strip() for v in args.variant.split(",")]
    if "" in wanted:
        raise UsageError(f"--variant {args.variant!r}: an empty variant name")
    spec, _ = plain.resolve(args.model, wanted[0], **options)
    for variant in wanted[1:]:
        plain.resolve(args.model, variant, **options)  # the same error as for the first
    return spec, list(dict.fromkeys(wanted))


def _say_interrupted(keeper: Keeper, label: str, interrupt: BaseException) -> None:
    """One line on stderr: what stopped the hunt, and where its counterexample so far is."""
    why = "terminated (SIGTERM)" if isinstance(interrupt, SystemExit) else "interrupted"
    if keeper.path is not None and keeper.best is not None:
        found = (
            f"; the counterexample found so far is saved: {keeper.path} "
            f"(replay: {replay_command(keeper.path, keeper.best)})"
        )
    elif keeper.unsaved is not None:
        found = "; the counterexample found so far is printed above"
    else:
        found = "; no counterexample had been found"
    print(f"harness: {why} while hunting {label}{found}", file=sys.stderr)


def _replay(args: argparse.Namespace) -> int:
    artifact = load(args.file)
    note = python_note(artifact)
    if note is not None:
        print(f"harness: note: {note}", file=sys.stderr)
    outcome = replay_artifact(artifact, args.variant, model=args.model, trust_file=args.trust_file)
    if args.emit_test:
        from harness.emit import emit_test  # only replay --emit-test needs it

        emitted = emit_test(artifact, args.emit_test, outcome.model, args.variant)
        if not args.json:
            print(f"regression test written: {emitted}")
    if args.html:
        from harness.html import write_html  # only replay --html needs it

        if outcome.failure is None:
            raise UsageError("--html needs a counterexample that still fails")
        written = write_html(outcome.failure, args.html)
        if not args.json:
            print(f"HTML view written: {written}")
    if args.json:
        print(json.dumps(report.replay_json(artifact, outcome, args.variant)))
    else:
        _print_replay(args, artifact, outcome)
    if outcome.verdict == "different-failure":
        raise UsageError(
            f"{artifact.path}: not reproduced: {outcome.different} (has the model changed?)"
        )
    if outcome.verdict == "inconclusive":
        raise UsageError(
            f"{artifact.path}: did not reproduce on this Python, which is no evidence of a fix "
            "(see the note above)"
        )
    return 1 if outcome.reproduced else 0


def _print_replay(args: argparse.Namespace, artifact: Artifact, outcome: ReplayOutcome) -> None:
    """What a replay shows in the terminal: the failure again and whether its trace matched."""
    if outcome.failure is None:
        if outcome.verdict == "no-longer-fails":
            label = f"{artifact.model}.{args.variant or artifact.variant}"
            print(f"{label}: no longer fails ({outcome.divergence})")
        return
    colour = report.colour_wanted(sys.stdout)
    print(report.failure_text(outcome.failure, full=args.full, colour=colour))
    print()
    if outcome.identical_trace:
        print("reproduced: the trace is identical, step by step")
    elif outcome.reproduced:
        print(f"reproduced, but the {outcome.divergence}")


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


def _one_line(text: str) -> str:
    """A message as one printable line, whatever it quotes: surrogates and control characters
    (a newline in a model id, say) are escaped, and a huge one is cut."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= 2_000 else text[:1_997] + "..."


def _hypothesis_storage() -> None:
    """Keep Hypothesis's own cache files (it writes `.hypothesis/` into the working directory)
    under `.harness/`, unless the user chose where Hypothesis stores things."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(Path.cwd() / ".harness" / "hypothesis")


def main(argv: Sequence[str] | None = None) -> int:
    # `harness hunt mymodels:Model` run from a project directory finds `mymodels` there, as
    # `python -m` would (a console script's sys.path starts at its own bin directory).
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        args = _parser().parse_args(argv)
        _hypothesis_storage()
        if args.command == "hunt":
            return _hunt(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "verify":
            return run_verify(args)
        return _models(args)
    except UsageError as exc:
        print(f"harness: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
