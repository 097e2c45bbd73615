"""A racy counter whose shrinking can be made to wait: for the signal tests of the CLI.

With ``HARNESS_TEST_HOLD_DIR`` set, the second model set-up after the first counterexample
file appears in that directory waits (in real time, interruptibly) until the process is
signalled: the hunt is then held inside its shrinking, with the first counterexample already
on disk -- where a user's Ctrl-C would land on a slow model. Later set-ups (the CLI replays
what it saves after an interrupt) do not wait.
"""

from __future__ import annotations

import os
import select
from pathlib import Path

from harness.model import Model, invariant, operation
from tests.targets.counters import Counter

_seen_after_file = 0


def _hold_if_asked() -> None:
    global _seen_after_file
    folder = os.environ.get("HARNESS_TEST_HOLD_DIR")
    if not folder or not any(Path(folder).glob("*.json")):
        return
    _seen_after_file += 1
    if _seen_after_file != 2:
        return
    (Path(folder) / "holding").touch()
    while True:  # a real-time wait the patched clock cannot shorten; a signal ends it
        select.select([], [], [], 0.05)


class SlowShrinkModel(Model):
    name = "slow-shrink"
    variants = {"unsafe": "n = n + 1 without a lock"}
    expect_failure = ("unsafe",)
    instrument = ("tests.targets.counters",)

    def setup(self) -> None:
        _hold_if_asked()
        self.counter = Counter()
        self.done = 0

    @operation()
    def incr(self) -> None:
        self.counter.incr()
        self.done += 1

    @invariant()
    def no_lost_increment(self) -> None:
        assert self.counter.n == self.done, f"n == {self.counter.n} after {self.done} increments"
