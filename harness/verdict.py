"""What a hunt concluded, as data: one class per kind of verdict.

A hunt can end in more ways than "found" and "not found", and users act differently on each:
a `Counterexample` is a race in the code under test (fix it, keep the file as a test); `Clean`
says nothing failed *and* shows what was explored (`Evidence`); `NotTested` means the code
under test was never exercised, so "clean" would be a lie; `BrokenModel` blames the model (the
test), not the code; `Limitation` names something the harness cannot control (a real C lock, a
thread the code starts, a blocking C call); `Interrupted` is Ctrl-C, a pytest-timeout or
SIGTERM. Every consumer -- the CLI, the pytest plugin, ``--json``, the HTML page -- renders
these objects through `harness.report`; nothing parses a message back.

Exit codes follow the kind: 0 clean, 1 counterexample, 2 not-tested / broken-model /
limitation (and usage errors), 130 interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.evidence import Evidence
from harness.failure import Failure

#: Version of the ``--json`` document (bumped when a field changes meaning or goes away).
JSON_SCHEMA = 2


@dataclass(frozen=True)
class Verdict:
    """Base of every verdict: which model and variant, and how the hunt went."""

    kind: ClassVar[str] = ""
    exit_code: ClassVar[int] = 2

    model: str
    variant: str

    @property
    def label(self) -> str:
        return f"{self.model}.{self.variant}"

    def fields(self) -> dict[str, Any]:
        """The kind's own fields for ``--json`` (the common ones are added by the reporter)."""
        return {}


@dataclass(frozen=True)
class Clean(Verdict):
    """No failure, with the evidence of what was explored."""

    kind: ClassVar[str] = "clean"
    exit_code: ClassVar[int] = 0

    evidence: Evidence = field(default_factory=Evidence)

    def fields(self) -> dict[str, Any]:
        return {"evidence": self.evidence.to_json()}


@dataclass(frozen=True)
class Counterexample(Verdict):
    """A race in the code under test: the shrunk failure (and the first one, as found).

    `subkind` is the failed check: ``invariant``, ``exception``, ``deadlock``, ``livelock`` or
    ``linearizability``; the failure carries the worker, exception type and hang as fields.
    """

    kind: ClassVar[str] = "counterexample"
    exit_code: ClassVar[int] = 1

    failure: Failure | None = None
    first_failure: Failure | None = None

    @property
    def subkind(self) -> str:
        return self.failure.kind if self.failure is not None else ""

    def fields(self) -> dict[str, Any]:
        failure = self.failure
        if failure is None:
            return {}
        return {
            "subkind": failure.kind,
            "invariant": failure.invariant,
            "worker": failure.worker,
            "exception_type": failure.exception_type,
            "message": failure.message,
        }


@dataclass(frozen=True)
class NotTested(Verdict):
    """The hunt never exercised the code under test: "clean" would say nothing true."""

    kind: ClassVar[str] = "not-tested"

    reason: str = ""
    evidence: Evidence = field(default_factory=Evidence)

    def fields(self) -> dict[str, Any]:
        return {"reason": self.reason, "evidence": self.evidence.to_json()}


@dataclass(frozen=True)
class BrokenModel(Verdict):
    """The model (setup, invariant, operation wrapper, reference) is wrong, not the code.

    `where` is the model's own line that raised (``file.py:12``) when there is one; `details`
    the model's traceback.
    """

    kind: ClassVar[str] = "broken-model"

    reason: str = ""
    where: str = ""
    details: str = ""

    def fields(self) -> dict[str, Any]:
        return {"reason": self.reason, "where": self.where or None}


@dataclass(frozen=True)
class Limitation(Verdict):
    """The code did something the harness cannot control; `what` names it, `where` says
    where it was created or happened."""

    kind: ClassVar[str] = "limitation"

    what: str = ""
    where: str = ""
    details: str = ""

    def fields(self) -> dict[str, Any]:
        return {"what": self.what, "where": self.where or None}


@dataclass(frozen=True)
class Interrupted(Verdict):
    """Ctrl-C, SIGTERM or a pytest-timeout ended the hunt; `found` is a failure already seen
    (unshrunk), kept so that nothing found is lost."""

    kind: ClassVar[str] = "interrupted"
    exit_code: ClassVar[int] = 130

    reason: str = ""
    found: Failure | None = None

    def fields(self) -> dict[str, Any]:
        return {"reason": self.reason, "found_before": self.found is not None}


KINDS: tuple[type[Verdict], ...] = (
    Clean,
    Counterexample,
    NotTested,
    BrokenModel,
    Limitation,
    Interrupted,
)
