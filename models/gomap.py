"""A mapping that fails the way a Go map does when two goroutines use it at once.

Why this exists: a Python dict never complains about concurrent use. Two threads doing
``d[k] = d.get(k, 0) + 1`` simply lose one update, silently. Go's runtime instead keeps a
``hashWriting`` flag in every map and throws ``fatal error: concurrent map writes`` when it sees
two operations overlap -- that is exactly how TiDB issue 25778 surfaced. `GoMap` follows the same
protocol, so a model that uses it turns a silent lost update into a named, deterministic failure
(under a controlled scheduler the overlap either happens or it does not, every time).

The protocol (Go's ``runtime/map.go``):

* a write first checks the flag (set -> "concurrent map writes"), sets it, performs the write,
  re-checks the flag (cleared by someone else -> "concurrent map writes"), then clears it;
* a lookup that sees the flag set fails with "concurrent map read and map write";
* an iteration step that sees the flag set fails with "concurrent map iteration and map write".

Like Go's check it is best effort: it only fires when two operations really overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Final, Generic, TypeVar, overload

__all__ = [
    "CONCURRENT_MAP_ITERATION_AND_WRITE",
    "CONCURRENT_MAP_READ_AND_WRITE",
    "CONCURRENT_MAP_WRITES",
    "ConcurrentMapWrites",
    "GoMap",
]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
R = TypeVar("R")

#: Go's messages, verbatim (``runtime.throw`` arguments in ``runtime/map.go``).
CONCURRENT_MAP_WRITES: Final = "concurrent map writes"
CONCURRENT_MAP_READ_AND_WRITE: Final = "concurrent map read and map write"
CONCURRENT_MAP_ITERATION_AND_WRITE: Final = "concurrent map iteration and map write"

_MISSING: Final = object()


class ConcurrentMapWrites(RuntimeError):
    """Go's ``fatal error: concurrent map writes`` (or its read / iteration siblings).

    In Go this is unrecoverable and kills the process; here it is an ordinary exception so that
    the harness can catch it in the worker thread and report it as the failure it found. The
    message is always exactly one of Go's three texts, so it can be matched on.
    """


def _apply(op: Callable[..., R], *args: Any) -> R:
    """Perform the raw dict operation inside a write window.

    Why a separate Python function: the deterministic scheduler can only switch threads at
    scheduling points, and at the coarsest ("gil") granularity those are function entry, the
    instruction after a call returns and backward jumps. A plain ``self._data[key] = value``
    between setting and re-checking the flag contains none of them, so two writes could never be
    seen to overlap. Calling through this helper puts a function entry (and a call return) inside
    the window, which is also where a real GIL build can switch threads during a write.
    """
    return op(*args)


class GoMap(MutableMapping[K, V], Generic[K, V]):
    """A `MutableMapping` over a plain dict that enforces Go's concurrent-map check.

    Not a dict subclass on purpose: every access must go through the checks below, and a dict
    subclass would let C code (``dict.update``, ``copy``, ``==``) bypass them.

    `_data` holds the entries and `_writing` is Go's ``hashWriting`` flag. Only the flag protocol
    is emulated, not Go's memory model: a Go map may additionally corrupt itself on a race; this
    one merely reports it.
    """

    __slots__ = ("_data", "_writing")

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = (), /) -> None:
        self._data: dict[K, V] = dict(data)
        self._writing = False

    # -- the write protocol ------------------------------------------------------------------

    def _write(self, op: Callable[..., R], *args: Any) -> R:
        """Run one write under Go's ``hashWriting`` protocol and return its result.

        The flag is set before and checked after the write; the write itself is a call (see
        `_apply`) so that another thread can be scheduled inside the window. If the dict
        operation itself fails (``KeyError`` from ``del``), the flag is cleared before the error
        propagates: that is a usage error of this thread, not a race, and must not poison the map.
        """
        if self._writing:
            raise ConcurrentMapWrites(CONCURRENT_MAP_WRITES)
        self._writing = True
        try:
            result = _apply(op, *args)
        except BaseException:
            self._writing = False
            raise
        if not self._writing:
            # Someone else finished a write (and cleared the flag) while ours was in progress.
            raise ConcurrentMapWrites(CONCURRENT_MAP_WRITES)
        self._writing = False
        return result

    def __setitem__(self, key: K, value: V) -> None:
        self._write(dict.__setitem__, self._data, key, value)

    def __delitem__(self, key: K) -> None:
        self._write(dict.__delitem__, self._data, key)

    @overload
    def setdefault(self: GoMap[K, T | None], key: K, default: None = None, /) -> T | None: ...

    @overload
    def setdefault(self, key: K, default: V, /) -> V: ...

    def setdefault(self, key: K, default: Any = None, /) -> Any:
        """One write, like Go's ``mapassign`` (the mixin would do a read then a write)."""
        return self._write(dict.setdefault, self._data, key, default)

    @overload
    def pop(self, key: K, /) -> V: ...

    @overload
    def pop(self, key: K, default: V, /) -> V: ...

    @overload
    def pop(self, key: K, default: T, /) -> V | T: ...

    def pop(self, key: K, default: Any = _MISSING, /) -> Any:
        """One write (Go's ``mapdelete``), not the mixin's read-then-delete."""
        if default is _MISSING:
            return self._write(dict.pop, self._data, key)
        return self._write(dict.pop, self._data, key, default)

    def popitem(self) -> tuple[K, V]:
        """One write; LIFO like `dict.popitem`."""
        return self._write(dict.popitem, self._data)

    def clear(self) -> None:
        """One write (Go's ``clear(m)``), not a loop of deletes."""
        self._write(dict.clear, self._data)

    # -- reads -------------------------------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        if self._writing:
            raise ConcurrentMapWrites(CONCURRENT_MAP_READ_AND_WRITE)
        return self._data[key]

    @overload
    def get(self, key: K, /) -> V | None: ...

    @overload
    def get(self, key: K, default: V, /) -> V: ...

    @overload
    def get(self, key: K, default: T, /) -> V | T: ...

    def get(self, key: K, default: Any = None, /) -> Any:
        """Go's ``v, ok := m[k]``: a lookup, checked like every read."""
        if self._writing:
            raise ConcurrentMapWrites(CONCURRENT_MAP_READ_AND_WRITE)
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        if self._writing:
            raise ConcurrentMapWrites(CONCURRENT_MAP_READ_AND_WRITE)
        return key in self._data

    def __len__(self) -> int:
        """Not checked, exactly like Go: ``len(m)`` just reads the count field (``maplen``)."""
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        """Go's ``range m``: every step fails if a write is in progress.

        Go checks in ``mapiternext``, i.e. before producing each key (and not at all for an
        empty map), with its own message; a write that resizes the dict between two steps is
        additionally caught by Python's own "dictionary changed size during iteration".
        """
        for key in self._data:
            if self._writing:
                raise ConcurrentMapWrites(CONCURRENT_MAP_ITERATION_AND_WRITE)
            yield key

    def copy(self) -> GoMap[K, V]:
        """A new, independent map with the same entries (one checked read of the whole map)."""
        if self._writing:
            raise ConcurrentMapWrites(CONCURRENT_MAP_READ_AND_WRITE)
        return GoMap(self._data)

    # -- observer-only helpers (not part of Go's protocol) -----------------------------------

    def to_dict(self) -> dict[K, V]:
        """A plain-dict snapshot that never raises.

        For observers outside the program under test (invariant checks, reports), which must be
        able to look at the map even while a worker is parked inside a write window -- the way a
        debugger can inspect a Go map without tripping the runtime check.
        """
        return dict(self._data)

    def __eq__(self, other: object) -> bool:
        """Compare entries with another GoMap or any Mapping; unchecked, like `to_dict`."""
        if isinstance(other, GoMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """``GoMap({...})``; unchecked, so that failure reports can always print the map."""
        return f"GoMap({self._data!r})"
