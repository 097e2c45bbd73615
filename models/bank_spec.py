"""Harness model of `harness_gallery.bank`: money is conserved, and transfers never deadlock."""

from __future__ import annotations

from hypothesis import strategies as st

from harness.model import Model, invariant, operation
from harness_gallery.bank import Bank

ACCOUNTS = 3


class BankModel(Model):
    name = "bank"
    summary = "transfers with per-account locks: naive lock order deadlocks (the cycle is shown)"
    variants = {"naive": "locks taken in argument order", "ordered": "locks taken by account id"}
    expect_failure = ("naive",)
    instrument = ("harness_gallery.bank",)
    max_workers = 4
    points_per_operation = {"gil": 12, "access": 40, "opcode": 80}

    def setup(self) -> None:
        self.bank = Bank(ACCOUNTS, ordered=self.variant == "ordered")

    @operation(
        src=st.integers(0, ACCOUNTS - 1),
        dst=st.integers(0, ACCOUNTS - 1),
        amount=st.integers(1, 60),
        # verify: opposite transfers between two accounts are what can deadlock.
        domain={"src": (0, 1), "dst": (0, 1), "amount": (1,)},
    )
    def transfer(self, src: int, dst: int, amount: int) -> bool:
        return self.bank.transfer(src, dst, amount)

    @invariant()
    def money_is_conserved(self) -> None:
        total = self.bank.total()
        assert total == 100 * ACCOUNTS, f"total balance is {total}, not {100 * ACCOUNTS}"

    @invariant()
    def no_overdraft(self) -> None:
        assert min(self.bank.balances) >= 0, f"negative balance: {self.bank.balances}"
