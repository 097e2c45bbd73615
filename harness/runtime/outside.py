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
meanwhile are read: constants, module globals, and arguments or closure variables the function
never rebinds. Anything else counts as unknown.
"""

from __future__ import annotations

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
    resolve_callee,
    static_attr,
)
from harness.runtime.points import MISSING, Point, Recipe, _instructions, evaluate

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
        elif op in _UNKNOWN_CALLS:
            keys.add(MODEL)
        elif op in _CALLS:
            callee, arg0 = _callee(instrs, k, targets)
            line = ins.positions.lineno if ins.positions and ins.positions.lineno else 0
            point = Point(code.co_filename, line, ins.offset, op, "call", "")
            calls.append(Shape(point, callee, arg0))
    n_args = code.co_argcount + code.co_kwonlyargcount
    params = set(code.co_varnames[:n_args]) | set(code.co_freevars)
    return CodeSummary(tuple(sorted(keys)), tuple(calls), frozenset(params - stored))


class Outside:
    """Footprints of the uninstrumented code a thread runs between two of its points."""

    def __init__(self, instrumented: Callable[[types.CodeType], bool], lock_type: type) -> None:
        self._instrumented = instrumented
        self._lock_type = lock_type
        self._summaries: dict[int, tuple[types.CodeType, CodeSummary]] = {}

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
        keys: list[Key] = []
        for frame in path:
            if not _harness(frame):
                keys.extend(self._frame_keys(frame, live, number))
                continue
            returned = frame is common or any(frame is f for f in up)
            if returned:
                keys.append(call_return(thread))
            if frame is common or not returned:
                keys.append(CALL_START)
        return keys

    def _frame_keys(
        self, frame: types.FrameType, live: set[types.CodeType], number: Numbering
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
            return stable_value(recipe, f, stable)

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


def stable_value(recipe: Recipe, frame: types.FrameType, stable: frozenset[str]) -> Any:
    """`recipe`'s value if it cannot have changed since the frame's last calls: a constant, a
    global (and attributes of modules and classes), an argument or closure variable the code
    never rebinds; MISSING otherwise."""
    tag = recipe[0]
    if tag == "const":
        return recipe[1]
    if tag == "global":
        return evaluate(recipe, frame)
    if tag == "local":
        return evaluate(recipe, frame) if recipe[1] in stable else MISSING
    owner = stable_value(recipe[1], frame, stable)
    if isinstance(owner, (types.ModuleType, type)):
        return static_attr(owner, recipe[2])
    return MISSING


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
    return (module == "harness" or module.startswith("harness.")) and not _scheduler(frame)


def _scheduler(frame: types.FrameType) -> bool:
    module = frame.f_globals.get("__name__", "") or ""
    return module == _SCHEDULER or module.startswith(_SCHEDULER + ".")


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
