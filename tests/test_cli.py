"""The command line contract: exit codes, one-line errors, JSON shape, saved counterexamples."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from harness.artifact import SCHEMA
from tests.conftest import run_cli


def test_hunt_unsafe_json_contract_and_artifact(tmp_path: Path) -> None:
    done = run_cli(
        "hunt",
        "backoffer",
        "--variant",
        "unsafe",
        "--json",
        "--artifacts",
        str(tmp_path / "cx"),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {
        "schema", "model", "kind", "results", "python", "gil_enabled", "harness_version"
    }  # fmt: skip
    assert data["gil_enabled"] is (getattr(sys, "_is_gil_enabled", lambda: True)())
    assert data["schema"] == 2 and data["model"] == "backoffer"
    assert data["kind"] == "counterexample"
    [result] = data["results"]  # one shape whatever the number of variants
    assert set(result) >= {
        "model",
        "variant",
        "kind",
        "subkind",
        "found",
        "examples",
        "seconds_to_first_failure",
        "seconds",
        "counterexample",
        "engine",
        "stress",
    }
    assert result["engine"] == "controlled" and result["stress"] is None
    assert result["variant"] == "unsafe" and result["found"]
    assert result["kind"] == "counterexample" and result["subkind"] == "invariant"
    cx = result["counterexample"]
    assert (cx["threads"], cx["operations"], cx["preemptions"]) == (2, 2, 1)
    saved = json.loads(Path(cx["artifact"]).read_text())
    assert saved["schema"] == SCHEMA and saved["variant"] == "unsafe"
    assert saved["verdict"]["invariant"] == result["invariant"]


def test_hunt_fixed_variant_exits_zero(tmp_path: Path) -> None:
    done = run_cli("hunt", "backoffer.locked", "--max-examples", "30", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # The clean verdict carries its evidence: what was explored, in one line.
    line = done.stdout.strip()
    assert re.match(r"backoffer\.locked: clean: 3\d examples, ", line), line
    assert "racing rounds of" in line and "conflict pairs seen both ways" in line, line


def test_unknown_model_and_variant_exit_2_with_one_line(tmp_path: Path) -> None:
    for args in (
        ("hunt", "nope"),
        ("hunt", "backoffer", "--variant", "zzz"),
        ("hunt", "backoffer", "--points", "line"),
        ("frobnicate",),
        ("hunt", "backoffer", "--max-examples", "0"),
    ):
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "known models: backoffer" in run_cli("hunt", "nope", cwd=tmp_path).stderr
    assert (
        "unsafe, tripwire, locked, fork"
        in run_cli("hunt", "backoffer", "--variant", "zzz", cwd=tmp_path).stderr
    )


def test_models_lists_every_variant(tmp_path: Path) -> None:
    done = run_cli("models", "--json", cwd=tmp_path)
    assert done.returncode == 0
    [backoffer] = [m for m in json.loads(done.stdout) if m["model"] == "backoffer"]
    assert list(backoffer["variants"]) == ["unsafe", "tripwire", "locked", "fork"]
    assert backoffer["expect_failure"] == ["unsafe", "tripwire"]
