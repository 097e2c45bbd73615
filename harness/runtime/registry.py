"""Which real threads the scheduler controls right now.

Hooks and the patched primitives ask one question on their hot path: "is the calling thread a
controlled worker of a live run, and if so whose?" This module answers it with a dict keyed by
`threading.get_ident()`, kept apart so that hooks, primitives and the executor can all import
it without importing each other.
"""

from __future__ import annotations

from _thread import get_ident
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.runtime.worker import Worker as Agent

_CONTROLLED: dict[int, Agent] = {}


def controlled_thread() -> Agent | None:
    """The agent of the calling thread if a live run controls it, else None."""
    return _CONTROLLED.get(get_ident())


def register(ident: int, agent: Agent) -> None:
    _CONTROLLED[ident] = agent


def unregister(ident: int) -> None:
    _CONTROLLED.pop(ident, None)
