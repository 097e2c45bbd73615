"""Interrupts during a hunt: Ctrl-C, SIGTERM and pytest-timeout are never a race.

Hypothesis treats ``pytest.fail`` -- which is what pytest-timeout's signal method raises from
its SIGALRM handler -- as a failure *of the test*: it would shrink it, replay it, find that it
does not happen again and call the model "not deterministic", while the abandoned run's
threads confuse the next test. So for the duration of a hunt, on the main thread, the handlers
of SIGALRM (when a Python handler is installed) and SIGTERM (when none is) are wrapped: the
signal raises `HuntInterrupted`, a BaseException no test framework catches, which unwinds the
hunt cleanly; `hunt` then turns it back into the original exception (pytest's timeout
failure, `KeyboardInterrupt`, ``SystemExit(143)``) with the partial result attached as
``exc.harness_result``, so that callers keep what was already found.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: Exit status for SIGTERM (128 + 15), as shells report it.
SIGTERM_STATUS = 143


class HuntInterrupted(BaseException):
    """A signal arrived during a hunt. `reason` names it; `original` is what to re-raise."""

    def __init__(self, reason: str, original: BaseException) -> None:
        super().__init__(reason)
        self.reason = reason
        self.original = original


Handler = Callable[[int, FrameType | None], Any]


#: The interrupt that arrived, kept until the hunt has unwound: a signal handler's exception
#: can be swallowed (raised inside a garbage-collector callback it is only "unraisable"), so
#: the hunt also checks this at every example and round (`check`).
_pending: HuntInterrupted | None = None


def _wrap_alarm(previous: Handler) -> Handler:
    def on_alarm(signum: int, frame: FrameType | None) -> None:
        global _pending
        try:
            previous(signum, frame)
        except BaseException as exc:
            _pending = HuntInterrupted(f"timeout ({exc})".strip(), exc)
            raise _pending from exc

    return on_alarm


def _on_term(signum: int, frame: FrameType | None) -> None:
    global _pending
    _pending = HuntInterrupted("SIGTERM", SystemExit(SIGTERM_STATUS))
    raise _pending


def check() -> None:
    """Raise the interrupt that arrived during this hunt, if one did and was swallowed."""
    if _pending is not None:
        raise _pending


@contextmanager
def guard() -> Iterator[None]:
    """Wrap the interrupting signals' handlers for the block (main thread only; elsewhere a
    no-op, as signals are only delivered to the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed: list[tuple[int, Any]] = []
    alarm = getattr(signal, "SIGALRM", None)
    if alarm is not None:
        previous = signal.getsignal(alarm)
        if callable(previous):
            signal.signal(alarm, _wrap_alarm(previous))
            installed.append((alarm, previous))
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_term)
        installed.append((signal.SIGTERM, signal.SIG_DFL))
    global _pending
    _pending = None
    try:
        yield
    finally:
        _pending = None
        for signum, handler in installed:
            signal.signal(signum, handler)


def as_interrupt(exc: BaseException) -> HuntInterrupted | None:
    """`exc` as an interrupt, if it is one (Ctrl-C arrives as a plain KeyboardInterrupt)."""
    if isinstance(exc, HuntInterrupted):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        return HuntInterrupted("Ctrl-C (SIGINT)", exc)
    return None
