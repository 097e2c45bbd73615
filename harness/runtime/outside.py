"""What code outside the instrumented modules may touch between two points of one thread.

Between two scheduling points a thread can leave the instrumented code: a method of the code
under test returns into the model's operation or a worker loop, which calls the next method.
Nothing reports the steps taken there, but the frames that ran them are known: the ones
between the two points' frames on the thread's stack (the frames returned from, the common
caller, the frames called into). `between` reads their bytecode instead of assuming they
touch everything:

* a function of the harness's scheduler (``harness.runtime``) touches nothing the model sees;
* the rest of the harness (a scenario's worker body) touches the round's history, the order
  of call starts and returns that linearizability checks. Only a return against another
  thread's start changes that order (call A precedes call B when A returned before B
  started); two starts, or two returns, of different threads commute. So a harness frame
  the thread called into is a call start, a read of the ``history`` location; one it
  returned from is a call return, a write of the thread's own ``history`` entry; the common
  caller of the two points (the worker loop between two calls) is both;
* an uninstrumented function touches, by the documented assumption, only state that is not
  the object under test's (``model`` locations, named by attribute, variable or "items"), plus
  what its calls do: a call of instrumented code is seen by its own points, a builtin is
  judged as in instrumented code (`harness.runtime.access.call_effect`), anything it cannot
  tell is the whole ``model`` location, as before.

A call's receiver is read now, after the call ran, so only values that cannot have changed
meanwhile are read: constants, module globals, arguments or closure variables the function
never rebinds, and attributes of those (``self.cache``). An attribute can be read now because
no other thread ran since the call: the steps between two points of one thread are atomic
under the controlled runtime, so only this stretch of code could have rebound it, and it is
read only if none of the frames on the path stores an attribute of that name (a call that
could rebind one without a store -- ``setattr``, Python code outside -- is the whole ``model``
location anyway, which no reading can make worse). Anything else counts as unknown.
"""

from __future__ import annotations

import dis
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from harness.runtime.access import (
    ANY,
    MODEL,
    Key,
    Numbering,
    Shape,
    _callee,
    _code_of,
    call_effect,
    in_package,
    resolve_callee,
    static_attr,
    with_managers,
)
from harness.runtime.points import MISSING, Point, Recipe, _instructions, evaluate, instance_attr

#: The round's history: every worker body's bookkeeping between calls (start and return order),
#: for a thread the caller does not name.
HISTORY: Final[Key] = ("history", ANY, ANY, True)
#: A call start: it reads whether the calls of other threads have returned.
CALL_START: Final[Key] = ("history", ANY, ANY, False)


def call_return(thread: int | None) -> Key:
    """A call return of `thread`: a write that only other threads' call starts conflict with."""
    return HISTORY if thread is None else ("history", ANY, f"returned:{thread}", True)


_SCHEDULER = "harness.runtime"
_PRIMITIVES = ("threading", "queue", "importlib")
_STORES = frozenset({"STORE_FAST", "DELETE_FAST", "STORE_DEREF", "DELETE_DEREF"})
_PAIRED_STORES = frozenset({"STORE_FAST_STORE_FAST", "STORE_FAST_LOAD_FAST"})
_READ_TAGS: Final = {
    "LOAD_ATTR": "attr",
    "LOAD_METHOD": "attr",
    "LOAD_SUPER_ATTR": "attr",
    "LOAD_GLOBAL": "name",
    "LOAD_NAME": "name",
    "LOAD_DEREF": "name",
    "LOAD_CLASSDEREF": "name",
    "LOAD_FROM_DICT_OR_DEREF": "name",
}
_WRITE_TAGS: Final = {
    "STORE_ATTR": "attr",
    "DELETE_ATTR": "attr",
    "STORE_GLOBAL": "name",
    "STORE_NAME": "name",
    "DELETE_GLOBAL": "name",
    "DELETE_NAME": "name",
    "STORE_DEREF": "name",
    "DELETE_DEREF": "name",
}
_ITEM_READS = frozenset(
    {"BINARY_SUBSCR", "BINARY_SLICE", "GET_ITER", "FOR_ITER", "CONTAINS_OP", "COMPARE_OP"}
)
_ITEM_WRITES = frozenset(
    {"STORE_SUBSCR", "STORE_SLICE", "DELETE_SUBSCR", "LIST_APPEND", "SET_ADD", "MAP_ADD"}
)
_CALLS = frozenset({"CALL", "CALL_KW"})
_UNKNOWN_CALLS = frozenset({"CALL_FUNCTION_EX", "BEFORE_WITH", "BEFORE_ASYNC_WITH", "SEND"})


@dataclass(frozen=True, slots=True)
class CodeSummary:
    """One uninstrumented function's bytecode, read once: the ``model`` locations it reads
    and writes, its call sites, and the variables whose value is the same all through."""

    keys: tuple[Key, ...]
    calls: tuple[Shape, ...]
    stable: frozenset[str]


def _model_key(tag: str, name: Any, writes: bool) -> Key:
    return ("model", ANY, f"{tag}:{name}", writes)


def summarize(code: types.CodeType) -> CodeSummary:
    """The `CodeSummary` of `code` (every path of it: where the frame stopped is not used)."""
    instrs = _instructions(code)
    targets = {
        ins.argval
        for ins in instrs
        if ("JUMP" in ins.opname or ins.opname == "FOR_ITER") and isinstance(ins.argval, int)
    }
    withs = with_managers(instrs)
    keys: set[Key] = set()
    calls: list[Shape] = []
    stored: set[str] = set()
    for k, ins in enumerate(instrs):
        op = ins.opname
        if op in _STORES:
            stored.add(str(ins.argval))
        elif op in _PAIRED_STORES:
            stored.update(str(v) for v in ins.argval)
        if op in _READ_TAGS:
            keys.add(_model_key(_READ_TAGS[op], ins.argval, False))
        elif op in _WRITE_TAGS:
            keys.add(_model_key(_WRITE_TAGS[op], ins.argval, True))
        elif op in _ITEM_READS:
            keys.add(_model_key("items", ANY, False))
        elif op in _ITEM_WRITES or (op == "BINARY_OP" and ins.argrepr.endswith("=")):
            keys.add(_model_key("items", ANY, True))  # an in-place operator may mutate
        elif k in withs:
            # entering or leaving `with` on a simple expression: a method call on the manager
            calls.append(Shape(_site(code, ins), withs[k], None))
        elif op in _UNKNOWN_CALLS:
            keys.add(MODEL)
        elif op in _CALLS:
            callee, arg0 = _callee(instrs, k, targets)
            calls.append(Shape(_site(code, ins), callee, arg0))
    n_args = code.co_argcount + code.co_kwonlyargcount
    params = set(code.co_varnames[:n_args]) | set(code.co_freevars)
    return CodeSummary(tuple(sorted(keys)), tuple(calls), frozenset(params - stored))


def _site(code: types.CodeType, ins: dis.Instruction) -> Point:
    line = ins.positions.lineno if ins.positions and ins.positions.lineno else 0
    return Point(code.co_filename, line, ins.offset, ins.opname, "call", "")


#: Instructions that touch only the frame's own stack and locals (no user code runs).
_QUIET = frozenset(
    {
        "NOP",
        "RESUME",
        "CACHE",
        "EXTENDED_ARG",
        "NOT_TAKEN",
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_LOAD_FAST",
        "LOAD_FAST_BORROW",
        "LOAD_FAST_BORROW_LOAD_FAST_BORROW",
        "LOAD_CONST",
        "LOAD_SMALL_INT",
        "STORE_FAST",
        "STORE_FAST_STORE_FAST",
        "STORE_FAST_LOAD_FAST",
        "POP_TOP",
        "COPY",
        "SWAP",
        "PUSH_NULL",
        "IS_OP",
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        "POP_JUMP_FORWARD_IF_NONE",
        "POP_JUMP_FORWARD_IF_NOT_NONE",
        "JUMP_FORWARD",
        "RETURN_VALUE",
        "RETURN_CONST",
    }
)
#: Truth tests: quiet on a bool, which the instruction before them may be known to push.
_TRUTH_TESTS = frozenset(
    {
        "TO_BOOL",
        "UNARY_NOT",
        "POP_JUMP_IF_TRUE",
        "POP_JUMP_IF_FALSE",
        "POP_JUMP_FORWARD_IF_TRUE",
        "POP_JUMP_FORWARD_IF_FALSE",
    }
)
_BOOLS = frozenset({"CONTAINS_OP", "IS_OP", "TO_BOOL", "UNARY_NOT"})
_RETURNS = frozenset({"RETURN_VALUE", "RETURN_CONST"})


def returns_quietly(code: types.CodeType, points: dict[int, Point]) -> bool:
    """Whether a frame of instrumented `code` that returns without reaching another point
    runs only its own stack and locals on the way out.

    Such a frame is one that was waiting on an implicit call (``key in self``) into code that
    reached points, and returned after it without reaching one of its own. It is quiet when
    every point-free way from an instruction that can call out to a return is made of
    `_QUIET` instructions (and truth tests of a bool), with no exception handler to run.
    """
    if code.co_exceptiontable:
        return False
    instrs = _instructions(code)
    index = {ins.offset: k for k, ins in enumerate(instrs)}
    targets = {ins.argval for ins in instrs if "JUMP" in ins.opname or ins.opname == "FOR_ITER"}
    for k, ins in enumerate(instrs):
        if ins.offset in points or _quiet(instrs, k, targets):
            continue
        seen: set[int] = set()
        todo = [k + 1]
        while todo:
            j = todo.pop()
            if j in seen or j >= len(instrs) or instrs[j].offset in points:
                continue
            seen.add(j)
            op = instrs[j].opname
            if not _quiet(instrs, j, targets):
                return False
            if op in _RETURNS:
                continue
            if op != "JUMP_FORWARD":
                todo.append(j + 1)
            if "JUMP" in op and instrs[j].argval in index:
                todo.append(index[instrs[j].argval])
    return True


def _quiet(instrs: list[dis.Instruction], k: int, targets: set[Any]) -> bool:
    op = instrs[k].opname
    if op in _QUIET:
        return True
    return (
        op in _TRUTH_TESTS
        and k > 0
        and instrs[k].offset not in targets
        and instrs[k - 1].opname in _BOOLS
    )


class Outside:
    """Footprints of the uninstrumented code a thread runs between two of its points."""

    def __init__(
        self,
        instrumented: Callable[[types.CodeType], bool],
        lock_type: type,
        points_of: Callable[[types.CodeType], dict[int, Point] | None] | None = None,
    ) -> None:
        self._instrumented = instrumented
        self._lock_type = lock_type
        self._points_of = points_of
        self._summaries: dict[int, tuple[types.CodeType, CodeSummary]] = {}
        self._quiet: dict[int, tuple[types.CodeType, bool]] = {}

    def quiet_return(self, code: types.CodeType) -> bool:
        """`returns_quietly` for instrumented `code`, read once (False without a table)."""
        known = self._quiet.get(id(code))
        if known is None or known[0] is not code:
            table = self._points_of(code) if self._points_of is not None else None
            verdict = table is not None and returns_quietly(code, table)
            known = self._quiet[id(code)] = (code, verdict)
        return known[1]

    def summary(self, code: types.CodeType) -> CodeSummary:
        known = self._summaries.get(id(code))
        if known is None or known[0] is not code:
            known = self._summaries[id(code)] = (code, summarize(code))
        return known[1]

    def between(
        self,
        before: types.FrameType | None,
        after: types.FrameType | None,
        number: Numbering,
        thread: int | None = None,
    ) -> list[Key]:
        """What ran between a point in frame `before` and one in frame `after` (None: the
        thread's start, or its end) outside both frames' own instrumented code; `thread`
        names whose steps they are (for the history's call returns)."""
        if before is None and after is None:
            return [MODEL]
        up, common, below = _frames_around(before, after, _scheduler)
        path = up + below + ([common] if common is not None else [])
        live = {f.f_code for f in path}
        live.update(f.f_code for f in (before, after) if f is not None)
        outside = [f for f in path if not _harness(f) and not _scheduler(f)]
        rebound = _rebound([self.summary(f.f_code) for f in outside])
        keys: list[Key] = []
        for frame in path:
            returned = frame is common or any(frame is f for f in up)
            if not _harness(frame):
                if frame is common or not returned or not self._quiet_exit(frame):
                    keys.extend(self._frame_keys(frame, live, number, rebound))
                continue
            if returned:
                keys.append(call_return(thread))
            if frame is common or not returned:
                keys.append(CALL_START)
        return keys

    def _quiet_exit(self, frame: types.FrameType) -> bool:
        """A frame of the code under test returned from with nothing left to do but return."""
        return self._instrumented(frame.f_code) and self.quiet_return(frame.f_code)

    def _frame_keys(
        self,
        frame: types.FrameType,
        live: set[types.CodeType],
        number: Numbering,
        rebound: frozenset[str] | None,
    ) -> list[Key]:
        module = frame.f_globals.get("__name__", "") or ""
        if _scheduler(frame):
            return []
        if module.startswith(_PRIMITIVES) or self._instrumented(frame.f_code):
            return [MODEL]  # code that ran without reaching a point: cannot be told
        summary = self.summary(frame.f_code)
        keys = list(summary.keys)
        stable = summary.stable

        def value(recipe: Recipe, f: types.FrameType) -> Any:
            return stable_value(recipe, f, stable, rebound)

        for shape in summary.calls:
            effect, python = call_effect(
                shape, frame, number, self._instrumented, self._lock_type, value
            )
            # What a call here cannot be told to do stays within the model's state (the
            # assumption above), so it is the model location, not opaque.
            keys.extend(MODEL if key[0] == "opaque" else key for key in effect)
            if python and not _calls_live(shape, frame, value, live):
                keys.append(MODEL)
        return keys


def _calls_live(
    shape: Shape,
    frame: types.FrameType,
    value: Callable[[Recipe, types.FrameType], Any],
    live: set[types.CodeType],
) -> bool:
    """Whether a call site's Python callee is a function with a frame between the two points
    (its own summary covers it)."""
    if shape.callee is None:
        return False
    fn, _receiver = resolve_callee(shape.callee, frame, value)
    code = _code_of(fn) if fn is not MISSING else None
    return code is not None and code in live


def stable_value(
    recipe: Recipe,
    frame: types.FrameType,
    stable: frozenset[str],
    rebound: frozenset[str] | None = None,
) -> Any:
    """`recipe`'s value if it cannot have changed since the frame's last calls: a constant, a
    global (and attributes of modules and classes), an argument or closure variable the code
    never rebinds, and -- given the attribute names the stretch of code may have `rebound`
    (None: any) -- an attribute of one of those by another name; MISSING otherwise."""
    tag = recipe[0]
    if tag == "const":
        return recipe[1]
    if tag == "global":
        return evaluate(recipe, frame)
    if tag == "local":
        return evaluate(recipe, frame) if recipe[1] in stable else MISSING
    if tag != "attr":
        return MISSING
    owner = stable_value(recipe[1], frame, stable, rebound)
    if isinstance(owner, (types.ModuleType, type)):
        return static_attr(owner, recipe[2])
    if owner is MISSING or rebound is None or recipe[2] in rebound:
        return MISSING
    return instance_attr(owner, recipe[2])


def _rebound(summaries: list[CodeSummary]) -> frozenset[str] | None:
    """The attribute names the frames of `summaries` store or delete; None when they reach
    into an instance dict (``__dict__``), which rebinds any name without a store."""
    names: set[str] = set()
    for summary in summaries:
        for space, _obj, name, writes in summary.keys:
            if space != "model" or not isinstance(name, str) or not name.startswith("attr:"):
                continue
            if name == "attr:__dict__":
                return None
            if writes:
                names.add(name[len("attr:") :])
    return frozenset(names)


def frames_between(
    before: types.FrameType | None,
    after: types.FrameType | None,
    root: Callable[[types.FrameType], bool] = lambda f: False,
) -> list[types.FrameType]:
    """The frames that ran code between a point in `before` and the next one in `after`:
    those returned from above `before`, the common caller, those called into below `after`
    (neither end itself). None at one end stands for the thread's whole stack, up to the
    first frame `root` accepts (the scheduler's, which called the thread's body)."""
    up, common, below = _frames_around(before, after, root)
    return up + below + ([common] if common is not None else [])


def _frames_around(
    before: types.FrameType | None,
    after: types.FrameType | None,
    root: Callable[[types.FrameType], bool],
) -> tuple[list[types.FrameType], types.FrameType | None, list[types.FrameType]]:
    """`frames_between`'s frames by what they did: returned from (innermost first), the
    common caller that ran on between the two (None if there is none, or it is `before`),
    called into (outermost last)."""
    down: list[types.FrameType] = []
    chain: dict[int, int] = {}
    f = after
    while f is not None and not root(f):
        chain[id(f)] = len(down)
        down.append(f)
        f = f.f_back
    up: list[types.FrameType] = []
    f = before
    at: int | None = None
    while f is not None and not root(f):
        if id(f) in chain:
            at = chain[id(f)]
            break
        up.append(f)
        f = f.f_back
    if before is not None:
        up = up[1:] if up and up[0] is before else up
    if at is None:
        return up, None, down[1:]
    common = down[at] if down[at] is not before else None
    return up, common, down[1:at]


def _harness(frame: types.FrameType) -> bool:
    """A frame of the harness's own bookkeeping (not its scheduler's, which touches nothing)."""
    module = frame.f_globals.get("__name__", "") or ""
    return in_package(module, "harness") and not _scheduler(frame)


def _scheduler(frame: types.FrameType) -> bool:
    return in_package(frame.f_globals.get("__name__", "") or "", _SCHEDULER)


__all__ = [
    "CALL_START",
    "HISTORY",
    "CodeSummary",
    "Outside",
    "call_return",
    "frames_between",
    "stable_value",
    "summarize",
]
