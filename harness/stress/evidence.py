"""What the stress engine's free-running rounds saw: the evidence behind a stress verdict.

A stress hunt records no trace (nothing schedules the threads, so nothing counts switches or
conflict pairs), and its verdicts must not borrow the controlled engine's coverage figures.
What it can say truthfully: how many rounds ran, in how many of them two or more workers were
inside the code under test at the same moment (the model gate sees every crossing, so this is
measured, not assumed), whether the interpreter had a GIL, and -- when something failed -- how
often and which check, and whether the controlled engine reproduced it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.failure import Failure


def failure_label(failure: Failure) -> str:
    """How stress evidence names a failure: the invariant, else the kind (exception type)."""
    if failure.invariant:
        return f"invariant {failure.invariant}"
    if failure.kind == "exception":
        return "exception " + (failure.exception_type or failure.message)
    return failure.kind


@dataclass
class StressEvidence:
    """The free-running rounds of one stress hunt, and what the reproduction made of a find."""

    examples: int = 0
    rounds: int = 0
    #: Rounds in which at least one worker entered the code under test (instrumented modules).
    entered_rounds: int = 0
    #: Rounds in which two or more workers were inside the code under test at the same time.
    overlapping_rounds: int = 0
    failing_rounds: int = 0
    #: Rounds run, and failed, in the example that failed first.
    example_rounds: int = 0
    example_failing_rounds: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    #: The first failure as stress saw it: its scenario, no schedule (nobody recorded one).
    first: Failure | None = None
    first_example: int | None = None
    first_round: int | None = None
    seconds_to_first_failure: float | None = None
    reproduced: bool = False
    schedules_tried: int = 0
    reproduced_at: str | None = None
    gil: bool = True
    switch_interval: float | None = None

    def record(self, failure: Failure) -> None:
        self.failing_rounds += 1
        self.example_failing_rounds += 1
        self.seen[failure_label(failure)] += 1

    def line(self) -> str:
        """What a clean stress hunt is evidence of: ``1,000 free-running rounds of 50 examples
        (GIL off), 987 with 2+ workers inside the code under test at once``."""
        gil = "on, switch interval at its minimum" if self.gil else "off"
        return (
            f"{self.rounds:,} free-running round{'s' if self.rounds != 1 else ''} of "
            f"{self.examples:,} example{'s' if self.examples != 1 else ''} (GIL {gil}), "
            f"{self.overlapping_rounds:,} with 2+ workers inside the code under test at once"
        )

    def found_line(self) -> str:
        """Where stress saw the failure, how often, and what the reproduction made of it."""
        what = ", ".join(f"{label} ({n}x)" for label, n in self.seen.most_common())
        seen = (
            f"found under stress in example {self.first_example}, failing "
            f"{self.example_failing_rounds} of {self.example_rounds} free-running rounds: {what}"
        )
        if self.reproduced:
            return (
                f"{seen}; reproduced deterministically after {self.schedules_tried} "
                f"schedule(s) at {self.reproduced_at} points"
            )
        return (
            f"{seen}; NOT reproduced deterministically in {self.schedules_tried} schedules "
            "(a race the scheduler cannot express, e.g. inside C code or uninstrumented "
            "code): no replayable counterexample"
        )

    def to_json(self) -> dict[str, Any]:
        first = self.first
        return {
            "examples": self.examples,
            "rounds": self.rounds,
            "entered_rounds": self.entered_rounds,
            "overlapping_rounds": self.overlapping_rounds,
            "failing_rounds": self.failing_rounds,
            "example_rounds": self.example_rounds,
            "example_failing_rounds": self.example_failing_rounds,
            "seen": dict(self.seen),
            "first_example": self.first_example,
            "first_round": self.first_round,
            "seconds_to_first_failure": self.seconds_to_first_failure,
            "first_failure": None
            if first is None
            else {"kind": first.kind, "invariant": first.invariant, "message": first.message},
            "reproduced": self.reproduced,
            "schedules_tried": self.schedules_tried,
            "reproduced_at": self.reproduced_at,
            "gil": self.gil,
            "switch_interval": self.switch_interval,
        }
