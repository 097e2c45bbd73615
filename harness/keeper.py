"""Nothing a hunt finds is lost: counterexamples saved as found, signals, the last resort.

A hunt can take a while to shrink its first failure, and Ctrl-C, a CI job's SIGTERM or a full
disk must not cost the user the bug it already found. `Keeper` is what the CLI passes to
`hunt_spec(on_first_failure=...)`: it writes the first failure the moment Hypothesis finds it,
before shrinking, and the shrunk one replaces it when the hunt returns. Every write is atomic
(`harness.artifact.atomic_write`). When the chosen directory is not writable it falls back to a
fresh temporary directory; when nothing is writable, the JSON goes to stderr in full under a
one-line header, so it can be saved by hand.

`interruptible` turns SIGTERM into `Terminated` (a KeyboardInterrupt), so both signals unwind
the hunt the same way: the worlds it patched are restored, and the CLI says where the best
counterexample so far is and exits 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

from harness.artifact import dumps, encode, save
from harness.failure import Failure
from harness.minimize import same_bug
from harness.model import BrokenModelError, ModelSpec
from harness.scenario import replay_failure

#: Exit codes of an interrupted run: 128 + the signal's number, as shells report it.
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the hunt unwinds as for Ctrl-C."""


@contextmanager
def interruptible() -> Iterator[None]:
    """While inside, SIGTERM raises `Terminated` (only in the main thread, and only if no one
    else has a handler installed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    return EXIT_SIGTERM if isinstance(interrupt, Terminated) else EXIT_SIGINT


class Keeper:
    """Keeps the best counterexample of a hunt on disk; `path` is where it is now.

    `spec` lets the first failure be replayed once with values captured before it is kept
    for good (a hunt runs without them), so that the file replays with an identical trace."""

    def __init__(
        self, directory: str | os.PathLike[str], spec: ModelSpec, stream: TextIO | None = None
    ) -> None:
        self.directory = Path(directory)
        self.spec = spec
        self.stream = stream
        #: Where the best counterexample so far is on disk (None: nowhere yet).
        self.path: Path | None = None
        #: The counterexample saved at `path`.
        self.best: Failure | None = None
        #: A counterexample newer than `path` that could not be written anywhere.
        self.unsaved: Failure | None = None
        self._fallback: Path | None = None
        self._why = ""

    def first(self, failure: Failure) -> None:
        """The hunt's `on_first_failure` hook: save it now, then once more with values."""
        self.keep(failure)
        try:
            again = replay_failure(self.spec, failure)
        except BrokenModelError:
            return  # the hunt reports it; the failure as found stays on disk
        if again is not None and same_bug(again, failure):
            self.keep(again)

    def keep(self, failure: Failure) -> Path | None:
        """Save `failure` as the best so far, replacing the previous file; None if it could
        not be written anywhere (then `dump_unsaved` prints it)."""
        previous = self.path
        path = self._write(failure)
        if path is None:
            self.unsaved = failure
            return None
        self.path, self.best, self.unsaved = path, failure, None
        if previous is not None and previous != path:
            previous.unlink(missing_ok=True)
        return path

    def _write(self, failure: Failure) -> Path | None:
        try:
            return save(failure, self._fallback or self.directory)
        except (OSError, ValueError) as exc:
            if self._fallback is not None:
                self._why = f"{self._fallback}: {_reason(exc)}"
                return None
            first = exc
        try:
            fallback = Path(tempfile.mkdtemp(prefix="harness-counterexamples-"))
            path = save(failure, fallback)
        except (OSError, ValueError) as exc:
            self._why = f"{self.directory}: {_reason(first)}; a temporary directory: {_reason(exc)}"
            return None
        self._fallback = fallback
        print(
            f"harness: cannot write to {self.directory} ({_reason(first)}); "
            f"counterexamples go to {fallback}",
            file=self.stream or sys.stderr,
        )
        return path

    def dump_unsaved(self) -> bool:
        """If a counterexample could not be written anywhere, print its JSON to stderr in full
        under a one-line header, and say so."""
        if self.unsaved is None:
            return False
        err = self.stream or sys.stderr
        print(
            f"harness: cannot write the counterexample anywhere ({self._why}); "
            "its JSON follows, save it by hand:",
            file=err,
        )
        err.write(dumps(encode(self.unsaved)))
        err.flush()
        return True


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)
