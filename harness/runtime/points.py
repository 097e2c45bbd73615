"""Where a controlled thread may be preempted, decided once per code object.

A *scheduling point* is an instruction before which the scheduler may hand the CPU to another
thread. Which instructions qualify is the granularity:

``gil``
    Only where a GIL build of CPython can actually switch threads: function entry, the
    instruction right after a call returns, and backward jumps. A race that shows up here can
    happen on any stock CPython.
``access``
    The ``gil`` points plus every attribute, subscript, global and closure-cell load or store
    and every call: the places where a free-threaded build can interleave. The default.
``opcode``
    Every instruction. The most thorough, and the slowest.

Line granularity is deliberately absent: a read-modify-write inside one line (``self.n += 1``)
can never be split at line boundaries, so a line-level scheduler misses the very bugs we hunt.

Points are computed statically from the bytecode with `dis`, so a hook only has to look an
offset up in a dict. Each point also carries a static description of what it touches
(``self.total_sleep``, ``self.backoff_sleep_ms[name]``) and, where it costs nothing but a local
variable lookup, a recipe to read the key and value at run time for the trace.
"""

from __future__ import annotations

import dis
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from harness.errors import UnknownGranularityError

GRANULARITIES: Final = ("gil", "access", "opcode")
DEFAULT_GRANULARITY: Final = "access"

_CALLS = frozenset({"CALL", "CALL_KW", "CALL_FUNCTION_EX", "BEFORE_WITH", "BEFORE_ASYNC_WITH"})
_BACK_JUMPS = frozenset({"JUMP_BACKWARD"})
_ATTR_READ = frozenset({"LOAD_ATTR", "LOAD_METHOD", "LOAD_SUPER_ATTR"})
_ATTR_WRITE = frozenset({"STORE_ATTR"})
_ATTR_DELETE = frozenset({"DELETE_ATTR"})
_ITEM_READ = frozenset({"BINARY_SUBSCR", "BINARY_SLICE"})
_ITEM_WRITE = frozenset({"STORE_SUBSCR", "STORE_SLICE"})
_ITEM_DELETE = frozenset({"DELETE_SUBSCR"})
_NAME_READ = frozenset(
    {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_DEREF"}
)
_NAME_WRITE = frozenset({"STORE_GLOBAL", "STORE_NAME", "STORE_DEREF"})
_NAME_DELETE = frozenset({"DELETE_GLOBAL", "DELETE_NAME", "DELETE_DEREF"})


def check_granularity(granularity: str) -> str:
    """Return `granularity` if it is one we support, else raise a precise error."""
    if granularity not in GRANULARITIES:
        raise UnknownGranularityError(
            f"unknown granularity {granularity!r}: choose one of {', '.join(GRANULARITIES)}"
        )
    return granularity


# A recipe to evaluate a simple expression from a frame without running user code:
# ("local", name) | ("global", name) | ("const", value) | ("attr", recipe, name).
Recipe = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Point:
    """One scheduling point: a place in the instrumented code, and what happens there.

    `kind` is what the instruction does: ``read``/``write``/``delete`` of an attribute, item or
    name, ``call``, ``entry``, ``return`` (just after a call returned), ``loop`` (backward
    jump) or ``op`` (any other instruction, opcode granularity only). `target` is a readable
    description of the accessed location (``self.n``, ``self.d[k]``, ``counter``).
    """

    module: str
    line: int
    offset: int
    opname: str
    kind: str
    target: str
    owner: Recipe | None = None
    key: Recipe | None = None
    attr: str | None = None

    @property
    def location(self) -> str:
        return f"{self.module}:{self.line}"


def _expr_text(recipe: Recipe | None) -> str:
    if recipe is None:
        return "?"
    tag = recipe[0]
    if tag in ("local", "global"):
        return str(recipe[1])
    if tag == "const":
        return repr(recipe[1])
    return f"{_expr_text(recipe[1])}.{recipe[2]}"


def _simple_loads(instrs: list[dis.Instruction], end: int) -> list[Recipe | None]:
    """Rebuild the expressions pushed by the simple loads that end just before `end`.

    Only plain variable/constant loads and attribute chains on them are understood; anything
    else stops the walk. The result lists expressions oldest first, so ``[..., owner, key]``.
    """
    stack: list[Recipe | None] = []
    start = end
    while start > 0 and instrs[start - 1].opname in (
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_LOAD_FAST",
        "LOAD_CONST",
        "LOAD_GLOBAL",
        "LOAD_DEREF",
        "LOAD_ATTR",
        "COPY",
    ):
        start -= 1
        if start < end - 6:
            break
    for ins in instrs[start:end]:
        op = ins.opname
        if op in ("LOAD_FAST", "LOAD_FAST_CHECK"):
            stack.append(("local", ins.argval))
        elif op == "LOAD_FAST_LOAD_FAST":
            first, second = ins.argval
            stack.extend([("local", first), ("local", second)])
        elif op == "LOAD_CONST":
            stack.append(("const", ins.argval))
        elif op == "LOAD_GLOBAL":
            stack.append(("global", ins.argval))
        elif op == "LOAD_DEREF":
            stack.append(("local", ins.argval))
        elif op == "LOAD_ATTR":
            owner = stack.pop() if stack else None
            stack.append(("attr", owner, ins.argval) if owner is not None else None)
        elif op == "COPY":
            depth = int(ins.argval)
            stack.append(stack[-depth] if len(stack) >= depth else None)
    return stack


def _augmented_read(instrs: list[dis.Instruction], i: int, reads: frozenset[str]) -> int | None:
    """For the store of ``x.a += 1`` / ``d[k] += 1`` (preceded by SWAP), the matching read."""
    if i == 0 or instrs[i - 1].opname != "SWAP":
        return None
    for j in range(i - 1, max(-1, i - 16), -1):
        if instrs[j].opname in reads and instrs[j].argval == instrs[i].argval:
            return j
    return None


def _describe(
    instrs: list[dis.Instruction], i: int
) -> tuple[str, str, Recipe | None, Recipe | None]:
    """Classify instruction `i`: (kind, target text, owner recipe, key recipe)."""
    ins = instrs[i]
    op = ins.opname
    if op in _ATTR_READ or op in _ATTR_WRITE or op in _ATTR_DELETE:
        kind = "read" if op in _ATTR_READ else "write" if op in _ATTR_WRITE else "delete"
        read = _augmented_read(instrs, i, _ATTR_READ) if kind == "write" else None
        exprs = _simple_loads(instrs, i if read is None else read)
        owner = exprs[-1] if exprs else None
        name = ins.argval if isinstance(ins.argval, str) else str(ins.argval)
        return kind, f"{_expr_text(owner)}.{name}", owner, None
    if op in _ITEM_READ or op in _ITEM_WRITE or op in _ITEM_DELETE:
        kind = "read" if op in _ITEM_READ else "write" if op in _ITEM_WRITE else "delete"
        read = _augmented_read(instrs, i, _ITEM_READ) if kind == "write" else None
        exprs = _simple_loads(instrs, i if read is None else read)
        if op in ("BINARY_SLICE", "STORE_SLICE"):
            return kind, "[:]", None, None
        key = exprs[-1] if exprs else None
        owner = exprs[-2] if len(exprs) >= 2 else None
        return kind, f"{_expr_text(owner)}[{_expr_text(key)}]", owner, key
    if op in _NAME_READ or op in _NAME_WRITE or op in _NAME_DELETE:
        kind = "read" if op in _NAME_READ else "write" if op in _NAME_WRITE else "delete"
        name = ins.argval if isinstance(ins.argval, str) else str(ins.argval)
        return kind, name, None, None
    if op in _CALLS:
        return "call", "", None, None
    return "op", "", None, None


def _demangled(target: str, qualname: str) -> str:
    """``self._Cache__size`` -> ``self.__size`` inside class ``Cache``: the name as the code
    writes it (Python stores it mangled; the trace and the explanation use the written one)."""
    head, dot, name = target.rpartition(".")
    for cls in qualname.split(".")[:-1]:
        prefix = f"_{cls.lstrip('_')}__"
        if name.startswith(prefix) and not name.endswith("__"):
            return f"{head}{dot}__{name[len(prefix) :]}"
    return target


def _is_access(opname: str) -> bool:
    return (
        opname in _ATTR_READ
        or opname in _ATTR_WRITE
        or opname in _ATTR_DELETE
        or opname in _ITEM_READ
        or opname in _ITEM_WRITE
        or opname in _ITEM_DELETE
        or opname in _NAME_READ
        or opname in _NAME_WRITE
        or opname in _NAME_DELETE
        or opname in _CALLS
    )


def _instructions(code: types.CodeType) -> list[dis.Instruction]:
    return [
        ins for ins in dis.get_instructions(code) if ins.opname not in ("CACHE", "EXTENDED_ARG")
    ]


def compute_points(code: types.CodeType, module: str, granularity: str) -> dict[int, Point]:
    """Map each scheduling-point offset of `code` to its `Point` at `granularity`.

    The first instruction after ``RESUME`` stands for function entry: neither hook reports the
    ``RESUME`` itself.
    """
    instrs = _instructions(code)
    table: dict[int, Point] = {}
    line = code.co_firstlineno
    gil_kinds: dict[int, str] = {}
    for i, ins in enumerate(instrs):
        if ins.opname == "RESUME" and i + 1 < len(instrs):
            gil_kinds.setdefault(instrs[i + 1].offset, "entry")
        elif ins.opname in _CALLS and i + 1 < len(instrs):
            gil_kinds.setdefault(instrs[i + 1].offset, "return")
        elif ins.opname in _BACK_JUMPS:
            gil_kinds.setdefault(ins.offset, "loop")
    for i, ins in enumerate(instrs):
        if ins.positions is not None and ins.positions.lineno is not None:
            line = ins.positions.lineno
        if ins.opname == "RESUME":
            continue
        access = granularity != "gil" and _is_access(ins.opname)
        if not (granularity == "opcode" or access or ins.offset in gil_kinds):
            continue
        kind, target, owner, key = _describe(instrs, i)
        if "__" in target:
            target = _demangled(target, code.co_qualname)
        if kind == "op" or (kind == "call" and granularity == "gil"):
            kind = gil_kinds.get(ins.offset, "op")
        attr = ins.argval if kind in ("read", "write", "delete") and owner and not key else None
        table[ins.offset] = Point(
            module=module,
            line=line,
            offset=ins.offset,
            opname=ins.opname,
            kind=kind,
            target=target,
            owner=owner,
            key=key,
            attr=attr if isinstance(attr, str) else None,
        )
    return table


def iter_code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    """`code` and every code object nested in it (functions, classes, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from iter_code_objects(const)


_SAFE_VALUE_TYPES = (int, float, str, bool, type(None), bytes)
_MISSING = object()


def safe_value(value: Any) -> Any:
    """A deterministic, JSON-friendly rendering of `value` that never runs user code.

    Small scalars are kept as they are; anything else becomes ``<TypeName>`` because its repr
    may contain a memory address (which would make traces differ between identical runs).
    """
    if isinstance(value, _SAFE_VALUE_TYPES) and type(value) in _SAFE_VALUE_TYPES:
        if isinstance(value, (str, bytes)) and len(value) > 60:
            return value[:57] + (b"..." if isinstance(value, bytes) else "...")  # type: ignore[operator]
        return value
    return f"<{type(value).__name__}>"


def evaluate(recipe: Recipe, frame: types.FrameType) -> Any:
    """Evaluate a recipe against `frame`, touching only instance dicts (no descriptors).

    Returns `_MISSING` when the value cannot be had without running user code.
    """
    tag = recipe[0]
    if tag == "const":
        return recipe[1]
    if tag == "local":
        return frame.f_locals.get(recipe[1], _MISSING)
    if tag == "global":
        return frame.f_globals.get(recipe[1], _MISSING)
    if tag == "tuple":  # only of plain scalars, whose comparisons run no user code
        items = tuple(evaluate(part, frame) for part in recipe[1:])
        return items if all(type(v) in _PLAIN_KEYS for v in items) else _MISSING
    owner = evaluate(recipe[1], frame)
    if owner is _MISSING:
        return _MISSING
    if tag == "item":
        key = evaluate(recipe[2], frame)
        return item_value(owner, key) if type(key) in _PLAIN_KEYS else _MISSING
    return instance_attr(owner, recipe[2])


#: Keys whose hashing and comparison run no user code.
_PLAIN_KEYS: Final = frozenset({int, str, bytes, bool, float, type(None)})


def instance_attr(owner: Any, name: str) -> Any:
    """``owner.name`` from the instance dict or a ``__slots__`` slot, else `_MISSING`.

    Neither runs user code: a dict lookup, or a C member descriptor.
    """
    try:
        namespace = object.__getattribute__(owner, "__dict__")
    except (AttributeError, TypeError):
        namespace = None
    if type(namespace) is dict and name in namespace:
        return namespace[name]
    for klass in type(owner).__mro__:
        slot = klass.__dict__.get(name)
        if slot is not None:
            if type(slot) is types.MemberDescriptorType:
                try:
                    return slot.__get__(owner, type(owner))
                except AttributeError:
                    return _MISSING
            return _MISSING
    return _MISSING


def item_value(container: Any, key: Any) -> Any:
    """``container[key]`` for plain dicts and lists only, else `_MISSING`."""
    kind = type(container)
    try:
        if kind is dict:
            return container.get(key, _MISSING)
        if kind is list and type(key) is int:
            return container[key]
    except (IndexError, TypeError):
        return _MISSING
    return _MISSING


MISSING: Final = _MISSING
PY312: Final = sys.version_info >= (3, 12)
