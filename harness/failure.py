"""What went wrong in one example, recorded in the model's terms.

The stateful machine builds a `Failure` the moment a check fails, before it raises into
Hypothesis: the scenario so far (every step, with arguments), the failing round's schedule and
trace, and the verdict. Reports, artifacts and replay all start from this object; nothing ever
parses Hypothesis's own output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.runtime.outcome import Preemption
from harness.runtime.trace import Trace

#: Failure kinds, from most to least specific.
KINDS = (
    "invariant",
    "linearizability",
    "exception",
    "deadlock",
    "livelock",
    "stuck",
    "broken-model",
)


def thread_label(thread: int, workers: int) -> str:
    """``worker 1`` for one of a round's `workers`, ``thread 2`` for a thread the code under
    test started (numbered after the workers, `harness.runtime.children`): a report calls a
    pool thread by what it is."""
    return f"worker {thread}" if 0 <= thread < workers else f"thread {thread}"


class CounterexampleFound(AssertionError):
    """Raised into Hypothesis when a step fails; carries the structured `Failure`."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.headline())
        self.failure = failure


Call = tuple[str, dict[str, Any]]


@dataclass
class Step:
    """One step of a scenario: a sequential call, or a parallel round of workers.

    For a round, `taken` is every switch the run actually made, ``(step, thread, point,
    target)``: replaying `taken` as explicit preemptions reproduces the round exactly,
    whatever schedule drew it (the drawn schedule itself is not kept: nothing reads it).
    `call_points[w]` holds worker w's own-point count at each of its call boundaries (before
    the first call, between calls, after the last one it finished): the minimiser uses it to
    renumber `taken` when it removes a call. It is a by-product of a run, so counterexample
    files do not store it.
    """

    kind: str  # "sequential" | "round"
    calls: list[list[Call]]  # one list of (op, args) per worker
    taken: list[Preemption] = field(default_factory=list)
    #: Free choices that were not the lowest runnable thread, ``(step, thread)``: only
    #: strategies other than the drawn schedule make them (`RunResult.forced`).
    forced: list[tuple[int, int]] = field(default_factory=list)
    steps: int = 0
    call_points: list[list[int]] = field(default_factory=list)

    @property
    def preemptions(self) -> list[Preemption]:
        return self.taken

    @property
    def workers(self) -> int:
        return len(self.calls)

    @property
    def total_calls(self) -> int:
        return sum(len(c) for c in self.calls)

    def describe(self) -> str:
        def call_text(op: str, args: dict[str, Any]) -> str:
            inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
            return f"{op}({inner})"

        if self.kind == "sequential":
            (op, args) = self.calls[0][0]
            return f"sequential: {call_text(op, args)}"
        lines = [f"parallel round: {self.workers} workers, {len(self.preemptions)} preemption(s)"]
        for worker, calls in enumerate(self.calls):
            lines.append(f"  worker {worker}: " + "; ".join(call_text(o, a) for o, a in calls))
        return "\n".join(lines)


@dataclass
class Failure:
    """A failed check: what kind, which invariant, the message, and how we got there."""

    kind: str
    message: str
    model: str
    variant: str
    granularity: str
    scenario: list[Step]
    invariant: str | None = None
    trace: Trace | None = None
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    details: str = ""  # traceback or full hang report
    #: ``module:Class`` of the model: how a file of a model outside the catalog is replayed.
    model_ref: str = ""
    #: For an exception: the worker that raised it (None: the test thread), its type and the
    #: innermost line of the code under test (or of the model) it was raised at.
    worker: int | None = None
    exception_type: str | None = None
    where: str = ""
    #: For a deadlock or livelock: the runtime's report object.
    hang: Any = None
    #: By-products of the run, for the HTML view (files do not store them): every completed
    #: call with its result (`OpRecord`s, in order), and for a linearizability failure the
    #: checker's `Verdict` (the longest explained order and the calls that could not follow).
    history: list[Any] = field(default_factory=list, compare=False, repr=False)
    linearization: Any = field(default=None, compare=False, repr=False)

    def headline(self) -> str:
        if self.invariant:
            return f"{self.model}.{self.variant}: invariant {self.invariant} failed: {self.message}"
        if self.message.startswith(f"{self.kind}:"):  # not "deadlock failed: deadlock: ..."
            return f"{self.model}.{self.variant}: {self.message}"
        return f"{self.model}.{self.variant}: {self.kind} failed: {self.message}"

    @property
    def failing_step(self) -> Step | None:
        """The step whose interleaving the report shows: the last round (a sequential call
        after it may be what saw the race), else the last step."""
        return self.race or (self.scenario[-1] if self.scenario else None)

    @property
    def rounds(self) -> list[Step]:
        return [s for s in self.scenario if s.kind == "round"]

    def shape(self) -> dict[str, Any]:
        """The counterexample's size: what "minimal" is judged on."""
        step = self.failing_step
        return {
            "steps": len(self.scenario),
            "rounds": len(self.rounds),
            "threads": step.workers if step else 0,
            "operations": step.total_calls if step else 0,
            "calls_per_worker": [len(c) for c in step.calls] if step else [],
            "preemptions": len(step.preemptions) if step else 0,
        }

    @property
    def race(self) -> Step | None:
        """The last parallel round: where the race happened. Steps after it are sequential
        calls that may be what observed it (a read of a value no order explains)."""
        rounds = self.rounds
        return rounds[-1] if rounds else None

    def looks_minimal(self) -> bool:
        """The smallest shape a race can have: one parallel round, two workers making one call
        each, at most one preemption. Sequential steps may set state up before it or observe
        the result after it (the minimiser keeps only those the failure needs)."""
        race = self.race
        return (
            race is not None
            and len(self.rounds) == 1
            and race.workers == 2
            and race.total_calls == 2
            and len(race.taken) <= 1
        )

    def describe(self) -> str:
        lines = [self.headline(), "", "scenario:"]
        for i, one in enumerate(self.scenario, 1):
            text = one.describe().replace("\n", "\n   ")
            lines.append(f"{i:>2}. {text}")
        last = self.failing_step
        if last is not None and last.taken:
            n = last.workers
            pre = ", ".join(
                f"{thread_label(p.thread, n)} at its point {p.point} (step {p.step}) -> "
                f"{thread_label(p.target, n)}"
                for p in last.taken
            )
            lines.append(f"preemptions: {pre}")
        return "\n".join(lines)
