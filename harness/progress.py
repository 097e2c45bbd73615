"""A live progress line on stderr for hunts that take a while.

A hunt is silent while it runs; over a few seconds a user wonders whether it is stuck. The CLI
opens a `Progress` around each variant it hunts; the hunt's `Observer` calls `example_done` and
`failure_found` (cheap no-ops when no progress is open). The line appears only after
`DELAY` seconds, is redrawn at most every `INTERVAL` seconds, and is erased when the hunt
ends, so a short hunt prints nothing and a finished one leaves only its report.

The clock is bound at import, before any hunt patches `time`: progress measures real time,
never the harness's virtual time. It never changes what a hunt does, only what stderr shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter as _real_clock
from typing import TextIO

#: Seconds before the first progress line: shorter hunts print nothing.
DELAY = 2.0
#: Seconds between two redraws.
INTERVAL = 0.25

_current: Progress | None = None


class Progress:
    """Counts one hunt's examples and failures and draws them as one rewritten line."""

    def __init__(
        self, label: str, stream: TextIO, clock: Callable[[], float] = _real_clock
    ) -> None:
        self.label = label
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.examples = 0
        self.failures = 0
        self.drawn = False
        self._next = self.started + DELAY

    def line(self) -> str:
        """``hunting backoffer.locked: 1,204 examples, 0 failures, 151/s (8 s)``."""
        seconds = max(self.clock() - self.started, 1e-9)
        failures = f"{self.failures} failure{'s' if self.failures != 1 else ''}"
        if self.failures:
            failures += " (shrinking)"
        return (
            f"hunting {self.label}: {self.examples:,} examples, {failures}, "
            f"{self.examples / seconds:,.0f}/s ({seconds:.0f} s)"
        )

    def tick(self) -> None:
        now = self.clock()
        if now < self._next:
            return
        self._next = now + INTERVAL
        self.stream.write("\r\x1b[K" + self.line())
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Erase the line, if one was drawn, so that the report starts on a clean line."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


def example_done() -> None:
    """One more example ran (called by the hunt's observer)."""
    if _current is not None:
        _current.examples += 1
        _current.tick()


def failure_found() -> None:
    """A failure was found (called by the hunt's observer)."""
    if _current is not None:
        _current.failures += 1
        _current.tick()


@contextmanager
def showing(progress: Progress | None) -> Iterator[None]:
    """Report the hunts run inside to `progress` (None: show nothing)."""
    global _current
    previous, _current = _current, progress
    try:
        yield
    finally:
        _current = previous
        if progress is not None:
            progress.close()


def wanted(stream: TextIO, *, quiet: bool) -> bool:
    """Progress goes to a terminal only: never into a pipe, a file or a CI log."""
    isatty = getattr(stream, "isatty", None)
    return not quiet and isatty is not None and bool(isatty())
