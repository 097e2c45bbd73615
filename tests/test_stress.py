"""The stress engine: free-running threads find races, the controlled engine makes them replayable.

Every test here runs on GIL builds (switch interval at its minimum) and on free-threaded 3.13t
alike; none asserts on wall-clock time, only on counts the engine reports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import harness
from harness import report
from harness.artifact import load, save
from harness.errors import UsageError
from harness.hunt import HuntResult, hunt, hunt_spec
from harness.model import Model, operation, validate_model
from harness.replay import replay_artifact
from harness.runtime.hooks import gil_enabled
from harness.runtime.world import active_world
from harness.settings import Settings
from harness.stress import gate as gate_module
from harness.stress.engine import MIN_SWITCH_INTERVAL, fast_switching
from harness.verdict import Clean, Counterexample, Interrupted, NotTested, StressFailure
from tests.conftest import run_cli
from tests.targets.plain_classes import LockedLRU
from tests.targets.stress_models import OpaqueRaceModel, YieldingBankModel, YieldingBooksModel

ROOT = Path(__file__).resolve().parents[1]


def _reproduced_hunt(target: str, seeds: range) -> HuntResult:
    """The first stress hunt among `seeds` whose failure the controlled engine reproduced.

    Stress chooses its own interleavings: now and then the one it saw is one the controlled
    engine cannot take (a free thread's sleep only yields, so a longer sleep may end first),
    and that hunt honestly reports a stress failure without a counterexample. And on a loaded
    GIL build a seed's 4,000 free rounds may see no failure at all (the operating system
    decides). Ten seeds make a miss of every one negligible; a hunt that failed without a
    reproduction must still say so, and one that saw nothing must say clean.
    """
    for seed in seeds:
        result = hunt(target, seed=seed, max_examples=200, engine="stress", repeats=20)
        stress = result.verdict.stress
        assert stress is not None, seed
        if stress.first is None:
            assert isinstance(result.verdict, Clean), seed
            continue
        if stress.reproduced:
            return result
        assert isinstance(result.verdict, StressFailure) and result.failure is None
    raise AssertionError(f"no stress failure of {target} reproduced in seeds {seeds}")


def test_stress_finds_the_unsafe_backoffer_and_reproduces_it_minimally() -> None:
    result = _reproduced_hunt("backoffer.unsafe", range(0, 10))
    verdict = result.verdict
    assert isinstance(verdict, Counterexample) and verdict.engine == "stress"
    stress = verdict.stress
    assert stress is not None and stress.first is not None and stress.reproduced
    assert stress.example_failing_rounds >= 1 and stress.rounds >= stress.example_rounds
    # On a GIL build the interpreter was asked to switch as often as it can.
    expected = pytest.approx(MIN_SWITCH_INTERVAL) if gil_enabled() else None
    assert stress.switch_interval == expected
    failure = result.failure
    assert failure is not None and failure.looks_minimal()
    assert failure.kind == stress.first.kind
    # The provenance is part of the verdict: rendered by the reporter, carried in --json.
    text = report.hunt_text(result)
    assert "COUNTEREXAMPLE" in text and "found under stress in example" in text
    assert "reproduced deterministically" in text
    data = report.result_json(result)
    assert data["kind"] == "counterexample" and data["engine"] == "stress"
    assert data["stress"]["reproduced"] is True and data["counterexample"] is not None


def test_the_reproduced_counterexample_replays_step_by_step(tmp_path: Path) -> None:
    result = _reproduced_hunt("backoffer.unsafe", range(10, 20))
    assert result.failure is not None
    path = save(result.failure, tmp_path)
    outcome = replay_artifact(load(path))
    assert outcome.reproduced and outcome.identical_trace
    assert outcome.failure is not None and outcome.failure.kind == result.failure.kind


def test_switch_interval_is_restored_after_a_stress_hunt() -> None:
    before = sys.getswitchinterval()
    hunt("counter.locked", seed=0, max_examples=3, engine="stress", repeats=5)
    assert sys.getswitchinterval() == before
    with fast_switching() as interval:
        if gil_enabled():
            assert interval == pytest.approx(MIN_SWITCH_INTERVAL)
            assert sys.getswitchinterval() == pytest.approx(MIN_SWITCH_INTERVAL)
        else:
            assert interval is None
    assert sys.getswitchinterval() == before


def test_a_free_threaded_interpreter_keeps_its_switch_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = sys.getswitchinterval()
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    assert not gil_enabled()
    result = hunt("counter.locked", seed=0, max_examples=2, engine="stress", repeats=3)
    stress = result.verdict.stress
    assert stress is not None and stress.switch_interval is None and not stress.gil
    assert report.hunt_json("counter", [result], {})["gil_enabled"] is False
    assert "GIL off" in stress.line()
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: True, raising=False)
    with fast_switching() as interval:
        assert interval == pytest.approx(MIN_SWITCH_INTERVAL)
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize(
    ("target", "examples", "repeats"),
    [
        ("backoffer.locked", 15, 20),
        ("backoffer.fork", 15, 20),
        ("counter.locked", 30, 20),
        ("lru.locked", 30, 20),
        ("queue.stdlib", 30, 20),  # timed waits on a full queue time out under stress too
        ("cachetools-lru.locked", 30, 20),  # the model's own lock: waiting drops the gate
        pytest.param("backoffer.locked", 1000, 5, marks=pytest.mark.slow),
        pytest.param("backoffer.fork", 1000, 5, marks=pytest.mark.slow),
    ],
)
def test_fixed_variants_raise_no_false_alarm_under_stress(
    target: str, examples: int, repeats: int
) -> None:
    result = hunt(target, seed=3, max_examples=examples, engine="stress", repeats=repeats)
    stress = result.verdict.stress
    assert stress is not None
    # No false alarm: neither a counterexample nor a stress failure. (A tiny operation on a
    # GIL build may never overlap another: then the verdict is honestly "not tested".)
    assert isinstance(result.verdict, (Clean, NotTested)), report.hunt_text(result)
    assert stress.examples == examples and stress.rounds == examples * repeats
    assert stress.first is None and stress.failing_rounds == 0


def test_clean_under_stress_claims_its_rounds_and_overlap_not_coverage() -> None:
    result = hunt("backoffer.locked", seed=1, max_examples=10, engine="stress", repeats=10)
    verdict = result.verdict
    assert isinstance(verdict, Clean) and verdict.stress is not None
    assert verdict.stress.rounds == 100
    assert 0 < verdict.stress.overlapping_rounds <= verdict.stress.entered_rounds <= 100
    assert result.evidence is None  # no controlled-run coverage figures to show
    text = report.hunt_text(result)
    assert "clean under stress: 100 free-running rounds of 10 examples" in text
    assert "with 2+ workers inside the code under test at once" in text
    assert "conflict pairs" not in text and "interleaving" not in text
    data = report.result_json(result)
    assert data["kind"] == "clean" and data["evidence"] is None
    assert data["engine"] == "stress" and data["stress"]["rounds"] == 100
    assert data["stress"]["overlapping_rounds"] == verdict.stress.overlapping_rounds


def test_no_overlap_measured_is_not_tested(monkeypatch: pytest.MonkeyPatch) -> None:
    """The overlap figure is measured: without the crossings counted, nothing overlapped, and
    the same clean hunt becomes "not tested"."""
    monkeypatch.setattr(gate_module.Occupancy, "come_in", lambda self: None)
    result = hunt("backoffer.locked", seed=1, max_examples=5, engine="stress", repeats=5)
    assert isinstance(result.verdict, NotTested)
    assert "no worker entered the code under test" in result.verdict.reason
    assert report.exit_code([result]) == 2
    data = report.result_json(result)
    assert data["kind"] == "not-tested" and data["evidence"] is None  # no coverage to claim
    assert data["stress"]["entered_rounds"] == 0 and data["stress"]["rounds"] == 25


class _NeverCallsModel(Model):
    """Its operation never reaches the instrumented module: stress cannot test anything."""

    name = "never-calls"
    instrument = ("tests.targets.counters",)

    def setup(self) -> None:
        self.n = 0

    @operation()
    def touch(self) -> None:
        self.n += 0


def test_a_stress_hunt_that_never_enters_the_code_is_not_tested() -> None:
    result = hunt_spec(
        validate_model(_NeverCallsModel),
        "default",
        Settings(max_examples=3, engine="stress", repeats=3),
    )
    assert isinstance(result.verdict, NotTested)
    assert "tests.targets.counters" in result.verdict.reason
    assert result.verdict.stress is not None and result.verdict.stress.entered_rounds == 0


def test_linearizability_under_stress_raises_no_false_alarm_on_a_locked_class() -> None:
    """Results are checked against a sequential reference under stress too: the call stamps
    are taken in gated harness code, so their order is real time's. A locked wrapper of an
    unsafe cache stays clean (or, at most, untested), never a linearizability failure."""
    result = harness.hunt_class(
        LockedLRU,
        args=(2,),
        instrument=("tests.targets.plain_classes", "cachetools"),
        seed=2,
        max_examples=20,
        engine="stress",
        repeats=10,
    )
    assert isinstance(result.verdict, (Clean, NotTested)), report.hunt_text(result)
    assert result.verdict.stress is not None and result.verdict.stress.rounds == 200


def test_the_model_gate_keeps_the_models_own_code_atomic(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = validate_model(YieldingBooksModel)
    clean = hunt_spec(
        spec, "default", Settings(seed=0, max_examples=10, engine="stress", repeats=20)
    )
    assert isinstance(clean.verdict, (Clean, NotTested)), report.hunt_text(clean)
    # Without the gate, the model's own read-modify-write loses updates: the test can fail.
    monkeypatch.setattr(gate_module.ThreadGate, "take", lambda self: None)
    monkeypatch.setattr(gate_module.ThreadGate, "drop", lambda self: None)
    ungated = hunt_spec(
        spec, "default", Settings(seed=0, max_examples=10, engine="stress", repeats=20)
    )
    stress = ungated.verdict.stress
    assert stress is not None and stress.first is not None
    assert stress.first.invariant == "counts_agree"


def test_a_race_the_scheduler_cannot_express_is_reported_honestly() -> None:
    spec = validate_model(OpaqueRaceModel)
    result = hunt_spec(
        spec, "default", Settings(seed=0, max_examples=10, engine="stress", repeats=20)
    )
    verdict = result.verdict
    assert isinstance(verdict, StressFailure) and verdict.kind == "stress-failure"
    stress = verdict.stress
    assert stress is not None and stress.first is not None and not stress.reproduced
    assert stress.seen["invariant no_lost_increment"] == stress.example_failing_rounds >= 1
    assert stress.schedules_tried > 0
    # No counterexample anywhere: nothing to save, replay or shrink.
    assert result.failure is None and result.first_failure is None and not result.found
    assert verdict.seen is not None and verdict.seen.invariant == "no_lost_increment"
    text = report.hunt_text(result)
    assert "FAILURE UNDER STRESS (expected), NOT REPRODUCED" in text
    assert "no replayable counterexample" in text and "saved:" not in text
    data = report.result_json(result)
    assert data["kind"] == "stress-failure" and data["counterexample"] is None
    assert data["invariant"] == "no_lost_increment" and data["stress"]["reproduced"] is False
    assert report.exit_code([result]) == 1 and not result.as_expected


def test_cli_stress_hunt_marks_the_reproduced_counterexample(tmp_path: Path) -> None:
    for seed in range(10):  # see _reproduced_hunt: stress may miss, or not be reproducible
        done = run_cli(
            "hunt", "backoffer.unsafe", "--engine", "stress", "--repeats", "20",
            "--max-examples", "200", "--seed", str(seed), "--artifacts", str(tmp_path / "cx"),
            cwd=tmp_path,
        )  # fmt: skip
        if done.returncode == 0:
            assert "clean under stress" in done.stdout, done.stdout
            continue
        assert done.returncode == 1, done.stderr
        assert "found under stress in example" in done.stdout
        if "NOT REPRODUCED" not in done.stdout:
            break
        assert "saved:" not in done.stdout
    assert "reproduced deterministically" in done.stdout
    assert "replay: harness replay" in done.stdout
    replayed = run_cli("replay", next((tmp_path / "cx").glob("*.json")).as_posix(), cwd=tmp_path)
    assert replayed.returncode == 1 and "the trace is identical" in replayed.stdout


def test_cli_unreproduced_stress_failure_claims_no_artifact(tmp_path: Path) -> None:
    done = run_cli(
        "hunt", "tests.targets.stress_models:OpaqueRaceModel", "--engine", "stress",
        "--repeats", "20", "--max-examples", "10", "--json",
        "--artifacts", str(tmp_path / "cx"), cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["kind"] == "stress-failure"
    (result,) = data["results"]
    assert result["kind"] == "stress-failure" and result["counterexample"] is None
    assert result["engine"] == "stress" and result["stress"]["reproduced"] is False
    assert not (tmp_path / "cx").exists() or not list((tmp_path / "cx").iterdir())


def test_a_hang_under_stress_is_reproduced_as_a_deadlock() -> None:
    spec = validate_model(YieldingBankModel)
    result = hunt_spec(
        spec,
        "default",
        Settings(seed=0, max_examples=100, engine="stress", repeats=20, stuck_after=0.5),
    )
    stress = result.verdict.stress
    assert stress is not None and stress.first is not None
    assert stress.first.kind == "stuck" and "made no progress" in stress.first.message
    assert result.failure is not None and result.failure.kind == "deadlock"
    assert result.failure.looks_minimal()


def test_an_interrupt_under_stress_keeps_only_what_replays(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C while the free rounds run: nothing reproduced yet, so nothing to keep or save.
    calls = iter(range(1_000_000))

    def ctrl_c_at_round_7() -> None:
        if next(calls) == 7:
            raise KeyboardInterrupt

    monkeypatch.setattr(harness.interrupts, "check", ctrl_c_at_round_7)
    with pytest.raises(KeyboardInterrupt) as caught:
        hunt("backoffer.locked", max_examples=10, engine="stress", repeats=5)
    result = caught.value.harness_result  # type: ignore[attr-defined]
    assert isinstance(result.verdict, Interrupted) and result.verdict.found is None
    assert (
        result.verdict.stress is not None and result.verdict.stress.rounds == 7
    )  # the 8th never started
    assert active_world() is None
    monkeypatch.undo()

    # Ctrl-C once the find was reproduced: the deterministic failure is kept (it replays).
    def interrupt(failure: object) -> None:
        raise KeyboardInterrupt

    spec = validate_model(YieldingBankModel)
    with pytest.raises(KeyboardInterrupt) as caught:
        knobs = Settings(max_examples=100, engine="stress", repeats=20, stuck_after=0.5)
        hunt_spec(spec, "default", knobs, on_failure=interrupt)
    result = caught.value.harness_result  # type: ignore[attr-defined]
    assert isinstance(result.verdict, Interrupted) and result.verdict.found is not None
    assert result.verdict.found.kind == "deadlock" and result.first_failure is not None


def test_bad_engine_options_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown engine 'turbo'"):
        hunt("counter.locked", engine="turbo")
    with pytest.raises(UsageError, match="repeats must be a positive integer"):
        hunt("counter.locked", engine="stress", repeats=0)
    with pytest.raises(UsageError, match="applies to the stress engine only"):
        hunt("counter.locked", repeats=5)
    with pytest.raises(UsageError, match="schedules the controlled engine"):
        hunt("counter.locked", engine="stress", strategy="pct")
    done = run_cli("hunt", "counter", "--engine", "turbo", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "invalid choice: 'turbo'" in done.stderr
    done = run_cli("hunt", "counter.locked", "--repeats", "5", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--repeats) applies to the stress engine only" in done.stderr
