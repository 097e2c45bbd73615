"""docs/writing-a-model.md is executed: its model, written outside the project, works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli, run_command

DOC = ROOT / "docs" / "writing-a-model.md"
BLOCK = re.compile(r"```python\n# file: (?P<name>[\w.]+)\n(?P<code>.*?)```", re.DOTALL)


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tutorial")
    blocks = list(BLOCK.finditer(DOC.read_text()))
    assert {b["name"] for b in blocks} == {"inventory.py", "inventory_spec.py", "test_inventory.py"}
    for block in blocks:
        (folder / block["name"]).write_text(block["code"])
    return folder


def _python(cwd: Path, *args: str, path: list[Path]) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in `cwd` with `path` (and the project) on PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*map(str, path), str(ROOT)]))
    return run_command([sys.executable, *args], cwd=cwd, env=env)


def test_tutorial_model_is_caught_and_its_fix_passes(tutorial: Path) -> None:
    done = _python(
        tutorial,
        "-m",
        "harness.cli",
        "hunt",
        "inventory_spec:InventoryModel",
        "--json",
        path=[tutorial],
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    unsafe, locked = data["results"]
    assert unsafe["found"] and not locked["found"] and locked["kind"] == "clean"
    cx = unsafe["counterexample"]
    assert (cx["threads"], cx["operations"], cx["preemptions"]) == (2, 2, 1)
    assert "oversold" in unsafe["message"] or "lost update" in unsafe["message"]


def test_tutorial_pytest_file_passes(tutorial: Path) -> None:
    done = _python(
        tutorial,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_inventory.py",
        path=[tutorial],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_entry_point_registration_lists_the_model(tutorial: Path, tmp_path: Path) -> None:
    dist = tmp_path / "inventory_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: inventory-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[harness.models]\ninventory = inventory_spec:InventoryModel\n"
    )
    listed = _python(tmp_path, "-m", "harness.cli", "models", "--json", path=[tmp_path, tutorial])
    assert listed.returncode == 0, listed.stderr
    names = {m["model"]: m["origin"] for m in json.loads(listed.stdout)}
    assert names["inventory"] == "inventory_spec:InventoryModel" and "backoffer" in names
    hunted = _python(
        tmp_path,
        "-m",
        "harness.cli",
        "hunt",
        "inventory.locked",
        "--max-examples",
        "20",
        path=[tmp_path, tutorial],
    )
    assert hunted.returncode == 0, hunted.stdout + hunted.stderr


def test_reference_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    done = run_cli("hunt", "nowhere_spec:Nothing", cwd=tmp_path)
    assert done.returncode == 2 and "cannot import 'nowhere_spec'" in done.stderr
