"""Tiny lock programs for the partial-order reduction's oracle: each thread runs a list of
operations on two shared registers and two locks -- plain reads and writes, critical
sections, nested locks (which can deadlock) and acquires that can give up (non-blocking,
or a zero timeout) -- so that a test can draw programs and compare what DPOR reaches with
what every interleaving reaches.

Each operation is a short straight-line method, so that the reduction sees exactly what it
touches; `OPERATIONS` names them, and a thread's body is `run(shared, thread, names)`.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class Shared:
    """Two registers and two locks, made inside the run's World (so the locks are the
    scheduler's), with a log per thread of what it read and which tries succeeded."""

    def __init__(self, threads: int) -> None:
        self.x = 0
        self.y = 0
        self.a = threading.Lock()
        self.b = threading.Lock()
        self.flag = threading.Event()
        self.logs: list[list[Any]] = [[] for _ in range(threads)]
        self.t0 = time.monotonic()  # virtual time goes on from run to run: log it from here

    def state(self) -> tuple[Any, ...]:
        return (self.x, self.y, tuple(tuple(log) for log in self.logs))

    def read_x(self, log: list[Any]) -> None:
        log.append(self.x)

    def write_y(self, log: list[Any]) -> None:
        self.y = 1

    def incr_x_in_a(self, log: list[Any]) -> None:
        with self.a:
            self.x = self.x + 1

    def write_x_in_a(self, log: list[Any]) -> None:
        with self.a:
            self.x = 2

    def read_y_in_b(self, log: list[Any]) -> None:
        with self.b:
            log.append(self.y)

    def incr_y_in_b(self, log: list[Any]) -> None:
        with self.b:
            self.y = self.y + 1

    def incr_x_in_a_then_b(self, log: list[Any]) -> None:
        with self.a, self.b:
            self.x = self.x + 1

    def incr_y_in_b_then_a(self, log: list[Any]) -> None:
        with self.b, self.a:
            self.y = self.y + 1

    def take_b_in_a(self, log: list[Any]) -> None:
        with self.a, self.b:  # nothing else: only the locks order it
            pass

    def take_a_then_read_clock(self, log: list[Any]) -> None:
        with self.a:
            pass
        log.append(time.monotonic() - self.t0)

    def sleep_in_a(self, log: list[Any]) -> None:
        with self.a:
            time.sleep(1)

    def set_flag(self, log: list[Any]) -> None:
        # Event.set takes and releases the Event's inner lock in one step (threading is not
        # instrumented: no point between them)
        self.flag.set()

    def wait_flag(self, log: list[Any]) -> None:
        log.append(self.flag.wait(timeout=0.5))

    def try_a_read_x(self, log: list[Any]) -> None:
        got = self.a.acquire(blocking=False)
        log.append(got)
        if got:
            log.append(self.x)
            self.a.release()

    def try_b_incr_y(self, log: list[Any]) -> None:
        got = self.b.acquire(timeout=0)
        log.append(got)
        if got:
            self.y = self.y + 1
            self.b.release()


OPERATIONS = tuple(name for name in vars(Shared) if not name.startswith("_") and name != "state")


def run(shared: Shared, thread: int, names: tuple[str, ...]) -> None:  # noqa: C901, PLR0912
    """One thread's body: its operations in order. (Spelled out, not ``getattr``: a call of
    a computed callable is opaque to the reduction, which would then order everything.)"""
    log = shared.logs[thread]
    for name in names:
        if name == "read_x":
            shared.read_x(log)
        elif name == "write_y":
            shared.write_y(log)
        elif name == "incr_x_in_a":
            shared.incr_x_in_a(log)
        elif name == "write_x_in_a":
            shared.write_x_in_a(log)
        elif name == "read_y_in_b":
            shared.read_y_in_b(log)
        elif name == "incr_y_in_b":
            shared.incr_y_in_b(log)
        elif name == "incr_x_in_a_then_b":
            shared.incr_x_in_a_then_b(log)
        elif name == "incr_y_in_b_then_a":
            shared.incr_y_in_b_then_a(log)
        elif name == "take_a_then_read_clock":
            shared.take_a_then_read_clock(log)
        elif name == "sleep_in_a":
            shared.sleep_in_a(log)
        elif name == "set_flag":
            shared.set_flag(log)
        elif name == "wait_flag":
            shared.wait_flag(log)
        elif name == "take_b_in_a":
            shared.take_b_in_a(log)
        elif name == "try_a_read_x":
            shared.try_a_read_x(log)
        elif name == "try_b_incr_y":
            shared.try_b_incr_y(log)
        else:
            raise ValueError(f"unknown operation {name!r}")
