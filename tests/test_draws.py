"""Hypothesis's local constants are hidden during the harness's runs, and only then."""

from __future__ import annotations

from hypothesis.internal.conjecture import providers

from harness.draws import stable_draws


def test_local_constants_are_hidden_inside_and_restored_after() -> None:
    original = providers._get_local_constants
    with stable_draws():
        with stable_draws():  # re-entrant: an inner run does not restore early
            assert providers._get_local_constants is not original
            assert len(providers._get_local_constants()) == 0
        assert providers._get_local_constants is not original
    assert providers._get_local_constants is original
