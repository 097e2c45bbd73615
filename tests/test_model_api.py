"""Model declarations are checked when loaded; model bugs are not reported as races."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from harness.catalog import UnknownModelError, find_model
from harness.hunt import UnknownVariantError, hunt
from harness.model import ModelDefinitionError
from harness.verdict import Limitation
from tests.conftest import run_cli, run_command


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
        ("MisspelledInterchangeableModel", "interchangeable names 'kye', which no operation"),
        ("StringInterchangeableModel", "`interchangeable` must be a sequence of argument"),
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


def test_a_setup_that_raises_is_a_broken_model_named_with_its_error(tmp_path: Path) -> None:
    result = hunt("tests.targets.broken_models:SetupRaisesModel", max_examples=5)
    assert not result.found and result.broken is not None
    assert "setup of model 'setup-raises' raised ValueError: no database configured" in (
        result.broken
    )
    done = run_cli(
        "hunt", "tests.targets.broken_models:SetupRaisesModel", "--max-examples", "5", cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "ValueError" in done.stderr


def test_the_console_script_finds_models_in_the_current_directory(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "harness"
    if not script.exists():
        pytest.skip("the harness console script is not installed next to this Python")
    (tmp_path / "tiny_models.py").write_text(
        "from harness import Model, operation\n\n"
        "class Tiny(Model):\n"
        "    name = 'tiny'\n"
        "    instrument = ('tiny_models',)\n\n"
        "    @operation()\n"
        "    def noop(self):\n"
        "        pass\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = run_command(
        [str(script), "hunt", "tiny_models:Tiny", "--max-examples", "5"], cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("tiny.default: clean: 5 examples, "), done.stdout


def test_a_thread_started_and_joined_in_a_sequential_step_is_a_limitation(tmp_path: Path) -> None:
    """Inside a round the thread is controlled (tests/test_child_threads.py); a sequential step
    has no other thread to run it, so joining it there is what the harness cannot do."""
    before = threading.Thread.start
    result = hunt("tests.targets.broken_models:SpawningModel", max_examples=20)
    assert not result.found and result.failure is None
    # Not a race and not the model's fault: something the harness cannot control, named.
    verdict = result.verdict
    assert isinstance(verdict, Limitation), verdict
    assert verdict.what == "a thread started by the code under test"
    assert verdict.where.startswith("tests.targets.broken_models:"), verdict.where
    assert threading.Thread.start is before  # the World put the real method back
    done = run_cli(
        "hunt", "tests.targets.broken_models:SpawningModel", "--max-examples", "5", cwd=tmp_path
    )
    assert done.returncode == 2 and "LIMITATION: a thread started" in done.stderr
