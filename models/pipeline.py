"""Producers and consumers on `queue.Queue`: stdlib code that must never raise a false alarm.

`queue.Queue` is built on `threading.Lock` and `threading.Condition`, which the harness
replaces with scheduler-aware versions for the duration of an example. This model checks that
the replacement preserves the queue's guarantees under every schedule.
"""

from __future__ import annotations

import queue


class Pipeline:
    def __init__(self, maxsize: int) -> None:
        self.queue: queue.Queue[int] = queue.Queue(maxsize=maxsize)

    def offer(self, item: int) -> bool:
        """Put without blocking forever: False if the queue stays full for a (virtual) second."""
        try:
            self.queue.put(item, timeout=1.0)
        except queue.Full:
            return False
        return True

    def poll(self) -> int | None:
        """Take an item, waiting up to a (virtual) second; None if none came."""
        try:
            return self.queue.get(timeout=1.0)
        except queue.Empty:
            return None
