"""Nothing found is lost: the first counterexample is on disk before shrinking, signals leave
it there, an unwritable disk prints it, and hunts leave no `.hypothesis/` in the user's cwd."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness import cli
from harness.artifact import load
from harness.catalog import find_model
from harness.failure import Failure
from harness.hunt import hunt_spec
from harness.keeper import Keeper
from harness.replay import replay_artifact
from harness.settings import Settings
from tests.conftest import ROOT, run_cli

SLOW = "tests.targets.slow_shrink:SlowShrinkModel"


def test_first_failure_is_saved_before_shrinking_and_replaced_by_the_shrunk_one(
    tmp_path: Path,
) -> None:
    spec = find_model("backoffer")
    keeper = Keeper(tmp_path, spec)
    seen: list[list[str]] = []

    def found(failure: Failure) -> None:
        keeper.found(failure)
        seen.append(sorted(p.name for p in tmp_path.iterdir()))

    result = hunt_spec(spec, "unsafe", Settings(seed=3), on_failure=found)
    assert result.failure is not None and len(seen) == 2
    assert len(seen[0]) == 1  # the first failure, on disk before shrinking began
    provisional = tmp_path / seen[0][0]
    assert seen[1] == [p.name for p in tmp_path.iterdir()]  # the shrunk one replaced it
    assert result.failure.looks_minimal() or seen[1] != seen[0]
    assert keeper.path is not None and keeper.path.name == seen[1][0]
    assert provisional.name in seen[0]
    outcome = replay_artifact(load(keeper.path))
    assert outcome.reproduced and outcome.identical_trace


def _hunt_until_held(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    folder = tmp_path / "cx"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "hunt", SLOW, "--artifacts", str(folder)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT), HARNESS_TEST_HOLD_DIR=str(folder)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120  # a hang guard, not a measurement
    while not (folder / "holding").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the hunt never reached its shrinking: {out}{err}")
        time.sleep(0.02)
    return process, folder


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
)
def test_a_signal_while_shrinking_leaves_the_counterexample_on_disk(
    tmp_path: Path, signum: int, code: int, said: str
) -> None:
    process, folder = _hunt_until_held(tmp_path)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, out + err
    [saved] = folder.glob("*.json")
    assert err.count("\n") == 1 and f"harness: {said} while hunting slow-shrink.unsafe" in err
    assert f"saved: {saved}" in err and f"--model {SLOW}" in err
    artifact = load(saved)
    assert artifact.recorded.kind == "invariant" and artifact.model == "slow-shrink"
    outcome = replay_artifact(artifact, model=SLOW)
    assert outcome.reproduced and outcome.identical_trace, outcome.divergence


def test_nothing_writable_prints_the_json_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_hypothesis_storage", lambda: None)
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "tmp"))  # mkdtemp fails too
    code = cli.main(["hunt", "counter.unsafe", "--artifacts", str(blocker / "cx"), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    header, _, body = err.partition("\n")
    assert header.startswith("harness: cannot write the counterexample anywhere (")
    assert header.endswith("its JSON follows, save it by hand:")
    data = json.loads(body)
    assert data["model"] == "counter" and data["verdict"]["kind"] == "invariant"
    assert json.loads(out)["results"][0]["counterexample"]["artifact"] is None


def test_an_unwritable_directory_falls_back_to_a_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_hypothesis_storage", lambda: None)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code = cli.main(["hunt", "counter.unsafe", "--artifacts", str(blocker / "cx")])
    out, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1 and "counterexamples go to" in err
    fallback = Path(err.strip().rsplit(" ", 1)[1])
    [saved] = fallback.glob("*.json")
    assert f"saved: {saved}" in out


def test_a_hunt_leaves_no_hypothesis_directory_in_the_working_directory(tmp_path: Path) -> None:
    """Hypothesis keeps files under `.hypothesis/` (a cache of the constants it finds in local
    source, among others). The harness hides those constants from its own runs
    (`harness.draws`), and the CLI points Hypothesis's storage under `.harness/` anyway."""
    done = run_cli("hunt", "counter", "--max-examples", "20", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert not (tmp_path / ".hypothesis").exists()
    names = {p.name for p in (tmp_path / ".harness").iterdir()}
    assert {"counterexamples"} <= names <= {"counterexamples", "hypothesis"}
