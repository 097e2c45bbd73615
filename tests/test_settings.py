"""One `Settings` value carries every knob of a hunt; it checks them when built."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from harness.errors import UnknownGranularityError, UsageError
from harness.hunt import hunt
from harness.settings import DEFAULTS, Settings


@pytest.mark.parametrize(
    ("knobs", "error", "message"),
    [
        ({"granularity": "bytes"}, UnknownGranularityError, "unknown granularity 'bytes'"),
        ({"strategy": "bfs"}, UsageError, "unknown strategy 'bfs'"),
        ({"max_examples": 0}, UsageError, "max_examples must be an integer from 1"),
        ({"max_examples": 2.5}, UsageError, "max_examples must be an integer from 1"),
        ({"seed": -1}, UsageError, "seed must be an integer from 0 to 2"),
        ({"seed": 2**64}, UsageError, "seed must be an integer from 0 to 2"),
        ({"stuck_after": 0}, UsageError, "stuck_after must be a positive number"),
        ({"max_steps": 0}, UsageError, "max_steps must be a positive integer"),
        ({"budget": 0}, UsageError, "budget must be a positive integer"),
        ({"steps_per_example": 0}, UsageError, "steps_per_example must be a positive"),
    ],
)
def test_a_bad_knob_is_refused_when_the_settings_are_built(
    knobs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Settings(**knobs)


def test_the_public_hunt_builds_the_settings_before_anything_runs() -> None:
    with pytest.raises(UnknownGranularityError):
        hunt("counter.unsafe", granularity="bytes")
    with pytest.raises(TypeError, match="stuck_aftr"):
        hunt("counter.unsafe", stuck_aftr=1.0)


def test_settings_are_frozen_and_variations_are_new_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.granularity = "opcode"  # type: ignore[misc]
    searching = DEFAULTS.searching()
    assert DEFAULTS.capture and not searching.capture
    assert searching.searching() is searching
    opcode = DEFAULTS.at("opcode")
    assert (opcode.granularity, DEFAULTS.granularity) == ("opcode", "access")
    assert DEFAULTS.at("access") is DEFAULTS


def test_a_hunt_reports_the_granularity_and_seed_of_its_settings() -> None:
    result = hunt("counter.unsafe", seed=7, granularity="opcode", max_examples=50)
    assert (result.seed, result.granularity) == (7, "opcode")
    assert result.failure is not None and result.failure.granularity == "opcode"
