"""`harness verify`: verdicts, scenario enumeration, budgets and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.catalog import find_model
from harness.verify import NoFiniteDomainError, call_domain, scenarios, verify_spec
from tests.conftest import run_cli
from tests.targets.verify_models import DeclaredDomainModel, OpaqueArgumentModel


@pytest.mark.parametrize("model", ["counter.locked", "lazy-init.locked"])
def test_a_fixed_variant_is_verified(model: str, tmp_path: Path) -> None:
    done = run_cli("verify", model, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["verdict"] == "verified"
    assert data["schedules"] > data["scenarios"] >= 1
    assert data["summary"].startswith("verified: ")


def test_an_unsafe_variant_gives_a_replayable_counterexample(tmp_path: Path) -> None:
    done = run_cli("verify", "counter.unsafe", "--calls", "1", "--artifacts", "out", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "counterexample: counter.unsafe: invariant no_lost_hit failed" in done.stdout
    assert "1 preemption(s)" in done.stdout
    (artifact,) = (tmp_path / "out").glob("*.json")
    replayed = run_cli("replay", str(artifact), cwd=tmp_path)
    assert replayed.returncode == 1
    assert "reproduced: the trace is identical" in replayed.stdout


def test_a_budget_ends_as_clean_never_verified() -> None:
    result = verify_spec(find_model("lru"), "locked", bound=2, max_schedules=5)
    assert result.verdict == "clean"
    assert result.schedules == 5
    assert result.reason.startswith("bound not exhausted: ")
    assert "clean: " in result.summary()


def test_workers_are_deduplicated_by_symmetry() -> None:
    counter = find_model("lazy-init")  # no operation takes `worker`
    backoffer = find_model("backoffer")  # backoff(worker, ...): workers are not interchangeable
    assert len(scenarios(counter, workers=3, calls=1)) == 1
    two_configs = len(call_domain(backoffer))
    assert two_configs == 2
    assert len(scenarios(backoffer, workers=2, calls=1)) == 4  # ordered pairs


def test_setup_calls_multiply_the_scenarios() -> None:
    spec = find_model("dict-iteration")
    calls = len(call_domain(spec))
    assert len(scenarios(spec, workers=2, calls=1, setup=1)) == (1 + calls) * len(
        scenarios(spec, workers=2, calls=1)
    )


def test_a_declared_domain_is_used_as_given() -> None:
    spec = find_model(DeclaredDomainModel)
    keys = {args["key"] for name, args in call_domain(spec) if name == "incr_key"}
    assert keys == {"x", "y"}


def test_an_argument_with_no_finite_domain_is_refused() -> None:
    with pytest.raises(NoFiniteDomainError, match=r"operation incr argument 'token'"):
        call_domain(find_model(OpaqueArgumentModel))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["counter.locked", "--bound", "-1"], "--bound must be at least 0"),
        (["counter.locked", "--workers", "1"], "--workers must be at least 2"),
        (["counter.locked", "--setup", "2..1"], "--setup takes N or 0..N"),
        (["counter", "--bound", "1"], "name one variant to verify"),
        (
            ["tests.targets.verify_models:OpaqueArgumentModel"],
            "no finite domain",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    done = run_cli("verify", *args, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_pct_strategy_is_evidence_not_proof() -> None:
    result = verify_spec(find_model("counter"), "locked", strategy="pct", pct_runs=5, calls=1)
    assert result.verdict == "clean"
    assert "PCT samples" in result.reason
    assert result.pct_guarantee is not None and 0 < result.pct_guarantee < 1


def test_hunt_with_dfs_finds_the_lost_update(tmp_path: Path) -> None:
    done = run_cli("hunt", "counter.unsafe", "--strategy", "dfs", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["found"] and result["counterexample"]["preemptions"] == 1
