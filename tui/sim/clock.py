"""Simulated time for the cluster: wall-clock based, sped up for demos, frozen and stepped in tests.

Everything time-dependent in the simulator (timestamps, grace periods, controller periods, watch
bookmarks) reads this clock, so a test can freeze it and step through a minute in microseconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timezone


def rfc3339(seconds: float) -> str:
    """Kubernetes timestamps: whole seconds, UTC, `Z` suffix."""
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


class Clock:
    """Simulated seconds since the epoch.

    Safe to steer from any thread; `sleep` must be awaited on the loop the clock is attached to
    (the simulator's), which is woken whenever speed, freezing or stepping changes the timeline.
    """

    def __init__(self, start: float | None = None, speed: float = 1.0):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._lock = threading.Lock()
        self._speed = speed
        self._frozen = False
        self._base_sim = time.time() if start is None else start
        self._base_real = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._changed = None

    def now(self) -> float:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> float:
        if self._frozen:
            return self._base_sim
        return self._base_sim + (time.monotonic() - self._base_real) * self._speed

    def timestamp(self, offset: float = 0.0) -> str:
        return rfc3339(self.now() + offset)

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def frozen(self) -> bool:
        return self._frozen

    def _rebase(self, *, speed: float | None = None, frozen: bool | None = None, advance: float = 0.0) -> None:
        with self._lock:
            self._base_sim = self._now_locked() + advance
            self._base_real = time.monotonic()
            if speed is not None:
                if speed <= 0:
                    raise ValueError("speed must be positive")
                self._speed = speed
            if frozen is not None:
                self._frozen = frozen
        self._notify()

    def set_speed(self, speed: float) -> None:
        self._rebase(speed=speed)

    def freeze(self) -> None:
        self._rebase(frozen=True)

    def unfreeze(self) -> None:
        self._rebase(frozen=False)

    def step(self, seconds: float) -> None:
        """Move simulated time forward (frozen or not); sleepers whose deadline passed wake up."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._rebase(advance=seconds)

    def state(self) -> dict:
        return {"now": self.now(), "time": self.timestamp(), "speed": self._speed, "frozen": self._frozen}

    def _notify(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake()
        else:
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        deadline = self.now() + seconds
        while True:
            remaining = deadline - self.now()
            if remaining <= 0:
                return
            if self._changed is None:
                self._changed = asyncio.Event()
            changed = self._changed
            wait = None if self._frozen else remaining / self._speed
            try:
                await asyncio.wait_for(changed.wait(), wait)
            except asyncio.TimeoutError:
                pass
