"""Nothing a hunt finds is lost: counterexamples saved as they are found, and a last resort.

A hunt can take a while to shrink its first failure, and Ctrl-C, a CI job's SIGTERM or a full
disk must not cost the user the bug it already found. `Keeper.keep` is what the CLI passes as
`hunt_spec(on_failure=...)`: it writes the first failure the moment it is found, before
shrinking, and the shrunk one replaces it. Every write is atomic
(`harness.artifact.atomic_write`). When the chosen directory is not writable it falls back to a
fresh temporary directory; when nothing is writable, the JSON goes to stderr in full under a
one-line header, so it can be saved by hand. (Signals during a hunt are `harness.interrupts`'
job: they unwind the hunt with its partial result, which the CLI hands to `keep_with_values`.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from harness.artifact import dumps, encode, save
from harness.errors import BrokenModelError, LimitationError
from harness.failure import Failure
from harness.minimize import same_bug
from harness.model import ModelSpec
from harness.scenario import replay_failure


class Keeper:
    """Keeps the best counterexample of a hunt on disk; `path` is where it is now."""

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

    def keep_with_values(self, failure: Failure) -> Path | None:
        """Keep `failure` after replaying it once with values captured (a hunt runs without
        them), so that the file replays with an identical trace; as it is if that fails.
        Called after a hunt was interrupted, outside its patched world."""
        self.keep(failure)
        try:
            again = replay_failure(self.spec, failure)
        except (BrokenModelError, LimitationError):
            return self.path
        if again is not None and same_bug(again, failure):
            return self.keep(again)
        return self.path

    def found(self, failure: Failure) -> None:
        """The hunt's `on_failure` hook: keep `failure` (the first one found, then the
        shrunk one)."""
        self.keep(failure)

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
