"""Hypothesis's draws made to depend on the hunt alone, not on what the process has imported.

Hypothesis (6.13x and later) sometimes draws a *constant* instead of a random value: one of its
own list, or one collected from the source of every "local" module (not stdlib, not
site-packages) that happens to be in ``sys.modules`` at that moment. For a test suite that is a
good bug-finding trick; for the harness it breaks determinism -- the same hunt with the same
seed found the first failure of ``cachetools.LRUCache`` at example 13 in a fresh interpreter
and nothing at all once an unrelated local module had been imported (a pytest worker that ran
other tests first). Every Hypothesis run of the harness therefore goes through `stable_draws`,
which leaves Hypothesis's own constants in place and hides the process's local ones.

It reaches into Hypothesis's internals (`providers._get_local_constants` and its cache of the
filtered pools); when a Hypothesis release no longer has them, nothing is patched and
tests/test_plain.py's process-history test says so by failing if draws depend on history again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import find as _hypothesis_find
from hypothesis.internal import constants_ast as _constants
from hypothesis.internal.conjecture import providers as _providers

T = TypeVar("T")

_lock = threading.Lock()
_depth = 0
_original: Callable[[], Any] | None = None


def _no_local_constants() -> Any:
    return _constants.Constants()


def _clear_pools() -> None:
    cache = getattr(_providers, "CONSTANTS_CACHE", None)
    if cache is not None:
        cache.cache.clear()


@contextmanager
def stable_draws() -> Iterator[None]:
    """While inside, Hypothesis draws no constant taken from the modules the process loaded.

    Re-entrant; the original behaviour is back once the outermost block exits (a user's own
    Hypothesis tests in the same process keep their local constants)."""
    global _depth, _original
    if not callable(getattr(_providers, "_get_local_constants", None)) or not hasattr(
        _constants, "Constants"
    ):
        yield  # a Hypothesis without local constants: nothing to hide
        return
    with _lock:
        if _depth == 0:
            _original = _providers._get_local_constants
            _providers._get_local_constants = _no_local_constants
            _clear_pools()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _original is not None:
                _providers._get_local_constants = _original
                _original = None
                _clear_pools()


#: How the simplest value meeting a condition is drawn (the minimiser's and `verify`'s small
#: argument domains): Hypothesis's own order, deterministically, no database.
SIMPLEST = settings(
    database=None,
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def find(strategy: Any, condition: Callable[[Any], bool], *, using: Any = SIMPLEST) -> Any:
    """Hypothesis's `find` under `stable_draws`: the simplest value meeting `condition`."""
    with stable_draws():
        return _hypothesis_find(strategy, condition, settings=using)
