"""Property-based stress tests for objects shared between threads.

Hypothesis draws operations and interleavings; the controlled runtime (`harness.runtime`)
executes them on real threads, one at a time, switching only at the drawn decisions
(`harness.schedule`), and records what happened (`harness.runtime.trace`).

The public API, importable from here::

    from harness import Model, invariant, operation
    from harness import hunt_class       # a plain class, no model: hunt_class(LRUCache, args=(3,))
    from harness import explore          # one scenario of callables: explore(setup=, workers=)
    from harness.hunt import hunt       # (`harness.hunt` is also the module's name)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as type checkers should see them (they load lazily, below)
    from harness.artifact import load
    from harness.exploration import ExploreResult, explore, replay_explore
    from harness.hunt import HuntResult
    from harness.model import Model, invariant, operation
    from harness.plain import hunt_class
    from harness.replay import replay_artifact

__version__ = "0.1.0"

# Resolved on first use, so that importing one submodule (the runtime, say) does not pull in
# Hypothesis and the whole stack through this package's __init__.
_PUBLIC = {
    "Model": "harness.model",
    "operation": "harness.model",
    "invariant": "harness.model",
    "HuntResult": "harness.hunt",
    "hunt_class": "harness.plain",
    "explore": "harness.exploration",
    "replay_explore": "harness.exploration",
    "ExploreResult": "harness.exploration",
    "replay_artifact": "harness.replay",
    "load": "harness.artifact",
}

__all__ = [
    "ExploreResult",
    "HuntResult",
    "Model",
    "__version__",
    "explore",
    "hunt_class",
    "invariant",
    "load",
    "operation",
    "replay_artifact",
    "replay_explore",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(import_module(module), name)
