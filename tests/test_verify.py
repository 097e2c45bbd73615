"""`harness verify`: verdicts, scenario enumeration, budgets and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def test_interchangeable_keys_leave_one_scenario_per_renaming() -> None:
    """lru declares its keys interchangeable: of the 21 rounds of 2 workers x 1 call over
    put/get of keys 0-2, six families remain -- same key or not, for each pair of methods."""
    spec = find_model("lru")
    every = scenarios(spec, workers=2, calls=1, values=False)
    kept = scenarios(spec, workers=2, calls=1)
    assert len(every) == 21
    shapes = {
        (*sorted(w[0][0] for w in s.round), len({w[0][1]["key"] for w in s.round})) for s in kept
    }
    assert len(kept) == len(shapes) == 6
    assert len(scenarios(spec, workers=2, calls=2)) == 124  # 666 without
    assert len(scenarios(find_model("counter"), workers=2, calls=2)) == len(
        scenarios(find_model("counter"), workers=2, calls=2, values=False)
    )  # nothing declared: nothing merged


def _renamed(scenario: Any, perm: tuple[int, ...]) -> Any:
    """`scenario` with key k renamed perm[k] everywhere, workers in sorted order."""

    def call(c: Any) -> Any:
        op, args = c
        return op, tuple(sorted((k, perm[v] if k == "key" else v) for k, v in args.items()))

    return (
        tuple(call(c) for c in scenario.setup),
        tuple(sorted(tuple(call(c) for c in w) for w in scenario.round)),
    )


@pytest.mark.parametrize("model", ["lru", "cachetools-lru"])
def test_the_gallery_caches_keys_really_are_interchangeable(model: str) -> None:
    """The declaration is a claim about the code; check it where it is made: on the unsafe
    variant, every scenario of a family (one set-up call, 2 workers x 1 call) ends the same
    way at bound 1 -- the same failure, or none -- its calls return the same on the locked
    one, and one scenario per family is kept."""
    import itertools

    from harness.schedule.dfs import DfsSearch, exhaust
    from harness.verify import default_params, run_scenario

    spec = find_model(model)
    params = default_params(spec)
    every = scenarios(spec, workers=2, calls=1, setup=1, values=False)
    kept = {_renamed(s, (0, 1, 2)) for s in scenarios(spec, workers=2, calls=1, setup=1)}
    perms = list(itertools.permutations(range(3)))

    def verdict(scenario: Any) -> Any:
        done = exhaust(
            lambda d: run_scenario(spec, "unsafe", scenario, d, params=params)[0], bound=1
        )
        failure = None if done.failure is None else (done.failure.kind, done.failure.invariant)
        # and what the calls return, run one after the other on the locked cache
        _, results = run_scenario(
            spec,
            "locked",
            scenario,
            DfsSearch(0).next_schedule(),  # type: ignore[arg-type]
            params=params,
            inspect=lambda runner: sorted((r.op, repr(r.result)) for r in runner.history),
        )
        return failure, tuple(results)

    families: dict[Any, set[Any]] = {}
    for scenario in every:
        family = min(_renamed(scenario, p) for p in perms)
        families.setdefault(family, set()).add(verdict(scenario))
        assert any(_renamed(scenario, p) in kept for p in perms)
    assert len(kept) == len(families) < len(every)
    assert all(len(verdicts) == 1 for verdicts in families.values()), families
    assert any(None not in v for v in families.values())  # the unsafe cache does fail


def test_verify_says_how_it_counted_and_no_symmetry_runs_every_scenario(tmp_path: Path) -> None:
    result = verify_spec(find_model("lru"), "locked", workers=2, calls=1)
    assert result.verdict == "verified" and result.scenarios == 6
    assert result.scenarios_unreduced == 21 and result.interchangeable == ("key",)
    assert "6 scenarios (one per renaming of key: 21 without)" in result.summary()
    done = run_cli("verify", "lru.locked", "--calls", "1", "--no-symmetry", "--json", cwd=tmp_path)
    data = json.loads(done.stdout)
    assert done.returncode == 0 and data["verdict"] == "verified"
    assert data["scenarios"] == 21 and data["scenarios_unreduced"] is None
    unsafe = verify_spec(find_model("lru"), "unsafe", workers=2, calls=1, setup=1)
    assert unsafe.verdict == "counterexample"


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
