"""An asyncio loop of its own, in a daemon thread, for the migration runner.

On the UI's loop every API round trip of the runner would wait behind screen rendering; a run of a
few thousand sequential requests then takes minutes longer than `calico-tui migrate`. The screen
submits the runner's coroutines here and awaits them with `asyncio.wrap_future`, so cancelling the
awaiting worker (the app exits) cancels the run where it is, as a crash would stop it. Pause, resume
and abort go through `call`, since the runner's asyncio primitives belong to this loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine


class RunLoop:
    def __init__(self, name: str = "calico-tui-migration") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    def submit(self, coroutine: Coroutine) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def call(self, fn: Callable, *args) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel whatever still runs and end the thread."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
