"""The collector policy of a live session (tui.heap)."""

from __future__ import annotations

import gc

from tui.heap import FULL_PASS_SECONDS, Heap


def test_full_passes_run_on_schedule_and_come_back_when_released():
    before = gc.get_threshold()
    now = [0.0]
    heap = Heap(clock=lambda: now[0])
    try:
        heap.settle()
        assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] > 10**6
        frozen = gc.get_freeze_count()
        garbage = []
        garbage.append(garbage)  # a cycle only a full pass reclaims
        del garbage
        survivors = [[] for _ in range(10)]
        heap.tick()
        assert gc.get_freeze_count() == frozen  # not yet due
        now[0] += FULL_PASS_SECONDS
        heap.tick()
        assert gc.get_freeze_count() >= frozen + len(survivors)  # what survived the pass is frozen
        other = Heap(clock=lambda: now[0])
        other.settle()
        heap.release()
        assert gc.get_threshold()[2] > 10**6  # another session still needs them off
        other.release()
        assert gc.get_threshold() == before
    finally:
        gc.unfreeze()
