"""Models whose workers get stuck where the harness cannot see them, for bench_longrun.py.

Both call, from an operation of the model (uninstrumented code, so no scheduling point is
ever reached), something that never returns on its own: `SpinModel` a pure-Python busy loop
waiting for a flag nobody sets (it holds the CPU and, every switch interval, the GIL);
`BlockModel` a real lock's ``acquire()`` (blocked in C, no CPU). The hunt's watchdog declares
the round stuck after ``stuck_after`` real seconds and abandons the worker.
"""

from __future__ import annotations

import _thread

from harness.model import Model, invariant, operation
from harness_gallery.counter import HitCounter

#: Set to release every spinning worker (the benchmark never does: they stay stuck).
RELEASE = {"spin": False}
#: Locked at import, never released by the benchmark: `BlockModel` workers wait on it forever.
BLOCKER = _thread.allocate_lock()
BLOCKER.acquire()


class _StuckModel(Model):
    variants = {"default": "one worker never comes back"}
    instrument = ("harness_gallery.counter",)
    max_workers = 2
    max_ops_per_worker = 1

    def setup(self) -> None:
        self.counter = HitCounter()

    @operation()
    def hit(self) -> None:
        self.counter.hit()

    def wait(self) -> None:
        raise NotImplementedError

    @operation()
    def stuck(self, worker: int | None) -> None:
        if worker is not None:  # on the test thread (a sequential step) nothing would stop it
            self.wait()

    @invariant()
    def fine(self) -> None:
        assert self.counter.hits >= 0


class SpinModel(_StuckModel):
    name = "bench-spin"

    def wait(self) -> None:
        while not RELEASE["spin"]:
            pass


class BlockModel(_StuckModel):
    name = "bench-block"

    def wait(self) -> None:
        BLOCKER.acquire()
        BLOCKER.release()
