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
from pathlib import Path
from typing import Any

import harness
from harness.failure import Failure, Step
from harness.runtime.points import safe_value

SCHEMA_VERSION = 1
DEFAULT_DIRECTORY = Path(".harness") / "counterexamples"


def _step_json(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": step.kind,
        "calls": [
            [[op, {k: safe_value(v) for k, v in args.items()}] for op, args in worker]
            for worker in step.calls
        ],
    }
    if step.kind == "round":
        out["preemptions"] = [list(p) for p in step.taken]
        out["steps"] = step.steps
    return out


def failure_json(failure: Failure) -> dict[str, Any]:
    """Everything needed to understand and re-run the failure, as plain JSON data."""
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": harness.__version__,
        "python": platform.python_version(),
        "model": failure.model,
        "variant": failure.variant,
        "granularity": failure.granularity,
        "seed": failure.seed,
        "params": {k: safe_value(v) for k, v in failure.params.items()},
        "scenario": [_step_json(s) for s in failure.scenario],
        "verdict": {
            "kind": failure.kind,
            "invariant": failure.invariant,
            "message": failure.message,
            "details": failure.details,
        },
        "shape": failure.shape(),
        "trace": failure.trace.to_json() if failure.trace is not None else [],
    }


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
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
