"""Accounts with one lock each; a transfer locks both accounts.

Taking the two locks in argument order deadlocks when two transfers go opposite ways (each
holds the lock the other needs); taking them in a global order (by account number) cannot.
"""

from __future__ import annotations

import threading


class Bank:
    def __init__(self, accounts: int, balance: int = 100, *, ordered: bool) -> None:
        self.balances = [balance] * accounts
        self.locks = [threading.Lock() for _ in range(accounts)]
        self.ordered = ordered

    def transfer(self, src: int, dst: int, amount: int) -> bool:
        """Move `amount` if `src` has it; False (nothing moved) otherwise."""
        if src == dst:
            return False
        first, second = sorted((src, dst)) if self.ordered else (src, dst)
        with self.locks[first], self.locks[second]:
            if self.balances[src] < amount:
                return False
            self.balances[src] -= amount
            self.balances[dst] += amount
            return True

    def total(self) -> int:
        return sum(self.balances)
