"""Hypothesis profiles for this repository's own test suite.

Select one with HARNESS_PROFILE=dev|ci|thorough. Without it, `ci` is used when the CI
environment variable is set (as our CI does) and `dev` otherwise. Tests that need other
settings (a fixed number of examples for a bar, say) pass them explicitly.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "dev",
    max_examples=50,
    deadline=None,
)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2_000,
    deadline=None,
    phases=list(Phase),
    suppress_health_check=[HealthCheck.too_slow],
)

_default = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HARNESS_PROFILE", _default))
