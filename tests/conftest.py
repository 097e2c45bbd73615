"""Fixtures shared by the harness's own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.runtime import Executor, World
from tests.jsonschema_subset import schema_errors

# The pytest runs these tests start inherit one fixed run seed: a test of the suite finds the
# same thing every time (the plugin draws a new seed for local runs that set none).
os.environ.setdefault("HARNESS_RUN_SEED", "0")

COUNTERS = ["tests.targets.counters"]
SYNC = ["tests.targets.sync_models"]


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with Executor() as ex:
        yield ex


@pytest.fixture
def world() -> Iterator[World]:
    """Patched threading and virtual time: model objects must be created inside it."""
    with World() as w:
        yield w


ROOT = Path(__file__).resolve().parents[1]


def run_command(
    command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`command` in a subprocess, output captured as text; never raises on a non-zero exit.

    `env` replaces the environment; by default it is this one with the project importable.
    """
    return subprocess.run(
        command,
        capture_output=True,
        check=False,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT)) if env is None else env,
        timeout=timeout,
    )


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``harness ARGS`` in a subprocess, the way a user's shell would run it."""
    return run_command([sys.executable, "-m", "harness.cli", *args], cwd=cwd, timeout=timeout)


def _counterexample_files(folder: Path) -> Iterator[tuple[Path, object]]:
    for path in folder.rglob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and ("schema" in data or "schema_version" in data):
            yield path, data


@pytest.fixture(autouse=True)
def _artifacts_match_the_published_schema(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every counterexample file a test leaves in its tmp_path -- written by a hunt in this
    process or in a subprocess -- must validate against docs/artifact.schema.json. Tests that
    write bad files on purpose are marked `writes_bad_artifacts`."""
    yield
    folder = request.node.funcargs.get("tmp_path")
    if folder is None or request.node.get_closest_marker("writes_bad_artifacts"):
        return
    for path, data in _counterexample_files(Path(folder)):
        errors = schema_errors(data)
        assert not errors, f"{path} does not match docs/artifact.schema.json: {errors[:5]}"
