"""Real primitives the code under test bound at import time, swapped for the World's duration.

Patching `threading.Lock` and `time.monotonic` is not enough for real code: stdlib and PyPI
modules often bind the factories at import (``from _thread import RLock``, ``from threading
import Lock``, ``from time import monotonic``) or as a default argument (``def __init__(self,
timer=time.monotonic)``). An object built inside the World from such a module would get a real
C lock (a worker blocking on it escapes the scheduler) or the real clock. So, for every
instrumented module, module globals and default arguments of its functions (and of the
methods of its classes) that hold one of the real objects are pointed at the World's
replacement while the World is active, and put back when it is left.

Which places to swap is found once per set of modules (a scan of their globals), so each
example pays only for the assignments.
"""

from __future__ import annotations

import _thread
import sys
import threading
import types
from collections.abc import Iterable, Mapping
from typing import Any

#: A place holding a real primitive: (module globals dict, name) or (function, default index,
#: keyword-only name or None).
_Site = tuple[Any, ...]
_scans: dict[tuple[str, ...], list[_Site]] = {}

_REAL_RLOCK = getattr(_thread, "RLock", None)


def real_to_controlled(real_time: Mapping[str, Any]) -> dict[int, Any]:
    """id(real object) -> its controlled replacement, read from the patched modules (so call
    it while the World is active)."""
    import time

    mapping: dict[int, Any] = {id(real): getattr(time, name) for name, real in real_time.items()}
    mapping[id(_thread.allocate_lock)] = threading.Lock
    if _REAL_RLOCK is not None:
        mapping[id(_REAL_RLOCK)] = threading._PyRLock  # type: ignore[attr-defined]
    return mapping


def _functions(module: types.ModuleType) -> Iterable[types.FunctionType]:
    for value in list(vars(module).values()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            yield value
        elif isinstance(value, type) and value.__module__ == module.__name__:
            for member in list(vars(value).values()):
                func = getattr(member, "__func__", member)
                if isinstance(func, types.FunctionType):
                    yield func


def _scan(modules: tuple[str, ...], real: dict[int, Any]) -> list[_Site]:
    sites: list[_Site] = []
    for name in modules:
        module = sys.modules.get(name)
        if module is None:
            continue
        namespace = vars(module)
        sites += [("global", namespace, key) for key, v in namespace.items() if id(v) in real]
        for func in _functions(module):
            for index, value in enumerate(func.__defaults__ or ()):
                if id(value) in real:
                    sites.append(("default", func, index))
            for key, value in (func.__kwdefaults__ or {}).items():
                if id(value) in real:
                    sites.append(("kwdefault", func, key))
    return sites


class Rebinding:
    """The swaps made for one World; `undo` puts every real object back."""

    def __init__(self, modules: Iterable[str], real_time: Mapping[str, Any]) -> None:
        mapping = real_to_controlled(real_time)
        key = tuple(sorted(set(modules)))
        sites = _scans.get(key)
        if sites is None:
            sites = _scans[key] = _scan(key, mapping)
        self._undo: list[tuple[_Site, Any]] = []
        for site in sites:
            current = _read(site)
            replacement = mapping.get(id(current))
            if replacement is not None:
                self._undo.append((site, current))
                _write(site, replacement)

    @property
    def count(self) -> int:
        """How many places were swapped."""
        return len(self._undo)

    def undo(self) -> None:
        for site, real in reversed(self._undo):
            _write(site, real)
        self._undo.clear()


def _read(site: _Site) -> Any:
    tag, owner, key = site
    if tag == "global":
        return owner.get(key)
    if tag == "default":
        return owner.__defaults__[key]
    return owner.__kwdefaults__[key]


def _write(site: _Site, value: Any) -> None:
    tag, owner, key = site
    if tag == "global":
        owner[key] = value
    elif tag == "default":
        defaults = list(owner.__defaults__)
        defaults[key] = value
        owner.__defaults__ = tuple(defaults)
    else:
        owner.__kwdefaults__[key] = value
