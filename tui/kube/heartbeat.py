"""Is the API server answering at all?

A watch on a server that hangs (a paused or wedged apiserver, a half-open connection through a load
balancer) delivers nothing and fails nothing until its read timeout, minutes later, so a quiet
cluster and a dead server look the same to the reflectors. The heartbeat asks `/readyz` every
`interval` seconds with a short timeout; while it gets no answer the cache reports every collection
stale, and when answers come back every watch is re-established, since any of them may be dead.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from kubernetes.client.exceptions import ApiException

from tui.kube.connection import Connection, access_error

PATH = "/readyz"


class Heartbeat:
    """A thread probing the server; `on_change()` is called when it stops or starts answering."""

    def __init__(self, conn: Connection, on_change: Callable[[], None], interval: float, timeout: float):
        self.conn = conn
        self.interval = interval
        self.timeout = timeout
        self._on_change = on_change
        self._stop = threading.Event()
        self.down_since: float | None = None  # time.time() of the first unanswered probe
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="calico-tui heartbeat")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self.conn.abort(self._thread.ident)

    def join(self, timeout: float) -> bool:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _probe(self) -> str | None:
        """None when the server answered in time (whatever it answered: a 403 or 500 is an answer,
        and the watches report those themselves), else why not (one line)."""
        try:
            response = self.conn.open("GET", PATH, timeout=(self.timeout, self.timeout))
            response.release_conn()
            return None
        except ApiException as exc:
            return None if exc.status else access_error(exc, self.conn.server, self.conn.user).summary
        except Exception as exc:  # noqa: BLE001 - any failure to answer is the signal
            failure = access_error(exc, self.conn.server, self.conn.user)
            if failure is not None and failure.cause == "timeout":
                return f"{self.conn.server} did not answer within {self.timeout:g}s"
            return failure.summary if failure is not None else f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            error = self._probe()
            if self._stop.is_set():
                return
            if (error is None) != (self.error is None):
                self.down_since = None if error is None else time.time() - (time.monotonic() - started)
                self.error = error
                self._on_change()
            elif error is not None:
                self.error = error
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
