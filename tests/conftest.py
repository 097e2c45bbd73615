"""Fixtures shared by the harness's own tests."""

from __future__ import annotations

from collections.abc import Iterator

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
