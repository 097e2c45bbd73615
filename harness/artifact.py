"""The counterexample file format: encode, decode and validate -- and nothing else.

A counterexample file is shared between people (attached to bug reports, committed beside a
regression test), so it is untrusted input. This module turns a `Failure` into JSON data and a
file back into a validated `Artifact` without running any code: it imports no model, calls no
user code and never changes the object it is given. Resolving the model and re-running the
scenario is `harness.replay`'s job; docs/artifact-format.md and docs/artifact.schema.json
describe the format for people and for other tools.

What a file must pass before anything uses it, in order:
1. size: no larger than `max_bytes()` (checked with stat, before reading);
2. nesting: no deeper than `MAX_DEPTH` (a bracket scan, before the JSON parser, so a hostile
   file cannot make it recurse);
3. JSON: UTF-8, no NaN/Infinity, no duplicate keys;
4. every field: type, range and cross-field rules (a preemption names a worker of its round).
The rules that need the model (operations, arguments, parameters, variants) are in
`check_model`, which `harness.replay` calls once it has resolved the model. Any failure is one
`ArtifactError` line naming the file and the field: ``steps[0].preemptions[0].worker: 7 is not
a worker of this step (0-1)``.

Files of schema_version 1 (harness 0.1) are read as well: they are reshaped into version 2's
layout first, so their errors name version-2 fields.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
import os
import platform
import re
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness.errors import ArtifactError, UsageError
from harness.explain import explain
from harness.failure import KINDS, Call, Failure, Step
from harness.model import ModelSpec
from harness.runtime.outcome import Preemption
from harness.runtime.points import GRANULARITIES
from harness.runtime.trace import UNKNOWN, Trace, TraceEvent
from harness.settings import MAX_SEED as MAX_SEED  # noqa: PLC0414 (re-exported: the schema bound)

#: The format this harness writes; also the value of every file's ``schema`` field.
SCHEMA = "harness-counterexample/2"
LEGACY_SCHEMA_VERSION = 1
DEFAULT_DIRECTORY = Path(".harness") / "counterexamples"

#: Files larger than this are refused before they are read (override: the environment).
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_BYTES_ENV = "HARNESS_MAX_ARTIFACT_BYTES"
#: Deepest JSON nesting accepted; a real file nests 6 levels plus its argument values.
MAX_DEPTH = 64

# Bounds of the published schema (docs/artifact.schema.json): far above anything a hunt
# writes, low enough that a hostile file cannot ask for unbounded work.
MAX_STEPS = 1_000
MAX_WORKERS = 64  # the executor's pool size (harness.runtime.executor.MAX_THREADS)
MAX_CALLS_PER_WORKER = 100
MAX_PREEMPTIONS = 10_000
MAX_POINT = 2**31 - 1
MAX_TRACE_EVENTS = 1_000_000
MAX_NAME = 200  # model ids, variants, operation and argument names

_INT_INLINE = 2**63  # larger integers are written as {"__int__": hex} (see _encode_value)
_TAGS = ("__tuple__", "__bytes__", "__dict__", "__int__", "__float__")
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


# -- values: operation arguments, model parameters, trace keys and values ---------------------


def _encode_value(value: Any) -> Any:
    """JSON for a Python value, exact enough to call the operation again; TypeError if none."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -_INT_INLINE < value < _INT_INLINE else {"__int__": hex(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"__float__": "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_value(v) for v in value]}
    if isinstance(value, list):
        return [_encode_value(v) for v in value]
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        inner = {k: _encode_value(v) for k, v in value.items()}
        if len(value) == 1 and next(iter(value)).startswith("__"):
            return {"__dict__": inner}
        return inner
    raise TypeError(f"argument {value!r} ({type(value).__name__}) has no JSON form")


def _decode_value(value: Any, path: str, depth: int = 0) -> Any:
    """The Python value `_encode_value` wrote; a tagged object must be well formed."""
    if depth > MAX_DEPTH:
        raise _Invalid(path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_decode_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        if isinstance(value, float) and not math.isfinite(value):
            raise _Invalid(path, "NaN and Infinity are written as {'__float__': ...}")
        return value
    if len(value) == 1 and next(iter(value)).startswith("__"):
        tag, inner = next(iter(value.items()))
        return _decode_tagged(tag, inner, f"{path}.{tag}", depth)
    return {k: _decode_value(v, f"{path}.{k}", depth + 1) for k, v in value.items()}


def _decode_tagged(tag: str, inner: Any, path: str, depth: int) -> Any:
    if tag == "__tuple__":
        return tuple(_decode_value(_array(inner, path), path, depth + 1))
    if tag == "__dict__":
        return {
            k: _decode_value(v, f"{path}.{k}", depth + 1)
            for k, v in _object_value(inner, path).items()
        }
    text = _string(inner, path, limit=None)
    if tag == "__bytes__":
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise _Invalid(path, "is not hexadecimal bytes") from None
    if tag == "__int__":
        if not re.fullmatch(r"-?0x[0-9a-f]+", text):
            raise _Invalid(path, "is not a hexadecimal integer such as '0x1f'")
        return int(text, 16)
    if tag == "__float__":
        if text not in _NON_FINITE:
            raise _Invalid(path, f"{_show(text)} is not one of 'nan', 'inf', '-inf'")
        return _NON_FINITE[text]
    raise _Invalid(path, f"unknown tag (known: {', '.join(_TAGS)})")


# -- encoding -------------------------------------------------------------------------------


def _step_data(step: Step) -> dict[str, Any]:
    if step.kind == "sequential":
        ((op, args),) = step.calls[0]
        return {"kind": "sequential", "call": _call_data(op, args)}
    out: dict[str, Any] = {
        "kind": "round",
        "workers": [[_call_data(op, args) for op, args in worker] for worker in step.calls],
        "preemptions": [
            {"step": p.step, "worker": p.thread, "point": p.point, "target": p.target}
            for p in step.taken
        ],
        "points": step.steps,
    }
    if step.forced:
        out["forced"] = [{"step": at, "worker": worker} for at, worker in step.forced]
    named = [p.thread for p in step.taken] + [p.target for p in step.taken]
    named += [worker for _at, worker in step.forced]
    if named and max(named) >= len(step.calls):
        # Threads the code under test started, numbered after the workers in start order.
        out["threads"] = max(named) + 1
    return out


def _call_data(op: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"op": op, "args": _encode_value(args)}


def _event_data(event: TraceEvent) -> dict[str, Any]:
    out = event.to_json()
    for field in ("key", "value"):
        if field in out:
            try:
                out[field] = _encode_value(out[field])
            except TypeError:
                out[field] = f"<{type(out[field]).__name__}>"
    return out


def encode(failure: Failure) -> dict[str, Any]:
    """Everything needed to understand and re-run `failure`, as JSON data (`failure` is not
    changed). Arguments with no JSON form make a file that says so instead of steps."""
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "harness_version": harness.__version__,
        "implementation": platform.python_implementation(),
        "python": platform.python_version(),
        "model": failure.model,
        "model_ref": failure.model_ref,
        "variant": failure.variant,
        "granularity": failure.granularity,
        "seed": failure.seed,
        "replayable": True,
        "verdict": {
            "kind": failure.kind,
            "invariant": failure.invariant,
            "message": failure.message,
            "details": failure.details,
        },
        "shape": failure.shape(),
        "explanation": explain(failure),
        "trace": [] if failure.trace is None else [_event_data(e) for e in failure.trace],
    }
    try:
        data["params"] = _encode_value(failure.params)
        data["steps"] = [_step_data(s) for s in failure.scenario]
    except TypeError as exc:
        data["params"] = {k: repr(v) for k, v in failure.params.items()}
        data["steps"] = []
        data["replayable"] = False
        data["not_replayable"] = str(exc)
        data["scenario_text"] = [s.describe() for s in failure.scenario]
    return data


def dumps(data: dict[str, Any]) -> str:
    """The file's text: sorted keys and indentation, so files diff well."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


# -- decoding -------------------------------------------------------------------------------


class _Invalid(Exception):
    """A field failed validation: `path` names it (``steps[0].kind``), `problem` says how."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)


def _show(value: Any) -> str:
    """A value for an error message: short, on one line, whatever the file holds."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _object_value(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(path, f"expected an object, got {_type_name(value)}")
    return value


def _object(
    value: Any, path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, Any]:
    """`value` as an object with exactly these fields (`optional` ones may be absent)."""
    obj = _object_value(value, path)
    for key in required:
        if key not in obj:
            raise _Invalid(path, f"missing field {key!r}")
    for key in obj:
        if key not in required and key not in optional:
            raise _Invalid(_join(path, key), "unknown field")
    return obj


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _array(value: Any, path: str, low: int = 0, high: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(path, f"expected an array, got {_type_name(value)}")
    if len(value) < low:
        raise _Invalid(path, f"needs at least {low} item(s), has {len(value)}")
    if high is not None and len(value) > high:
        raise _Invalid(path, f"has {len(value)} items, at most {high} are accepted")
    return value


def _string(value: Any, path: str, limit: int | None = MAX_NAME) -> str:
    if not isinstance(value, str):
        raise _Invalid(path, f"expected a string, got {_type_name(value)}")
    if limit is not None and len(value) > limit:
        raise _Invalid(path, f"is {len(value)} characters long, at most {limit} are accepted")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid(path, "holds a lone surrogate (U+D800-U+DFFF), not text") from None
    return value


def _integer(value: Any, path: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid(path, f"expected an integer, got {_type_name(value)}")
    if not low <= value <= high:
        raise _Invalid(path, f"{_show(value)} is out of range ({low} to {high})")
    return value


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_REF = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", re.ASCII)


def _name(value: Any, path: str, what: str) -> str:
    text = _string(value, path)
    if not _NAME.fullmatch(text):
        raise _Invalid(path, f"{_show(text)} is not {what} (letters, digits, '_' and '-')")
    return text


def _identifier(value: Any, path: str, what: str) -> str:
    text = _string(value, path)
    if not (text.isidentifier() and text.isascii()):
        raise _Invalid(path, f"{_show(text)} is not {what} (a Python identifier)")
    return text


@dataclass
class Artifact:
    """A validated counterexample file: the recorded failure, and the data it was read from."""

    path: str
    data: dict[str, Any]
    recorded: Failure
    python: str
    implementation: str

    @property
    def model(self) -> str:
        return self.recorded.model

    @property
    def model_ref(self) -> str:
        return self.recorded.model_ref

    @property
    def variant(self) -> str:
        return self.recorded.variant

    @property
    def granularity(self) -> str:
        return self.recorded.granularity

    @property
    def seed(self) -> int:
        return self.recorded.seed

    @property
    def params(self) -> dict[str, Any]:
        return self.recorded.params

    @property
    def steps(self) -> list[Step]:
        return self.recorded.scenario

    @property
    def trace(self) -> Trace:
        return self.recorded.trace if self.recorded.trace is not None else Trace()

    @property
    def verdict(self) -> dict[str, Any]:
        return dict(self.data["verdict"])


def _call(raw: Any, path: str) -> Call:
    call = _object(raw, path, ("op", "args"))
    op = _identifier(call["op"], f"{path}.op", "an operation name")
    args_path = f"{path}.args"
    args = _object_value(call["args"], args_path)
    for key in args:
        _identifier(key, f"{args_path}.{key}", "an argument name")
    decoded = _decode_value(args, args_path)
    return op, decoded


def _step(raw: Any, path: str) -> Step:
    kind = _object_value(raw, path).get("kind")
    if kind == "sequential":
        obj = _object(raw, path, ("kind", "call"))
        return Step("sequential", [[_call(obj["call"], f"{path}.call")]])
    if kind != "round":
        if "kind" not in raw:
            raise _Invalid(path, "missing field 'kind'")
        raise _Invalid(f"{path}.kind", f"{_show(kind)} is not 'sequential' or 'round'")
    obj = _object(raw, path, ("kind", "workers", "preemptions", "points"), ("forced", "threads"))
    workers = _array(obj["workers"], f"{path}.workers", 2, MAX_WORKERS)
    calls = [
        [
            _call(c, f"{path}.workers[{w}][{i}]")
            for i, c in enumerate(_array(worker, f"{path}.workers[{w}]", 1, MAX_CALLS_PER_WORKER))
        ]
        for w, worker in enumerate(workers)
    ]
    step = Step("round", calls)
    step.steps = _integer(obj["points"], f"{path}.points", 0, MAX_POINT)
    # Thread numbers past the workers name threads the code under test started (numbered in
    # start order after the workers); `threads` says how many the round's schedule names.
    last = len(calls) - 1
    if "threads" in obj:
        last = _integer(obj["threads"], f"{path}.threads", len(calls) + 1, MAX_WORKERS) - 1
    preemptions = _array(obj["preemptions"], f"{path}.preemptions", 0, MAX_PREEMPTIONS)
    for i, raw_p in enumerate(preemptions):
        where = f"{path}.preemptions[{i}]"
        p = _object(raw_p, where, ("step", "worker", "point", "target"))
        worker, target = (
            _integer(p[k], f"{where}.{k}", 0, MAX_WORKERS - 1) for k in ("worker", "target")
        )
        for key, value in (("worker", worker), ("target", target)):
            if value > last:
                raise _Invalid(f"{where}.{key}", f"{value} is not a worker of this step (0-{last})")
        if target == worker:
            raise _Invalid(f"{where}.target", f"{target} is the preempted worker itself")
        point = _integer(p["point"], f"{where}.point", 1, MAX_POINT)
        at = _integer(p["step"], f"{where}.step", 1, MAX_POINT)
        if at > step.steps or point > at:
            raise _Invalid(
                where,
                f"point {point} at step {at} is past the round's {step.steps} points "
                "(a worker's own point count cannot exceed the step it is reached at)",
            )
        step.taken.append(Preemption(at, worker, point, target))
    # Free choices a systematic strategy made when a thread blocked or finished (not the
    # lowest runnable thread): which worker ran next, at which step.
    for i, raw_f in enumerate(_array(obj.get("forced", []), f"{path}.forced", 0, MAX_POINT)):
        where = f"{path}.forced[{i}]"
        f = _object(raw_f, where, ("step", "worker"))
        worker = _integer(f["worker"], f"{where}.worker", 0, MAX_WORKERS - 1)
        if worker > last:
            raise _Invalid(f"{where}.worker", f"{worker} is not a worker of this step (0-{last})")
        at = _integer(f["step"], f"{where}.step", 0, MAX_POINT)
        if at > step.steps:
            raise _Invalid(f"{where}.step", f"{at} is past the round's {step.steps} points")
        step.forced.append((at, worker))
    return step


def _event(raw: Any, path: str) -> TraceEvent:
    obj = _object(
        raw, path, ("step", "thread", "location", "kind", "target"), ("key", "value", "obj")
    )
    return TraceEvent(
        step=_integer(obj["step"], f"{path}.step", 1, MAX_POINT),
        thread=_integer(obj["thread"], f"{path}.thread", 0, MAX_WORKERS - 1),
        location=_string(obj["location"], f"{path}.location", 1_000),
        kind=_string(obj["kind"], f"{path}.kind", 40),
        target=_string(obj["target"], f"{path}.target", 1_000),
        key=_decode_value(obj["key"], f"{path}.key") if "key" in obj else UNKNOWN,
        value=_decode_value(obj["value"], f"{path}.value") if "value" in obj else UNKNOWN,
        obj=_integer(obj.get("obj", 0), f"{path}.obj", 0, MAX_POINT),
    )


_TOP_REQUIRED = (
    "schema",
    "harness_version",
    "python",
    "model",
    "model_ref",
    "variant",
    "granularity",
    "seed",
    "params",
    "replayable",
    "steps",
    "verdict",
    "trace",
)
_TOP_OPTIONAL = (
    "implementation",
    "shape",
    "explanation",
    "not_replayable",
    "scenario_text",
)


def _verdict(raw: Any) -> tuple[str, str | None, str, str]:
    obj = _object_value(raw, "verdict")
    for key in ("kind", "invariant", "message"):
        if key not in obj:
            raise _Invalid("verdict", f"missing field {key!r}")
    kind = _string(obj["kind"], "verdict.kind", 40)
    if kind not in KINDS:
        raise _Invalid("verdict.kind", f"{_show(kind)} is not one of {', '.join(KINDS)}")
    invariant = obj["invariant"]
    if invariant is not None:
        invariant = _identifier(invariant, "verdict.invariant", "an invariant name")
    message = _string(obj["message"], "verdict.message", 100_000)
    details = _string(obj.get("details", ""), "verdict.details", 1_000_000)
    return kind, invariant, message, details


_SHAPE = ("steps", "rounds", "threads", "operations", "preemptions")


def _shape(raw: Any) -> None:
    """The size summary: informational (replay recomputes it), but typed like the rest."""
    shape = _object(raw, "shape", (), (*_SHAPE, "calls_per_worker"))
    for key in _SHAPE:
        if key in shape:
            _integer(shape[key], f"shape.{key}", 0, MAX_POINT)
    per_worker = _array(shape.get("calls_per_worker", []), "shape.calls_per_worker", 0, MAX_WORKERS)
    for i, count in enumerate(per_worker):
        _integer(count, f"shape.calls_per_worker[{i}]", 0, MAX_CALLS_PER_WORKER)


def _current_layout(data: Any) -> dict[str, Any]:
    """`data` in this version's layout (a version 1 file upgraded), or `_Invalid` when it is
    no counterexample or one of a version this cannot read."""
    if not isinstance(data, dict):
        raise _Invalid("", f"not a counterexample (the top level is {_type_name(data)})")
    if "schema" not in data and data.get("schema_version") == LEGACY_SCHEMA_VERSION:
        data = _upgrade_v1(data)
    schema = data.get("schema")
    if "schema" not in data and "schema_version" in data:
        version = _show(data["schema_version"])
        raise _Invalid("schema_version", f"{version} is not supported (this reads {SCHEMA} and 1)")
    if schema != SCHEMA:
        if "schema" not in data:
            raise _Invalid("", f"not a counterexample: no 'schema' field (this reads {SCHEMA})")
        raise _Invalid("schema", f"{_show(schema)} is not supported (this reads {SCHEMA})")
    layout: dict[str, Any] = data
    return layout


def _validate(data: Any) -> tuple[Failure, str, str]:
    data = _current_layout(data)
    _object(data, "", _TOP_REQUIRED, _TOP_OPTIONAL)
    _string(data["harness_version"], "harness_version", 40)
    python = _string(data["python"], "python", 40)
    if not re.fullmatch(r"\d+\.\d+\.\d+\S*", python):
        raise _Invalid("python", f"{_show(python)} is not a version such as '3.11.7'")
    implementation = _string(data.get("implementation", "CPython"), "implementation", 40)
    model = _name(data["model"], "model", "a model id")
    ref = _string(data["model_ref"], "model_ref", 400)
    if ref and not _REF.fullmatch(ref):
        raise _Invalid("model_ref", f"{_show(ref)} is not a reference like 'package.module:Class'")
    variant = _name(data["variant"], "variant", "a variant name")
    granularity = _string(data["granularity"], "granularity", 40)
    if granularity not in GRANULARITIES:
        known = ", ".join(GRANULARITIES)
        raise _Invalid("granularity", f"{_show(granularity)} is not one of {known}")
    seed = _integer(data["seed"], "seed", 0, MAX_SEED)
    replayable = data["replayable"]
    if not isinstance(replayable, bool):
        raise _Invalid("replayable", f"expected a boolean, got {_type_name(replayable)}")
    if not replayable:
        reason = _string(data.get("not_replayable", "no reason given"), "not_replayable", 10_000)
        raise _Invalid("replayable", f"false: this file cannot be replayed: {reason[:200]}")
    params = _object_value(data["params"], "params")
    for key in params:
        _identifier(key, f"params.{key}", "a parameter name")
    params = _decode_value(params, "params")
    raw_steps = _array(data["steps"], "steps", 1, MAX_STEPS)
    steps = [_step(s, f"steps[{i}]") for i, s in enumerate(raw_steps)]
    kind, invariant, message, details = _verdict(data["verdict"])
    raw_trace = _array(data["trace"], "trace", 0, MAX_TRACE_EVENTS)
    trace = Trace(events=[_event(e, f"trace[{i}]") for i, e in enumerate(raw_trace)])
    for key in ("explanation",):
        if key in data:
            _string(data[key], key, 1_000_000)
    if "shape" in data:
        _shape(data["shape"])
    recorded = Failure(
        kind=kind,
        message=message,
        model=model,
        variant=variant,
        granularity=granularity,
        scenario=steps,
        invariant=invariant,
        trace=trace,
        seed=seed,
        params=params,
        details=details,
        model_ref=ref,
    )
    return recorded, python, implementation


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A schema_version 1 file in version 2's layout (a new dict; `data` is not changed).

    Only what has version 1's shape is reshaped; anything else is left for validation to
    name."""
    out = {k: v for k, v in data.items() if k not in ("schema_version", "scenario")}
    out["schema"] = SCHEMA
    scenario = data.get("scenario")
    out["steps"] = (
        [_upgrade_v1_step(s) for s in scenario] if isinstance(scenario, list) else scenario
    )
    return out


def _upgrade_v1_step(step: Any) -> Any:
    if not isinstance(step, dict) or not isinstance(step.get("calls"), list):
        return step

    def call(raw: Any) -> Any:
        if isinstance(raw, list) and len(raw) == 2:
            return {"op": raw[0], "args": raw[1]}
        return raw

    workers = [[call(c) for c in w] if isinstance(w, list) else w for w in step["calls"]]
    if step.get("kind") == "sequential":
        first = workers[0] if workers and isinstance(workers[0], list) else []
        return {"kind": "sequential", "call": first[0] if len(first) == 1 else first}
    preemptions = step.get("preemptions")
    if isinstance(preemptions, list):
        preemptions = [
            dict(zip(("step", "worker", "point", "target"), p, strict=True))
            if isinstance(p, list) and len(p) == 4
            else p
            for p in preemptions
        ]
    return {
        "kind": step.get("kind"),
        "workers": workers,
        "preemptions": preemptions,
        "points": step.get("steps"),
    }


def validate(data: Any, where: str = "<counterexample>") -> Artifact:
    """Check JSON data already read against the format; `ArtifactError` names the field.

    `data` is not changed, and nothing is imported or run."""
    try:
        recorded, python, implementation = _validate(data)
    except _Invalid as exc:
        raise ArtifactError(f"{where}: {exc}") from None
    return Artifact(where, data, recorded, python, implementation)


def max_bytes() -> int:
    """The size cap: `MAX_BYTES_ENV` if set (a positive integer of bytes), else 50 MB."""
    raw = os.environ.get(MAX_BYTES_ENV)
    if raw is None:
        return DEFAULT_MAX_BYTES
    if not re.fullmatch(r"\s*[0-9]{1,18}\s*", raw) or int(raw) < 1:
        raise UsageError(f"{MAX_BYTES_ENV}={raw[:40]!r} is not a positive number of bytes")
    return int(raw)


_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\x02\x02")
_KEEP = bytes(b for b in range(256) if b not in b"[{]}")


def nesting(raw: bytes) -> int:
    """How deep the JSON in `raw` nests, from a scan that skips strings: no parsing, no
    recursion, linear time."""
    skeleton = _STRINGS.sub(b"", raw).translate(_BRACKETS, _KEEP)
    depth = itertools.accumulate(1 if b == 1 else -1 for b in skeleton)
    return max(depth, default=0)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Invalid("", f"duplicate key {_show(key)}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise _Invalid("", f"{name} is not JSON")


def decode(raw: bytes, where: str = "<counterexample>") -> Any:
    """Parse a file's bytes as JSON, refusing what the parser should never be given."""
    if not raw.strip():
        raise ArtifactError(f"{where}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArtifactError(
            f"{where}: not a text file (byte {exc.start} is not UTF-8); is it a counterexample?"
        ) from None
    depth = nesting(raw)
    if depth > MAX_DEPTH:
        raise ArtifactError(f"{where}: JSON nested {depth} levels deep (at most {MAX_DEPTH})")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "truncated or corrupted?"
        ) from None
    except _Invalid as exc:
        raise ArtifactError(f"{where}: not valid JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4,300 digits
        raise ArtifactError(f"{where}: not valid JSON: {str(exc)[:120]}") from None


def load(path: str | os.PathLike[str]) -> Artifact:
    """Read and validate a counterexample file; any problem is one `ArtifactError` line."""
    where = os.fsdecode(path)
    limit = max_bytes()
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{where}: cannot read: {_os_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ArtifactError(f"{where}: is a directory, not a counterexample file")
    if not stat.S_ISREG(info.st_mode):
        raise ArtifactError(f"{where}: not a regular file")
    if info.st_size > limit:
        raise ArtifactError(
            f"{where}: {info.st_size} bytes, larger than the {limit}-byte cap ({MAX_BYTES_ENV})"
        )
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)  # the file may have grown since the stat
    except OSError as exc:
        raise ArtifactError(f"{where}: cannot read: {_os_reason(exc)}") from None
    if len(raw) > limit:
        raise ArtifactError(f"{where}: larger than the {limit}-byte cap ({MAX_BYTES_ENV})")
    return validate(decode(raw, where), where)


def _os_reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


# -- the model's side of validation -------------------------------------------------------


def check_model(artifact: Artifact, spec: ModelSpec, variant: str | None = None) -> None:
    """The rules that need the model: its variant, parameters, operations and arguments.

    `spec` must already be resolved (see `harness.replay`); nothing of the model is called."""
    where = artifact.path
    cls = spec.cls

    def fail(path: str, problem: str) -> None:
        raise ArtifactError(f"{where}: {path}: {problem} (model {spec.name!r})")

    chosen = variant or artifact.variant
    if chosen not in cls.variants:
        fail("variant", f"{_show(chosen)} is not a variant; known: {', '.join(cls.variants)}")
    declared = set(cls.parameters)
    for key in artifact.params:
        if key not in declared:
            fail(f"params.{key}", f"not a parameter; declared: {', '.join(declared) or 'none'}")
    for key in sorted(declared - set(artifact.params)):
        fail("params", f"missing {key!r}")
    ops = {op.name: op for op in spec.operations}
    for s, step in enumerate(artifact.steps):
        if step.kind == "round" and step.workers > cls.max_workers:
            fail(f"steps[{s}].workers", f"{step.workers} workers, max_workers is {cls.max_workers}")
        for w, worker in enumerate(step.calls):
            for c, (op, args) in enumerate(worker):
                path = (
                    f"steps[{s}].call"
                    if step.kind == "sequential"
                    else f"steps[{s}].workers[{w}][{c}]"
                )
                if op not in ops:
                    fail(f"{path}.op", f"no operation {op!r} any more; known: {', '.join(ops)}")
                _check_arguments(ops[op].func, ops[op].takes_worker, args, path, fail)


def _check_arguments(
    func: Callable[..., Any],
    takes_worker: bool,
    args: dict[str, Any],
    path: str,
    fail: Callable[[str, str], None],
) -> None:
    params = list(inspect.signature(func).parameters.values())[1 + takes_worker :]
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for key in args:
        if key not in names:
            fail(f"{path}.args.{key}", f"not an argument; it takes: {', '.join(names) or 'none'}")
    for p in params:
        if p.name in names and p.default is p.empty and p.name not in args:
            fail(f"{path}.args", f"missing argument {p.name!r}")


# -- writing --------------------------------------------------------------------------------


def file_stem(model: str, variant: str) -> str:
    """``model.variant`` made safe as a file name: whatever the names hold, the file stays in
    its directory (no separators, no ``..``, no hidden files)."""

    def safe(text: str) -> str:
        cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", text, flags=re.ASCII).strip("_-")
        return cleaned[:64] or "x"

    return f"{safe(model)}.{safe(variant)}"


def save(failure: Failure, directory: str | os.PathLike[str] = DEFAULT_DIRECTORY) -> Path:
    """Write `failure` to `directory` (created if needed) and return the file's path.

    The name is derived from the content, so the same counterexample always lands in the same
    file and two processes never clobber each other's different ones."""
    text = dumps(encode(failure))
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_stem(failure.model, failure.variant)}-{digest}.json"
    atomic_write(path, text)
    return path


def atomic_write(path: Path, text: str) -> None:
    """Temp file in the same directory, flushed to disk, then renamed: readers (and a crash
    at any moment) see the old file or the whole new one, never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
