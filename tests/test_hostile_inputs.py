"""Bad and hostile input, as tables: every case is exit 2 with exactly one line on stderr, and
none runs code.

Each case runs in a sandbox directory holding a module whose import would create the file
SENTINEL, and payloads that would create it if any string were evaluated; after every case
SENTINEL must not exist (`test_the_sentinel_can_be_triggered` shows that it is created when
code the file names IS imported). Most cases run in-process through `harness.cli.main`; a few
run as real processes under a 200 MB address-space limit and a 5 s CPU-time limit (enforced by
the kernel: a process over it is killed), with a generous wall-clock timeout as a hang guard
only -- on a loaded machine a process can wait longer than 5 s for a CPU.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import cli
from harness.artifact import encode
from harness.hunt import hunt
from tests.conftest import ROOT

pytestmark = pytest.mark.writes_bad_artifacts

PAYLOAD = "__import__('os').system('touch SENTINEL')"
SENTINEL_MODULE = "sentinel_payload"
SENTINEL_SOURCE = "from pathlib import Path\n\nPath('SENTINEL').touch()\n\nM = None\n"


@pytest.fixture(scope="module")
def good() -> dict[str, Any]:
    """A real counterexample (backoffer.unsafe: one round, two workers, one preemption)."""
    result = hunt("backoffer", "unsafe", seed=0)
    assert result.failure is not None
    return encode(result.failure)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / f"{SENTINEL_MODULE}.py").write_text(SENTINEL_SOURCE)
    for name, source in MODULES.items():
        (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # Hypothesis's storage is process-wide; the CLI's choice of it is tested in test_keeper.
    monkeypatch.setattr(cli, "_hypothesis_storage", lambda: None)
    yield tmp_path
    assert not (tmp_path / "SENTINEL").exists(), "a hostile input ran code"


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_exit_2(code: int, err: str, expected: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("harness: ") and "Traceback" not in err, err
    assert expected in err, err


# -- hostile artifact files -------------------------------------------------------------------

DELETE = object()
Builder = Callable[[dict[str, Any], Path], Path]


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    if value is DELETE:
        del data[path[-1]]
    else:
        data[path[-1]] = value


def doc(*changes: tuple[tuple[Any, ...], Any]) -> Builder:
    """The good file with these (path, value) changes."""

    def build(good: dict[str, Any], folder: Path) -> Path:
        data = copy.deepcopy(good)
        for path, value in changes:
            _set(data, path, value)
        target = folder / "case.json"
        target.write_text(json.dumps(data))
        return target

    return build


def text(transform: Callable[[str], str | bytes]) -> Builder:
    """The good file's text, transformed (truncated, spliced, re-encoded...)."""

    def build(good: dict[str, Any], folder: Path) -> Path:
        # Transforms edit the text of `"seed": 0`; the good file's own seed depends on how it
        # was found (a smoke run seeds its model from the hunt's seed).
        out = transform(json.dumps(dict(good, seed=0), indent=1, sort_keys=True))
        target = folder / "case.json"
        if isinstance(out, bytes):
            target.write_bytes(out)
        else:
            target.write_text(out, encoding="utf-8")
        return target

    return build


def raw(content: bytes) -> Builder:
    return text(lambda _t: content)


def special(make: Callable[[Path], Path]) -> Builder:
    return lambda _good, folder: make(folder)


def _fifo(folder: Path) -> Path:
    path = folder / "fifo.json"
    os.mkfifo(path)
    return path


def _directory(folder: Path) -> Path:
    path = folder / "dir.json"
    path.mkdir()
    return path


S0 = ("steps", 0)
P0 = (*S0, "preemptions", 0)
C00 = (*S0, "workers", 0, 0)
DEEP = b"[" * 100_000 + b"]" * 100_000


def _deep_args(t: str) -> str:
    return t.replace('"regionMiss"', "[" * 70 + '"regionMiss"' + "]" * 70, 1)


ARTIFACTS: list[tuple[str, Builder, str]] = [
    # the file as bytes
    ("empty", raw(b""), "the file is empty"),
    ("whitespace", raw(b"  \n\t\n"), "the file is empty"),
    ("binary", raw(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"), "not a text file"),
    ("bad-utf8-inside", text(lambda t: t.encode().replace(b"regionMiss", b"\xff\xfe", 1)), "UTF-8"),
    ("utf16", text(lambda t: t.encode("utf-16")), "not a text file"),
    ("truncated-half", text(lambda t: t[: len(t) // 2]), "truncated or corrupted"),
    ("truncated-one-byte", raw(b"{"), "not valid JSON"),
    ("trailing-garbage", text(lambda t: t + "}{"), "not valid JSON"),
    ("nan-literal", text(lambda t: t.replace('"seed": 0', '"seed": NaN', 1)), "NaN is not JSON"),
    ("infinity", text(lambda t: t.replace('"seed": 0', '"seed": -Infinity', 1)), "Infinity"),
    (
        "duplicate-key",
        text(lambda t: t.replace('"seed": 0', '"seed": 0, "seed": 1', 1)),
        "duplicate",
    ),
    ("nesting-100k", raw(DEEP), "nested 100000 levels deep"),
    ("nesting-65", raw(b"[" * 65 + b"]" * 65), "nested 65 levels deep"),
    ("nesting-in-args", text(_deep_args), "levels deep (at most 64)"),
    ("digits-5000", text(lambda t: t.replace('"seed": 0', '"seed": ' + "9" * 5000, 1)), "digits"),
    ("digits-4000", text(lambda t: t.replace('"seed": 0', '"seed": ' + "9" * 4000, 1)), "seed:"),
    ("top-array", raw(b"[1, 2]"), "the top level is an array"),
    ("top-string", raw(b'"counterexample"'), "the top level is a string"),
    ("top-null", raw(b"null"), "the top level is null"),
    ("directory", special(_directory), "is a directory"),
    ("fifo", special(_fifo), "not a regular file"),
    ("device", special(lambda _f: Path("/dev/zero")), "not a regular file"),
    ("missing", special(lambda f: f / "nothere.json"), "cannot read"),
    # shape and schema
    ("no-schema", doc((("schema",), DELETE)), "no 'schema' field"),
    ("unknown-schema", doc((("schema",), "harness-counterexample/99")), "is not supported"),
    ("schema-int", doc((("schema",), 2)), "schema: 2 is not supported"),
    ("legacy-99", doc((("schema",), DELETE), (("schema_version",), 99)), "schema_version: 99"),
    ("unknown-field", doc((("exec",), PAYLOAD)), "exec: unknown field"),
    ("missing-model", doc((("model",), DELETE)), "missing field 'model'"),
    ("model-int", doc((("model",), 7)), "model: expected a string, got an integer"),
    ("model-traversal", doc((("model",), "../../etc/passwd")), "is not a model id"),
    ("model-colon-import", doc((("model",), "os:system")), "is not a model id"),
    ("model-code", doc((("model",), PAYLOAD)), "is not a model id"),
    ("model-long", doc((("model",), "m" * 5000)), "at most 200"),
    ("model-surrogate", doc((("model",), "back\ud800offer")), "lone surrogate"),
    ("model-ref-code", doc((("model_ref",), PAYLOAD)), "model_ref:"),
    ("model-ref-traversal", doc((("model_ref",), "../..:x")), "model_ref:"),
    (
        "untrusted-sentinel",
        doc((("model",), "stranger"), (("model_ref",), f"{SENTINEL_MODULE}:M")),
        f"names module '{SENTINEL_MODULE}'",
    ),
    ("variant-code", doc((("variant",), PAYLOAD)), "variant:"),
    ("variant-unknown", doc((("variant",), "nope")), "variant: 'nope' is not a variant"),
    ("granularity", doc((("granularity",), "line")), "granularity: 'line' is not one of"),
    ("granularity-code", doc((("granularity",), PAYLOAD)), "granularity:"),
    ("python-code", doc((("python",), PAYLOAD)), "python:"),
    ("seed-negative", doc((("seed",), -1)), "seed: -1 is out of range"),
    ("seed-float", doc((("seed",), 0.5)), "seed: expected an integer, got a number"),
    ("seed-string", doc((("seed",), "0")), "seed: expected an integer, got a string"),
    ("seed-bool", doc((("seed",), True)), "seed: expected an integer, got a boolean"),
    ("seed-2-64", doc((("seed",), 2**64)), "seed: 18446744073709551616 is out of range"),
    ("params-list", doc((("params",), [1])), "params: expected an object"),
    ("params-unknown", doc((("params", "rm_rf"), 1)), "params.rm_rf: not a parameter"),
    ("params-missing", doc((("params",), {})), "params: missing 'max_sleep'"),
    ("params-key-code", doc((("params", PAYLOAD), 1)), "is not a parameter name"),
    ("params-bad-tag", doc((("params", "max_sleep"), {"__bytes__": "zz"})), "hexadecimal"),
    ("params-unknown-tag", doc((("params", "max_sleep"), {"__reduce__": PAYLOAD})), "unknown tag"),
    ("replayable-false", doc((("replayable",), False)), "cannot be replayed"),
    ("replayable-string", doc((("replayable",), "yes")), "replayable: expected a boolean"),
    # steps
    ("steps-empty", doc((("steps",), [])), "steps: needs at least 1"),
    ("steps-object", doc((("steps",), {})), "steps: expected an array"),
    ("steps-too-many", doc((("steps",), [{}] * 1001)), "at most 1000"),
    ("step-not-object", doc((S0, 3)), "steps[0]: expected an object"),
    ("step-kind-unknown", doc(((*S0, "kind"), "parallel")), "steps[0].kind: 'parallel'"),
    ("step-kind-code", doc(((*S0, "kind"), PAYLOAD)), "steps[0].kind:"),
    ("step-kind-missing", doc(((*S0, "kind"), DELETE)), "steps[0]: missing field 'kind'"),
    ("sequential-no-call", doc((S0, {"kind": "sequential"})), "missing field 'call'"),
    (
        "sequential-empty-call",
        doc((S0, {"kind": "sequential", "call": []})),
        "steps[0].call: expected an object",
    ),
    ("round-one-worker", doc(((*S0, "workers"), [[{"op": "backoff", "args": {}}]])), "at least 2"),
    ("round-65-workers", doc(((*S0, "workers"), [[{}]] * 65)), "at most 64"),
    ("worker-no-calls", doc(((*S0, "workers", 1), [])), "steps[0].workers[1]: needs at least 1"),
    ("op-unknown", doc(((*C00, "op"), "rmtree")), "no operation 'rmtree'"),
    ("op-code", doc(((*C00, "op"), PAYLOAD)), "is not an operation name"),
    ("args-list", doc(((*C00, "args"), ["regionMiss"])), "args: expected an object"),
    ("args-unknown", doc(((*C00, "args", "evil"), 1)), "args.evil: not an argument"),
    ("args-missing", doc(((*C00, "args"), {})), "missing argument 'config'"),
    ("args-key-code", doc(((*C00, "args", PAYLOAD), 1)), "is not an argument name"),
    (
        "preemption-worker-7",
        doc(((*P0, "worker"), 7)),
        "worker: 7 is not a worker of this step (0-1)",
    ),
    ("preemption-worker-negative", doc(((*P0, "worker"), -1)), "worker: -1 is out of range"),
    ("preemption-target-9", doc(((*P0, "target"), 9)), "target: 9 is not a worker of this step"),
    ("preemption-self", doc(((*P0, "target"), 0)), "is the preempted worker itself"),
    ("preemption-point-0", doc(((*P0, "point"), 0)), "point: 0 is out of range"),
    ("preemption-point-negative", doc(((*P0, "point"), -5)), "point: -5 is out of range"),
    (
        "preemption-point-huge",
        doc(((*P0, "point"), 10**30)),
        "point: 1000000000000000000000000000000",
    ),
    ("preemption-point-float", doc(((*P0, "point"), 1e30)), "point: expected an integer"),
    ("preemption-past-round", doc(((*P0, "step"), 99_999)), "past the round's"),
    ("preemption-array", doc((P0, [57, 0, 57, 1])), "preemptions[0]: expected an object"),
    ("preemption-missing", doc(((*P0, "target"), DELETE)), "missing field 'target'"),
    ("points-negative", doc(((*S0, "points"), -1)), "steps[0].points: -1 is out of range"),
    # verdict, trace, the rest
    ("verdict-missing", doc((("verdict",), DELETE)), "missing field 'verdict'"),
    ("verdict-kind", doc((("verdict", "kind"), "segfault")), "verdict.kind: 'segfault'"),
    ("verdict-message-int", doc((("verdict", "message"), 1)), "verdict.message: expected a string"),
    ("verdict-invariant-code", doc((("verdict", "invariant"), PAYLOAD)), "verdict.invariant:"),
    (
        "verdict-different-kind",
        doc((("verdict", "kind"), "deadlock"), (("verdict", "invariant"), None)),
        "not reproduced: recorded deadlock",
    ),
    ("trace-object", doc((("trace",), {})), "trace: expected an array"),
    ("trace-event-missing", doc((("trace", 0, "kind"), DELETE)), "trace[0]: missing field 'kind'"),
    ("trace-thread-99", doc((("trace", 0, "thread"), 99)), "trace[0].thread: 99 is out of range"),
    ("trace-step-float", doc((("trace", 0, "step"), 1.5)), "trace[0].step: expected an integer"),
    ("message-surrogate", doc((("verdict", "message"), "\udcff")), "lone surrogate"),
    ("shape-string", doc((("shape",), "big")), "shape: expected an object"),
    ("shape-negative", doc((("shape", "threads"), -2)), "shape.threads: -2 is out of range"),
]


def test_the_artifact_table_is_big_enough() -> None:
    assert len(ARTIFACTS) >= 60
    assert len({name for name, _b, _e in ARTIFACTS}) == len(ARTIFACTS)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "build", "expected"), ARTIFACTS, ids=[c[0] for c in ARTIFACTS])
def test_hostile_artifact_is_one_line_and_exit_2(
    sandbox: Path,
    good: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    name: str,
    build: Builder,
    expected: str,
) -> None:
    path = build(good, sandbox)
    code, _out, err = run_main(["replay", str(path)], capsys)
    assert_one_line_exit_2(code, err, expected)


def test_over_the_size_cap_is_refused_before_reading(
    sandbox: Path,
    good: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = doc()(good, sandbox)
    monkeypatch.setenv("HARNESS_MAX_ARTIFACT_BYTES", "1000")
    code, _out, err = run_main(["replay", str(path)], capsys)
    assert_one_line_exit_2(code, err, "larger than the 1000-byte cap (HARNESS_MAX_ARTIFACT_BYTES)")
    monkeypatch.setenv("HARNESS_MAX_ARTIFACT_BYTES", "lots")
    code, _out, err = run_main(["replay", str(path)], capsys)
    assert_one_line_exit_2(code, err, "is not a positive number of bytes")


def test_unreadable_file(
    sandbox: Path, good: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = doc()(good, sandbox)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop this process reading")
        code, _out, err = run_main(["replay", str(path)], capsys)
        assert_one_line_exit_2(code, err, "Permission denied")
    finally:
        path.chmod(0o644)


FREE_TEXT = [
    ("verdict", "message"),
    ("verdict", "details"),
    ("explanation",),
    ("harness_version",),
    ("implementation",),
    ("trace", 0, "location"),
    ("trace", 0, "target"),
    ("trace", 0, "kind"),
    ("steps", 0, "workers", 0, 0, "args", "config"),
    ("params", "max_sleep"),
]


@pytest.mark.parametrize("field", FREE_TEXT, ids=[".".join(map(str, f)) for f in FREE_TEXT])
def test_code_in_free_text_fields_is_only_text(
    sandbox: Path, good: dict[str, Any], capsys: pytest.CaptureFixture[str], field: tuple[Any, ...]
) -> None:
    """Fields that may hold any text replay normally (or fail to, as the model says), and the
    text stays text: the sandbox fixture checks SENTINEL after the case."""
    path = doc((field, PAYLOAD))(good, sandbox)
    code, _out, err = run_main(["replay", str(path), "--emit-test", "test_x.py"], capsys)
    assert code in (1, 2) and "Traceback" not in err and err.count("\n") <= 2, err
    if code == 1:
        compile((sandbox / "test_x.py").read_text(), "test_x.py", "exec")


def test_the_sentinel_can_be_triggered(
    sandbox: Path, good: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: trusting the file does import what it names (so the sentinel works)."""
    path = doc((("model",), "stranger"), (("model_ref",), f"{SENTINEL_MODULE}:M"))(good, sandbox)
    code, _out, err = run_main(["replay", str(path), "--trust-file"], capsys)
    assert code == 2 and (sandbox / "SENTINEL").exists(), err
    (sandbox / "SENTINEL").unlink()


# -- bad command lines ------------------------------------------------------------------------

_MODEL = """\
import sys
from hypothesis import strategies as st
from harness.model import Model, invariant, operation

{before}

class M(Model):
    name = {name!r}
    instrument = ("tests.targets.counters",)
{attrs}

    @operation()
    def incr(self) -> None:
        pass
{extra}
"""


def _model(before: str = "", name: str = "hostile", attrs: str = "", extra: str = "") -> str:
    return _MODEL.format(before=before, name=name, attrs=attrs, extra=extra)


MODULES = {
    "hostile_raises": _model(before="raise RuntimeError('boom at import')"),
    "hostile_syntax": "def broken(:\n    pass\n",
    "hostile_exits": _model(before="sys.exit(0)"),
    "hostile_needs_missing": _model(before="import no_such_dependency_xyz"),
    "hostile_not_a_model": "M = 3\n",
    "hostile_name_traversal": _model(name="../../evil"),
    "hostile_name_slash": _model(name="a/b"),
    "hostile_name_int": _model(name=42),  # type: ignore[arg-type]
    "hostile_name_newline": _model(name="two\nlines"),
    "hostile_workers_str": _model(attrs="    max_workers = '3'"),
    "hostile_workers_one": _model(attrs="    max_workers = 1"),
    "hostile_workers_bool": _model(attrs="    max_workers = True"),
    "hostile_workers_huge": _model(attrs="    max_workers = 10**6"),
    "hostile_ops_zero": _model(attrs="    max_ops_per_worker = 0"),
    "hostile_variants_empty": _model(attrs="    variants = {}"),
    "hostile_variants_list": _model(attrs="    variants = ['a']"),
    "hostile_variant_space": _model(attrs="    variants = {'a b': 'x'}"),
    "hostile_instrument_str": _model(attrs="    instrument = 'tests.targets.counters'"),
    "hostile_instrument_missing": _model(attrs="    instrument = ('no_such_module_q',)"),
    "hostile_expect_unknown": _model(attrs="    expect_failure = ('nope',)"),
    "hostile_points_str": _model(attrs="    points_per_operation = 'x'"),
    "hostile_parameters_list": _model(attrs="    parameters = [1]"),
    "hostile_no_strategy": _model(
        extra="\n    @operation()\n    def put(self, key) -> None:\n        pass\n"
    ),
    "hostile_invariant_args": _model(
        extra="\n    @invariant()\n    def ok(self, x) -> None:\n        pass\n"
    ),
    "hostile_setup_raises": _model(
        extra="\n    def setup(self) -> None:\n        raise OSError('no db')\n"
    ),
}


def _good_file(sandbox: Path, good: dict[str, Any]) -> str:
    return str(doc()(good, sandbox))


def _a_file(sandbox: Path) -> str:
    path = sandbox / "plain.txt"
    path.write_text("x")
    return str(path)


Args = list[str] | Callable[[Path, dict[str, Any]], list[str]]

CLI: list[tuple[str, Args, str]] = [
    ("no-command", [], "the following arguments are required"),
    ("unknown-command", ["frobnicate"], "invalid choice"),
    ("hunt-no-model", ["hunt"], "the following arguments are required: model"),
    ("unknown-model", ["hunt", "nope"], "unknown model 'nope'"),
    ("empty-model", ["hunt", ""], "unknown model ''"),
    ("unknown-variant", ["hunt", "backoffer", "--variant", "zzz"], "no variant 'zzz'"),
    ("unknown-inline-variant", ["hunt", "backoffer.zzz"], "no variant 'zzz'"),
    ("points", ["hunt", "backoffer", "--points", "line"], "invalid choice: 'line'"),
    ("max-examples-0", ["hunt", "backoffer", "--max-examples", "0"], "from 1 to 1,000,000"),
    ("max-examples-negative", ["hunt", "counter", "--max-examples", "-5"], "from 1 to 1,000,000"),
    ("max-examples-over", ["hunt", "counter", "--max-examples", "1000001"], "got 1000001"),
    ("max-examples-word", ["hunt", "counter", "--max-examples", "many"], "--max-examples"),
    ("max-examples-empty", ["hunt", "counter", "--max-examples", ""], "--max-examples"),
    ("max-examples-float", ["hunt", "counter", "--max-examples", "1e3"], "--max-examples"),
    ("seed-negative", ["hunt", "counter", "--seed", "-1"], "from 0 to 2**64-1"),
    ("seed-5000-digits", ["hunt", "counter", "--seed", "7" * 5000], "from 0 to 2**64-1"),
    ("seed-2-64", ["hunt", "counter", "--seed", str(2**64)], "from 0 to 2**64-1"),
    ("seed-hex", ["hunt", "counter", "--seed", "0x10"], "--seed"),
    ("seed-unicode-digits", ["hunt", "counter", "--seed", "١٢"], "--seed"),
    ("model-surrogate", ["hunt", "back\udcffoffer"], "unknown model 'back\\udcffoffer'"),
    ("model-newline", ["hunt", "back\noffer"], "unknown model"),
    ("ref-relative", ["hunt", "../../etc:passwd"], "no Python file '../../etc'"),
    ("ref-no-module", ["hunt", ":Model"], "must look like package.module:Class"),
    ("ref-no-class", ["hunt", "mod:"], "must look like package.module:Class"),
    ("ref-two-colons", ["hunt", "a:b:c"], "must look like package.module:Class"),
    ("ref-missing-module", ["hunt", "no_such_module_xyz:M"], "cannot import 'no_such_module_xyz'"),
    ("ref-not-model", ["hunt", "hostile_not_a_model:M"], "is a int, not a class"),
    ("ref-no-attr", ["hunt", "hostile_not_a_model:Nope"], "has no 'Nope'"),
    ("import-raises", ["hunt", "hostile_raises:M"], "raised RuntimeError: boom at import"),
    ("import-syntax", ["hunt", "hostile_syntax:M"], "SyntaxError"),
    ("import-exits", ["hunt", "hostile_exits:M"], "raised SystemExit"),
    ("import-missing-dep", ["hunt", "hostile_needs_missing:M"], "no_such_dependency_xyz"),
    ("name-traversal", ["hunt", "hostile_name_traversal:M"], "must be letters, digits"),
    ("name-slash", ["hunt", "hostile_name_slash:M"], "must be letters, digits"),
    ("name-int", ["hunt", "hostile_name_int:M"], "has no `name`"),
    ("name-newline", ["hunt", "hostile_name_newline:M"], "two\\nlines"),
    ("max-workers-str", ["hunt", "hostile_workers_str:M"], "max_workers must be an integer"),
    ("max-workers-1", ["hunt", "hostile_workers_one:M"], "max_workers must be an integer"),
    ("max-workers-bool", ["hunt", "hostile_workers_bool:M"], "max_workers must be an integer"),
    ("max-workers-huge", ["hunt", "hostile_workers_huge:M"], "from 2 to 64"),
    ("max-ops-0", ["hunt", "hostile_ops_zero:M"], "max_ops_per_worker must be"),
    ("variants-empty", ["hunt", "hostile_variants_empty:M"], "declares no variants"),
    ("variants-list", ["hunt", "hostile_variants_list:M"], "declares no variants"),
    ("variant-space", ["hunt", "hostile_variant_space:M"], "variant 'a b' must be"),
    ("instrument-str", ["hunt", "hostile_instrument_str:M"], "sequence of module names"),
    ("instrument-missing", ["hunt", "hostile_instrument_missing:M"], "no_such_module_q"),
    ("expect-unknown", ["hunt", "hostile_expect_unknown:M"], "unknown variant 'nope'"),
    ("points-str", ["hunt", "hostile_points_str:M"], "points_per_operation"),
    ("parameters-list", ["hunt", "hostile_parameters_list:M"], "`parameters` must be a dict"),
    ("no-strategy", ["hunt", "hostile_no_strategy:M"], "no strategy for argument 'key'"),
    ("invariant-args", ["hunt", "hostile_invariant_args:M"], "must take only self"),
    ("setup-raises", ["hunt", "hostile_setup_raises:M"], "broken model: setup of model"),
    (
        "artifacts-file",
        lambda s, g: ["hunt", "counter", "--artifacts", _a_file(s)],
        "not a directory",
    ),
    ("artifacts-nul", ["hunt", "counter", "--artifacts", "a\x00b"], "NUL byte"),
    ("replay-no-file", ["replay"], "the following arguments are required: file"),
    ("replay-nul-path", ["replay", "a\x00b.json"], "cannot read"),
    ("replay-empty-path", ["replay", ""], "cannot read"),
    ("replay-model-unknown", lambda s, g: ["replay", _good_file(s, g), "--model", "nope"], "nope"),
    (
        "replay-model-mismatch",
        lambda s, g: ["replay", _good_file(s, g), "--model", "counter"],
        "--model counter is model 'counter', but the file is a counterexample of model 'backoffer'",
    ),
    (
        "replay-model-raises",
        lambda s, g: ["replay", _good_file(s, g), "--model", "hostile_raises:M"],
        "boom at import",
    ),
    ("replay-variant", lambda s, g: ["replay", _good_file(s, g), "--variant", "zzz"], "'zzz'"),
    (
        "emit-test-into-dir",
        lambda s, g: ["replay", _good_file(s, g), "--emit-test", str(s)],
        "cannot write",
    ),
    (
        "emit-test-under-file",
        lambda s, g: ["replay", _good_file(s, g), "--emit-test", _a_file(s) + "/t.py"],
        "cannot write",
    ),
    (
        "html-under-file",
        lambda s, g: ["replay", _good_file(s, g), "--html", _a_file(s) + "/v.html"],
        "cannot write",
    ),
    ("models-bogus-flag", ["models", "--bogus"], "unrecognized arguments: --bogus"),
]


def test_the_cli_table_is_big_enough() -> None:
    assert len(CLI) >= 40
    assert len({name for name, _a, _e in CLI}) == len(CLI)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "args", "expected"), CLI, ids=[c[0] for c in CLI])
def test_bad_command_line_is_one_line_and_exit_2(
    sandbox: Path,
    good: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    name: str,
    args: Args,
    expected: str,
) -> None:
    argv = args(sandbox, good) if callable(args) else args
    code, _out, err = run_main(argv, capsys)
    assert_one_line_exit_2(code, err, expected)


# -- a few as real processes: 200 MB of address space, 5 s of CPU -----------------------------

_MEMORY = 200 * 1024 * 1024
_CPU_SECONDS = 5


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_MEMORY, _MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (_CPU_SECONDS, _CPU_SECONDS))


def _process(
    args: list[str | bytes], cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        check=False,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})),
        timeout=120,  # hang guard
        preexec_fn=_limits,
    )
    return done.returncode, done.stderr.decode("utf-8", "backslashreplace")


SUBPROCESS: list[
    tuple[str, Callable[[Path, dict[str, Any]], list[str | bytes]], dict[str, str], str]
] = [
    (
        "surrogate-id",
        lambda s, g: ["hunt", b"back\xffoffer"],
        {},
        "unknown model 'back\\udcffoffer'",
    ),
    ("seed-5000", lambda s, g: ["hunt", "counter", "--seed", "9" * 5000], {}, "2**64-1"),
    ("import-raises", lambda s, g: ["hunt", "hostile_raises:M"], {}, "boom at import"),
    ("nesting-100k", lambda s, g: ["replay", str(raw(DEEP)(g, s))], {}, "nested 100000 levels"),
    ("fifo", lambda s, g: ["replay", str(_fifo(s))], {}, "not a regular file"),
    (
        "over-cap",
        lambda s, g: ["replay", str(doc()(g, s))],
        {"HARNESS_MAX_ARTIFACT_BYTES": "2048"},
        "2048-byte cap",
    ),
    (
        "untrusted",
        lambda s, g: [
            "replay",
            str(doc((("model",), "x"), (("model_ref",), f"{SENTINEL_MODULE}:M"))(g, s)),
        ],
        {},
        "--trust-file",
    ),
]


@pytest.mark.parametrize(
    ("name", "args", "env", "expected"), SUBPROCESS, ids=[c[0] for c in SUBPROCESS]
)
def test_hostile_input_in_a_real_process(
    sandbox: Path,
    good: dict[str, Any],
    name: str,
    args: Callable[[Path, dict[str, Any]], list[str | bytes]],
    env: dict[str, str],
    expected: str,
) -> None:
    code, err = _process(args(sandbox, good), sandbox, env)
    assert_one_line_exit_2(code, err, expected)
