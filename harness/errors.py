"""Exceptions the harness raises at its users.

Kept apart on purpose: a `UsageError` means the harness was asked something it cannot do (fix
the call, not the code under test) and is raised before any thread starts; a
`BrokenModelError` means the model -- the test -- is wrong; a `LimitationError` means the code
did something the harness cannot control. A failure found in the code under test is never an
exception of the harness but a result (see `harness.runtime.outcome` and `harness.verdict`).
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every exception the harness raises on purpose."""


class UsageError(HarnessError, ValueError):
    """The harness was called with something it cannot use; the message says what."""


class NoWorkersError(UsageError):
    """A run was asked for with no worker callables."""


class NotCallableWorkerError(UsageError, TypeError):
    """A worker given to a run is not callable."""


class UnknownGranularityError(UsageError):
    """A scheduling-point granularity other than gil, access or opcode was named."""


class UnknownModuleError(UsageError, ModuleNotFoundError):
    """A module to instrument could not be imported or cannot be instrumented."""


class ScheduleError(UsageError):
    """A decision source returned a thread that cannot run."""


class ArtifactError(UsageError):
    """A counterexample file that cannot be used; the message names the file and the field."""


class UntrustedModelError(ArtifactError):
    """Replaying the file would import a module that only the file names (see `harness.replay`)."""


class BrokenModelError(HarnessError):
    """The model itself is wrong (its setup, an invariant, an operation's own code, its
    reference): not a race in the code under test.

    `where` is the model's line that raised (``spec.py:12``), `details` its traceback.
    """

    def __init__(self, message: str, *, where: str = "", details: str = "") -> None:
        super().__init__(message)
        self.where = where
        self.details = details


class LimitationError(HarnessError):
    """The code under test did something the harness cannot control (a thread it starts, a
    real C lock it blocks on, a blocking C call): `what` names it, `where` says where."""

    def __init__(self, message: str, *, what: str, where: str = "", details: str = "") -> None:
        super().__init__(message)
        self.what = what
        self.where = where
        self.details = details
