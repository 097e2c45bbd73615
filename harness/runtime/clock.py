"""Virtual time: models sleep and read clocks without any wall time passing.

Why: a Backoffer that sleeps 41 s of backoff must cost microseconds, and a run must not depend
on how fast the machine is. Time is a logical number that only moves when a controlled thread
sleeps (or times out) and no thread can run, exactly like a discrete-event simulator. A sleep
is therefore a scheduling point: the sleeper blocks until the clock reaches its deadline.

Outside a controlled run (the test thread between rounds) a sleep simply advances the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

# The virtual clock starts at fixed, plausible values so that models which format timestamps
# or subtract them behave as in production, and so traces do not depend on the date.
MONOTONIC_START = 10_000.0
WALL_START = 1_700_000_000.0


class VirtualClock:
    """Seconds elapsed since the example started, advanced only by sleeps and timeouts."""

    __slots__ = ("elapsed",)

    def __init__(self) -> None:
        self.elapsed = 0.0

    def monotonic(self) -> float:
        return MONOTONIC_START + self.elapsed

    def wall(self) -> float:
        return WALL_START + self.elapsed

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self.elapsed += seconds

    def advance_to(self, elapsed: float) -> None:
        self.elapsed = max(self.elapsed, elapsed)


# The real clock, bound when the harness is imported and before any `World` patches `time`:
# the harness times its own budgets and watchdogs with these, whatever the code under test sees.
real_sleep: Callable[[float], None] = time.sleep
real_monotonic: Callable[[], float] = time.monotonic
real_perf_counter: Callable[[], float] = time.perf_counter

#: Every `time` function a `World` replaces, by name, as it was before: what the World puts
#: back on exit and what `harness.runtime.rebind` looks for in the code under test.
REAL_TIME: Mapping[str, Callable[..., object]] = MappingProxyType(
    {
        name: getattr(time, name)
        for name in (
            "sleep",
            "monotonic",
            "monotonic_ns",
            "time",
            "time_ns",
            "perf_counter",
            "perf_counter_ns",
        )
    }
)
