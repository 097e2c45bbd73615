"""An instrumented trampoline: the only code a model of `opaque` gives scheduling points to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def call(fn: Callable[[], Any]) -> Any:
    return fn()


def fail(message: str) -> None:
    """Raises out of an instrumented frame: the model gate must see the frame unwind."""
    raise ValueError(message)


def countdown(n: int) -> Iterator[int]:
    """A generator in instrumented code: every resume enters it, every yield leaves it."""
    while n > 0:
        yield n
        n -= 1
