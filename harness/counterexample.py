"""The counterexample file: a versioned JSON record of a failure, written atomically.

A failure found is never lost: the file is written (temp file + rename) as soon as the hunt
has its final counterexample, before anything is printed. JSON only, never pickle: the file is
meant to be read by people, diffed, and kept beside a regression test.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness.catalog import find_model
from harness.errors import UsageError
from harness.explain import explain
from harness.failure import Call, Failure, Step
from harness.model import ModelSpec
from harness.plain import for_params
from harness.runtime.outcome import Preemption
from harness.runtime.points import GRANULARITIES
from harness.scenario import replay
from harness.trace import Trace

SCHEMA_VERSION = 1
DEFAULT_DIRECTORY = Path(".harness") / "counterexamples"


class ArtifactError(UsageError):
    """A counterexample file that cannot be used; the message says why, in one line."""


def _encode(value: Any) -> Any:
    """JSON for operation arguments, exact enough to call the operation again."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if len(value) == 1 and next(iter(value)).startswith("__"):
            return {"__dict__": {k: _encode(v) for k, v in value.items()}}
        return {k: _encode(v) for k, v in value.items()}
    raise TypeError(f"argument {value!r} ({type(value).__name__}) has no JSON form")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        if set(value) == {"__bytes__"}:
            return bytes.fromhex(value["__bytes__"])
        if set(value) == {"__dict__"}:
            return {k: _decode(v) for k, v in value["__dict__"].items()}
        return {k: _decode(v) for k, v in value.items()}
    return value


def _step_json(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": step.kind,
        "calls": [[[op, _encode(args)] for op, args in worker] for worker in step.calls],
    }
    if step.kind == "round":
        out["preemptions"] = [list(p) for p in step.taken]
        if step.forced:
            out["forced"] = [list(f) for f in step.forced]
        out["steps"] = step.steps
    return out


def failure_json(failure: Failure) -> dict[str, Any]:
    """Everything needed to understand and re-run the failure, as plain JSON data."""
    try:
        scenario = [_step_json(s) for s in failure.scenario]
        params = _encode(failure.params)
        replayable = True
    except TypeError as exc:
        scenario = [{"kind": s.kind, "text": s.describe()} for s in failure.scenario]
        params = {k: repr(v) for k, v in failure.params.items()}
        replayable = False
        failure.details = f"{failure.details}\n(not replayable: {exc})".strip()
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": harness.__version__,
        "python": platform.python_version(),
        "model": failure.model,
        "model_ref": failure.model_ref,
        "variant": failure.variant,
        "granularity": failure.granularity,
        "seed": failure.seed,
        "params": params,
        "replayable": replayable,
        "scenario": scenario,
        "verdict": {
            "kind": failure.kind,
            "invariant": failure.invariant,
            "message": failure.message,
            "details": failure.details,
        },
        "shape": failure.shape(),
        "explanation": explain(failure),
        "trace": failure.trace.to_json() if failure.trace is not None else [],
    }


@dataclass
class Artifact:
    """A loaded, validated counterexample file."""

    path: str
    data: dict[str, Any]
    model: str
    variant: str
    granularity: str
    seed: int
    params: dict[str, Any]
    steps: list[Step]
    trace: Trace

    @property
    def verdict(self) -> dict[str, Any]:
        return dict(self.data["verdict"])


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ArtifactError(f"{where}: missing {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ArtifactError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _parse_step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict):
        raise ArtifactError(f"{where}: a scenario step is not an object")
    kind = _require(raw, "kind", str, where)
    if kind not in ("sequential", "round"):
        raise ArtifactError(f"{where}: unknown step kind {kind!r}")
    calls_raw = _require(raw, "calls", list, where)
    calls: list[list[Call]] = []
    for worker in calls_raw:
        if not isinstance(worker, list):
            raise ArtifactError(f"{where}: a worker's calls are not a list")
        row: list[Call] = []
        for call in worker:
            if not (isinstance(call, list) and len(call) == 2 and isinstance(call[0], str)):
                raise ArtifactError(f"{where}: a call is not [operation, arguments]")
            args = _decode(call[1])
            if not isinstance(args, dict):
                raise ArtifactError(f"{where}: arguments of {call[0]} are not an object")
            row.append((call[0], args))
        calls.append(row)
    step = Step(kind, calls)
    if kind == "round":
        for p in _require(raw, "preemptions", list, where):
            if not (isinstance(p, list) and len(p) == 4 and all(isinstance(x, int) for x in p)):
                raise ArtifactError(f"{where}: a preemption is not [step, thread, point, target]")
            step.taken.append(Preemption(*p))
        for f in raw.get("forced", []):
            if not (isinstance(f, list) and len(f) == 2 and all(isinstance(x, int) for x in f)):
                raise ArtifactError(f"{where}: a free choice is not [step, thread]")
            step.forced.append((f[0], f[1]))
    return step


def load(path: str | os.PathLike[str]) -> Artifact:
    """Read and validate a counterexample file; any problem is one `ArtifactError` line."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ArtifactError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ArtifactError(f"{where}: not a text file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "truncated or corrupted?"
        ) from None
    return parse(data, where)


def parse(data: Any, where: str = "<counterexample>") -> Artifact:
    """Validate counterexample data already read from JSON (see `load`)."""
    if not isinstance(data, dict):
        raise ArtifactError(f"{where}: not a counterexample (top level is not an object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"{where}: schema_version {version!r} is not supported (this harness reads "
            f"{SCHEMA_VERSION})"
        )
    if data.get("replayable") is False:
        raise ArtifactError(f"{where}: this counterexample was saved without replayable arguments")
    model = _require(data, "model", str, where)
    variant = _require(data, "variant", str, where)
    granularity = _require(data, "granularity", str, where)
    if granularity not in GRANULARITIES:
        raise ArtifactError(f"{where}: unknown granularity {granularity!r}")
    seed = _require(data, "seed", int, where)
    params = _decode(_require(data, "params", dict, where))
    steps = [_parse_step(s, where) for s in _require(data, "scenario", list, where)]
    if not steps:
        raise ArtifactError(f"{where}: the scenario is empty")
    _require(data, "verdict", dict, where)
    try:
        trace = Trace.from_json(_require(data, "trace", list, where))
    except (KeyError, TypeError, ValueError):
        raise ArtifactError(f"{where}: the trace is malformed") from None
    return Artifact(where, data, model, variant, granularity, seed, params, steps, trace)


@dataclass
class ReplayOutcome:
    """What re-running an artifact did."""

    reproduced: bool
    identical_trace: bool
    failure: Failure | None
    divergence: str | None = None

    def to_json(self) -> dict[str, Any]:
        failure = self.failure
        return {
            "reproduced": self.reproduced,
            "identical_trace": self.identical_trace,
            "failure": None
            if failure is None
            else {"kind": failure.kind, "invariant": failure.invariant, "message": failure.message},
            "divergence": self.divergence,
        }


def _model_of(artifact: Artifact) -> ModelSpec:
    """The artifact's model: by name from the catalog, else (a model given as
    ``module:Class``, outside the catalog) by the reference the file recorded."""
    try:
        return find_model(artifact.model)
    except UsageError as exc:
        unknown = exc
    ref = artifact.data.get("model_ref")
    if isinstance(ref, str) and ":" in ref:
        try:
            spec = find_model(ref)
        except UsageError:
            pass
        else:
            if spec.name == artifact.model:
                return spec
        raise ArtifactError(f"{artifact.path}: {unknown} (nor is it {ref})")
    raise ArtifactError(f"{artifact.path}: {unknown}")


def replay_artifact(artifact: Artifact, variant: str | None = None) -> ReplayOutcome:
    """Re-run the artifact's scenario and schedule; compare the trace step by step.

    `variant` replays the same scenario against another variant of the model (e.g. the fix).
    """
    spec = for_params(_model_of(artifact), artifact.params)
    chosen = variant or artifact.variant
    if chosen not in spec.cls.variants:
        known = ", ".join(spec.cls.variants)
        raise ArtifactError(
            f"{artifact.path}: model {artifact.model!r} has no variant {chosen!r} (known: {known})"
        )
    ops = {op.name for op in spec.operations}
    for step in artifact.steps:
        for worker in step.calls:
            for op, _args in worker:
                if op not in ops:
                    raise ArtifactError(
                        f"{artifact.path}: model {artifact.model!r} has no operation {op!r} "
                        "any more"
                    )
    failure = replay(
        spec,
        chosen,
        seed=artifact.seed,
        params=artifact.params,
        steps=artifact.steps,
        granularity=artifact.granularity,
    )
    if failure is None:
        return ReplayOutcome(False, False, None, "the scenario no longer fails")
    new = failure.trace if failure.trace is not None else Trace()
    index = artifact.trace.first_divergence(new)
    if index is None:
        return ReplayOutcome(True, True, failure)
    old_events, new_events = artifact.trace.events, new.events
    was = old_events[index].render() if index < len(old_events) else "(end of trace)"
    now = new_events[index].render() if index < len(new_events) else "(end of trace)"
    divergence = f"trace diverges at event {index + 1}: recorded {was!r}, now {now!r}"
    return ReplayOutcome(True, False, failure, divergence)


def save(failure: Failure, directory: str | os.PathLike[str] = DEFAULT_DIRECTORY) -> Path:
    """Write the failure to `directory` (created if needed) and return the file's path.

    The name is derived from the content, so the same counterexample always lands in the same
    file and two processes never clobber each other's different ones.
    """
    data = failure_json(failure)
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{failure.model}.{failure.variant}-{digest}.json"
    _atomic_write(path, text)
    return path


def _atomic_write(path: Path, text: str) -> None:
    """Temp file in the same directory, then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_TEST_TEMPLATE = """\
\"\"\"Regression test for {label}, emitted by `harness replay --emit-test`.

It re-runs exactly the interleaving of the counterexample below and fails while the bug is
there; once the code is fixed it passes. {headline}
\"\"\"

import json

from harness.counterexample import parse, replay_artifact

COUNTEREXAMPLE = json.loads({data!r})
VARIANT = {variant!r}


def test_{name}_does_not_fail_again():
    outcome = replay_artifact(parse(COUNTEREXAMPLE, {label!r}), VARIANT)
    assert not outcome.reproduced, outcome.failure.describe() if outcome.failure else ""
"""


def emit_test(artifact: Artifact, path: str | os.PathLike[str], variant: str | None = None) -> Path:
    """Write a self-contained pytest file replaying `artifact` (against `variant`, if given)."""
    label = f"{artifact.model}.{variant or artifact.variant}"
    name = "".join(c if c.isalnum() else "_" for c in label).strip("_").lower()
    text = _TEST_TEMPLATE.format(
        label=label,
        headline=str(artifact.verdict.get("message", ""))[:200].replace('"', "'"),
        data=json.dumps(artifact.data, sort_keys=True),
        variant=variant or artifact.variant,
        name=name,
    )
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(target, text)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
