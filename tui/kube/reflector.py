"""One collection kept current: paginated list, then watch from the list's resourceVersion.

The loop is client-go's Reflector (kubernetes.md §4 "Live-view patterns"): bookmarks on, a server
`timeoutSeconds` plus a client read timeout so a dead connection cannot block forever, re-watch from
the last seen resourceVersion (bookmarks included) after a clean close, relist and diff on 410,
exponential backoff with jitter on anything else.

The stream is read here rather than through `kubernetes.watch.Watch`: with `deserialize=False`
that class raises KeyError on ERROR events (it looks up `raw_object`, which it only sets when
deserializing) and json-decodes blank lines; with deserialization on, it builds a model per event.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from tui.kube.connection import Connection, access_error
from tui.kube.listing import PAGE_SIZE, list_all
from tui.kube.resources import WatchSpec, object_key, resource_version


@dataclass(frozen=True)
class Tuning:
    """Timing of list/watch; the defaults suit a real cluster, tests shrink them."""

    watch_timeout: int = 240            # server-side timeoutSeconds of each watch (jittered +25%)
    connect_timeout: float = 5.0
    read_timeout: float = 330.0          # beyond the longest watch: an idle watch is not an error
    list_read_timeout: float = 60.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    page_size: int = PAGE_SIZE
    heartbeat_interval: float = 1.0     # how often the cache asks whether the server answers at all
    heartbeat_timeout: float = 3.0      # no answer within this: every collection is stale

    def __post_init__(self) -> None:
        if self.read_timeout <= self.watch_timeout * 1.25:
            raise ValueError("read_timeout must exceed the longest watch (watch_timeout * 1.25)")


@dataclass(frozen=True)
class Health:
    """One collection's freshness. Times are `time.time()` seconds."""

    synced: bool = False                 # listed, and the watch is (re)connected
    reconnecting_since: float | None = None
    error: str | None = None
    last_event_at: float | None = None   # last list, event or bookmark received

    def last_event_age(self, now: float | None = None) -> float | None:
        if self.last_event_at is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.last_event_at)


class Expired(Exception):
    """The resourceVersion we watch from is gone (410): relist."""


def backoff_delay(failures: int, base: float, cap: float, rng: random.Random = random) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d] for d = min(cap, base * 2^(failures-1))."""
    delay = min(cap, base * 2 ** max(0, failures - 1))
    return rng.uniform(delay / 2, delay)


def retry_after(exc: BaseException) -> float | None:
    """Seconds a 429/503 asked us to wait (Retry-After), if any."""
    headers = getattr(exc, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def diff(old: dict[tuple[str, str], dict], items: list[dict]) -> tuple[dict, bool]:
    """The new store for a relist, keeping unchanged objects (same resourceVersion) as they were,
    and whether anything was added, modified or deleted."""
    new = {}
    changed = False
    for item in items:
        key = object_key(item)
        previous = old.get(key)
        if previous is not None and resource_version(previous) == resource_version(item):
            new[key] = previous
        else:
            new[key] = item
            changed = True
    return new, changed or any(key not in new for key in old)


class Reflector:
    """A thread keeping `objects` equal to the server's collection for `spec`.

    `on_change(reflector, data_changed, health_changed)` is called from the thread after each
    batch that changed the data or the health.
    """

    def __init__(self, conn: Connection, spec: WatchSpec,
                 on_change: Callable[["Reflector", bool, bool], None], tuning: Tuning = Tuning()):
        self.conn = conn
        self.spec = spec
        self.tuning = tuning
        self._on_change = on_change
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], dict] = {}
        self._items: list[dict] | None = []
        self._health = Health()
        self._version: str | None = None  # where the next watch starts; None: list first
        self._stop = threading.Event()
        self._relist_requested = threading.Event()
        self._rewatch_requested = threading.Event()
        self._watching = False
        self._compact = spec.compact() if spec.compact else None
        self.synced_once = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"calico-tui watch {spec.name}")

    # -- public -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and unblock any read it is waiting in."""
        self._stop.set()
        self._interrupt()

    def request_relist(self) -> None:
        """Drop the current watch and list again."""
        self._relist_requested.set()
        self._interrupt()

    def request_rewatch(self) -> None:
        """Drop the current watch (it may be a dead connection) and watch again from the last
        version seen: the server replays what was missed, or says 410 and a relist follows.
        A list in progress is left alone (cutting it would start it over): the watch that follows
        it is a new connection anyway."""
        self._rewatch_requested.set()
        if self._watching:
            self._interrupt()

    def _interrupt(self) -> None:
        if self._thread.ident is not None:
            self.conn.abort(self._thread.ident)

    def join(self, timeout: float) -> bool:
        """Wait for the thread, cutting its connections again while it lingers (a request may
        have started between `stop()` and its next check)."""
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._thread.join(min(0.1, max(0.0, deadline - time.monotonic())))
            if self._stop.is_set():
                self._interrupt()
        return not self._thread.is_alive()

    def items(self) -> list[dict]:
        """The current objects; the list is shared until the next change: do not mutate it."""
        with self._lock:
            if self._items is None:
                self._items = list(self._objects.values())
            return self._items

    @property
    def health(self) -> Health:
        return self._health

    # -- loop ---------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = expirations = short_watches = 0
        while not self._stop.is_set():
            try:
                if self._version is None or self._relist_requested.is_set():
                    self._relist_requested.clear()
                    self._relist()
                started = time.monotonic()
                self._watch()
                failures = expirations = 0
                # A server that closes every watch at once must not make us spin.
                asked = self._relist_requested.is_set() or self._rewatch_requested.is_set()
                self._rewatch_requested.clear()
                short = time.monotonic() - started < 1.0 and not asked
                short_watches = short_watches + 1 if short else 0
                if short_watches:
                    self._stop.wait(backoff_delay(short_watches, self.tuning.backoff_base,
                                                  self.tuning.backoff_cap))
            except Expired:
                # Relist at once; only a server that keeps expiring fresh versions gets backoff.
                self._version = None
                expirations += 1
                if expirations > 1:
                    self._stop.wait(backoff_delay(expirations - 1, self.tuning.backoff_base,
                                                  self.tuning.backoff_cap))
            except Exception as exc:  # noqa: BLE001 - every failure is reported and retried
                if self._stop.is_set():
                    break
                if self._relist_requested.is_set():
                    continue
                if self._rewatch_requested.is_set():
                    self._rewatch_requested.clear()
                    continue
                failures += 1
                self._set_failing(exc)
                delay = backoff_delay(failures, self.tuning.backoff_base, self.tuning.backoff_cap)
                self._stop.wait(max(delay, min(retry_after(exc) or 0.0, self.tuning.backoff_cap)))

    def _relist(self) -> None:
        timeout = (self.tuning.connect_timeout, self.tuning.list_read_timeout)
        items, version = list_all(self.conn, self.spec, page_size=self.tuning.page_size,
                                  timeout=timeout, each=self._compact)
        with self._lock:
            self._objects, changed = diff(self._objects, items)
            if changed:
                self._items = None
        self._version = version
        self._set_healthy(data_changed=changed)
        self.synced_once.set()

    def _watch(self) -> None:
        """Stream events from `_version` until the server ends the watch (or we are told to)."""
        timeout_seconds = self.tuning.watch_timeout + random.randint(0, self.tuning.watch_timeout // 4)
        query = {**self.spec.selectors, "watch": True, "resourceVersion": self._version,
                 "allowWatchBookmarks": True, "timeoutSeconds": timeout_seconds}
        self._rewatch_requested.clear()  # this is a new connection
        self._watching = True
        response = None
        try:
            response = self.conn.open("GET", self.spec.path, query,
                                      timeout=(self.tuning.connect_timeout, self.tuning.read_timeout))
            self._set_healthy(data_changed=False)
            for line in iter_resp_lines(response):
                if self._stop.is_set() or self._relist_requested.is_set() or self._rewatch_requested.is_set():
                    break
                if line.strip():
                    self._apply(json.loads(line))
        finally:
            self._watching = False
            if response is not None:
                response.close()  # an unfinished stream must not go back to the pool
                response.release_conn()

    def _apply(self, event: dict) -> None:
        """One watch event into the store; every event's (and bookmark's) version is remembered, so
        a broken stream resumes from the last one seen."""
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Expired(obj.get("message"))
            raise ApiException(status=obj.get("code"), reason=f"{obj.get('reason')}: {obj.get('message')}")
        self._version = resource_version(obj) or self._version
        changed = False
        if kind in ("ADDED", "MODIFIED") and self._compact is not None:
            obj = self._compact(obj)
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            key = object_key(obj)
            with self._lock:
                previous = self._objects.get(key)
                if kind == "DELETED":
                    changed = self._objects.pop(key, None) is not None
                elif previous is None or resource_version(previous) != resource_version(obj):
                    self._objects[key] = obj
                    changed = True
                if changed:
                    self._items = None
        self._health = Health(True, None, None, time.time())
        if changed:
            self._on_change(self, True, False)

    def _set_healthy(self, data_changed: bool) -> None:
        before = self._health
        self._health = Health(True, None, None, time.time())
        health_changed = not before.synced or before.error is not None
        if data_changed or health_changed:
            self._on_change(self, data_changed, health_changed)

    def _set_failing(self, exc: BaseException) -> None:
        before = self._health
        failure = access_error(exc, self.conn.server, self.conn.user)
        text = failure.summary if failure is not None else f"{type(exc).__name__}: {exc}"
        since = before.reconnecting_since or time.time()
        self._health = Health(False, since, text, before.last_event_at)
        if before.synced or before.error != text:
            self._on_change(self, False, True)
