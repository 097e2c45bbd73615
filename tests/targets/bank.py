"""Accounts with a lock each: naive lock order deadlocks, ordered locking does not."""

from __future__ import annotations

import threading

from hypothesis import strategies as st

from harness.model import Model, invariant, operation


class Bank:
    def __init__(self, accounts: int, ordered: bool) -> None:
        self.balances = [100] * accounts
        self.locks = [threading.Lock() for _ in range(accounts)]
        self.ordered = ordered

    def transfer(self, src: int, dst: int, amount: int) -> None:
        first, second = (min(src, dst), max(src, dst)) if self.ordered else (src, dst)
        with self.locks[first], self.locks[second]:
            self.balances[src] -= amount
            self.balances[dst] += amount


class BankModel(Model):
    name = "bank-test"
    variants = {"naive": "locks taken in argument order", "ordered": "locks taken in id order"}
    expect_failure = ("naive",)
    instrument = ("tests.targets.bank",)
    max_workers = 3
    max_ops_per_worker = 2

    def setup(self) -> None:
        self.bank = Bank(2, ordered=self.variant == "ordered")

    @operation(src=st.integers(0, 1), amount=st.integers(1, 5))
    def transfer(self, src: int, amount: int) -> None:
        self.bank.transfer(src, 1 - src, amount)

    @invariant()
    def money_is_conserved(self) -> None:
        total = sum(self.bank.balances)
        assert total == 200, f"total balance is {total}, not 200"
