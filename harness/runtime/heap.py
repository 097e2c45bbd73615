"""Keep the garbage collector's full passes off what a long search does not create.

An exhaustive search runs a scenario thousands of times. Each run allocates thousands of
short-lived containers (footprints, decision records, frames' locals), so the collector runs
often, and every few runs it makes a full pass over every tracked object of the process: the
interpreter's modules, Hypothesis, the model's code, the search tree. Those passes were about
a quarter of `harness verify backoffer.fork`'s time (Python 3.11: 11.8 s -> 8.9 s for one
scenario's 1,628 schedules with the objects that exist at the start frozen).

`frozen_heap` moves every object that exists when the search starts into the collector's
permanent generation (`gc.freeze`) and back when it ends, so full passes only visit what the
search made. Nothing is disabled: cycles made during the search are still collected. It
leaves the heap alone when someone else has already frozen objects (a pre-fork server), so it
never unfreezes what it did not freeze.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze the objects that exist now for the duration of the block (not nested: an
    inner block, or a heap frozen by someone else, is left as it is)."""
    if gc.get_freeze_count() or not gc.isenabled():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
