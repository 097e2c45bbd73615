"""`harness.explore`: one fixed scenario of callables, its schedules searched and shrunk."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

import harness
from harness import report
from harness.artifact import save
from harness.errors import ArtifactError
from harness.exploration import ExploreError, explore_spec, replay_explore
from tests.conftest import ROOT, run_cli
from tests.targets.bank import Bank
from tests.targets.counters import Counter, LockedCounter

HERE = __name__  # this module: instrumented by default, as the lambdas' module


def naive_bank() -> Bank:
    return Bank(2, ordered=False)


def ordered_bank() -> Bank:
    return Bank(2, ordered=True)


OPPOSITE = [lambda b: b.transfer(0, 1, 5), lambda b: b.transfer(1, 0, 5)]


def money_is_conserved(bank: Bank) -> bool:
    return sum(bank.balances) == 200


TWO_INCREMENTS = [lambda c: c.incr(), lambda c: c.incr()]


def both_counted(counter: Any) -> None:
    assert counter.n in (0, 2), f"counter.n == {counter.n} after two increments"


def test_bank_transfers_in_opposite_directions_deadlock_with_one_preemption() -> None:
    result = harness.explore(setup=naive_bank, workers=OPPOSITE, invariant=money_is_conserved)
    assert result.kind == "counterexample", report.hunt_text(result)
    failure = result.failure
    assert failure is not None and failure.kind == "deadlock"
    assert "wait-for cycle" in failure.details
    # The scenario is fixed: the same two workers, one call each; only the schedule shrank.
    race = failure.race
    assert race is not None and len(failure.scenario) == 1
    assert race.calls == [[("transfer_0", {})], [("transfer_1", {})]]
    assert len(race.taken) == 1
    assert failure.model == "explore-naive_bank" and failure.model_ref == ""


def test_ordered_locking_is_clean_with_evidence() -> None:
    result = harness.explore(setup=ordered_bank, workers=OPPOSITE, invariant=money_is_conserved)
    assert result.kind == "clean", report.hunt_text(result)
    evidence = result.evidence
    assert evidence is not None and evidence.racing_rounds > 0
    assert result.examples == 100


def test_a_lost_update_on_a_counter_is_caught_with_one_preemption() -> None:
    result = harness.explore(setup=Counter, workers=TWO_INCREMENTS, invariant=both_counted)
    failure = result.failure
    assert failure is not None and failure.kind == "invariant", report.hunt_text(result)
    assert failure.invariant == "both_counted"
    assert failure.message.startswith("counter.n == 1 after two increments")
    assert failure.looks_minimal() and len(failure.race.taken) == 1  # type: ignore[union-attr]
    assert "worker 1's update is lost" in report.failure_text(failure)


def test_an_invariant_returning_false_fails_and_says_which() -> None:
    result = harness.explore(
        setup=Counter, workers=TWO_INCREMENTS, invariant=lambda c: c.n in (0, 2)
    )
    failure = result.failure
    assert failure is not None and failure.invariant == "invariant"
    assert failure.message.startswith("the invariant test_an_invariant_returning_false")
    assert "returned False" in failure.message


def test_shrinking_keeps_the_scenario_and_drops_switches() -> None:
    """Random switching finds the lost update with many switches; the counterexample keeps
    the one it needs."""
    result = harness.explore(setup=Counter, workers=TWO_INCREMENTS, invariant=both_counted)
    first, final = result.first_failure, result.failure
    assert first is not None and final is not None
    assert first.race is not None and final.race is not None
    assert len(first.race.taken) > len(final.race.taken) == 1
    assert first.race.calls == final.race.calls
    unshrunk = harness.explore(
        setup=Counter, workers=TWO_INCREMENTS, invariant=both_counted, shrink=False
    )
    assert unshrunk.failure is not None and unshrunk.failure.race is not None
    assert len(unshrunk.failure.race.taken) == len(first.race.taken)


def test_a_locked_counter_is_clean_and_says_what_was_explored() -> None:
    result = harness.explore(setup=LockedCounter, workers=TWO_INCREMENTS, invariant=both_counted)
    assert result.kind == "clean", report.hunt_text(result)
    evidence = result.evidence
    assert evidence is not None
    assert evidence.racing_rounds > 0 and evidence.switches > 0
    assert evidence.conflict_pairs > 0 and evidence.reversed_pairs == evidence.conflict_pairs
    line = report.headline(result)
    assert line.startswith("explore-LockedCounter.default: clean: 100 examples, ")


def test_workers_that_never_reach_instrumented_code_are_not_tested() -> None:
    result = harness.explore(
        setup=dict,
        workers=[lambda d: d.setdefault("k", 0), lambda d: d.pop("k", None)],
        instrument="tests.targets.counters",  # not what the workers call
    )
    assert result.kind == "not-tested", report.hunt_text(result)
    assert "no scheduling point was reached" in result.verdict.reason  # type: ignore[attr-defined]


def test_by_default_the_objects_package_and_the_callables_modules_are_instrumented() -> None:
    spec = explore_spec(Counter, TWO_INCREMENTS)
    assert tuple(spec.cls.instrument) == ("tests",)  # this module is part of the package
    spec = explore_spec(dict, [lambda d: d.clear(), lambda d: d.clear()])
    assert tuple(spec.cls.instrument) == (HERE,)  # a builtin object: only the lambdas' module
    spec = explore_spec(Counter, TWO_INCREMENTS, instrument="tests.targets.counters")
    assert tuple(spec.cls.instrument) == ("tests.targets.counters",)


def test_a_race_written_in_the_workers_themselves_is_found() -> None:
    """The lambdas' module is instrumented: a read-modify-write in a lambda can be split."""
    result = harness.explore(
        setup=dict,
        workers=[lambda d: d.__setitem__("k", d.get("k", 0) + 1)] * 2,
        invariant=lambda d: d.get("k", 0) in (0, 2),
    )
    assert result.kind == "counterexample", report.hunt_text(result)


def test_a_mistake_in_a_worker_lambda_is_a_broken_scenario_not_a_race() -> None:
    result = harness.explore(
        setup=Counter,
        workers=[lambda c: c.incr(), lambda c: c.incr() + undefined],  # type: ignore[name-defined]  # noqa: F821
    )
    assert result.kind == "broken-model", report.hunt_text(result)
    assert "NameError" in result.verdict.reason  # type: ignore[attr-defined]


def test_a_setup_that_raises_is_a_broken_scenario() -> None:
    def setup() -> Counter:
        raise RuntimeError("no database")

    result = harness.explore(setup=setup, workers=TWO_INCREMENTS)
    assert result.kind == "broken-model"
    assert "no database" in result.verdict.reason  # type: ignore[attr-defined]


def test_an_exception_in_the_code_under_test_is_a_counterexample() -> None:
    result = harness.explore(
        setup=lambda: {"k": 1},
        workers=[lambda d: d.pop("k"), lambda d: d.pop("k")],
    )
    failure = result.failure
    assert failure is not None and failure.kind == "exception", report.hunt_text(result)
    assert failure.exception_type == "KeyError"


def test_a_thread_started_by_a_worker_is_controlled() -> None:
    """The started thread is scheduled like a worker: its unlocked increment races worker 1's."""
    result = harness.explore(
        setup=Counter,
        workers=[lambda c: threading.Thread(target=c.incr).start(), lambda c: c.incr()],
        invariant=lambda c: c.n in (0, 2),
    )
    assert result.kind == "counterexample", report.hunt_text(result)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"setup": 3}, "explore: setup: must be a callable returning the object under test"),
        ({"setup": lambda x: x}, "explore: setup: it is called with no arguments"),
        ({"workers": lambda c: c}, "explore: workers: must be a list of callables"),
        ({"workers": [lambda c: c.incr()]}, "explore: workers: needs at least 2 callables"),
        ({"workers": [lambda c: c] * 65}, "explore: workers: at most 64 threads, got 65"),
        ({"workers": [lambda c: c, 7]}, "explore: workers[1]: is not callable: 7"),
        ({"workers": [lambda c: c, lambda: 1]}, "explore: workers[1]: each worker is called"),
        ({"invariant": "n == 2"}, "explore: invariant: must be a callable taking the object"),
        ({"invariant": lambda: True}, "explore: invariant: it is called with the object"),
        ({"name": "a b"}, "explore: name: must be 1-50 letters, digits"),
        ({"instrument": "no.such.module"}, "explore: instrument: module to instrument"),
        ({"instrument": "threading"}, "explore: instrument: module 'threading' cannot be"),
        ({"instrument": [3]}, "explore: instrument: must be module names"),
        ({"strategy": "bfs"}, "explore: strategy: 'bfs' is not one of random, pct, dfs"),
        ({"seed": -1}, "explore: seed: must be an integer from 0 to 2**64-1"),
        ({"max_examples": 0}, "explore: max_examples: must be an integer from 1"),
        ({"bound": -1}, "explore: bound: must be a non-negative integer"),
        ({"granularity": "line"}, "unknown granularity 'line'"),
    ],
)
def test_bad_arguments_are_one_precise_exception(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"setup": Counter, "workers": TWO_INCREMENTS, **kwargs}
    with pytest.raises(harness.errors.UsageError) as caught:
        harness.explore(**arguments)
    assert message in str(caught.value), str(caught.value)
    if kwargs.keys() - {"granularity"}:
        assert isinstance(caught.value, ExploreError)


def test_the_same_seed_gives_the_same_result_and_another_seed_other_schedules() -> None:
    def run(seed: int) -> Any:
        result = harness.explore(
            setup=Counter, workers=TWO_INCREMENTS, invariant=both_counted, seed=seed
        )
        first = result.first_failure
        assert first is not None and result.failure is not None
        return (
            result.first_example,
            [tuple(p) for p in first.race.taken],  # type: ignore[union-attr]
            [event.render() for event in result.failure.trace.events],  # type: ignore[union-attr]
        )

    assert run(3) == run(3)
    assert len({repr(run(seed)[:2]) for seed in range(4)}) > 1


def test_replay_rebuilds_the_scenario_from_the_callables_with_an_identical_trace(
    tmp_path: Path,
) -> None:
    result = harness.explore(setup=naive_bank, workers=OPPOSITE, invariant=money_is_conserved)
    assert result.failure is not None
    path = save(result.failure, tmp_path)
    data = json.loads(path.read_text())
    assert data["model"] == "explore-naive_bank" and data["model_ref"] == ""
    outcome = replay_explore(path, naive_bank, OPPOSITE, money_is_conserved)
    assert outcome.verdict == "reproduced" and outcome.identical_trace
    # The fix, under the same schedule (the same name: the file is of that scenario).
    fixed = replay_explore(path, ordered_bank, OPPOSITE, money_is_conserved, name="naive_bank")
    assert fixed.verdict == "no-longer-fails"
    with pytest.raises(ArtifactError, match="a counterexample of model 'explore-naive_bank'"):
        replay_explore(path, ordered_bank, OPPOSITE, money_is_conserved)
    # The file names no code: replay by file alone says how to replay it, and imports nothing.
    # (In a subprocess: loading the whole catalog in this process changes later plain-class
    # hunts of cachetools -- a process-history dependence reported, not yet fixed.)
    cli = run_cli("replay", str(path), cwd=tmp_path)
    assert cli.returncode == 2 and cli.stdout == ""
    assert cli.stderr.count("\n") == 1 and "harness.replay_explore(" in cli.stderr


def test_the_report_says_how_to_replay_an_explore_counterexample(tmp_path: Path) -> None:
    result = harness.explore(setup=Counter, workers=TWO_INCREMENTS, invariant=both_counted)
    path = save(result.failure, tmp_path)  # type: ignore[arg-type]
    text = report.hunt_text(result, str(path))
    assert f"replay: harness.replay_explore({str(path)!r}, setup=" in text


def test_dfs_finds_the_deadlock_with_the_fewest_preemptions_and_exhausts_the_fix() -> None:
    caught = harness.explore(
        setup=naive_bank, workers=OPPOSITE, invariant=money_is_conserved, strategy="dfs"
    )
    assert caught.failure is not None and caught.failure.kind == "deadlock"
    assert len(caught.failure.race.taken) == 1  # type: ignore[union-attr]
    assert not caught.exhausted
    fixed = harness.explore(
        setup=ordered_bank,
        workers=OPPOSITE,
        invariant=money_is_conserved,
        strategy="dfs",
        max_examples=1_000,
    )
    assert fixed.kind == "clean" and fixed.exhausted and fixed.bound == 2
    assert fixed.schedules == fixed.examples < 1_000
    cut = harness.explore(
        setup=ordered_bank,
        workers=OPPOSITE,
        invariant=money_is_conserved,
        strategy="dfs",
        max_examples=fixed.schedules - 1,
    )
    assert cut.kind == "clean" and not cut.exhausted and cut.schedules == fixed.schedules - 1
    # Cut before any preemption: every schedule ran the workers one after another.
    serial = harness.explore(
        setup=ordered_bank,
        workers=OPPOSITE,
        invariant=money_is_conserved,
        strategy="dfs",
        max_examples=1,
    )
    assert serial.kind == "not-tested" and "each ran to the end" in serial.verdict.reason  # type: ignore[attr-defined]


def test_pct_catches_the_lost_update() -> None:
    result = harness.explore(
        setup=Counter, workers=TWO_INCREMENTS, invariant=both_counted, strategy="pct"
    )
    assert result.failure is not None and result.failure.kind == "invariant"
    assert len(result.failure.race.taken) == 1  # type: ignore[union-attr]


def test_the_fixture_reports_a_counterexample_and_passes_a_clean_scenario(
    harness_explore: Any,
) -> None:
    caught = harness_explore(
        Counter, TWO_INCREMENTS, both_counted, expect="counterexample", max_examples=50
    )
    assert caught.failure is not None
    clean = harness_explore(LockedCounter, TWO_INCREMENTS, both_counted, max_examples=50)
    assert clean.kind == "clean" and clean.examples == 50


FIXTURE_SUITE = """
from tests.targets.counters import Counter

def test_lost_update(harness_explore):
    harness_explore(
        setup=Counter,
        workers=[lambda c: c.incr(), lambda c: c.incr()],
        invariant=lambda c: c.n in (0, 2),
    )

def test_bad_argument(harness_explore):
    harness_explore(setup=Counter, workers=[lambda c: c.incr()])
"""


def test_the_fixture_fails_with_the_report_and_the_replay_call(tmp_path: Path) -> None:
    from tests.test_pytest_plugin import _pytest

    (tmp_path / "test_suite.py").write_text(FIXTURE_SUITE)
    run = _pytest(tmp_path, "--harness-artifacts", str(tmp_path / "found"), "-p", "no:randomly")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 failed" in run.stdout
    assert "worker 1 then wrote self.n = 1" in run.stdout
    assert "replay: harness.replay_explore(" in run.stdout
    assert "explore: workers: needs at least 2 callables" in run.stdout
    assert "During handling" not in run.stdout
    assert "(FAILED): harness.replay_explore(" in run.stdout  # the end-of-run summary
    saved = list((tmp_path / "found").glob("explore-Counter.default-*.json"))
    assert len(saved) == 1


def test_harness_explore_is_the_function_whichever_import_came_first() -> None:
    """The module is `harness.exploration`, so `harness.explore` is always the function --
    for Python and for type checkers, which called the old callable module "not callable"."""
    import harness.exploration as module

    assert harness.explore is module.explore and callable(harness.explore)
    assert not ROOT.joinpath("harness", "explore.py").exists()
