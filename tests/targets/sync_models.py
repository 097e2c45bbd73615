"""Shared objects built on threading/queue primitives, for the runtime's blocking tests."""

from __future__ import annotations

import queue
import threading
import time


class Accounts:
    """Two accounts, a lock each; `transfer_ab` and `transfer_ba` lock them in opposite order."""

    def __init__(self) -> None:
        self.a = 100
        self.b = 100
        self.lock_a = threading.Lock()
        self.lock_b = threading.Lock()

    def transfer_ab(self) -> None:
        with self.lock_a, self.lock_b:
            self.a -= 10
            self.b += 10

    def transfer_ba(self) -> None:
        with self.lock_b, self.lock_a:
            self.b -= 10
            self.a += 10


class Pipeline:
    """Producer/consumer over `queue.Queue`: every produced item is consumed exactly once."""

    def __init__(self, items: int, consumers: int, maxsize: int = 2) -> None:
        self.queue: queue.Queue[int | None] = queue.Queue(maxsize=maxsize)
        self.items = items
        self.consumers = consumers
        self.consumed: list[int] = []
        self.consumed_lock = threading.Lock()

    def produce(self) -> None:
        for i in range(self.items):
            self.queue.put(i)
        for _ in range(self.consumers):
            self.queue.put(None)

    def consume(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            with self.consumed_lock:
                self.consumed.append(item)


class Gate:
    """An Event opened by one thread, a Barrier and a Semaphore shared by the others."""

    def __init__(self, parties: int) -> None:
        self.opened = threading.Event()
        self.barrier = threading.Barrier(parties)
        self.slots = threading.BoundedSemaphore(1)
        self.rlock = threading.RLock()
        self.cond = threading.Condition()
        self.inside = 0
        self.max_inside = 0
        self.order: list[str] = []

    def opener(self) -> None:
        time.sleep(1.0)
        self.order.append("open")
        self.opened.set()
        self.barrier.wait()

    def waiter(self, name: str) -> None:
        self.opened.wait()
        self.order.append(name)
        with self.slots:
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
            with self.rlock, self.rlock:
                self.inside -= 1
        with self.cond:
            self.cond.notify_all()
        self.barrier.wait()


def wait_forever(event: threading.Event) -> None:
    """Blocks on an Event nobody sets: a deadlock the runtime must report, not hang on."""
    event.wait()
