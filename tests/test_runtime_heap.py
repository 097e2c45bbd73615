"""`frozen_heap`: what exists at the start of a search is out of the collector's full passes,
and the heap is given back as it was found."""

from __future__ import annotations

import gc

from harness.runtime.heap import frozen_heap


def test_the_block_freezes_what_exists_and_unfreezes_it_after() -> None:
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with frozen_heap():  # nested: left as it is
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0


def test_a_heap_someone_else_froze_is_never_unfrozen() -> None:
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()


def test_cycles_made_inside_the_block_are_still_collected() -> None:
    class Node:
        other: object = None

    with frozen_heap():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
