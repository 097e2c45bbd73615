"""Which real threads the scheduler controls right now.

Hooks and the patched primitives ask one question on their hot path: "is the calling thread a
controlled worker of a live run, and if so whose?" This module answers it with a dict keyed by
`threading.get_ident()`, kept apart so that hooks, primitives and the executor can all import
it without importing each other.
"""

from __future__ import annotations

from _thread import get_ident
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.runtime.worker import Worker as Agent

_CONTROLLED: dict[int, Agent] = {}
_OWNER: list[Any] = []  # [world] while a World is active


def set_owner_world(world: Any) -> None:
    """Record the active World (None when it exits), for primitives on the test thread."""
    _OWNER[:] = [] if world is None else [world]


def owner_clock() -> Any:
    """The virtual clock, if the calling thread is the World's owner running model code."""
    if _OWNER:
        world = _OWNER[0]
        if world.in_model and world.owner == get_ident():
            return world.clock
    return None


def free_world() -> Any:
    """The active World, if the calling thread is one of its free-running (stress) threads."""
    if _OWNER:
        world = _OWNER[0]
        if get_ident() in world.free_threads:
            return world
    return None


def controlled_thread() -> Agent | None:
    """The agent of the calling thread if a live run controls it, else None."""
    return _CONTROLLED.get(get_ident())


def unwinding() -> bool:
    """Whether the calling thread's run is being unwound (a hang was found): an exception a
    call raises now comes from the unwinding (a ``finally`` that re-acquires a lock, say),
    not from the code under test, and no later call of the thread should run."""
    agent = _CONTROLLED.get(get_ident())
    run = agent.run if agent is not None else None
    return bool(run is not None and run.aborting)


def controlled_threads() -> dict[int, Agent]:
    """The live registry by thread ident, for hook callbacks that cannot afford a call."""
    return _CONTROLLED


def register(ident: int, agent: Agent) -> None:
    _CONTROLLED[ident] = agent


def unregister(ident: int) -> None:
    _CONTROLLED.pop(ident, None)
