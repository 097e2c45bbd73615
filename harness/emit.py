"""``harness replay --emit-test``: a pytest regression test that re-runs one counterexample.

The test a user commits must read like a test: the scenario as its calls, the schedule as a
short literal, the recorded explanation as a comment, and, when it fails, the interleaving
table (`check_regression`, which the emitted test calls, renders it with the one reporter). It
passes once the bug is fixed and is skipped, saying why, when the recorded schedule no longer
applies (a switch it pins to a worker's point is never reached) or the Python numbers points
differently: neither is evidence of a fix.

The file it writes is code made from untrusted data, so no text from the counterexample file
goes into it except as the `repr()` of a validated value (`pprint` of validated JSON data is
`repr()` throughout), or in a comment escaped to printable ASCII -- a comment cannot be ended
by a newline, carriage return or any other character it holds. A model id or message holding
quotes, backslashes (``C:\\x\\new\\N``), non-ASCII or triple quotes can only ever be data. The
text is compiled before it is written, and the test imports only what the replay that emitted
it had resolved: a catalog id, or the ``module:Class`` the user named or trusted.
"""

from __future__ import annotations

import os
import pprint
from pathlib import Path
from typing import Any

from harness.artifact import Artifact, atomic_write, validate
from harness.errors import HarnessError, UsageError
from harness.report import call_text

#: The top-level fields the emitted test keeps besides the steps: what validation needs to
#: replay them. The trace is left out (the test compares failures, not traces).
_KEPT = (
    "schema",
    "harness_version",
    "python",
    "implementation",
    "model",
    "model_ref",
    "variant",
    "granularity",
    "seed",
    "params",
    "replayable",
    "verdict",
)

_HEADER = '''\
"""Regression test emitted by `harness replay --emit-test`.

It re-runs the recorded scenario under the recorded schedule against MODEL's variant VARIANT.
While the bug is there it fails and prints the interleaving; once the code is fixed it passes.
It is skipped, saying why, when the schedule no longer applies (a recorded switch point is
never reached) or this Python numbers scheduling points differently.
"""

# ruff: noqa: E501
'''

_TEST = """

def test_{name}_does_not_fail_again() -> None:
    check_regression(MODEL, VARIANT, dict(RECORDED, steps=STEPS, trace=[]), LABEL)
"""


def comment(text: str, prefix: str = "#   ") -> list[str]:
    """`text` as comment lines of printable ASCII: nothing in it can end the comment."""
    lines = []
    for line in text.splitlines() or [""]:
        safe = "".join(
            c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii") for c in line
        )
        lines.append((prefix + safe).rstrip())
    return lines


def _steps_literal(steps: list[dict[str, Any]]) -> list[str]:
    """The steps as a Python literal, one call per line, each schedule explained."""
    out = ["STEPS = ["]
    for number, step in enumerate(steps, 1):
        workers = step["workers"]
        if step["kind"] == "sequential":
            out.append(f"    # {number}. a sequential call, before or after the parallel rounds")
        else:
            out.append(f"    # {number}. a parallel round of {len(workers)} workers")
        out.append("    {")
        out.append(f"        'kind': {step['kind']!r},")
        out.append("        'workers': [")
        for index, calls in enumerate(workers):
            shown = "; ".join(call_text(c["op"], c["args"]) for c in calls)
            out += comment(f"worker {index}: {shown}", "            # ")
            ordered = [{"op": c["op"], "args": c["args"]} for c in calls]
            out.append(f"            {pprint.pformat(ordered, width=200, sort_dicts=False)},")
        out.append("        ],")
        for p in step.get("preemptions", []):
            out.append(
                f"        # worker {int(p['worker'])} is preempted at its scheduling point "
                f"{int(p['point'])}; worker {int(p['target'])} runs"
            )
        rest = {k: v for k, v in step.items() if k not in ("kind", "workers")}
        for key, value in rest.items():
            out.append(f"        {key!r}: {pprint.pformat(value, width=200, sort_dicts=False)},")
        out.append("    },")
    out.append("]")
    return out


def regression_test_source(artifact: Artifact, model: str, variant: str | None = None) -> str:
    """The test's source for `artifact`, replayed through `model` (a catalog id or the
    ``module:Class`` replay resolved) against `variant` (default: the recorded one)."""
    chosen = variant or artifact.variant
    label = f"{artifact.model}.{chosen}"
    name = "".join(c if c.isascii() and c.isalnum() else "_" for c in label).strip("_").lower()
    data = artifact.data
    recorded = {key: data[key] for key in _KEPT if key in data}
    explanation = data.get("explanation") or artifact.recorded.headline()
    lines = [
        _HEADER,
        f"# What failed when it was recorded ({artifact.implementation} {artifact.python}):",
        *comment(str(explanation)),
        "",
        "from harness.emit import check_regression",
        "",
        f"MODEL = {model!r}",
        f"VARIANT = {chosen!r}",
        f"LABEL = {label!r}",
        "",
        "# The scenario, step by step, and the schedule of each parallel round.",
        *_steps_literal(list(data["steps"])),
        "",
        "# The rest of the counterexample: what replaying it needs and the failure it recorded.",
        f"RECORDED = {pprint.pformat(recorded, width=96, sort_dicts=False)}",
        _TEST.format(name=name[:60] or "counterexample"),
    ]
    text = "\n".join(lines)
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


def check_regression(model: str, variant: str, data: dict[str, Any], label: str) -> None:
    """The body of an emitted test: replay `data` through `model`'s `variant`; fail with the
    report while the recorded failure comes back (or another one does), skip when the
    schedule no longer applies, pass otherwise."""
    import pytest

    from harness import report
    from harness.replay import replay_artifact

    artifact = validate(data, label)
    outcome = replay_artifact(artifact, variant, model=model)
    if outcome.python_note is not None and not outcome.reproduced:
        pytest.skip(outcome.python_note)
    if outcome.failure is not None:
        if outcome.reproduced:
            head = f"{label}: the recorded failure is still there"
        else:
            head = f"{label}: the recorded schedule now fails differently ({outcome.different})"
        pytest.fail(f"{head}\n\n{report.failure_text(outcome.failure)}", pytrace=False)
    missed = unreached_switches(artifact, variant, model)
    if missed:
        pytest.skip(
            f"{label}: the recorded schedule no longer applies ({'; '.join(missed)}), so this "
            "run is no evidence of a fix: hunt again (harness hunt) and emit a new test"
        )


def unreached_switches(artifact: Artifact, variant: str, model: str) -> list[str]:
    """The recorded switches a replay never made: each pins a worker's own point count, and a
    worker that now finishes before it reaches that point runs its round differently."""
    from harness.failure import CounterexampleFound
    from harness.plain import for_params
    from harness.replay import resolve_model
    from harness.scenario import ScenarioRunner
    from harness.settings import Settings

    spec, _ref = resolve_model(artifact, model)
    spec = for_params(spec, artifact.params)
    runner = ScenarioRunner(
        spec,
        variant,
        seed=artifact.seed,
        params=artifact.params,
        settings=Settings(granularity=artifact.granularity),
    )
    try:
        with runner:
            for step in artifact.steps:
                runner.run_step(step)
    except CounterexampleFound:
        return []
    missed = []
    for number, (recorded, ran) in enumerate(zip(artifact.steps, runner.scenario, strict=False)):
        made = {(p.thread, p.point) for p in ran.taken}
        for p in recorded.taken:
            if (p.thread, p.point) not in made:
                missed.append(
                    f"step {number + 1}: worker {p.thread} never reached its scheduling point "
                    f"{p.point}"
                )
    return missed
