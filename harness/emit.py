"""``harness replay --emit-test``: a pytest regression test that re-runs one counterexample.

The file it writes is code made from untrusted data, so no text from the counterexample file
goes into it except as the `repr()` of a validated value (a string literal or the JSON text of
the whole file): a model id or message holding quotes, backslashes (``C:\\x\\new\\N``),
non-ASCII or triple quotes can only ever be data. The text is compiled before it is written,
and the test imports only what the replay that emitted it had resolved: a catalog id, or the
``module:Class`` the user named or trusted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.artifact import Artifact, atomic_write
from harness.errors import HarnessError, UsageError

_TEMPLATE = '''\
"""Regression test emitted by `harness replay --emit-test`.

It re-runs exactly the interleaving of the counterexample in COUNTEREXAMPLE (its failure is
RECORDED) against MODEL's variant VARIANT, and fails while the bug is there; once the code is
fixed it passes. On a Python that numbers scheduling points differently it is skipped.
"""

import json

import pytest

from harness.artifact import validate
from harness.replay import replay_artifact

MODEL = {model!r}
VARIANT = {variant!r}
RECORDED = {recorded!r}
COUNTEREXAMPLE = json.loads({data!r})  # noqa: E501


def test_{name}_does_not_fail_again() -> None:
    artifact = validate(COUNTEREXAMPLE, {label!r})
    outcome = replay_artifact(artifact, VARIANT, model=MODEL)
    if outcome.python_note is not None and not outcome.reproduced:
        pytest.skip(outcome.python_note)
    assert outcome.different is None, outcome.different
    assert not outcome.reproduced, outcome.failure.describe() if outcome.failure else RECORDED
'''


def regression_test_source(artifact: Artifact, model: str, variant: str | None = None) -> str:
    """The test's source for `artifact`, replayed through `model` (a catalog id or the
    ``module:Class`` replay resolved) against `variant` (default: the recorded one)."""
    chosen = variant or artifact.variant
    label = f"{artifact.model}.{chosen}"
    name = "".join(c if c.isascii() and c.isalnum() else "_" for c in label).strip("_").lower()
    text = _TEMPLATE.format(
        model=model,
        variant=chosen,
        recorded=artifact.recorded.headline(),
        data=json.dumps(artifact.data, sort_keys=True),
        label=label,
        name=name[:60] or "counterexample",
    )
    try:
        compile(text, "<emitted test>", "exec")
    except SyntaxError as exc:  # a bug of this module: never write a file that cannot run
        raise HarnessError(f"the emitted regression test does not compile: {exc}") from None
    return text


def emit_test(
    artifact: Artifact, path: str | os.PathLike[str], model: str, variant: str | None = None
) -> Path:
    """Write the regression test to `path` and return it (`UsageError` if it cannot)."""
    text = regression_test_source(artifact, model, variant)
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, text)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"cannot write {os.fsdecode(path)}: {reason}") from None
    return target
