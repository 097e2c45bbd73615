"""Whose fault is an exception: the code under test's, the model's, or nobody's?

A counterexample must be a race in the code under test, never a typo in the model. When an
operation raises, the traceback is walked from the innermost frame outward to the first frame
that belongs either to the model (a function defined on the model class) or to an
instrumented module. If that frame is the model's and the error is one no race can cause
there -- a NameError, an ImportError, a Hypothesis usage error such as `note()` called from a
worker, a call with the wrong arguments, an attribute the model itself does not have -- the
model is broken. Everything else is the code under test's (AssertionError included: a check
written in an operation is a check of the code).

`SystemExit` (``sys.exit()``) and `KeyboardInterrupt` raised by model or worker code are never
a race either: they are reported as a broken model, so no exit code can be faked from inside.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass

from hypothesis.errors import HypothesisException

from harness.errors import BrokenModelError

#: Exception types a race cannot produce in the model's own frame.
_MODEL_MISTAKES = (NameError, ImportError, SyntaxError, HypothesisException)
_SIGNATURE_WORDS = ("positional argument", "keyword argument", "required argument")


@dataclass(frozen=True)
class Blame:
    """The verdict on one exception: ``model`` or ``code``, and the frame that decided it."""

    party: str
    where: str = ""


def model_codes(cls: type) -> frozenset[types.CodeType]:
    """Code objects of every function defined on the model class and its bases (but not on
    `harness.model.Model` itself)."""
    codes: set[types.CodeType] = set()
    for klass in cls.__mro__:
        if klass.__module__ == "harness.model" or klass is object:
            continue
        for value in vars(klass).values():
            func = getattr(value, "__func__", value)
            code = getattr(func, "__code__", None)
            if isinstance(code, types.CodeType):
                codes.add(code)
    return frozenset(codes)


def site(filename: str, line: int) -> str:
    """``models/bank_spec.py:12``: relative to the working directory when under it."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        rel = filename
    return f"{filename if rel.startswith('..') else rel}:{line}"


def blame(
    exc: BaseException, codes: frozenset[types.CodeType], instrumented: dict[str, str] | set[str]
) -> Blame:
    """Decide whose fault `exc` is (see the module docstring)."""
    if isinstance(exc, (SystemExit, KeyboardInterrupt, GeneratorExit)):
        return Blame("model", _innermost(exc))
    if isinstance(exc, HypothesisException):
        return Blame("model", _first_owned(exc, codes, instrumented)[1] or _innermost(exc))
    party, where = _first_owned(exc, codes, instrumented)
    if party == "model" and _model_mistake(exc):
        return Blame("model", where)
    return Blame("code", where)


def broken(exc: BaseException, what: str, where: str, details: str) -> BrokenModelError:
    """The `BrokenModelError` for an exception blamed on the model."""
    if isinstance(exc, SystemExit):
        reason = f"{what} called sys.exit({exc.code!r})"
    elif isinstance(exc, KeyboardInterrupt):
        reason = f"{what} raised KeyboardInterrupt itself"
    else:
        reason = f"{what} raised {type(exc).__name__}: {exc}"
    at = f" at {where}" if where else ""
    return BrokenModelError(
        f"{reason}{at} -- a mistake in the model, not a race", where=where, details=details
    )


def _model_mistake(exc: BaseException) -> bool:
    if isinstance(exc, _MODEL_MISTAKES):
        return True
    if isinstance(exc, TypeError):
        return any(word in str(exc) for word in _SIGNATURE_WORDS)
    if isinstance(exc, AttributeError):
        # The model asked itself for something it does not have (a typo in `self.x`).
        owner = getattr(exc, "obj", None)
        return owner is not None and type(owner).__module__ != "builtins" and _is_model(owner)
    return False


def _is_model(obj: object) -> bool:
    return any(k.__module__ == "harness.model" and k.__name__ == "Model" for k in type(obj).__mro__)


def _first_owned(
    exc: BaseException, codes: frozenset[types.CodeType], instrumented: dict[str, str] | set[str]
) -> tuple[str, str]:
    """The innermost frame owned by the model or by an instrumented module."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    for code, line in reversed(frames):
        if code in codes:
            return "model", site(code.co_filename, line)
        if os.path.realpath(code.co_filename) in instrumented:
            return "code", site(code.co_filename, line)
    return "", ""


def _innermost(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return "" if last is None else site(last.tb_frame.f_code.co_filename, last.tb_lineno)
