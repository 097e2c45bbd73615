"""What a hunt concluded, as data: one class per kind of verdict.

A hunt can end in more ways than "found" and "not found", and users act differently on each:
a `Counterexample` is a race in the code under test (fix it, keep the file as a test); `Clean`
says nothing failed *and* shows what was explored (`Evidence`); `NotTested` means the code
under test was never exercised, so "clean" would be a lie; `BrokenModel` blames the model (the
test), not the code; `Limitation` names something the harness cannot control (a real C lock, a
thread the code starts, a blocking C call); `Interrupted` is Ctrl-C, a pytest-timeout or
SIGTERM. Under ``--engine stress`` (`harness.stress`) every verdict also carries the stress
evidence (`stress`): a `Counterexample` there was found under stress and reproduced by the
controlled engine, and `StressFailure` is the one kind only stress produces -- the code under
test failed on free-running threads, but no schedule the controlled engine can take shows it
again, so there is no counterexample to replay. Every consumer -- the CLI, the pytest plugin,
``--json``, the HTML page -- renders these objects through `harness.report`; nothing parses a
message back.

Exit codes follow the kind: 0 clean, 1 counterexample or stress failure, 2 not-tested /
broken-model / limitation (and usage errors), 130 interrupted. Why 1 for a stress failure that
was not reproduced: exit 1 means "the code under test failed", and it did -- an observed
invariant or exception, not a doubt about the model or the harness (2) -- while the kind
(``stress-failure``) and the absent artifact say there is nothing to replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.evidence import Evidence
from harness.failure import Failure
from harness.stress.evidence import StressEvidence

#: Version of the ``--json`` document (bumped when a field changes meaning or goes away).
JSON_SCHEMA = 2


@dataclass(frozen=True)
class Verdict:
    """Base of every verdict: which model and variant, and how the hunt went."""

    kind: ClassVar[str] = ""
    exit_code: ClassVar[int] = 2

    model: str
    variant: str
    #: What the free-running rounds saw, when the hunt ran on the stress engine (else None).
    stress: StressEvidence | None = field(default=None, kw_only=True)

    @property
    def engine(self) -> str:
        return "controlled" if self.stress is None else "stress"

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
        # Under stress nothing was traced: no coverage figures to claim (see `stress`).
        return {"evidence": None if self.stress is not None else self.evidence.to_json()}


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
        return _failure_fields(self.failure)


@dataclass(frozen=True)
class StressFailure(Verdict):
    """Seen failing under stress, not reproduced by the controlled engine: no counterexample.

    The code under test did fail (`seen` is the failure as stress saw it: its scenario and
    check, but no schedule, since nobody recorded the interleaving), and the controlled engine
    searched `stress.schedules_tried` schedules of that scenario without showing it again --
    a race inside C code, in a module that is not instrumented, or one that needs two CPUs at
    once. Nothing is saved: a file would claim a replay that does not exist.
    """

    kind: ClassVar[str] = "stress-failure"
    exit_code: ClassVar[int] = 1

    seen: Failure | None = None

    def fields(self) -> dict[str, Any]:
        return _failure_fields(self.seen)


def _failure_fields(failure: Failure | None) -> dict[str, Any]:
    """The failed check, for ``--json``: the same fields whether it replays or not."""
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
        evidence = None if self.stress is not None else self.evidence.to_json()
        return {"reason": self.reason, "evidence": evidence}


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
    StressFailure,
    NotTested,
    BrokenModel,
    Limitation,
    Interrupted,
)
