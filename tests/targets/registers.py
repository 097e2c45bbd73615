"""Objects whose bugs only show in what calls return: models with a sequential reference and
no invariant, so only the linearizability check can catch them."""

from __future__ import annotations

import threading

from hypothesis import strategies as st

from harness.model import Model, operation
from harness_gallery.lru import LRUCache
from harness_gallery.lru_spec import CAPACITY, LRUModel


class TicketDispenser:
    """`take` returns the next ticket number: a read-modify-write that can hand out one twice."""

    def __init__(self) -> None:
        self.next = 1

    def take(self) -> int:
        ticket = self.next
        self.next = ticket + 1
        return ticket


class LockedTicketDispenser(TicketDispenser):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            return super().take()


class Tickets:
    """The sequential reference: what `take` must return when calls come one at a time."""

    def __init__(self) -> None:
        self.issued = 0

    def take(self) -> int:
        self.issued += 1
        return self.issued


class TicketModel(Model):
    name = "tickets"
    variants = {"unsafe": "no lock", "locked": "take under a lock"}
    expect_failure = ("unsafe",)
    instrument = ("tests.targets.registers",)
    max_workers = 3
    points_per_operation = {"gil": 4, "access": 10, "opcode": 16}

    def setup(self) -> None:
        self.dispenser = TicketDispenser() if self.variant == "unsafe" else LockedTicketDispenser()

    def reference(self) -> Tickets:
        return Tickets()

    @operation()
    def take(self) -> int:
        return self.dispenser.take()


class WriteBehindRegister:
    """A register whose writer keeps its value to itself until its next call: every result is
    explained by *some* order of the calls (sequentially consistent), but a read that begins
    after a write has returned can still miss it -- not linearizable."""

    def __init__(self) -> None:
        self.value = 0
        self.unflushed: dict[int, int] = {}

    def write(self, worker: int, value: int) -> None:
        self._flush(worker)
        self.unflushed[worker] = value

    def read(self, worker: int) -> int:
        self._flush(worker)
        return self.value

    def _flush(self, worker: int) -> None:
        if worker in self.unflushed:
            self.value = self.unflushed.pop(worker)


class Register:
    def __init__(self) -> None:
        self.value = 0

    def write(self, value: int) -> None:
        self.value = value

    def read(self) -> int:
        return self.value


class WriteBehindModel(Model):
    name = "write-behind"
    variants = {"default": "writes become visible on the writer's next call"}
    expect_failure = ("default",)
    instrument = ("tests.targets.registers",)
    max_workers = 2
    points_per_operation = {"gil": 4, "access": 10, "opcode": 16}

    def setup(self) -> None:
        self.register = WriteBehindRegister()

    def reference(self) -> Register:
        return Register()

    @operation(value=st.integers(1, 3))
    def write(self, worker: int | None, value: int) -> None:
        self.register.write(-1 if worker is None else worker, value)

    @operation()
    def read(self, worker: int | None) -> int:
        return self.register.read(-1 if worker is None else worker)


class CheckedLRUModel(LRUModel):
    """The gallery's LRU model with the cache itself, called one call at a time, as its
    sequential reference: every `get` must return what some order of the calls would give."""

    name = "lru-checked"

    def reference(self) -> LRUCache:
        return LRUCache(CAPACITY)


class ThreadBufferedRegister:
    """A plain class (no model): a write waits in a buffer of the writing thread until that
    thread's next call. Run sequentially (one thread) it is a register; a read that begins
    after another thread's write has returned can still miss it. The two calls touch
    nothing in common -- each thread has its own buffer, the read does not write -- so only
    the real-time order of the calls (one returned before the other started) shows the bug."""

    def __init__(self) -> None:
        self.value = 0
        self._buffers: dict[int, int] = {}

    def write(self, value: int) -> None:
        self._flush()
        self._buffers[threading.get_ident()] = value

    def read(self) -> int:
        self._flush()
        return self.value

    def _flush(self) -> None:
        ident = threading.get_ident()
        if ident in self._buffers:
            self.value = self._buffers.pop(ident)
