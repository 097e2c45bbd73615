"""What one step of a controlled thread may touch: the footprints partial-order reduction needs.

A *step* is what a thread executes from one scheduling point to its next one (or to blocking,
or to its end). Two steps of different threads *conflict* when swapping them could change
what happens: they touch the same location and one of them writes, or they use the same lock.
Systematic exploration (`harness.schedule.dfs`) only reorders conflicting steps; everything
else commutes, which is what lets it skip most interleavings and still see every outcome.

A footprint is a tuple of keys ``(space, obj, name, writes)``:

``attr``  ``obj.name`` (obj numbered in order of first appearance in the run);
``item``  ``obj[name]``, a container's contents (`ANY` name: any key of it);
``name``  a global or closure variable, by name alone (any two with the same name conflict);
``lock``  a harness lock, by its deterministic name (every use writes);
``model`` code outside the instrumented modules: the model's own bookkeeping, the worker
          bodies, callbacks -- treated as one shared location;
``clock`` virtual time (sleeps and timed waits write it, reading the time reads it);
``opaque`` something the runtime cannot see into: conflicts with every non-empty footprint.

Where the runtime cannot tell, it is conservative (`ANY` object or key, ``opaque``). What it
assumes, and documents in docs/systematic.md: values held only in local variables are private
to their thread; a constructor of an uninstrumented class touches only the new object; code
outside the instrumented modules shares state with the code under test only through calls
the instrumented code makes (its own state is the ``model`` location).

Everything here is computed only for runs that ask for it (`harness.runtime.observed`): the
ordinary hot path never looks at footprints.
"""

from __future__ import annotations

import _thread
import builtins
import collections
import dis
import enum
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from harness.runtime.points import (
    MISSING,
    Point,
    Recipe,
    _instructions,
    _simple_loads,
    evaluate,
)
from harness.runtime.points import instance_attr as _instance_attr
from harness.runtime.points import item_value as _item_value

#: Wildcard object or name: matches every object (or key).
ANY: Final = "*"

Key = tuple[str, Any, Any, bool]
Footprint = tuple[Key, ...]

OPAQUE: Final[Key] = ("opaque", ANY, ANY, True)
MODEL: Final[Key] = ("model", ANY, ANY, True)
CLOCK_WRITE: Final[Key] = ("clock", ANY, ANY, True)
CLOCK_READ: Final[Key] = ("clock", ANY, ANY, False)
ANY_CONTENTS_READ: Final[Key] = ("item", ANY, ANY, False)

_PY312: Final = sys.version_info >= (3, 12)
_PY313: Final = sys.version_info >= (3, 13)
_SCALARS = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset, range)
_CONTAINERS = (dict, list, set, bytearray, collections.deque)
#: Values whose methods are C code that reads nothing but the (immutable) value itself.
_ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None)})
#: Values compared, tested or combined by identity or by immutable contents only.
_IMMUTABLE = (enum.Enum, types.FunctionType, types.BuiltinFunctionType)
_CLASSES = frozenset({type, enum.EnumType})
_READ_METHODS = frozenset(
    {
        "get",
        "keys",
        "values",
        "items",
        "copy",
        "index",
        "count",
        "__contains__",
        "__len__",
        "__getitem__",
        "__iter__",
        "__reversed__",
        "issubset",
        "issuperset",
        "isdisjoint",
        "union",
        "intersection",
        "difference",
        "symmetric_difference",
    }
)
_BUILTIN_KINDS = (
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
)
#: Builtins that touch no shared state given scalar or immutable arguments.
_PURE_BUILTINS = frozenset(
    id(f)
    for f in (
        isinstance,
        issubclass,
        id,
        type,
        super,
        callable,
        abs,
        round,
        int,
        float,
        str,
        bool,
        hash,
        divmod,
        pow,
        chr,
        ord,
        object,
        range,
        # the calling thread's own identity: no state another thread can change
        _thread.get_ident,
        _thread.get_native_id,
    )
)
#: Builtins that read the contents of their first argument and nothing else.
_CONTENT_READERS = frozenset(
    id(f) for f in (len, sorted, sum, min, max, list, tuple, set, frozenset, any, all)
)


def conflict(a: Footprint, b: Footprint) -> bool:
    """Whether steps with footprints `a` and `b` can fail to commute."""
    if not a or not b:
        return False
    for s1, o1, n1, w1 in a:
        if s1 == "opaque":
            return True
        for s2, o2, n2, w2 in b:
            if s2 == "opaque":
                return True
            if s1 != s2 or not (w1 or w2):
                continue
            if (o1 is ANY or o2 is ANY or o1 == o2) and (n1 is ANY or n2 is ANY or n1 == n2):
                return True
    return False


def coarse(fp: Footprint) -> Footprint:
    """`fp` with object identities forgotten: comparable between two different executions
    (object numbers are per run, lock numbers per process), at the price of more
    conflicts."""
    return tuple((s, ANY, _site(n) if s == "lock" else n, w) for s, _o, n, w in fp)


def _site(lock_name: Any) -> Any:
    """A lock's name without its creation number (``Lock models.x:12#3`` -> ``Lock
    models.x:12``): the number counts every lock made there in the process, so it differs
    between two executions of the same scenario unless the numbering is reset."""
    return lock_name.rsplit("#", 1)[0] if isinstance(lock_name, str) else lock_name


# -- static shapes: what a point's step may do, read off the bytecode once -------------------

_JUMPS_UNCONDITIONAL = frozenset(
    {"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP", "JUMP_NO_INTERRUPT"}
)
_ENDS = frozenset(
    {"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE", "YIELD_VALUE", "RETURN_GENERATOR"}
)
_CONTENT_OPS = frozenset(
    {
        "BINARY_OP",
        "COMPARE_OP",
        "CONTAINS_OP",
        "GET_ITER",
        "UNARY_NOT",
        "UNARY_NEGATIVE",
        "UNARY_INVERT",
        "TO_BOOL",
        "UNPACK_SEQUENCE",
        "UNPACK_EX",
        "FORMAT_VALUE",
        "FORMAT_SIMPLE",
        "LIST_EXTEND",
        "SET_UPDATE",
        "DICT_UPDATE",
        "DICT_MERGE",
        "POP_JUMP_IF_TRUE",
        "POP_JUMP_IF_FALSE",
        "POP_JUMP_FORWARD_IF_TRUE",
        "POP_JUMP_FORWARD_IF_FALSE",
        "POP_JUMP_BACKWARD_IF_TRUE",
        "POP_JUMP_BACKWARD_IF_FALSE",
        "JUMP_IF_TRUE_OR_POP",
        "JUMP_IF_FALSE_OR_POP",
        "GET_LEN",
        "CALL_INTRINSIC_1",
        "LIST_TO_TUPLE",
    }
)
_PUSH1 = frozenset(
    {
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_BORROW",
        "LOAD_CONST",
        "LOAD_SMALL_INT",
        "LOAD_DEREF",
        "LOAD_CLOSURE",
        "LOAD_NAME",
        "PUSH_NULL",
        "COPY",
        "LOAD_ASSERTION_ERROR",
    }
)
_POP1 = frozenset({"POP_TOP", "STORE_FAST", "STORE_DEREF", "STORE_GLOBAL", "STORE_NAME"})
_NEUTRAL = frozenset({"NOP", "RESUME", "CACHE", "EXTENDED_ARG", "PRECALL", "KW_NAMES", "NOT_TAKEN"})
_BINARY = frozenset({"BINARY_OP", "BINARY_SUBSCR", "COMPARE_OP", "CONTAINS_OP", "IS_OP"})
_UNARY = frozenset(
    {
        "UNARY_NOT",
        "UNARY_NEGATIVE",
        "UNARY_INVERT",
        "TO_BOOL",
        "GET_ITER",
        "FORMAT_SIMPLE",
        "CONVERT_VALUE",
    }
)


def _stack_effect(ins: dis.Instruction) -> tuple[int, int] | None:  # noqa: C901, PLR0912 -- one case per opcode family
    """(items popped, items pushed) for the instructions argument expressions are made of;
    None for anything else (the caller then gives up on the expression)."""
    op, arg = ins.opname, ins.arg or 0
    if op in _PUSH1:
        return (0, 1)
    if op in _NEUTRAL:
        return (0, 0)
    if op in _POP1:
        return (1, 0)
    if op in _BINARY:
        return (2, 1)
    if op in _UNARY:
        return (1, 1)
    if op == "LOAD_FAST_LOAD_FAST":
        return (0, 2)
    if op == "LOAD_GLOBAL":
        return (0, 2 if arg & 1 else 1)
    if op == "LOAD_ATTR":
        return (1, 2 if _PY312 and arg & 1 else 1)
    if op == "LOAD_METHOD":
        return (1, 2)
    if op == "LOAD_SUPER_ATTR":
        return (3, 2 if arg & 1 else 1)
    if op in ("BUILD_TUPLE", "BUILD_LIST", "BUILD_SET", "BUILD_STRING"):
        return (arg, 1)
    if op == "BUILD_MAP":
        return (2 * arg, 1)
    if op == "BUILD_CONST_KEY_MAP":
        return (arg + 1, 1)
    if op == "CALL":
        return (arg + 2, 1)
    if op == "CALL_KW":
        return (arg + 3, 1)
    if op == "FORMAT_VALUE":
        return (2 if arg & 0x04 else 1, 1)
    if op == "MAKE_FUNCTION":  # a lambda passed as an argument; 3.13 sets its parts apart
        return (1 if _PY313 else 1 + bin(arg & 0x0F).count("1"), 1)
    if op == "SET_FUNCTION_ATTRIBUTE":
        return (2, 1)
    return None


@dataclass(frozen=True, slots=True)
class Shape:
    """What the step starting at one point may touch, as far as the bytecode tells.

    `callee` (calls only): ``("method", owner recipe, name)``, ``("global", name)``,
    ``("local", name)`` or None when the callable's expression is not a simple one. `arg0`:
    the first argument's expression, for builtins that read it. `value_effect`: the step goes
    on to iterate, compare, test or combine the value this point loads (``"read"`` or, for an
    in-place operator, ``"write"``). `iterates`: it advances some iterator (a ``for`` loop).
    `leaves`: it may return or raise out of its frame. `visible`: any of these, or an access
    or a call -- a step that is not visible touches only its own locals and needs no decision.
    """

    point: Point
    callee: tuple[Any, ...] | None = None
    arg0: Recipe | None = None
    value_effect: str | None = None
    iterates: bool = False
    leaves: bool = False
    visible: bool = True


def _pusher(instrs: list[dis.Instruction], end: int, depth: int, targets: set[int]) -> int | None:
    """Index of the instruction before `end` that pushed the stack item at `depth` (0 = top),
    walking back over straight-line code; None if that cannot be told."""
    pos = depth
    k = end - 1
    while k >= 0:
        if instrs[k + 1].offset in targets and k + 1 != end:
            return None
        effect = _stack_effect(instrs[k])
        if effect is None:
            return None
        pops, pushes = effect
        if pos < pushes:
            return k
        pos = pos - pushes + pops
        k -= 1
    return None


def _callee(
    instrs: list[dis.Instruction], i: int, targets: set[int]
) -> tuple[tuple[Any, ...] | None, Recipe | None]:
    ins = instrs[i]
    if ins.opname not in ("CALL", "CALL_KW"):
        return None, None
    argc = ins.arg or 0
    end = i
    while end > 0 and instrs[end - 1].opname in ("PRECALL", "KW_NAMES"):
        end -= 1
    top = 1 if ins.opname == "CALL_KW" else 0  # the kwnames tuple sits above the arguments
    arg0: Recipe | None = None
    if argc:
        k0 = _pusher(instrs, end, top + argc - 1, targets)
        if k0 is not None:
            arg0 = _expression(instrs, k0 + 1)
    k = _pusher(instrs, end, top + argc, targets)
    if k is not None and instrs[k].opname == "PUSH_NULL":
        k = _pusher(instrs, k, 0, targets)  # 3.13: [callable, NULL, args]
    if k is None:
        return None, arg0
    found = instrs[k]
    op = found.opname
    if op == "LOAD_GLOBAL":
        return ("global", found.argval), arg0
    if op in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_DEREF"):
        return ("local", found.argval), arg0
    if op in ("LOAD_ATTR", "LOAD_METHOD"):
        loads = _simple_loads(instrs, k)
        owner = loads[-1] if loads else None
        if owner is not None:
            return ("method", owner, found.argval), arg0
    return None, arg0


def _expression(instrs: list[dis.Instruction], end: int) -> Recipe | None:
    """The recipe of the expression pushed just before `end`: a simple load (`_simple_loads`),
    a subscript of two (``self.locks[first]``) or a tuple of them (``(src, dst)``)."""
    op = instrs[end - 1].opname if end > 0 else ""
    if op == "BINARY_SUBSCR":
        loads = _simple_loads(instrs, end - 1)
        if len(loads) >= 2 and loads[-2] is not None and loads[-1] is not None:
            return ("item", loads[-2], loads[-1])
        return None
    if op == "BUILD_TUPLE":
        n = instrs[end - 1].arg or 0
        loads = _simple_loads(instrs, end - 1)[-n:] if n else []
        if len(loads) == n and all(r is not None for r in loads):
            return ("tuple", *loads)
        return None
    loads = _simple_loads(instrs, end)
    return loads[-1] if loads else None


def with_managers(instrs: list[dis.Instruction]) -> dict[int, tuple[Any, ...]]:
    """For ``with`` statements on a simple expression: the entering ``BEFORE_WITH`` and the
    normal exits' ``__exit__(None, None, None)`` calls, as method calls on the manager.

    A ``return`` inside the block leaves through an exit call of its own, so a function
    can have several per manager; with one manager they are all its ``__exit__``, with more
    an exit is one of theirs (``("exits", managers...)``: harmless if all are locks)."""
    found: dict[int, tuple[Any, ...]] = {}
    managers: list[Recipe | None] = []
    for k, ins in enumerate(instrs):
        if ins.opname == "BEFORE_WITH":
            manager = _expression(instrs, k)
            managers.append(manager)
            if manager is not None:
                found[k] = ("method", manager, "__enter__")
        elif ins.opname == "CALL" and ins.arg == 2 and managers and None not in managers:
            end = k
            while end > 0 and instrs[end - 1].opname == "PRECALL":
                end -= 1
            nones = [i.opname == "LOAD_CONST" and i.argval is None for i in instrs[end - 3 : end]]
            if len(nones) == 3 and all(nones):
                unique = list(dict.fromkeys(managers))
                one = len(unique) == 1
                found[k] = ("method", unique[0], "__exit__") if one else ("exits", *unique)
    return found


def _value_effect(instrs: list[dis.Instruction], i: int, points: dict[int, Point]) -> str | None:
    """Whether the value instruction `i` loads is then consumed by an operator that looks
    inside it (``in``, iteration, comparison, truth test, ``+=``...)."""
    depth = 0
    for ins in instrs[i + 1 : i + 12]:
        if ins.offset in points:
            return None
        op = ins.opname
        if op == "SWAP":
            n = ins.arg or 0
            depth = n - 1 if depth == 0 else 0 if depth == n - 1 else depth
            continue
        effect = _stack_effect(ins)
        if op in _CONTENT_OPS:
            pops = effect[0] if effect is not None else 1
            if depth < pops:
                inplace = op == "BINARY_OP" and ins.argrepr.endswith("=")
                return "write" if inplace else "read"
            if effect is None:
                return None
        if effect is None:
            return None
        pops, pushes = effect
        if depth < pops:
            return None  # stored or passed on without being looked into
        depth = depth - pops + pushes
    return None


def _tail(
    instrs: list[dis.Instruction], i: int, points: dict[int, Point], index: dict[int, int]
) -> tuple[bool, bool]:
    """(iterates, leaves) for every path from instruction `i` to the next point."""
    iterates = leaves = False
    seen: set[int] = set()
    todo = [i]
    while todo:
        k = todo.pop()
        ins = instrs[k]
        op = ins.opname
        successors: list[int] = []
        if op in _ENDS:
            leaves = True
        elif op in _JUMPS_UNCONDITIONAL:
            target = index.get(ins.argval) if isinstance(ins.argval, int) else None
            if target is None:
                leaves = True
            else:
                successors.append(target)
        else:
            if op == "FOR_ITER":
                iterates = True
            if k + 1 < len(instrs):
                successors.append(k + 1)
            if "JUMP" in op or op in ("FOR_ITER", "SEND"):
                target = index.get(ins.argval) if isinstance(ins.argval, int) else None
                if target is not None:
                    successors.append(target)
        for s in successors:
            if s in seen or instrs[s].offset in points:
                continue
            seen.add(s)
            todo.append(s)
    return iterates, leaves


def compute_shapes(code: types.CodeType, points: dict[int, Point]) -> dict[int, Shape]:
    """The `Shape` of every point of `code` (``points`` is its table at the run's granularity)."""
    instrs = _instructions(code)
    index = {ins.offset: k for k, ins in enumerate(instrs)}
    targets = {ins.argval for ins in instrs if "JUMP" in ins.opname or ins.opname == "FOR_ITER"}
    targets = {t for t in targets if isinstance(t, int)}
    withs = with_managers(instrs)
    shapes: dict[int, Shape] = {}
    for offset, point in points.items():
        k = index.get(offset)
        if k is None:
            continue
        ins = instrs[k]
        callee = arg0 = None
        if point.kind == "call":
            callee, arg0 = _callee(instrs, k, targets)
            if callee is None and k in withs:
                callee = withs[k]
        effect = _value_effect(instrs, k, points) if point.kind == "read" else None
        # The point's own instruction runs first: a jump or a return goes where it goes.
        if ins.opname in _ENDS:
            iterates, leaves = False, True
        elif ins.opname in _JUMPS_UNCONDITIONAL:
            target = index.get(ins.argval) if isinstance(ins.argval, int) else None
            iterates, leaves = (False, True) if target is None else (False, False)
            if target is not None and instrs[target].offset not in points:
                iterates, leaves = _tail(instrs, target, points, index)
                iterates = iterates or instrs[target].opname == "FOR_ITER"
        else:
            iterates, leaves = (
                _tail(instrs, k, points, index)
                if k + 1 < len(instrs)
                else (
                    False,
                    True,
                )
            )
            if ins.opname == "FOR_ITER":
                iterates = True
        access = point.kind in ("read", "write", "delete", "call")
        visible = access or effect is not None or iterates or leaves
        shapes[offset] = Shape(point, callee, arg0, effect, iterates, leaves, visible)
    return shapes


class ShapeCache:
    """Shapes per code object, built on first use; code objects are kept alive meanwhile so
    that their ids are not reused."""

    def __init__(self, table_of: Callable[[types.CodeType], dict[int, Point] | None]) -> None:
        self._table_of = table_of
        self._by_id: dict[int, dict[int, Shape]] = {}
        self._codes: list[types.CodeType] = []

    def shape(self, code: types.CodeType, point: Point) -> Shape:
        shapes = self._by_id.get(id(code))
        if shapes is None:
            table = self._table_of(code) or {}
            shapes = self._by_id[id(code)] = compute_shapes(code, table)
            self._codes.append(code)
        found = shapes.get(point.offset)
        return found if found is not None else Shape(point)


# -- evaluating a shape at run time ---------------------------------------------------------


class Numbering:
    """Objects numbered in order of first appearance in one run (kept alive for the run)."""

    def __init__(self) -> None:
        self._numbers: dict[int, int] = {}
        self._alive: list[Any] = []

    def __call__(self, obj: Any) -> int:
        n = self._numbers.get(id(obj))
        if n is None:
            n = self._numbers[id(obj)] = len(self._numbers) + 1
            self._alive.append(obj)
        return n


def _safe_key(value: Any) -> Any:
    if type(value) in (int, str, bool, bytes, float, type(None)):
        return value
    return ANY


def _contents(value: Any, number: Numbering, writes: bool) -> Footprint:
    if value is MISSING:
        return (OPAQUE,)
    if isinstance(value, (*_SCALARS, *_IMMUTABLE)) or type(value) in _CLASSES:
        return ()
    if isinstance(value, _CONTAINERS):
        return (("item", number(value), ANY, writes),)
    return (OPAQUE,)


#: What a call turned out to be: keys to add once the step shows it did not enter
#: instrumented code directly, and whether the callee is Python code outside it.
CallEffect = tuple[Footprint, bool]
_NO_CALL: Final[CallEffect] = ((), False)


def _loaded_value(point: Point, frame: types.FrameType) -> Any:
    if point.kind != "read":
        return MISSING
    if point.owner is None:
        if point.key is None and "." not in point.target and "[" not in point.target:
            return frame.f_locals.get(point.target, frame.f_globals.get(point.target, MISSING))
        return MISSING
    owner = evaluate(point.owner, frame)
    if owner is MISSING:
        return MISSING
    if point.key is not None:
        key = evaluate(point.key, frame)
        return MISSING if key is MISSING else _item_value(owner, key)
    if point.attr is not None:
        return static_attr(owner, point.attr)
    return MISSING


def access_keys(shape: Shape, frame: types.FrameType, number: Numbering) -> Footprint:
    """The keys of the point's own access (attribute, item, variable), evaluated now."""
    point = shape.point
    kind = point.kind
    keys: Footprint = ()
    if kind in ("read", "write", "delete"):
        writes = kind != "read"
        target = point.target
        if point.key is not None or "[" in target:
            owner = evaluate(point.owner, frame) if point.owner is not None else MISSING
            obj = ANY if owner is MISSING else number(owner)
            key: Any = ANY
            if point.key is not None:
                value = evaluate(point.key, frame)
                key = ANY if value is MISSING else _safe_key(value)
            keys = (("item", obj, key, writes),)
        elif point.owner is not None or "." in target:
            name = point.attr or target.rsplit(".", 1)[-1]
            owner = evaluate(point.owner, frame) if point.owner is not None else MISSING
            keys = (("attr", ANY if owner is MISSING else number(owner), name, writes),)
        else:
            keys = (("name", ANY, target, writes),)
    if shape.value_effect is not None:
        keys += _contents(_loaded_value(point, frame), number, shape.value_effect == "write")
    if shape.iterates:
        keys += (ANY_CONTENTS_READ,)
    return keys


def _code_of(fn: Any) -> types.CodeType | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        code = getattr(getattr(fn, "__func__", None), "__code__", None)
    return code if isinstance(code, types.CodeType) else None


_TRIVIAL_OPS = frozenset(
    {
        "RESUME",
        "NOP",
        "CACHE",
        "EXTENDED_ARG",
        "LOAD_CONST",
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "STORE_FAST",
        "POP_TOP",
        "RETURN_VALUE",
        "RETURN_CONST",
    }
)
_trivial_codes: dict[int, tuple[types.CodeType, bool]] = {}


def _trivial(code: types.CodeType) -> bool:
    """A function outside the instrumented modules that only moves its own locals about
    (``def no_sleep(seconds): pass``): calling it touches nothing shared."""
    known = _trivial_codes.get(id(code))
    if known is None or known[0] is not code:
        verdict = all(ins.opname in _TRIVIAL_OPS for ins in dis.get_instructions(code))
        known = _trivial_codes[id(code)] = (code, verdict)
    return known[1]


def _class_lookup(owner: Any, name: str) -> Any:
    for klass in type(owner).__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return MISSING


def static_attr(owner: Any, name: str) -> Any:
    """``owner.name`` without running user code: the instance dict or a slot, else, for a
    module or a class (an enum's members, a class constant), its namespace."""
    found = _instance_attr(owner, name)
    if found is not MISSING:
        return found
    if isinstance(owner, types.ModuleType):
        return vars(owner).get(name, MISSING)
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in klass.__dict__:
                value = klass.__dict__[name]
                return value if not hasattr(type(value), "__get__") else MISSING
    return MISSING


#: Evaluates a recipe against a frame; MISSING when its value cannot (or may not) be told.
Evaluator = Callable[[Recipe, types.FrameType], Any]


def resolve_callee(
    callee: tuple[Any, ...], frame: types.FrameType, value: Evaluator = evaluate
) -> tuple[Any, Any]:
    """``(callable, receiver)`` of a call site's callee expression, read from `frame` without
    running user code; the callable is MISSING when it cannot be told. The receiver is the
    object a method is looked up on (None for plain functions and for a callable stored on
    the instance, which is called without it)."""
    tag = callee[0]
    if tag == "method":
        receiver = value(callee[1], frame)
        if receiver is MISSING:
            return MISSING, None
        fn = static_attr(receiver, callee[2])
        if fn is not MISSING:
            return fn, None
        return _class_lookup(receiver, callee[2]), receiver
    if tag == "global":
        fn = frame.f_globals.get(callee[1], MISSING)
        return (vars(builtins).get(callee[1], MISSING) if fn is MISSING else fn), None
    return value(("local", callee[1]), frame), None


def call_effect(
    shape: Shape,
    frame: types.FrameType,
    number: Numbering,
    instrumented: Callable[[types.CodeType], bool],
    lock_type: type,
    value: Evaluator = evaluate,
) -> CallEffect:
    """What the callable of a call point will do, judged from its value now (no user code
    runs: only instance dicts, class dicts and locals are read)."""
    if shape.callee is None:
        return ((OPAQUE,), False)
    if shape.callee[0] == "exits":  # leaving one of several `with` blocks
        managers = [value(m, frame) for m in shape.callee[1:]]
        return _NO_CALL if all(isinstance(m, lock_type) for m in managers) else ((OPAQUE,), False)
    fn, receiver = resolve_callee(shape.callee, frame, value)
    if fn is MISSING:
        return ((OPAQUE,), False)
    if isinstance(receiver, lock_type):
        return _NO_CALL  # its acquire and release are scheduling points of their own
    if isinstance(fn, (staticmethod, classmethod)):
        fn = fn.__func__
    code = _code_of(fn)
    if code is not None:
        return _python_effect(fn, code, receiver, number, instrumented)
    if isinstance(fn, type):
        return _NO_CALL  # a new object: assumed to touch only itself
    if isinstance(fn, _BUILTIN_KINDS):
        return _builtin_effect(fn, receiver, shape, frame, number, value)
    return ((OPAQUE,), False)


def in_package(module: str, package: str) -> bool:
    """Whether `module` is `package` or one of its submodules (``harness_gallery`` is not
    in ``harness``)."""
    return module == package or module.startswith(package + ".")


def _python_effect(
    fn: Any,
    code: types.CodeType,
    receiver: Any,
    number: Numbering,
    instrumented: Callable[[types.CodeType], bool],
) -> CallEffect:
    """A call of Python code: nothing if it is instrumented (its steps are seen), else what
    the stdlib primitives and the harness's time functions do, else "Python code outside"."""
    if instrumented(code):
        return _NO_CALL
    module = getattr(fn, "__module__", "") or ""
    if module in ("threading", "queue"):
        # A primitive built on harness locks: its state is guarded by them, but a reader
        # such as Event.is_set does not lock, so the object counts as written.
        return ((("item", number(receiver), ANY, True),) if receiver is not None else (), False)
    if in_package(module, "harness"):
        return ((CLOCK_READ,), False)  # the patched time functions
    if _trivial(code):
        return _NO_CALL
    # Python code outside: the model's state (the caller adds that location), and it may
    # read the virtual clock through the patched time functions, which nothing here sees.
    return ((CLOCK_READ,), True)


def _builtin_effect(
    fn: Any,
    receiver: Any,
    shape: Shape,
    frame: types.FrameType,
    number: Numbering,
    value: Evaluator,
) -> CallEffect:
    """A call of C code: a container's method reads or writes its contents, a method of an
    immutable scalar or a pure builtin touches nothing, a content reader reads its argument."""
    bound = receiver if receiver is not None else getattr(fn, "__self__", None)
    if isinstance(bound, _CONTAINERS):
        name = shape.callee[2] if receiver is not None and shape.callee else fn.__name__
        return ((("item", number(bound), ANY, name not in _READ_METHODS),), False)
    if type(bound) in _ATOMS or id(fn) in _PURE_BUILTINS:
        return _NO_CALL
    if id(fn) in _CONTENT_READERS and shape.arg0 is not None:
        return (_contents(value(shape.arg0, frame), number, False), False)
    return ((OPAQUE,), False)
