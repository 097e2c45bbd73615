"""The smoke phase: the simplest races, run straight on the runtime before Hypothesis searches.

Why: most races show up between two workers making one call each, under dense random
switching -- the first example Hypothesis draws is exactly that, but reaching it costs
Hypothesis's engine set-up and draws, several times the 1-2 ms the run itself takes. So a hunt
first runs, for every pair of operations with their strategies' simplest arguments (and the
model's simplest parameters), 2 workers x 1 call under a few seeded noise schedules, through
the same `ScenarioRunner` as every example. A failure found here is an ordinary `Failure`:
the hunt hands it to the minimiser and the reporter as if Hypothesis had found it.

Each smoke run counts as one example of the hunt's budget. The schedules and the model seeds
come from the hunt's seed alone, so the same seed gives the same smoke runs and result.
"""

from __future__ import annotations

import functools
import itertools
import operator
import random
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable
from hypothesis.strategies import SearchStrategy

from harness.draws import find
from harness.failure import Call, CounterexampleFound
from harness.machine import Observer
from harness.model import Model, ModelSpec
from harness.scenario import ScenarioRunner
from harness.settings import Settings

#: Noise schedules tried per pair of operations (the budget cuts them first).
SCHEDULES_PER_PAIR = 8
#: Switch probabilities 1/rate of the smoke schedules, in turn. Denser than a hunt's noise
#: (`NOISE_RATES`): two single calls have few points between them, and measured over the
#: gallery's unsafe models at access, rates 2-4 catch a race in a run 2-10x as often as 16
#: (the counter: 9/40 runs at rate 2 against 4/40 at 16; dict iteration 16/120 against 1/120).
SMOKE_RATES = (2, 3, 4)
#: At most this share of a hunt's examples goes to the smoke phase (the rest to Hypothesis).
BUDGET_SHARE = 10

_FIND_SETTINGS = settings(
    database=None,
    max_examples=1,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    verbosity=Verbosity.quiet,
    deadline=None,
)
#: A condition every value meets, with no source for Hypothesis to read and hash.
_ANY: Any = functools.partial(operator.is_not, object())


def simplest(strategy: SearchStrategy[Any]) -> Any:
    """The value Hypothesis draws first from `strategy` (its simplest one)."""
    return find(strategy, _ANY, using=_FIND_SETTINGS)


_cache: dict[type[Model], tuple[tuple[Call, ...], dict[str, Any]] | None] = {}
_CACHE_SIZE = 32


def _simplest_calls(spec: ModelSpec) -> tuple[tuple[Call, ...], dict[str, Any]] | None:
    """Each operation with its simplest arguments, and the simplest parameters (once per model
    class); None if a strategy has no value to give (the smoke phase is then skipped)."""
    if spec.cls in _cache:
        return _cache[spec.cls]
    # One search for all of them: each `find` is a whole Hypothesis run (~15 ms when cold).
    everything = st.tuples(
        st.tuples(*(op.strategy() for op in spec.operations)),
        st.fixed_dictionaries(dict(spec.cls.parameters)),
    )
    try:
        calls, params = simplest(everything)
        found: tuple[tuple[Call, ...], dict[str, Any]] | None = (calls, params)
    except (NoSuchExample, Unsatisfiable):
        found = None
    if len(_cache) >= _CACHE_SIZE:
        _cache.pop(next(iter(_cache)))
    _cache[spec.cls] = found
    return found


def smoke_budget(max_examples: int) -> int:
    """Smoke runs a hunt of `max_examples` examples spends (0 below `BUDGET_SHARE`)."""
    return max_examples // BUDGET_SHARE


def smoke(
    spec: ModelSpec,
    variant: str,
    settings: Settings,
    *,
    budget: int,
    observer: Observer,
) -> None:
    """Run up to `budget` smoke scenarios, recording examples, rounds and failures in
    `observer`; the schedules come from `settings.seed`. Stops at the first failure; a broken
    model or a limitation raises, as in any example."""
    if budget < 1:
        return
    simple = _simplest_calls(spec)
    if simple is None:
        return
    calls, params = simple
    pairs = list(itertools.combinations_with_replacement(calls, 2))
    rng = random.Random(settings.seed)
    settings = settings.searching()
    runs = [
        (pair, rng.getrandbits(32), SMOKE_RATES[k % len(SMOKE_RATES)])
        for k in range(SCHEDULES_PER_PAIR)
        for pair in pairs
    ][:budget]
    with settings.pool().pinned():
        for (first, second), noise_seed, rate in runs:
            observer.example_started()
            try:
                # One smoke scenario: a fresh model, one round of two workers, one call each.
                with ScenarioRunner(
                    spec,
                    variant,
                    seed=noise_seed,
                    params=params,
                    settings=settings,
                    on_failure=observer.failed,
                    on_round=observer.round_ran,
                ) as runner:
                    runner.parallel([[first], [second]], [], (noise_seed, rate))
            except CounterexampleFound:
                return
