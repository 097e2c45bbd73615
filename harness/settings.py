"""`Settings`: every knob of a hunt, a verification or a replay, in one frozen value.

Why one object: the same handful of knobs -- granularity, how long a silent thread may take,
how many points a round may take, the executor, whether values are captured -- is needed at
the bottom (each round a `ScenarioRunner` runs) and chosen at the top (the CLI, the pytest
plugin, `harness.hunt`). Threading each one as a keyword argument through hunt, machine,
smoke, minimiser, replay and verify repeated every default and every check at every layer.
The public entry points keep their keyword arguments and options; each builds one `Settings`
from them, which checks every value once, here, and raises the precise `harness.errors`
exception. Everything below takes the `Settings` and reads what it needs.

Frozen, so that a layer that needs a variation (the minimiser replays at the failure's
granularity without capturing values) makes a new value with `dataclasses.replace` and cannot
change what another layer sees.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.errors import UsageError
from harness.runtime.executor import DEFAULT_STUCK_AFTER, RoundExecutor, shared_executor
from harness.runtime.points import DEFAULT_GRANULARITY, check_granularity

#: The largest seed a hunt takes (and a counterexample file records): 64 bits.
MAX_SEED = 2**64 - 1
DEFAULT_MAX_EXAMPLES = 100
#: The most examples one hunt may ask for: beyond it a run takes days and is a typo.
MAX_EXAMPLES = 1_000_000
#: Steps per example: a few rounds are plenty to overlap operations; more only slows shrinking.
DEFAULT_STEPS_PER_EXAMPLE = 5
#: Scheduling points one round may take before it is called a livelock.
ROUND_MAX_STEPS = 20_000
#: Replays one minimisation may spend (each is one fresh model and the whole scenario,
#: a millisecond or two for small models).
DEFAULT_BUDGET = 1500
#: How a hunt schedules a drawn round: the drawn preemptions and noise (``random``), PCT
#: seeded from the drawn schedule, or every schedule up to a small preemption bound (``dfs``).
HUNT_STRATEGIES = ("random", "pct", "dfs")
#: "controlled": the deterministic scheduler; "stress": free-running threads whose failures
#: the controlled engine reproduces (`harness.stress`).
ENGINES = ("controlled", "stress")
#: Free-running rounds per Hypothesis example under the stress engine (fresh objects each time).
DEFAULT_REPEATS = 50
#: `harness verify`'s strategies and its default preemption bound.
VERIFY_STRATEGIES = ("dfs", "pct")
DEFAULT_BOUND = 2


@dataclass(frozen=True)
class Settings:
    """The knobs of one hunt (or verification, or replay); checked when built.

    `seed`, `max_examples`, `steps_per_example` and `strategy` are read by the hunt only;
    `engine` picks the controlled scheduler or free-running stress rounds, `repeats` being the
    stress engine's rounds per example (None: its default);
    `shrink` and `budget` by whatever minimises (a hunt, `harness verify`); the rest by every
    round. `capture` records keys and values in traces: the search phases turn it off for
    speed (`searching`) and the final counterexample is replayed with it on.
    """

    seed: int = 0
    max_examples: int = DEFAULT_MAX_EXAMPLES
    granularity: str = DEFAULT_GRANULARITY
    strategy: str = "random"
    steps_per_example: int = DEFAULT_STEPS_PER_EXAMPLE
    shrink: bool = True
    budget: int = DEFAULT_BUDGET
    stuck_after: float = DEFAULT_STUCK_AFTER
    max_steps: int = ROUND_MAX_STEPS
    capture: bool = True
    executor: RoundExecutor | None = None
    engine: str = "controlled"
    repeats: int | None = None

    def __post_init__(self) -> None:
        check_granularity(self.granularity)
        if self.strategy not in HUNT_STRATEGIES:
            raise UsageError(
                f"unknown strategy {self.strategy!r}: choose one of {', '.join(HUNT_STRATEGIES)}"
            )
        self._check_engine()
        if not _integer(self.max_examples) or not 1 <= self.max_examples <= MAX_EXAMPLES:
            raise UsageError(f"max_examples must be an integer from 1 to {MAX_EXAMPLES}")
        if not _integer(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise UsageError("seed must be an integer from 0 to 2**64-1")
        if not _integer(self.steps_per_example) or self.steps_per_example < 1:
            raise UsageError(
                f"steps_per_example must be a positive integer, got {self.steps_per_example!r}"
            )
        if not _integer(self.budget) or self.budget < 1:
            raise UsageError(f"budget must be a positive integer, got {self.budget!r}")
        if not _integer(self.max_steps) or self.max_steps < 1:
            raise UsageError(f"max_steps must be a positive integer, got {self.max_steps!r}")
        if not isinstance(self.stuck_after, (int, float)) or not self.stuck_after > 0:
            raise UsageError(
                f"stuck_after must be a positive number of seconds, got {self.stuck_after!r}"
            )

    def _check_engine(self) -> None:
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}: choose one of {', '.join(ENGINES)}")
        if self.engine == "stress" and self.strategy != "random":
            raise UsageError(
                f"strategy {self.strategy!r} schedules the controlled engine; the stress engine "
                "runs free threads (its finds are reproduced by its own search)"
            )
        if self.repeats is None:
            return
        if self.engine != "stress":
            raise UsageError(
                "repeats (--repeats) applies to the stress engine only (--engine stress)"
            )
        if not _integer(self.repeats) or self.repeats < 1:
            raise UsageError(f"repeats must be a positive integer, got {self.repeats!r}")

    def pool(self) -> RoundExecutor:
        """The executor rounds run on: the given one, or the process's shared one."""
        return self.executor or shared_executor()

    def searching(self) -> Settings:
        """These settings for a search phase: no value capture (about half the cost of a point
        at ``access``); the counterexample found is replayed with `self` to record values."""
        return dataclasses.replace(self, capture=False) if self.capture else self

    def at(self, granularity: str) -> Settings:
        """These settings at `granularity` (a recorded failure replays at its own)."""
        if granularity == self.granularity:
            return self
        return dataclasses.replace(self, granularity=granularity)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: The settings of a call that names none.
DEFAULTS = Settings()
