"""A registry iterated by one thread while another registers: Python's own tripwire.

Iterating a dict while it changes size raises ``RuntimeError: dictionary changed size during
iteration`` -- Python's analogue of Go's "concurrent map iteration and map write". A GIL build
can switch threads inside the loop (at its backward jump), so it happens in production too.
"""

from __future__ import annotations

import threading


class Registry:
    def __init__(self) -> None:
        self.handlers: dict[str, int] = {}

    def register(self, name: str, priority: int) -> None:
        self.handlers[name] = priority

    def total_priority(self) -> int:
        total = 0
        for name in self.handlers:
            total += self.handlers[name]
        return total


class LockedRegistry(Registry):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def register(self, name: str, priority: int) -> None:
        with self._lock:
            super().register(name, priority)

    def total_priority(self) -> int:
        with self._lock:
            return super().total_priority()
