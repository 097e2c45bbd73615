"""The pytest plugin: options, marker, fixture, reports, xdist, timeouts, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.artifact import SCHEMA
from tests.conftest import ROOT, run_command

SUITE = """
def test_unsafe_is_a_bug(harness_hunt):
    harness_hunt("backoffer.unsafe")

def test_unsafe_is_caught(harness_hunt):
    harness_hunt("backoffer.unsafe", expect="counterexample")

def test_fork_fix_passes(harness_hunt):
    harness_hunt("backoffer.fork", max_examples=20)
"""


def _pytest(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    full_env.pop("PYTEST_XDIST_WORKER", None)
    full_env.pop("PYTEST_ADDOPTS", None)
    return run_command(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=tmp_path,
        env=full_env,
        timeout=timeout,
    )


def _write_suite(tmp_path: Path, text: str = SUITE) -> None:
    (tmp_path / "test_suite.py").write_text(text)


def test_suite_with_unsafe_model_fails_with_report_summary_and_artifacts(tmp_path: Path) -> None:
    more = "".join(
        f"\ndef test_caught_{i}(harness_hunt):\n"
        f"    harness_hunt('backoffer.unsafe', expect='counterexample', max_examples=30)\n"
        for i in range(4)
    )
    _write_suite(tmp_path, SUITE + more)
    done = _pytest(tmp_path, "-n", "2", "-vv", "--harness-artifacts", "cx", "--junitxml", "out.xml")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 6 passed" in out
    # Tests that found counterexamples ran on both workers, and every one of them is saved.
    assert "[gw0]" in out and "[gw1]" in out
    listed = re.findall(
        r"^test_suite\.py::\w+ \((?:expected|FAILED)\): harness replay (cx/\S+\.json)$",
        out,
        re.MULTILINE,
    )
    assert len(listed) == 6 and all((tmp_path / name).exists() for name in listed)
    # Identical shrunk counterexamples share one file (named by content), never clobber.
    assert "update is lost" in out and "preempted, worker" in out  # explanation + table
    assert "harness counterexamples" in out  # terminal summary on the controller
    assert out.count("harness replay cx/") >= 2  # the failure and the expected one
    files = list((tmp_path / "cx").glob("*.json"))
    assert len(files) >= 1 and all(json.loads(f.read_text())["schema"] == SCHEMA for f in files)
    assert "harness_counterexample" in (tmp_path / "out.xml").read_text()


def test_same_hypothesis_seed_gives_the_same_counterexample_files(tmp_path: Path) -> None:
    _write_suite(tmp_path, SUITE.split("def test_unsafe_is_caught", maxsplit=1)[0])
    contents = []
    for run in ("a", "b"):
        _pytest(tmp_path, "-n", "2", "--hypothesis-seed", "42", "--harness-artifacts", run)
        contents.append(sorted(f.read_text() for f in (tmp_path / run).glob("*.json")))
    assert contents[0] and contents[0] == contents[1]


def test_deadlock_ends_fast_with_a_report_not_a_timeout(tmp_path: Path) -> None:
    _write_suite(
        tmp_path,
        """
def test_bank(harness_hunt):
    harness_hunt("tests.targets.bank:BankModel", variant="naive")
""",
    )
    # The harness reports the deadlock itself; pytest-timeout (the backstop) must not fire.
    done = _pytest(tmp_path, "--timeout", "120", "-p", "no:xdist")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "deadlock" in done.stdout and "wait-for cycle" in done.stdout
    assert "acquire Lock bank.py:" in done.stdout  # the table shows the acquires, as files
    assert "Timeout" not in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--harness-points", "line"], "--harness-points"),
        (["--harness-engine", "turbo"], "--harness-engine"),
        (["--harness-max-examples", "0"], "--harness-max-examples"),
        (["--harness-artifacts", "/proc/nope"], "--harness-artifacts"),
    ],
)
def test_bad_options_are_usage_errors_before_tests_run(
    tmp_path: Path, args: list[str], message: str
) -> None:
    _write_suite(tmp_path)
    done = _pytest(tmp_path, *args, "-p", "no:xdist")
    assert done.returncode == 4, done.stdout + done.stderr
    assert message in done.stderr and "passed" not in done.stdout


def test_marker_with_unknown_keyword_is_a_usage_error(tmp_path: Path) -> None:
    _write_suite(
        tmp_path,
        """
import pytest

@pytest.mark.harness(pointz="gil")
def test_typo(harness_hunt):
    harness_hunt("backoffer.locked")
""",
    )
    done = _pytest(tmp_path, "-p", "no:xdist")
    assert done.returncode == 4
    assert "pointz" in done.stderr


def test_marker_configures_the_hunt(tmp_path: Path) -> None:
    _write_suite(
        tmp_path,
        """
import pytest

@pytest.mark.harness(points="gil", max_examples=7, seed=3)
def test_marked(harness_hunt):
    result = harness_hunt("backoffer.locked")
    assert result.granularity == "gil" and result.seed == 3 and result.examples >= 7
""",
    )
    done = _pytest(tmp_path, "-p", "no:xdist")
    assert done.returncode == 0, done.stdout + done.stderr


def test_stress_engine_from_the_marker_and_the_option(tmp_path: Path) -> None:
    _write_suite(
        tmp_path,
        """
import pytest

@pytest.mark.harness(engine="stress", repeats=20, max_examples=200)
def test_unsafe_caught_under_stress(harness_hunt):
    # Go's map tripwire: any two overlapping writes raise, so what stress saw is reproducible.
    result = harness_hunt("backoffer.tripwire", expect="counterexample")
    assert result.verdict.stress is not None and result.verdict.stress.reproduced

def test_fixed_clean_under_stress(harness_hunt):
    result = harness_hunt("backoffer.locked", repeats=10)
    assert result.verdict.stress.rounds == 10 * result.examples

def test_unreproduced_stress_failure_fails_the_test(harness_hunt):
    harness_hunt("tests.targets.stress_models:OpaqueRaceModel", repeats=20, max_examples=50)
""",
    )
    done = _pytest(
        tmp_path, "-p", "no:xdist", "--harness-engine", "stress", "--harness-max-examples", "5"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 passed, 1 failed" in done.stdout or "1 failed, 2 passed" in done.stdout
    assert (
        "FAILURE UNDER STRESS" in done.stdout and "NOT reproduced deterministically" in done.stdout
    )
    bad = _pytest(tmp_path, "-p", "no:xdist", "-k", "fixed", "-o", "harness_engine=turbo")
    assert bad.returncode == 4 and "harness_engine" in bad.stderr
    # repeats= without the stress engine is a mistake, said in one line.
    controlled = _pytest(tmp_path, "-p", "no:xdist", "-k", "fixed")
    assert (
        controlled.returncode == 1
        and "repeats (--repeats) applies to the stress engine only" in controlled.stdout
    )
    marked = _pytest(tmp_path, "-p", "no:xdist", "-k", "unsafe_caught")
    assert marked.returncode == 0, marked.stdout  # the marker's engine= alone selects stress


def test_plugin_loads_without_autoload(tmp_path: Path) -> None:
    _write_suite(
        tmp_path,
        """
def test_fixture_exists(harness_hunt):
    assert callable(harness_hunt)
""",
    )
    done = _pytest(
        tmp_path, "-p", "harness.pytest_plugin", env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )
    assert done.returncode == 0, done.stdout + done.stderr


FAILING = """\
def test_fork_fix(harness_hunt):
    harness_hunt("counter.unsafe", max_examples=50)
"""


def test_a_failing_test_shows_its_report_once(tmp_path: Path) -> None:
    _write_suite(tmp_path, FAILING)
    done = _pytest(tmp_path, "--harness-artifacts", "cx", "--harness-seed", "5")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "Captured harness call" not in out
    # With CI set, pytest's short test summary repeats a failure's whole message: count in the
    # failure section only.
    failures = out.split("short test summary info")[0]
    assert failures.count("step  worker 0") == 1 and failures.count("update is lost") == 1, out
    assert "counter.unsafe: counter.unsafe" not in out  # the label once, not doubled
    assert re.search(r"seed: \d+ \(run seed 5\)", out)


def test_local_runs_draw_a_new_seed_and_ci_runs_stay_derandomized(tmp_path: Path) -> None:
    _write_suite(tmp_path, FAILING)
    local = {"HARNESS_RUN_SEED": "", "CI": ""}
    seeds = []
    for _ in range(2):
        out = _pytest(tmp_path, "-v", "--harness-artifacts", "cx", env=local).stdout  # header
        found = re.search(r"harness: run seed (\d+) \(drawn for this run; --harness-seed \1", out)
        assert found, out
        assert f"(run seed {found.group(1)})" in out  # the failure says how to run it again
        seeds.append(found.group(1))
    assert seeds[0] != seeds[1]
    ci = _pytest(
        tmp_path, "-v", "--harness-artifacts", "cx", env={"HARNESS_RUN_SEED": "", "CI": "1"}
    )
    assert "harness: run seed 0\n" in ci.stdout and "(run seed 0)" in ci.stdout, ci.stdout
