"""The one reporter: every verdict rendered for people (terminal, pytest) and for programs
(``--json``).

The CLI, the pytest plugin and the HTML page call these functions and print what they return;
none of them composes verdict text of its own, so a verdict reads the same everywhere. The
text is built from the verdict's fields, never by re-parsing a message.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from typing import Any

import harness
from harness.artifact import Artifact
from harness.explain import explain, interleaving
from harness.failure import Failure
from harness.hunt import HuntResult
from harness.model import OpRecord
from harness.replay import ReplayOutcome, replay_command
from harness.runtime.hooks import gil_enabled
from harness.verdict import (
    JSON_SCHEMA,
    BrokenModel,
    Clean,
    Counterexample,
    Interrupted,
    Limitation,
    NotTested,
    StressFailure,
)


def headline(result: HuntResult) -> str:
    """One line: the verdict of one variant."""
    verdict = result.verdict
    label = verdict.label
    if isinstance(verdict, Counterexample):
        expectation = "expected" if result.expected_failure else "NOT expected"
        first = (result.seconds_to_first_failure or 0.0) * 1000
        return (
            f"{label}: COUNTEREXAMPLE ({expectation}) in example {result.first_example}, after "
            f"{first:.0f} ms; shrunk in {result.seconds:.2f} s total"
        )
    if isinstance(verdict, StressFailure):
        expectation = "expected" if result.expected_failure else "NOT expected"
        seen = verdict.seen.headline().split(": ", 1)[-1] if verdict.seen else "a failure"
        return (
            f"{label}: FAILURE UNDER STRESS ({expectation}), NOT REPRODUCED: {seen}; "
            "no replayable counterexample"
        )
    if isinstance(verdict, Clean) and verdict.stress is not None:
        note = "as expected" if not result.expected_failure else "but a race was expected"
        return (
            f"{label}: clean under stress: {verdict.stress.line()} ({result.seconds:.2f} s) "
            f"-- {note}"
        )
    if isinstance(verdict, Clean):
        note = "as expected" if not result.expected_failure else "but a race was expected"
        return (
            f"{label}: clean: {verdict.evidence.line()} ({result.seconds:.2f} s, "
            f"{result.granularity} points) -- {note}"
        )
    if isinstance(verdict, NotTested):
        return f"{label}: NOT TESTED: {verdict.reason}"
    if isinstance(verdict, BrokenModel):
        return f"{label}: broken model: {verdict.reason}"
    if isinstance(verdict, Limitation):
        at = f" (at {verdict.where})" if verdict.where else ""
        return f"{label}: LIMITATION: {verdict.what}{at}: the harness cannot control it"
    assert isinstance(verdict, Interrupted)
    kept = "; a failure found before it is kept" if verdict.found is not None else ""
    return f"{label}: interrupted ({verdict.reason}) after {result.examples} examples{kept}"


def failure_text(failure: Failure, *, full: bool = False, colour: bool = False) -> str:
    """The explanation, the scenario and the interleaving table of a failure; with `colour`,
    the explanation stands out and the preempted rows of the table are marked."""
    parts = [paint(explain(failure), "explanation", colour)]
    if failure.kind == "exception" and failure.details:
        parts.append(user_traceback(failure.details))
    table = interleaving(failure, full=full)
    step = failure.failing_step
    if colour and step is not None:
        preempted = {f"#{p.step}" for p in step.taken}
        table = "\n".join(
            paint(line, "preempted", line.split(" ", 1)[0] in preempted)
            for line in table.split("\n")
        )
    parts += ["", failure.describe().split("\n", 2)[2], "", table]
    return "\n".join(parts)


#: ANSI styles of the terminal report, by role.
_STYLES = {
    "failure": "1;31",
    "clean": "1;32",
    "warning": "1;33",
    "explanation": "1",
    "preempted": "35",
}


def paint(text: str, role: str, colour: bool = True) -> str:
    """`text` in the style of `role` when `colour`, line by line (an indent added later stays
    outside the escape codes); unchanged otherwise."""
    if not colour:
        return text
    code = _STYLES[role]
    return "\n".join(f"\x1b[{code}m{line}\x1b[0m" if line else line for line in text.split("\n"))


def colour_wanted(stream: Any) -> bool:
    """Colour for a terminal only: never into a pipe or a file, nor when ``NO_COLOR`` is set
    to anything (the no-color.org convention) or the terminal is ``dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return isatty is not None and bool(isatty())


def _headline_role(result: HuntResult) -> str:
    if result.kind in ("counterexample", "stress-failure"):
        return "failure"
    if result.kind == "clean" and not result.expected_failure:
        return "clean"
    return "warning"


def call_text(op: str, args: dict[str, Any]) -> str:
    """``put(key=1, value='a')``: a call as every report writes it."""
    inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"{op}({inner})"


def outcome_text(record: OpRecord) -> str:
    """What a completed call did: ``returned 1`` or ``raised KeyError: 3``."""
    if record.error is not None:
        return f"raised {type(record.error).__name__}: {record.error}"
    return f"returned {record.result!r}"


def record_text(record: OpRecord) -> str:
    """``worker 1 add() returned 1``: a call, who made it and what it did."""
    who = "test thread" if record.worker is None else f"worker {record.worker}"
    return f"{who} {call_text(record.op, record.args)} {outcome_text(record)}"


_HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))


def user_traceback(text: str) -> str:
    """A formatted traceback without the harness's own frames (the worker body, the
    operation wrapper): what is left is the model's and the code under test's."""
    out: list[str] = []
    skipping = False
    for line in text.rstrip().splitlines():
        if line.startswith('  File "'):
            path = line.split('"', 2)[1]
            skipping = os.path.abspath(path).startswith(_HARNESS_DIR + os.sep)
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out)


def hunt_text(result: HuntResult, artifact: str | None = None, *, colour: bool = False) -> str:
    """What ``harness hunt`` prints for one variant (`colour`: for a terminal)."""
    lines = [paint(headline(result), _headline_role(result), colour)]
    verdict = result.verdict
    lines += [f"  {line}" for line in stress_lines(result)]
    if isinstance(verdict, Counterexample) and verdict.failure is not None:
        lines.append(_indent(failure_text(verdict.failure, colour=colour)))
    elif isinstance(verdict, Clean) and verdict.evidence.gaps():
        lines.append("  " + verdict.evidence.gaps())
    elif isinstance(verdict, Limitation):
        lines.append(_indent(verdict.details.split("\n--- ")[0]))
    if artifact:
        lines += [f"  saved: {artifact}", f"  replay: {_replay_command(result, artifact)}"]
    if isinstance(verdict, (Counterexample, StressFailure)):
        lines.append("")
    return "\n".join(lines)


def stress_lines(result: HuntResult) -> list[str]:
    """What the stress engine adds under a headline: where stress found the failure and
    whether it was reproduced (a clean verdict's headline already says what it rests on)."""
    verdict = result.verdict
    stress = verdict.stress
    if stress is None or stress.first is None:
        return []
    return [stress.found_line()]


def _replay_command(result: HuntResult, artifact: str) -> str:
    failure = result.failure or result.first_failure
    return replay_command(artifact, failure) if failure else f"harness replay {artifact}"


def pytest_text(result: HuntResult, artifact: str | None = None) -> str:
    """The report section (and failure message) of a pytest test that hunted."""
    verdict = result.verdict
    if isinstance(verdict, Counterexample) and verdict.failure is not None:
        lines = [*stress_lines(result), failure_text(verdict.failure)]
        if artifact:
            command = replay_command(artifact, verdict.failure)
            lines += ["", f"counterexample: {artifact}", f"replay: {command}"]
        return "\n".join(lines)
    text = "\n".join([headline(result), *stress_lines(result)])
    if isinstance(verdict, BrokenModel) and verdict.details:
        text += "\n" + verdict.details.rstrip()
    if isinstance(verdict, Clean) and verdict.evidence.gaps():
        text += "\n" + verdict.evidence.gaps()
    return text


def result_json(result: HuntResult, artifact: str | None = None) -> dict[str, Any]:
    """One variant's result for ``--json``."""
    verdict = result.verdict
    failure = result.failure
    counterexample = None
    if failure is not None:
        shape = failure.shape()
        counterexample = {
            "threads": shape["threads"],
            "operations": shape["operations"],
            "preemptions": shape["preemptions"],
            "steps": shape["steps"],
            "artifact": artifact,
        }
    return {
        "model": verdict.model,
        "variant": verdict.variant,
        "kind": verdict.kind,
        **verdict.fields(),
        "found": result.found,
        "expected_failure": result.expected_failure,
        "as_expected": result.as_expected,
        "granularity": result.granularity,
        "seed": result.seed,
        "examples": result.examples,
        "examples_to_first_failure": result.first_example,
        "seconds_to_first_failure": result.seconds_to_first_failure,
        "seconds": round(result.seconds, 4),
        "counterexample": counterexample,
        "engine": verdict.engine,
        "stress": None if verdict.stress is None else verdict.stress.to_json(),
    }


def hunt_json(
    model: str, results: Sequence[HuntResult], artifacts: dict[str, str]
) -> dict[str, Any]:
    """The whole ``harness hunt --json`` document: one shape whatever the number of variants."""
    return {
        "schema": JSON_SCHEMA,
        "model": model,
        "kind": overall_kind(results),
        "results": [result_json(r, artifacts.get(r.variant)) for r in results],
        "python": platform.python_version(),
        "gil_enabled": gil_enabled(),
        "harness_version": harness.__version__,
    }


def replay_json(artifact: Artifact, outcome: ReplayOutcome, variant: str | None) -> dict[str, Any]:
    """The whole ``harness replay --json`` document: the outcome, and what was replayed
    against what -- which model and variant, which file, on which Python."""
    return {
        "schema": JSON_SCHEMA,
        "model": artifact.model,
        "variant": variant or artifact.variant,
        "recorded_variant": artifact.variant,
        "file": artifact.path,
        "python_written": artifact.python,
        "python_now": platform.python_version(),
        "implementation_written": artifact.implementation,
        "implementation_now": platform.python_implementation(),
        **outcome.to_json(),
        "harness_version": harness.__version__,
    }


_PRECEDENCE = (
    "interrupted",
    "broken-model",
    "limitation",
    "not-tested",
    "counterexample",
    "stress-failure",
)


def overall_kind(results: Sequence[HuntResult]) -> str:
    """The verdict of a whole hunt: the most serious kind among its variants."""
    kinds = {r.kind for r in results}
    for kind in _PRECEDENCE:
        if kind in kinds:
            return kind
    return "clean"


def exit_code(results: Sequence[HuntResult], *, check: bool = False) -> int:
    """0 clean, 1 counterexample or stress failure (the code under test failed; only the
    first has a file to replay), 2 not-tested / broken-model / limitation, 130 interrupted.

    With `check`, a counterexample where the model expects one counts as success and a clean
    variant that was expected to fail as failure (exit 1).
    """
    kind = overall_kind(results)
    if kind == "interrupted":
        return Interrupted.exit_code
    if kind in ("broken-model", "limitation", "not-tested"):
        return 2
    if check:
        return 0 if all(r.as_expected for r in results) else 1
    return 1 if kind in ("counterexample", "stress-failure") else 0


def _indent(text: str, prefix: str = "  ") -> str:
    return prefix + text.replace("\n", "\n" + prefix)
