"""Virtual time: models sleep and read clocks without any wall time passing.

Why: a Backoffer that sleeps 41 s of backoff must cost microseconds, and a run must not depend
on how fast the machine is. Time is a logical number that only moves when a controlled thread
sleeps (or times out) and no thread can run, exactly like a discrete-event simulator. A sleep
is therefore a scheduling point: the sleeper blocks until the clock reaches its deadline.

Outside a controlled run (the test thread between rounds) a sleep simply advances the clock.
"""

from __future__ import annotations

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
