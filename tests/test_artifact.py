"""The counterexample file format: encode without side effects, decode within limits, the
published schema, version 1 files, safe file names, replay's verdicts, emitted tests."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import artifact
from harness.artifact import (
    MAX_DEPTH,
    SCHEMA,
    decode,
    encode,
    file_stem,
    load,
    nesting,
    save,
    validate,
)
from harness.emit import emit_test, regression_test_source
from harness.errors import ArtifactError
from harness.failure import Failure
from harness.hunt import hunt
from harness.replay import python_note, replay_artifact
from tests.conftest import run_command
from tests.jsonschema_subset import Validator, load_schema, schema_errors


@pytest.fixture(scope="module")
def found() -> Failure:
    result = hunt("backoffer", "unsafe", seed=0)
    assert result.failure is not None
    return result.failure


def test_encode_does_not_change_the_failure(found: Failure) -> None:
    def snapshot(failure: Failure) -> str:
        assert failure.trace is not None
        return repr((failure.scenario, failure.params, failure.details, failure.trace.events))

    before = snapshot(found)
    assert encode(found) == encode(found)
    assert snapshot(found) == before
    odd = dataclasses.replace(found, params={"max_sleep": object()})  # no JSON form
    odd_before = snapshot(odd)
    data = encode(odd)
    assert snapshot(odd) == odd_before and data["replayable"] is False
    assert "has no JSON form" in data["not_replayable"] and data["steps"] == []
    assert not schema_errors(data)


def test_saved_file_matches_the_schema_and_loads_back_equal(tmp_path: Path, found: Failure) -> None:
    path = save(found, tmp_path)
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and not schema_errors(data)
    loaded = load(path)
    assert loaded.recorded.scenario[0].calls == found.scenario[0].calls
    assert loaded.recorded.scenario[0].taken == found.scenario[0].taken
    assert loaded.trace == found.trace and loaded.seed == found.seed
    assert loaded.recorded.invariant == found.invariant


def test_the_schema_check_rejects_what_the_format_rejects(found: Failure) -> None:
    """The audit in conftest can fail: the validator flags files the harness refuses."""
    good = encode(found)
    bad_cases: list[tuple[str, Any]] = [
        ("seed", "0"),
        ("schema", "harness-counterexample/1"),
        ("granularity", "line"),
        ("model", "../x"),
        ("steps", []),
    ]
    for key, value in bad_cases:
        data = dict(good, **{key: value})
        assert schema_errors(data), key
        with pytest.raises(ArtifactError):
            validate(data)
    step = copy.deepcopy(good)
    step["steps"][0]["preemptions"][0]["point"] = 0
    assert schema_errors(step)
    with pytest.raises(ArtifactError, match=r"steps\[0\]\.preemptions\[0\]\.point"):
        validate(step)
    with pytest.raises(ValueError, match="does not know"):
        list(Validator(load_schema()).errors(1, {"exclusiveMaximum": 3}))


@pytest.mark.parametrize(
    "value",
    [
        (1, "a", (2.5, None)),
        b"\x00\xff",
        2**80,
        -(2**70),
        {"__weird": 1},
        {"k": [1, {"__tuple__": 2}]},
        [math.inf, -math.inf],
        'C:\\x\\new\\N """ é',
    ],
)
def test_argument_values_round_trip_exactly(value: Any) -> None:
    encoded = artifact._encode_value(value)
    text = json.dumps(encoded, allow_nan=False)
    assert artifact._decode_value(json.loads(text), "v") == value


def test_nan_round_trips_as_a_tag() -> None:
    decoded = artifact._decode_value(json.loads(json.dumps(artifact._encode_value(math.nan))), "v")
    assert math.isnan(decoded)


def test_bracket_scan_skips_strings_and_measures_depth() -> None:
    assert nesting(b'{"a": "[[[[[[", "b": [1, [2]]}') == 3
    assert nesting(b'"\\"[[["') == 0
    deep = b"[" * 100_000 + b"]" * 100_000
    assert nesting(deep) == 100_000
    with pytest.raises(ArtifactError, match=f"nested 100000 levels deep \\(at most {MAX_DEPTH}\\)"):
        decode(deep)


def test_data_nested_in_memory_is_refused_without_recursing(found: Failure) -> None:
    nested: Any = 1
    for _ in range(100_000):
        nested = [nested]
    data = dict(encode(found), params={"max_sleep": nested})
    with pytest.raises(ArtifactError, match=r"params\.max_sleep(\[0\])+: nested deeper than 64"):
        validate(data)


def test_size_cap_is_checked_before_reading(
    tmp_path: Path, found: Failure, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(found, tmp_path)
    monkeypatch.setenv("HARNESS_MAX_ARTIFACT_BYTES", "100")
    opened: list[str] = []
    real_open = open

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(ArtifactError, match="larger than the 100-byte cap"):
        load(path)
    assert str(path) not in opened


@pytest.mark.writes_bad_artifacts  # a model name the format (rightly) refuses
@pytest.mark.parametrize(
    "model",
    ["../../escape", "/etc/passwd", "a/../../b", "..", "C:\\x\\evil", "nul\x00byte", "é/ü", ""],
)
def test_model_name_cannot_place_a_file_outside_the_directory(
    tmp_path: Path, found: Failure, model: str
) -> None:
    folder = tmp_path / "cx"
    hostile = dataclasses.replace(found, model=model)
    path = save(hostile, folder)
    assert path.parent == folder and path.resolve().parent == folder.resolve()
    assert not path.name.startswith(".") and "/" not in file_stem(model, "v")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cx"]


@pytest.mark.writes_bad_artifacts
def test_version_1_files_still_replay_identically(tmp_path: Path, found: Failure) -> None:
    data = encode(found)
    legacy = {k: v for k, v in data.items() if k not in ("schema", "steps", "implementation")}
    legacy["schema_version"] = 1
    legacy["scenario"] = [
        {
            "kind": s["kind"],
            "calls": [[[c["op"], c["args"]] for c in w] for w in s["workers"]],
            "preemptions": [
                [p["step"], p["worker"], p["point"], p["target"]] for p in s["preemptions"]
            ],
            "steps": s["points"],
        }
        for s in data["steps"]
    ]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(legacy))
    before = copy.deepcopy(legacy)
    outcome = replay_artifact(load(path))
    assert outcome.reproduced and outcome.identical_trace, outcome.divergence
    assert legacy == before
    # ... and the regression tests harness 0.1 emitted (they embed such data) still work
    from harness.counterexample import parse
    from harness.counterexample import replay_artifact as replay_v01

    assert replay_v01(parse(legacy, "backoffer.unsafe"), "unsafe").reproduced
    assert not replay_v01(parse(legacy, "backoffer.locked"), "locked").reproduced


@pytest.mark.writes_bad_artifacts
def test_a_different_failure_is_not_reproduced(tmp_path: Path, found: Failure) -> None:
    data = encode(found)
    data["verdict"] = dict(data["verdict"], kind="deadlock", invariant=None)
    outcome = replay_artifact(validate(data, "f"))
    assert not outcome.reproduced and outcome.verdict == "different-failure"
    assert outcome.different is not None and "recorded deadlock" in outcome.different
    assert f"failed invariant {found.invariant}" in outcome.different


def test_replay_on_another_python_says_so_first(found: Failure) -> None:
    data = encode(found)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    other = "3.13.0" if sys.version_info < (3, 12) else "3.11.7"
    assert python_note(validate(data)) is None
    note = python_note(validate(dict(data, python=other)))
    assert note is not None and f"written by CPython {other}, replaying on CPython {here}" in note
    assert "point numbering differs between 3.11 and 3.12+" in note
    sibling = f"3.{sys.version_info.minor + 1}.0" if sys.version_info >= (3, 12) else "3.10.4"
    assert "bytecode differs" in (python_note(validate(dict(data, python=sibling))) or "")


HOSTILE_TEXT = (
    'C:\\x\\new\\N """ \'\'\' " é ☃ \u2028 {0} {{}} __import__("os").system("touch SENTINEL")'
)


def test_emitted_test_embeds_hostile_text_only_as_data(tmp_path: Path, found: Failure) -> None:
    data = encode(found)
    data["verdict"] = dict(data["verdict"], message=HOSTILE_TEXT, details=HOSTILE_TEXT)
    data["explanation"] = HOSTILE_TEXT
    data["harness_version"] = '"""\\N'
    loaded = validate(data, HOSTILE_TEXT)
    source = regression_test_source(loaded, "backoffer")
    compile(source, "emitted", "exec")
    calls = {
        ast.unparse(node.func) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
    }
    assert calls == {"check_regression", "dict"}  # the file's text is data, never code
    # The explanation is in comments, escaped to printable ASCII: no character of it can end one.
    comments = [line for line in source.splitlines() if line.lstrip().startswith("#")]
    assert any("touch SENTINEL" in line for line in comments)
    assert all(line.isascii() and line.isprintable() for line in comments)
    target = emit_test(loaded, tmp_path / "test_hostile.py", "backoffer", "locked")
    run = run_command(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target)],
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr  # locked: the bug is gone, test passes
    assert not (tmp_path / "SENTINEL").exists()


@pytest.mark.writes_bad_artifacts
def test_cli_says_python_differs_first_and_calls_a_miss_inconclusive(
    tmp_path: Path,
    found: Failure,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness import cli

    monkeypatch.setattr(cli, "_hypothesis_storage", lambda: None)  # process-wide otherwise

    other = "3.13.0" if sys.version_info < (3, 12) else "3.11.7"
    path = tmp_path / "other-python.json"
    path.write_text(json.dumps(dict(encode(found), python=other)))
    assert cli.main(["replay", str(path)]) == 1  # it did reproduce: that still counts
    err = capsys.readouterr().err
    assert err.startswith(f"harness: note: written by CPython {other}, replaying on CPython")
    assert cli.main(["replay", str(path), "--variant", "locked"]) == 2  # no evidence of a fix
    out, err = capsys.readouterr()
    note, error = err.splitlines()
    assert note.startswith("harness: note: ") and "no longer fails" not in out
    assert error.endswith(
        "did not reproduce on this Python, which is no evidence of a fix (see the note above)"
    )


def test_an_emitted_test_that_would_not_compile_is_never_written(
    tmp_path: Path, found: Failure, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import emit
    from harness.errors import HarnessError

    broken = emit._TEST.replace("-> None:", "->")
    assert broken != emit._TEST
    monkeypatch.setattr(emit, "_TEST", broken)
    with pytest.raises(HarnessError, match="does not compile"):
        emit_test(validate(encode(found)), tmp_path / "test_x.py", "a 'model")
    assert list(tmp_path.iterdir()) == []


def test_html_view_escapes_every_string(found: Failure) -> None:
    """Messages and trace values come from the code under test and can hold any text."""
    from harness.html import render_html
    from harness.runtime.trace import Trace

    hostile = "<script>alert('x')</script>\"&<img src=x onerror=alert(1)>"
    assert found.trace is not None
    events = [
        dataclasses.replace(e, target=hostile, value=hostile) if i % 3 == 0 else e
        for i, e in enumerate(found.trace.events)
    ]
    page = render_html(
        dataclasses.replace(found, message=hostile, details=hostile, trace=Trace(events=events))
    )
    assert page.count("<script>") == 1  # the page's own toggle, nothing else
    assert "<img" not in page and "alert('x')</script>" not in page
    assert "&lt;script&gt;" in page
