"""Code the controlled engine cannot see: never instrumented, so atomic under its scheduler.

It stands for a race inside C code: only real parallelism (the stress engine) can split it.
"""

from __future__ import annotations

import os


class OpaqueCounter:
    """A read-modify-write with a yield in the middle, in a module nobody instruments."""

    def __init__(self) -> None:
        self.n = 0

    def incr(self) -> None:
        n = self.n
        os.sched_yield()
        self.n = n + 1
