"""Counterexamples people can use: explanation, table, artifact, replay, regression test."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.artifact import load, save
from harness.errors import ArtifactError
from harness.explain import explain, interleaving, relevant_rows
from harness.failure import Failure
from harness.html import render_html
from harness.hunt import hunt
from harness.replay import replay_artifact
from tests.conftest import run_cli, run_command


@pytest.fixture(scope="module")
def minimal() -> Failure:
    result = hunt("backoffer", "unsafe", seed=0)
    assert result.failure is not None and result.failure.shape()["preemptions"] == 1
    return result.failure


def _named_state(failure: Failure) -> str:
    """The map or attribute the failure message says lost an update: ``fn``, ``total_sleep``."""
    match = re.search(r"lost update: \w+\.(\w+)", failure.message)
    assert match, failure.message
    return match.group(1)


def test_minimal_counterexample_explains_the_lost_update(minimal: Failure) -> None:
    text = explain(minimal)
    assert f"self.{_named_state(minimal)}" in text
    assert "worker 0" in text and "worker 1" in text
    assert "overwriting it" in text and "update is lost" in text
    assert "backoffer.py:" in text


def test_minimal_counterexample_table_is_short_and_shows_the_preemption(minimal: Failure) -> None:
    rows = relevant_rows(minimal)
    assert 0 < len(rows) <= 12
    table = interleaving(minimal)
    assert "worker 0" in table.splitlines()[0] and "worker 1" in table.splitlines()[0]
    assert "preempted, worker 1 runs" in table
    assert f"self.{_named_state(minimal)}" in table
    assert "source:" in table  # the legend with the source lines
    assert len(interleaving(minimal, full=True).splitlines()) > len(table.splitlines())


@pytest.mark.parametrize("batch", range(10))
def test_artifacts_from_different_seeds_replay_identically(tmp_path: Path, batch: int) -> None:
    for seed in range(batch * 10, batch * 10 + 10):
        result = hunt("backoffer", "unsafe", seed=seed, shrink=False)
        assert result.failure is not None
        artifact = load(save(result.failure, tmp_path))
        outcome = replay_artifact(artifact)
        assert outcome.reproduced and outcome.identical_trace, (seed, outcome.divergence)


def test_replay_reports_where_the_trace_diverges(tmp_path: Path, minimal: Failure) -> None:
    path = save(minimal, tmp_path)
    data = json.loads(path.read_text())
    data["trace"][3]["location"] = "harness_gallery.backoffer:1"
    path.write_text(json.dumps(data))
    outcome = replay_artifact(load(path))
    assert outcome.reproduced and not outcome.identical_trace
    assert outcome.divergence is not None and "event 4" in outcome.divergence
    assert "harness_gallery.backoffer:1" in outcome.divergence


def _bad(path: Path, minimal: Failure, how: str) -> Path:
    good = save(minimal, path.parent / "good")
    text = good.read_text()
    data = json.loads(text)
    if how == "corrupted":
        path.write_text(text.replace('"steps"', '"st@ps', 1))
    elif how == "truncated":
        path.write_text(text[: len(text) // 2])
    elif how == "schema":
        data["schema"] = "harness-counterexample/99"
        path.write_text(json.dumps(data))
    elif how == "model":
        data["model"] = "vanished"
        path.write_text(json.dumps(data))
    elif how == "operation":
        data["steps"][0]["workers"][0][0]["op"] = "no_such_operation"
        path.write_text(json.dumps(data))
    elif how == "binary":
        path.write_bytes(b"\x89PNG\x00\xff\xfe")
    return path


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("corrupted", "not valid JSON"),
        ("truncated", "truncated or corrupted"),
        ("schema", "schema: 'harness-counterexample/99' is not supported"),
        ("model", "unknown model 'vanished'"),
        ("operation", "no operation 'no_such_operation'"),
        ("binary", "not"),
        ("missing", "cannot read"),
    ],
)
@pytest.mark.writes_bad_artifacts
def test_bad_artifact_is_one_line_and_exit_2(
    tmp_path: Path, minimal: Failure, how: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    if how != "missing":
        _bad(path, minimal, how)
    done = run_cli("replay", str(path), cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert message in done.stderr
    if how not in ("model", "operation"):
        with pytest.raises(ArtifactError):
            load(path)


def test_emitted_regression_test_fails_on_unsafe_and_passes_on_locked(
    tmp_path: Path, minimal: Failure
) -> None:
    path = save(minimal, tmp_path)
    unsafe = tmp_path / "test_unsafe_regression.py"
    locked = tmp_path / "test_locked_regression.py"
    assert run_cli("replay", str(path), "--emit-test", str(unsafe), cwd=tmp_path).returncode == 1
    done = run_cli(
        "replay", str(path), "--variant", "locked", "--emit-test", str(locked), cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for test, expected in ((unsafe, 1), (locked, 0)):
        run = run_command(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
            cwd=tmp_path,
        )
        assert run.returncode == expected, run.stdout + run.stderr


def test_replay_exit_codes_and_json(tmp_path: Path, minimal: Failure) -> None:
    path = save(minimal, tmp_path)
    done = run_cli("replay", str(path), "--json", cwd=tmp_path)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["reproduced"] and data["identical_trace"]
    assert data["failure"]["invariant"] == minimal.invariant
    fixed = run_cli("replay", str(path), "--json", "--variant", "fork", cwd=tmp_path)
    assert fixed.returncode == 0 and json.loads(fixed.stdout)["reproduced"] is False


def test_html_view_is_self_contained(minimal: Failure) -> None:
    page = render_html(minimal)
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert page.count('class="head"') == 2  # two swimlanes
    assert "conflict" in page and "preempt" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="no headless chromium installed")
def test_html_view_renders_in_a_real_browser(tmp_path: Path, minimal: Failure) -> None:
    page = tmp_path / "view.html"
    page.write_text(render_html(minimal))
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,900", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "worker 1" in dom.stdout and "self.fn['regionMiss']" in dom.stdout
