"""Model declarations are checked when loaded; model bugs are not reported as races."""

from __future__ import annotations

import pytest

from harness.catalog import UnknownModelError, find_model
from harness.hunt import UnknownVariantError, hunt
from harness.model import ModelDefinitionError


def test_invariant_crashing_with_non_assertion_is_a_broken_model() -> None:
    result = hunt("tests.targets.broken_models:CrashingInvariantModel", max_examples=20)
    assert not result.found and result.failure is None
    assert result.broken is not None
    assert "looks_at_a_missing_key" in result.broken and "KeyError" in result.broken


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NoStrategyModel", "operation put has no strategy for argument 'x'"),
        ("BadInvariantSignatureModel", "invariant needs_an_argument must take only self"),
        ("MissingModuleModel", "tests.targets.does_not_exist"),
    ],
)
def test_declaration_errors_name_the_model_and_member(name: str, message: str) -> None:
    with pytest.raises(ModelDefinitionError, match=message):
        find_model(f"tests.targets.broken_models:{name}")


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(UnknownModelError, match="known models: backoffer"):
        find_model("nosuchmodel")


def test_unknown_variant_lists_the_known_ones() -> None:
    with pytest.raises(UnknownVariantError, match="unsafe, tripwire, locked, fork"):
        hunt("backoffer", "nosuchvariant")
