"""Fixtures shared by the harness's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.runtime import Executor, World

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
