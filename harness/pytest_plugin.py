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

Seeds: each test's seed is derived from the run's seed (``--hypothesis-seed``, else
``--harness-seed``, default 0) and the test's node id -- not from the xdist worker, whose
assignment changes between runs -- so a given command always explores the same examples, and
different tests explore different ones.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import plain, report
from harness.artifact import DEFAULT_DIRECTORY, save
from harness.errors import UsageError
from harness.hunt import HuntResult, hunt_spec
from harness.runtime.points import GRANULARITIES
from harness.settings import Settings

ENGINES = ("controlled",)
MARKER_KEYS = frozenset({"points", "max_examples", "seed", "expect", "variant"})
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
    group.addoption("--harness-seed", type=int, default=None, help="run seed (default 0)")
    group.addoption(
        "--harness-engine", default=None, help=f"execution engine: {', '.join(ENGINES)}"
    )
    parser.addini("harness_points", "default scheduling-point granularity", default="access")
    parser.addini("harness_artifacts", "counterexample directory", default=str(DEFAULT_DIRECTORY))
    parser.addini("harness_max_examples", "examples per hunt", default="")
    parser.addini("harness_engine", "execution engine", default="controlled")
    parser.addini("harness_seed", "run seed", default="0")


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"--harness-{name.replace('_', '-')}")
    return value if value is not None else config.getini(f"harness_{name}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "harness(points=, max_examples=, seed=, expect=, variant=): configure harness_hunt "
        "for this test",
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
    expect = options.get("expect")
    if expect not in (None, "counterexample", "pass"):
        raise pytest.UsageError(f"{where}: expect={expect!r}: use 'counterexample' or 'pass'")
    for name in ("max_examples", "seed"):
        value = options.get(name)
        low = 1 if name == "max_examples" else 0
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


def _run_seed(config: pytest.Config) -> int:
    hypothesis_seed = config.getoption("hypothesis_seed", default=None)
    if hypothesis_seed is not None:
        return int(hypothesis_seed)
    return int(_option(config, "seed") or 0)


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
        examples = options.get("max_examples") or _option(config, "max_examples")
        if examples in ("", None):
            from hypothesis import settings

            examples = settings().max_examples
        seed = options.get("seed")
        if seed is None:
            seed = test_seed(_run_seed(config), request.node.nodeid)
        knobs = Settings(
            seed=int(seed),
            max_examples=int(examples),
            granularity=options.get("points") or _option(config, "points"),
        )
        results = []
        for variant in variants:
            result = hunt_spec(spec, variant, knobs)
            expect = options.get("expect", "counterexample" if result.expected_failure else "pass")
            _judge(request, result, expect if every else options.get("expect", "pass"), artifacts)
            results.append(result)
        return results if every else results[0]

    return run


def _judge(request: pytest.FixtureRequest, result: HuntResult, expect: str, folder: Path) -> None:
    """Fail the test unless `result` is what `expect` asks for; attach the report."""
    if result.kind not in ("clean", "counterexample"):
        request.node.add_report_section("call", "harness", report.pytest_text(result))
        pytest.fail(report.pytest_text(result), pytrace=False)
    if result.failure is not None:
        path = str(save(result.failure, folder))
        request.node.user_properties.append((_PROPERTY, path))
        text = report.pytest_text(result, path)
        request.node.add_report_section("call", "harness", text)
        if expect == "pass":
            pytest.fail(f"{result.model}.{result.variant}: {text}", pytrace=False)
    else:
        request.node.add_report_section("call", "harness", report.headline(result))
        request.node.user_properties.append((_VERDICT, report.headline(result)))
        if expect == "counterexample":
            expect_counterexample(result)


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
            terminalreporter.write_line(f"{nodeid} ({note}): harness replay {path}")
