"""Models for `harness verify`'s input checks: argument domains it can and cannot derive."""

from __future__ import annotations

from hypothesis import strategies as st

from harness.model import Model, invariant, operation
from tests.targets.counters import DictCounter


class Token:
    """No value equality: two draws are never the same value."""


class OpaqueArgumentModel(Model):
    name = "opaque-argument"
    instrument = ("tests.targets.counters",)

    def setup(self) -> None:
        self.counter = DictCounter()

    @operation(token=st.builds(Token))
    def incr(self, token: Token) -> None:
        self.counter.incr()


class DeclaredDomainModel(Model):
    """An operation with its verify domain declared: keys the strategy would not draw first."""

    name = "declared-domain"
    instrument = ("tests.targets.counters",)

    def setup(self) -> None:
        self.counter = DictCounter()

    @operation(key=st.text(), domain={"key": ("x", "y")})
    def incr_key(self, key: str) -> None:
        self.counter.incr(key)

    @invariant()
    def only_declared_keys(self) -> None:
        assert set(self.counter.d) <= {"k", "x", "y"}, sorted(self.counter.d)
