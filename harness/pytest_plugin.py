"""pytest integration: options, the ``harness`` marker, the ``harness_hunt`` fixture, reports.

Registered through the ``pytest11`` entry point, so installing the package is enough. A model
test is one line::

    def test_backoffer_fix(harness_hunt):
        harness_hunt("backoffer.fork")                        # fails with the counterexample

    def test_backoffer_v51_is_caught(harness_hunt):
        harness_hunt("backoffer.unsafe", expect="counterexample")   # fails if NOT caught

On a failure the test's report carries the explanation, the interleaving and the replay
command; the counterexample file's path goes into ``user_properties`` (so JUnit XML has it),
and the terminal summary lists every counterexample of the run, from every xdist worker.

Seeds: each test's seed is derived from the run's seed and the test's node id -- not from the
xdist worker, whose assignment changes between runs -- so different tests explore different
examples. The run seed is ``--hypothesis-seed``, else ``--harness-seed`` (or the
``harness_seed`` ini value); without either, a CI run (``CI`` set) uses 0, so CI is
derandomized, and a local run draws a new one each run, so repeated local runs explore new
examples. A drawn seed is printed in the header and in every failure's report
(``pytest --harness-seed N`` runs the same examples again), and handed to xdist workers in
``HARNESS_RUN_SEED`` so that every worker uses the same one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import plain, report
from harness.artifact import DEFAULT_DIRECTORY, save
from harness.errors import UsageError
from harness.hunt import ENGINES, HuntResult, hunt_spec
from harness.replay import EXPLORE_PREFIX, EXPLORE_REPLAY
from harness.runtime.points import GRANULARITIES
from harness.settings import Settings

MARKER_KEYS = frozenset(
    {"points", "max_examples", "seed", "expect", "variant", "engine", "repeats"}
)
_PROPERTY = "harness_counterexample"
_VERDICT = "harness_verdict"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "concurrency hunting (harness)")
    group.addoption(
        "--harness-points",
        choices=None,
        default=None,
        help=f"scheduling-point granularity: {', '.join(GRANULARITIES)}",
    )
    group.addoption(
        "--harness-artifacts",
        default=None,
        help=f"where counterexamples are written (default {DEFAULT_DIRECTORY})",
    )
    group.addoption(
        "--harness-max-examples",
        type=int,
        default=None,
        help="examples per hunt (default: the Hypothesis profile's max_examples)",
    )
    group.addoption(
        "--harness-seed",
        type=int,
        default=None,
        help="run seed (default: 0 when CI is set, else a new one each run, printed)",
    )
    group.addoption(
        "--harness-engine", default=None, help=f"execution engine: {', '.join(ENGINES)}"
    )
    parser.addini("harness_points", "default scheduling-point granularity", default="access")
    parser.addini("harness_artifacts", "counterexample directory", default=str(DEFAULT_DIRECTORY))
    parser.addini("harness_max_examples", "examples per hunt", default="")
    parser.addini("harness_engine", "execution engine", default="controlled")
    parser.addini("harness_seed", "run seed (default: 0 under CI, else drawn)", default="")


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"--harness-{name.replace('_', '-')}")
    return value if value is not None else config.getini(f"harness_{name}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "harness(points=, max_examples=, seed=, expect=, variant=, engine=, repeats=): "
        "configure harness_hunt for this test",
    )
    config.pluginmanager.register(_Summary(), "harness-summary")
    points = _option(config, "points")
    if points not in GRANULARITIES:
        raise pytest.UsageError(
            f"--harness-points / harness_points: unknown granularity {points!r} "
            f"(choose {', '.join(GRANULARITIES)})"
        )
    engine = _option(config, "engine")
    if engine not in ENGINES:
        raise pytest.UsageError(
            f"--harness-engine / harness_engine: unknown engine {engine!r} "
            f"(available: {', '.join(ENGINES)})"
        )
    examples = _option(config, "max_examples")
    if examples not in ("", None) and (not str(examples).isdigit() or int(examples) < 1):
        raise pytest.UsageError(
            f"--harness-max-examples / harness_max_examples: must be a positive integer, "
            f"got {examples!r}"
        )
    if not hasattr(config, "workerinput"):  # the xdist controller or a plain run checks once
        _check_writable(Path(_option(config, "artifacts")))
        seed = _option(config, "seed")
        if seed not in ("", None) and not str(seed).isdigit():
            raise pytest.UsageError(f"harness_seed: must be an integer, got {seed!r}")
        _run_seed(config)  # draw it now, before xdist starts its workers


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        raise pytest.UsageError(
            f"--harness-artifacts / harness_artifacts: cannot write to {folder}: "
            f"{exc.strerror or exc}"
        ) from None


def check_options(options: dict[str, Any], where: str) -> None:
    """Validate marker or fixture options; raise `pytest.UsageError` naming the bad one."""
    unknown = set(options) - MARKER_KEYS
    if unknown:
        raise pytest.UsageError(
            f"{where}: unknown option(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(MARKER_KEYS))})"
        )
    points = options.get("points")
    if points is not None and points not in GRANULARITIES:
        raise pytest.UsageError(
            f"{where}: points={points!r} is not a granularity (choose {', '.join(GRANULARITIES)})"
        )
    engine = options.get("engine")
    if engine is not None and engine not in ENGINES:
        raise pytest.UsageError(
            f"{where}: engine={engine!r} is not an engine (choose {', '.join(ENGINES)})"
        )
    expect = options.get("expect")
    if expect not in (None, "counterexample", "pass"):
        raise pytest.UsageError(f"{where}: expect={expect!r}: use 'counterexample' or 'pass'")
    for name in ("max_examples", "seed", "repeats"):
        value = options.get(name)
        low = 0 if name == "seed" else 1
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise pytest.UsageError(f"{where}: {name}={value!r} must be an integer")
        if value is not None and value < low:
            raise pytest.UsageError(f"{where}: {name}={value!r} must be at least {low}")
    variant = options.get("variant")
    if variant is not None and not isinstance(variant, str):
        raise pytest.UsageError(f"{where}: variant={variant!r} must be a variant name")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in item.iter_markers("harness"):
            if marker.args:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.harness takes keyword arguments only "
                    f"(known: {', '.join(sorted(MARKER_KEYS))})"
                )
            check_options(dict(marker.kwargs), f"{item.nodeid}: @pytest.mark.harness")


#: Where the run seed a controller drew is handed to its xdist workers (and nested runs).
RUN_SEED_VARIABLE = "HARNESS_RUN_SEED"


def _run_seed(config: pytest.Config) -> int:
    """The run seed, and whether it was drawn: see the module docstring."""
    hypothesis_seed = config.getoption("hypothesis_seed", default=None)
    if hypothesis_seed is not None:
        return int(hypothesis_seed)
    given = _option(config, "seed")
    if given not in ("", None):
        return int(given)
    if os.environ.get("CI"):
        return 0
    drawn = os.environ.get(RUN_SEED_VARIABLE, "")
    if not drawn.isdigit():
        drawn = str(secrets.randbelow(2**32))
        os.environ[RUN_SEED_VARIABLE] = drawn  # xdist workers start after configure
    return int(drawn)


def _seed_is_drawn(config: pytest.Config) -> bool:
    return (
        config.getoption("hypothesis_seed", default=None) is None
        and _option(config, "seed") in ("", None)
        and not os.environ.get("CI")
    )


def pytest_report_header(config: pytest.Config) -> str:
    seed = _run_seed(config)
    if _seed_is_drawn(config):
        return f"harness: run seed {seed} (drawn for this run; --harness-seed {seed} repeats it)"
    return f"harness: run seed {seed}"


def test_seed(run_seed: int, nodeid: str) -> int:
    """The seed of one test: stable for a given run seed and test, different across tests."""
    digest = hashlib.sha256(f"{run_seed}:{nodeid}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def expect_counterexample(
    result: HuntResult, *, max_threads: int | None = None, max_preemptions: int | None = None
) -> None:
    """Fail unless `result` found a counterexample (of at most this size, when given)."""
    label = f"{result.model}.{result.variant}"
    if result.kind not in ("clean", "counterexample"):
        pytest.fail(report.headline(result), pytrace=False)
    if result.failure is None:
        pytest.fail(
            f"{label}: expected a counterexample, none found in {result.examples} examples",
            pytrace=False,
        )
    shape = result.failure.shape()
    if max_threads is not None and shape["threads"] > max_threads:
        pytest.fail(
            f"{label}: counterexample has {shape['threads']} threads, expected <= {max_threads}",
            pytrace=False,
        )
    if max_preemptions is not None and shape["preemptions"] > max_preemptions:
        pytest.fail(
            f"{label}: counterexample has {shape['preemptions']} preemptions, expected "
            f"<= {max_preemptions}",
            pytrace=False,
        )


@pytest.fixture
def harness_hunt(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Hunt a model with this run's settings; fail the test unless the verdict is right.

    ``harness_hunt("backoffer.locked")`` fails with the counterexample's report if one is
    found, and also when the hunt could not test the code (not tested, broken model,
    limitation). ``expect="counterexample"`` inverts it for known-unsafe variants (the test
    passes only if the bug IS found); `expect_counterexample` can then check the shape.
    With no variant (``harness_hunt("backoffer")``) every variant is hunted and each must
    behave as the model declares (`expect_failure`); a list of results is returned.
    Options are checked before anything runs, as strictly as the marker's.
    A plain class works where a model id does: ``harness_hunt(LRUCache, args=(3,))``
    (with the options of `harness.plain.hunt_class`).
    """
    config = request.config
    marker = request.node.get_closest_marker("harness")
    marked: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    artifacts = Path(_option(config, "artifacts"))

    def run(model: Any, **overrides: Any) -> HuntResult | list[HuntResult]:
        class_options = {k: overrides.pop(k) for k in plain.OPTIONS if k in overrides}
        options = {**marked, **overrides}
        try:
            check_options(options, "harness_hunt")
            spec, variants = plain.resolve(model, options.get("variant"), **class_options)
        except (pytest.UsageError, UsageError) as exc:
            pytest.fail(str(exc), pytrace=False)
        note = plain.skipped_note(spec)
        if note is not None:
            warnings.warn(note, plain.PlainClassWarning, stacklevel=2)
        every = len(variants) > 1
        if every and "expect" in options:
            pytest.fail(
                f"harness_hunt({model!r}): expect= needs one variant; without one every "
                "variant is hunted and checked against the model's expect_failure",
                pytrace=False,
            )
        try:
            knobs = Settings(
                **_search_options(request, options),
                engine=options.get("engine") or _option(config, "engine"),
                repeats=options.get("repeats"),
            )
        except UsageError as exc:  # repeats= without the stress engine, for one
            pytest.fail(f"harness_hunt: {exc}", pytrace=False)
        results = []
        for variant in variants:
            result = hunt_spec(spec, variant, knobs)
            expect = options.get("expect", "counterexample" if result.expected_failure else "pass")
            _judge(request, result, expect if every else options.get("expect", "pass"), artifacts)
            results.append(result)
        return results if every else results[0]

    return run


@pytest.fixture
def harness_explore(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """`harness.explore` with this run's settings; fail the test unless the verdict is right.

    ``harness_explore(setup=..., workers=[...], invariant=...)`` fails with the report when
    a schedule breaks the scenario (or it could not be tested), and passes on a clean verdict;
    ``expect="counterexample"`` inverts it. The counterexample is saved like a hunt's and the
    report says how to replay it (`harness.replay_explore`, with the same arguments). The
    ``harness`` marker's points, max_examples, seed and expect apply; explore's own options
    (strategy, bound, instrument, name) are keywords of the call.
    """
    from harness.exploration import explore

    config = request.config
    marker = request.node.get_closest_marker("harness")
    marked: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    artifacts = Path(_option(config, "artifacts"))

    def run(
        setup: Callable[[], Any],
        workers: Any,
        invariant: Callable[[Any], Any] | None = None,
        **overrides: Any,
    ) -> HuntResult:
        own = {
            k: overrides.pop(k)
            for k in ("strategy", "bound", "instrument", "name")
            if k in overrides
        }
        options = {**marked, **overrides}
        try:
            check_options(options, "harness_explore")
            if options.get("variant") is not None:
                raise pytest.UsageError("harness_explore: an explored scenario has no variants")
            result = explore(setup, workers, invariant, **_search_options(request, options), **own)
        except (pytest.UsageError, UsageError) as exc:
            problem = str(exc)
        else:
            _judge(request, result, options.get("expect", "pass"), artifacts)
            return result
        pytest.fail(problem, pytrace=False)

    return run


def _search_options(request: pytest.FixtureRequest, options: dict[str, Any]) -> dict[str, Any]:
    """The seed, example count and point granularity of one fixture call: its own options
    (the call's, then the marker's), else the command line's, else Hypothesis's profile and
    the seed derived from the run seed and the test's id."""
    config = request.config
    examples = options.get("max_examples") or _option(config, "max_examples")
    if examples in ("", None):
        from hypothesis import settings

        examples = settings().max_examples
    seed = options.get("seed")
    if seed is None:
        seed = test_seed(_run_seed(config), request.node.nodeid)
    return {
        "seed": int(seed),
        "max_examples": int(examples),
        "granularity": options.get("points") or _option(config, "points"),
    }


def _judge(request: pytest.FixtureRequest, result: HuntResult, expect: str, folder: Path) -> None:
    """Fail the test unless `result` is what `expect` asks for; attach the report."""
    # A failing test shows its report once, as the failure message; a passing one keeps it
    # as a report section (shown with -rA), so nothing is printed twice.
    seed = f"seed: {result.seed} (run seed {_run_seed(request.config)})"
    if result.kind not in ("clean", "counterexample"):
        pytest.fail(f"{report.pytest_text(result)}\n{seed}", pytrace=False)
    if result.failure is not None:
        path = str(save(result.failure, folder))
        request.node.user_properties.append((_PROPERTY, path))
        text = report.pytest_text(result, path)
        if expect == "pass":
            pytest.fail(f"{text}\n{seed}", pytrace=False)
        request.node.add_report_section("call", "harness", text)
    else:
        request.node.user_properties.append((_VERDICT, report.headline(result)))
        if expect == "counterexample":
            expect_counterexample(result)
        request.node.add_report_section("call", "harness", report.headline(result))


class _Summary:
    """Collects counterexample paths and clean verdicts from every report (xdist workers'
    included) for the end of the run; the clean evidence is shown with ``-v``."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str, str]] = []
        self.verdicts: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == _PROPERTY:
                self.found.append((report.nodeid, str(value), report.outcome))
            elif name == _VERDICT:
                self.verdicts.append((report.nodeid, str(value)))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.verdicts and terminalreporter.config.option.verbose > 0:
            terminalreporter.section("harness verdicts")
            for nodeid, line in sorted(self.verdicts):
                terminalreporter.write_line(f"{nodeid}: {line}")
        if not self.found:
            return
        terminalreporter.section("harness counterexamples")
        for nodeid, path, outcome in sorted(self.found):
            note = "expected" if outcome == "passed" else "FAILED"
            command = f"harness replay {path}"
            if Path(path).name.startswith(EXPLORE_PREFIX):  # its code is the test's own
                command = EXPLORE_REPLAY.replace("FILE", repr(path))
            terminalreporter.write_line(f"{nodeid} ({note}): {command}")
