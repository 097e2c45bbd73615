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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.artifact import DEFAULT_DIRECTORY, save
from harness.explain import explain, interleaving
from harness.hunt import HuntResult, hunt
from harness.runtime.points import GRANULARITIES

ENGINES = ("controlled",)
MARKER_KEYS = frozenset({"points", "max_examples", "seed", "expect", "variant"})
_PROPERTY = "harness_counterexample"


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in item.iter_markers("harness"):
            unknown = set(marker.kwargs) - MARKER_KEYS
            if unknown or marker.args:
                what = ", ".join(sorted(unknown)) or "positional arguments"
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.harness got unknown {what} "
                    f"(known: {', '.join(sorted(MARKER_KEYS))})"
                )
            points = marker.kwargs.get("points")
            if points is not None and points not in GRANULARITIES:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.harness(points={points!r}): unknown granularity"
                )
            expect = marker.kwargs.get("expect")
            if expect not in (None, "counterexample", "pass"):
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.harness(expect={expect!r}): "
                    "use 'counterexample' or 'pass'"
                )


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
    if result.broken:
        pytest.fail(f"{label}: broken model: {result.broken}", pytrace=False)
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
def harness_hunt(request: pytest.FixtureRequest) -> Callable[..., HuntResult]:
    """Hunt a model variant with this run's settings; fail the test on a counterexample.

    ``harness_hunt("backoffer.locked")`` fails with the counterexample's report if one is
    found. ``expect="counterexample"`` inverts it for known-unsafe variants (the test passes
    only if the bug IS found); `expect_counterexample` can then check the shape.
    """
    config = request.config
    marker = request.node.get_closest_marker("harness")
    marked: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    artifacts = Path(_option(config, "artifacts"))

    def run(model: str, **overrides: Any) -> HuntResult:
        options = {**marked, **overrides}
        unknown = set(options) - MARKER_KEYS
        if unknown:
            raise pytest.UsageError(f"harness_hunt: unknown option(s) {', '.join(sorted(unknown))}")
        examples = options.get("max_examples") or _option(config, "max_examples")
        if examples in ("", None):
            from hypothesis import settings

            examples = settings().max_examples
        seed = options.get("seed")
        if seed is None:
            seed = test_seed(_run_seed(config), request.node.nodeid)
        result = hunt(
            model,
            options.get("variant"),
            seed=int(seed),
            max_examples=int(examples),
            granularity=options.get("points") or _option(config, "points"),
        )
        if result.broken:
            pytest.fail(
                f"{result.model}.{result.variant}: broken model: {result.broken}", pytrace=False
            )
        expect = options.get("expect", "pass")
        if result.failure is not None:
            path = str(save(result.failure, artifacts))
            request.node.user_properties.append((_PROPERTY, path))
            report = _report(result, path)
            request.node.add_report_section("call", "harness", report)
            if expect == "pass":
                pytest.fail(report, pytrace=False)
        elif expect == "counterexample":
            expect_counterexample(result)
        return result

    return run


def _report(result: HuntResult, path: str) -> str:
    failure = result.failure
    assert failure is not None
    scenario = failure.describe().split("\n", 2)[2]
    traceback = failure.details if failure.kind == "exception" else ""
    return "\n".join(
        [
            explain(failure),
            *([traceback.rstrip()] if traceback else []),
            "",
            scenario,
            "",
            interleaving(failure),
            "",
            f"counterexample: {path}",
            f"replay: harness replay {path}",
        ]
    )


class _Summary:
    """Collects counterexample paths from every report (xdist workers' included) for the end."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == _PROPERTY:
                self.found.append((report.nodeid, str(value), report.outcome))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.found:
            return
        terminalreporter.section("harness counterexamples")
        for nodeid, path, outcome in sorted(self.found):
            note = "expected" if outcome == "passed" else "FAILED"
            terminalreporter.write_line(f"{nodeid} ({note}): harness replay {path}")
