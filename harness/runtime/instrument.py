"""Which code is instrumented, and the per-code point tables both hook backends share.

Only code whose file belongs to an instrumented module (or package) ever produces a scheduling
point. Everything else -- the harness, the stdlib, pytest -- runs at full speed and, seen from
the scheduler, atomically. Users name modules; we resolve them to files once, before any
thread starts, so a typo is a precise `UnknownModuleError` rather than a silent no-op.
"""

from __future__ import annotations

import importlib
import os
import types
from collections.abc import Iterable

from harness.errors import UnknownModuleError
from harness.runtime.points import Point, check_granularity, compute_points

# Instrumenting these would put scheduling points inside the scheduler's own machinery.
# `queue` is not among them: `queue.Queue` is plain Python over the harness's locks and
# conditions, so its own code may be interleaved (a plain-class hunt of it instruments it).
_FORBIDDEN = ("harness", "threading", "_thread", "time", "sys")


def _module_name(target: str | types.ModuleType) -> str:
    return target.__name__ if isinstance(target, types.ModuleType) else target


def resolve_modules(modules: Iterable[str | types.ModuleType]) -> dict[str, str]:
    """Map every file to instrument to its module name; a package brings its whole directory.

    Raises `UnknownModuleError` for a name that cannot be imported, has no source file, or is
    part of the harness or the primitives it replaces.
    """
    files: dict[str, str] = {}
    for target in modules:
        name = _module_name(target)
        if not isinstance(name, str) or not name:
            raise UnknownModuleError(f"module to instrument must be a dotted name, got {target!r}")
        root = name.split(".")[0]
        if root in _FORBIDDEN:
            raise UnknownModuleError(
                f"module {name!r} cannot be instrumented: it is part of the harness or of the "
                "threading primitives the harness controls"
            )
        try:
            module = (
                target if isinstance(target, types.ModuleType) else importlib.import_module(name)
            )
        except ImportError as exc:
            raise UnknownModuleError(
                f"module to instrument {name!r} cannot be imported: {exc}"
            ) from None
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py"):
            raise UnknownModuleError(
                f"module {name!r} has no Python source file to instrument (path: {path!r})"
            )
        path = os.path.realpath(path)
        if os.path.basename(path) == "__init__.py" and hasattr(module, "__path__"):
            package_dir = os.path.dirname(path)
            for folder, _dirs, names in os.walk(package_dir):
                for fname in names:
                    if fname.endswith(".py"):
                        full = os.path.join(folder, fname)
                        rel = os.path.relpath(full, package_dir)[:-3].replace(os.sep, ".")
                        sub = (
                            name if rel == "__init__" else f"{name}.{rel.removesuffix('.__init__')}"
                        )
                        files[full] = sub
        else:
            files[path] = name
    return files


class Instrumentation:
    """The instrumented files and the granularity, with lazily built per-code point tables.

    Tables are cached per code object; changing the file set or the granularity drops the
    cache, and the hook backend is told to re-arm the locations it had switched off.
    """

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.granularity = "access"
        # Tables by id(code), not by code: hashing a code object hashes its bytecode and
        # constants (about 0.6 us for a mid-sized function), too slow for a lookup at every
        # instruction. `_codes` keeps each code object alive while its table is cached, so its
        # id cannot be reused meanwhile (a dict keyed by code would not: equal code objects
        # of two functions share one key).
        self._by_id: dict[int, dict[int, Point] | None] = {}
        self._codes: dict[int, types.CodeType] = {}
        self._realpaths: dict[str, str | None] = {}
        self.generation = 0

    def configure(self, files: dict[str, str], granularity: str) -> bool:
        """Set what is instrumented; returns True when anything changed."""
        check_granularity(granularity)
        if files == self.files and granularity == self.granularity:
            return False
        self.files = dict(files)
        self.granularity = granularity
        self._by_id.clear()
        self._codes.clear()
        self.generation += 1
        return True

    def module_of(self, filename: str) -> str | None:
        """The instrumented module a code object's filename belongs to, or None."""
        try:
            real = self._realpaths[filename]
        except KeyError:
            real = os.path.realpath(filename) if filename and filename[0] != "<" else None
            self._realpaths[filename] = real
        return self.files.get(real) if real is not None else None

    @property
    def tables_by_id(self) -> dict[int, dict[int, Point] | None]:
        """The tables computed so far, by ``id(code)``: a live view (cleared in place when the
        instrumentation changes), for callbacks that look a table up on every instruction."""
        return self._by_id

    def table(self, code: types.CodeType) -> dict[int, Point] | None:
        """The points of `code` at the current granularity, or None if it is not instrumented."""
        try:
            return self._by_id[id(code)]
        except KeyError:
            module = self.module_of(code.co_filename)
            table = compute_points(code, module, self.granularity) if module else None
            self._codes[id(code)] = code
            self._by_id[id(code)] = table
            return table
