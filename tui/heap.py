"""Short full passes of the cyclic garbage collector in a process that holds a whole cluster.

Listing 5,000 nodes leaves well over a million long-lived objects. CPython's full collection walks
every tracked object outside the permanent generation (about a microsecond each), so those objects
are frozen once everything is listed. But after a freeze CPython's "a quarter more than last time"
rule sees an almost empty old generation and fires a full pass every few seconds under IPAM churn,
each one walking everything parsed since the freeze: measured 150-250 ms stalls, the whole p99
event-to-screen at 200 events/s. So once settled, automatic full passes are off, and `tick` (called
between builds) runs one every FULL_PASS_SECONDS and freezes what survived it, which keeps each pass
to what one interval of churn left behind.

The price: an object frozen while alive that later becomes garbage only through a reference cycle
(a closed screen's widgets, say) is not reclaimed. Model objects have no cycles and are freed by
reference counting as usual; what can leak is a few UI objects per closed screen.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable

FULL_PASS_SECONDS = 60.0
_NEVER = 2**31 - 1

_lock = threading.Lock()
_holders = 0  # live Heap objects that switched automatic full passes off
_saved: tuple[int, int, int] | None = None


class Heap:
    """The collector policy of one live session."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._settled = False
        self._next_pass = 0.0

    def settle(self) -> None:
        """Everything is listed and parsed: freeze it and stop automatic full passes."""
        global _holders, _saved
        if self._settled:
            return
        self._settled = True
        self._next_pass = self._clock() + FULL_PASS_SECONDS
        with _lock:
            if _holders == 0:
                _saved = gc.get_threshold()
                gc.set_threshold(_saved[0], _saved[1], _NEVER)
            _holders += 1
        gc.freeze()

    def tick(self) -> None:
        """Between two builds: the periodic full pass, then freeze its survivors."""
        if self._settled and self._clock() >= self._next_pass:
            gc.collect()
            gc.freeze()
            self._next_pass = self._clock() + FULL_PASS_SECONDS

    def release(self) -> None:
        """The session closed: automatic full passes come back when no other session needs them off."""
        global _holders
        if not self._settled:
            return
        self._settled = False
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved is not None:
                gc.set_threshold(*_saved)
