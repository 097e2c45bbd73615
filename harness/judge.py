"""How a search ended, as a verdict: it returned one, the model broke, the code did something
the harness cannot control, or an interrupt arrived.

Every search -- a hunt on the controlled engine, a stress hunt, `harness.explore` -- ends in
one of those four ways, and each must be told apart the same way: a `BrokenModelError` is the
model's mistake, never the code's race; a `LimitationError` names what the harness could not
control; Ctrl-C, SIGTERM or a pytest-timeout is an `Interrupted` verdict (with the failure
already found, so nothing found is lost) re-raised as the original exception. Kept in one
place so that no engine can classify them differently, and so that the patched `threading`
and `time` are restored however the search ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from harness import interrupts
from harness.errors import BrokenModelError, LimitationError
from harness.failure import Failure
from harness.interrupts import as_interrupt
from harness.runtime.world import active_world, leave_active_world
from harness.verdict import BrokenModel, Interrupted, Limitation, Verdict

R = TypeVar("R")


def judged(
    model: str,
    variant: str,
    search: Callable[[], R],
    result: Callable[[Verdict], R],
    kept: Callable[[], Failure | None],
    **extra: Any,
) -> R:
    """Run `search` (which returns its own result) under the interrupt guard.

    A broken model or a limitation becomes ``result(verdict)``; an interrupt is re-raised as
    itself carrying ``result(Interrupted(..., kept()))`` as ``exc.harness_result``, `kept`
    giving the failure worth keeping (one that replays). `extra` are fields every verdict of
    this search carries (the stress engine's evidence).
    """
    was_active = active_world() is not None
    try:
        with interrupts.guard():
            try:
                return search()
            except BrokenModelError as exc:
                interrupts.check()  # an interrupt the model's code swallowed is an interrupt
                return result(
                    BrokenModel(model, variant, str(exc), exc.where, exc.details, **extra)
                )
            except LimitationError as exc:
                interrupts.check()
                return result(Limitation(model, variant, exc.what, exc.where, exc.details, **extra))
    except BaseException as exc:
        interrupt = as_interrupt(exc)
        if interrupt is None:
            raise
        original = interrupt.original
        original.harness_result = result(  # type: ignore[attr-defined]
            Interrupted(model, variant, interrupt.reason, kept(), **extra)
        )
        raise original from None
    finally:
        if not was_active:
            leave_active_world()
