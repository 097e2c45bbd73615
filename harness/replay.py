"""Replaying a counterexample file: find its model by the trust rule, re-run it, compare.

The file comes from somewhere else, so it chooses nothing that runs. Its model is, in order:
1. the one the user names (``--model mypkg.spec:Model`` or a model id: `model=`);
2. the model of that id in the catalog (bundled gallery and installed entry points);
3. the ``module:Class`` the file records (`model_ref`), only if the user says they trust the
   file (``--trust-file``: `trust_file=True`); otherwise `UntrustedModelError` names the module
   that would be imported and both ways to proceed.
The scenario then runs through `harness.scenario.replay`, the same code that found it, and the
outcome says whether the *recorded* failure came back: a different failure is never called
reproduced, and a file written under another Python says so before anything else.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from dataclasses import dataclass
from typing import Any

from harness.artifact import Artifact, check_model
from harness.catalog import all_models, find_model, split_variant
from harness.errors import (
    ArtifactError,
    BrokenModelError,
    LimitationError,
    UntrustedModelError,
    UsageError,
)
from harness.failure import Failure
from harness.minimize import same_bug
from harness.model import ModelSpec
from harness.plain import for_params
from harness.runtime.trace import Trace
from harness.scenario import replay
from harness.settings import Settings

#: Ids of `harness.explore` scenarios start with this; their files name no code (empty
#: `model_ref`), so they replay only from Python, with the callables the user passes again.
EXPLORE_PREFIX = "explore-"
EXPLORE_REPLAY = "harness.replay_explore(FILE, setup=..., workers=[...], invariant=...)"


def resolve_model(
    artifact: Artifact, model: str | None = None, *, trust_file: bool = False
) -> tuple[ModelSpec, str]:
    """The artifact's model, and the reference it was found by (for emitted tests)."""
    where = artifact.path
    if model is not None:
        ref, _variant = split_variant(model)
        spec = find_model(ref)
        if spec.name != artifact.model:
            raise ArtifactError(
                f"{where}: --model {model} is model {spec.name!r}, but the file is a "
                f"counterexample of model {artifact.model!r}"
            )
        return spec, ref
    catalog = all_models()
    if artifact.model in catalog:
        return catalog[artifact.model], artifact.model
    unknown = f"unknown model {artifact.model!r} (not in the catalog: {', '.join(sorted(catalog))})"
    ref = artifact.model_ref
    if not ref and artifact.model.startswith(EXPLORE_PREFIX):
        raise ArtifactError(
            f"{where}: a counterexample of harness.explore() scenario {artifact.model!r}, whose "
            f"code has no importable name: replay it from Python with {EXPLORE_REPLAY}"
        )
    if not ref:
        raise ArtifactError(f"{where}: {unknown}; name it with --model package.module:Class")
    if not trust_file:
        module = ref.partition(":")[0]
        raise UntrustedModelError(
            f"{where}: {unknown}; the file names module {module!r} ({ref}), which replay "
            f"imports only if you say so: pass --model {ref}, or --trust-file"
        )
    spec = find_model(ref)
    if spec.name != artifact.model:
        raise ArtifactError(
            f"{where}: {ref} (the file's model_ref) is model {spec.name!r}, not {artifact.model!r}"
        )
    return spec, ref


def replay_command(path: str | os.PathLike[str], failure: Failure) -> str:
    """The command that replays a saved `failure`: a model outside the catalog is named with
    ``--model``, which replay needs (it does not import what a file names by itself)."""
    if not failure.model_ref and failure.model.startswith(EXPLORE_PREFIX):
        return EXPLORE_REPLAY.replace("FILE", repr(os.fspath(path)))
    command = f"harness replay {shlex.quote(os.fspath(path))}"
    if failure.model in all_models() or not failure.model_ref:
        return command
    return f"{command} --model {shlex.quote(failure.model_ref)}"


def _regime(version: tuple[int, int]) -> str:
    return "3.11" if version < (3, 12) else "3.12+"


def python_note(artifact: Artifact) -> str | None:
    """Why this Python may number scheduling points differently from the one that wrote the
    file (preemptions are pinned to point counts), or None when it is the same minor version."""
    major, minor = artifact.python.split(".")[:2]
    written = (int(major), int(minor))
    here = (sys.version_info.major, sys.version_info.minor)
    mine = platform.python_implementation()
    if written == here and artifact.implementation == mine:
        return None
    head = (
        f"written by {artifact.implementation} {artifact.python}, replaying on "
        f"{mine} {platform.python_version()}"
    )
    if artifact.implementation != mine:
        why = "another implementation numbers scheduling points differently"
    elif _regime(written) != _regime(here):
        why = "point numbering differs between 3.11 and 3.12+ (sys.settrace and sys.monitoring)"
    else:
        why = "bytecode differs between minor versions, so points may be numbered differently"
    return (
        f"{head}: {why}; the recorded switches may land elsewhere (replay on "
        f"{artifact.implementation} {'.'.join(map(str, written))} to reproduce it exactly)"
    )


@dataclass
class ReplayOutcome:
    """What re-running an artifact did.

    `reproduced` means the recorded failure (same kind, same invariant or exception type)
    came back; `failure` is whatever failure the replay ended in, and `different` explains a
    failure other than the recorded one."""

    reproduced: bool
    identical_trace: bool
    failure: Failure | None
    divergence: str | None = None
    different: str | None = None
    python_note: str | None = None
    #: How the model was found: a catalog id or ``module:Class`` (what an emitted test uses).
    model: str = ""

    @property
    def verdict(self) -> str:
        """``reproduced``, ``no-longer-fails``, ``different-failure``, or ``inconclusive``
        (not reproduced on a Python that numbers points differently)."""
        if self.reproduced:
            return "reproduced"
        if self.python_note is not None:
            return "inconclusive"
        return "different-failure" if self.different else "no-longer-fails"

    def to_json(self) -> dict[str, Any]:
        failure = self.failure
        return {
            "verdict": self.verdict,
            "reproduced": self.reproduced,
            "identical_trace": self.identical_trace,
            "failure": None
            if failure is None
            else {"kind": failure.kind, "invariant": failure.invariant, "message": failure.message},
            "divergence": self.divergence,
            "different": self.different,
            "python_note": self.python_note,
        }


def _what(failure: Failure) -> str:
    if failure.invariant:
        return f"invariant {failure.invariant}"
    return f"{failure.kind} ({failure.message[:80]})"


def replay_artifact(
    artifact: Artifact,
    variant: str | None = None,
    *,
    model: str | None = None,
    trust_file: bool = False,
) -> ReplayOutcome:
    """Re-run the artifact's scenario and schedule; compare the failure and the trace.

    `variant` replays the same scenario against another variant of the model (e.g. the fix);
    `model` and `trust_file` choose the model as the module docstring says."""
    spec, ref = resolve_model(artifact, model, trust_file=trust_file)
    spec = for_params(spec, artifact.params)  # a plain class hunted with its own instrument=
    return replay_spec(artifact, spec, ref, variant)


def replay_spec(
    artifact: Artifact, spec: ModelSpec, ref: str, variant: str | None = None
) -> ReplayOutcome:
    """`replay_artifact` on a model the caller has already resolved (`harness.explore`
    rebuilds its scenario from the user's callables); `ref` is how it was found."""
    if spec.name != artifact.model:
        raise ArtifactError(
            f"{artifact.path}: a counterexample of model {artifact.model!r}, not of {spec.name!r}"
        )
    chosen = variant or artifact.variant
    check_model(artifact, spec, chosen)
    note = python_note(artifact)
    try:
        failure = replay(
            spec,
            chosen,
            seed=artifact.seed,
            params=artifact.params,
            steps=artifact.steps,
            settings=Settings(granularity=artifact.granularity),
        )
    except BrokenModelError as exc:
        raise UsageError(f"broken model {spec.name}.{chosen}: {exc}") from None
    except LimitationError as exc:
        raise UsageError(f"limitation replaying {spec.name}.{chosen}: {exc}") from None
    if failure is None:
        return ReplayOutcome(False, False, None, "the scenario no longer fails", None, note, ref)
    recorded = artifact.recorded
    if not (same_bug(failure, recorded) and failure.invariant == recorded.invariant):
        different = f"recorded {_what(recorded)}, the replay failed {_what(failure)} instead"
        return ReplayOutcome(False, False, failure, None, different, note, ref)
    new = failure.trace if failure.trace is not None else Trace()
    index = artifact.trace.first_divergence(new)
    if index is None:
        return ReplayOutcome(True, True, failure, None, None, note, ref)
    old_events, new_events = artifact.trace.events, new.events
    was = old_events[index].render() if index < len(old_events) else "(end of trace)"
    now = new_events[index].render() if index < len(new_events) else "(end of trace)"
    divergence = f"trace diverges at event {index + 1}: recorded {was!r}, now {now!r}"
    return ReplayOutcome(True, False, failure, divergence, None, note, ref)
