"""Compatibility names for regression tests emitted by harness 0.1.

Those tests import ``parse`` and ``replay_artifact`` from here. The file format now lives in
`harness.artifact` and replay in `harness.replay`; new code should import from them. A test
emitted by 0.1 was written from a file its user had already replayed, and its data is part of
the test's own code, so its model reference is trusted here as the test trusted it then.
"""

from __future__ import annotations

from harness.artifact import Artifact, load, save
from harness.artifact import validate as parse
from harness.errors import ArtifactError
from harness.replay import ReplayOutcome
from harness.replay import replay_artifact as _replay_artifact

__all__ = ["Artifact", "ArtifactError", "ReplayOutcome", "load", "parse", "replay_artifact", "save"]


def replay_artifact(artifact: Artifact, variant: str | None = None) -> ReplayOutcome:
    """`harness.replay.replay_artifact`, trusting the model reference the test embeds."""
    return _replay_artifact(artifact, variant, trust_file=True)
