"""Two accounts, naive lock order, and a yield between the two acquires: a likely deadlock.

The yield widens the window that real threads need to meet in (the controlled engine needs
no help: one switch there is enough).
"""

from __future__ import annotations

import os
import threading


class YieldingBank:
    def __init__(self) -> None:
        self.balances = [100, 100]
        self.locks = [threading.Lock(), threading.Lock()]

    def transfer(self, src: int, amount: int) -> None:
        dst = 1 - src
        with self.locks[src]:
            os.sched_yield()
            with self.locks[dst]:
                self.balances[src] -= amount
                self.balances[dst] += amount
