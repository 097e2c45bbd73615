"""Harness model of `harness_gallery.pipeline`: every item delivered at most once, in FIFO order."""

from __future__ import annotations

from hypothesis import strategies as st

from harness.model import Model, invariant, operation
from harness_gallery.pipeline import Pipeline


class PipelineModel(Model):
    name = "queue"
    summary = "producer/consumer on queue.Queue (stdlib): must pass, proves the patched locks"
    variants = {"stdlib": "queue.Queue as shipped"}
    instrument = ("harness_gallery.pipeline",)
    max_workers = 4

    def setup(self) -> None:
        self.pipeline = Pipeline(maxsize=2)
        self.offered: list[int] = []
        self.taken: list[int] = []

    @operation(item=st.integers(0, 99))
    def offer(self, item: int) -> bool:
        ok = self.pipeline.offer(item)
        if ok:
            self.offered.append(item)
        return ok

    @operation()
    def poll(self) -> int | None:
        item = self.pipeline.poll()
        if item is not None:
            self.taken.append(item)
        return item

    @invariant()
    def delivered_at_most_once(self) -> None:
        remaining = list(self.offered)
        for item in self.taken:
            assert item in remaining, f"{item} taken but never offered (or taken twice)"
            remaining.remove(item)
        assert self.pipeline.queue.qsize() == len(remaining), (
            f"queue holds {self.pipeline.queue.qsize()} items, {len(remaining)} are missing"
        )
