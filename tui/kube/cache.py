"""The live picture of the cluster: one Reflector per watched collection, and coalesced change sets.

Consumers never see single watch events. They subscribe and receive a `ChangeSet` at most
`max_rate_hz` times per second, and only when data or health changed, carrying a snapshot of the
whole `RawCluster`. Snapshots share the per-collection lists (rebuilt only for collections that
changed), so handing one out costs O(number of collections), not O(number of objects): treat them
as read-only.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from tui.kube.connection import Connection
from tui.kube.heartbeat import Heartbeat
from tui.kube.reflector import Health, Reflector, Tuning
from tui.model.identity import identical
from tui.kube.resources import WatchSpec, watch_specs
from tui.model.raw import RAW_KEYS, RawCluster

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeSet:
    """What changed since the previous delivery to this subscriber, and the state now."""

    resources_changed: frozenset[str]   # RawCluster keys whose objects changed
    health_changed: frozenset[str]      # RawCluster keys whose health changed
    raw: RawCluster                     # read-only
    health: Mapping[str, Health]        # per RawCluster key that is watched


def combine_health(parts: Iterable[Health]) -> Health:
    """One key's health from its collections: synced only if all are; the oldest outage; the
    first error; the newest event."""
    parts = list(parts)
    since = [h.reconnecting_since for h in parts if h.reconnecting_since is not None]
    events = [h.last_event_at for h in parts if h.last_event_at is not None]
    return Health(synced=bool(parts) and all(h.synced for h in parts),
                  reconnecting_since=min(since) if since else None,
                  error=next((h.error for h in parts if h.error), None),
                  last_event_at=max(events) if events else None)


class Subscription:
    """A consumer's thread delivering coalesced change sets; `cancel()` ends it."""

    def __init__(self, cache: "ClusterCache", callback: Callable[[ChangeSet], None], max_rate_hz: float):
        if max_rate_hz <= 0:
            raise ValueError("max_rate_hz must be positive")
        self._cache = cache
        self._callback = callback
        self._interval = 1.0 / max_rate_hz
        self._cond = threading.Condition()
        self._data: set[str] = set(cache.keys)   # the first delivery describes everything
        self._health: set[str] = set(cache.keys)
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="calico-tui changes")
        self._thread.start()

    def notify(self, key: str, data: bool, health: bool) -> None:
        with self._cond:
            if data:
                self._data.add(key)
            if health:
                self._health.add(key)
            self._cond.notify()

    def cancel(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify()
        self._cache._forget(self)

    def join(self, timeout: float | None = None) -> bool:
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive() or threading.current_thread() is self._thread

    def _run(self) -> None:
        next_allowed = 0.0
        while True:
            with self._cond:
                while not self._cancelled and not (self._data or self._health):
                    self._cond.wait()
                while not self._cancelled and (pause := next_allowed - time.monotonic()) > 0:
                    self._cond.wait(pause)
                if self._cancelled:
                    return
                data, health = frozenset(self._data), frozenset(self._health)
                self._data.clear()
                self._health.clear()
            next_allowed = time.monotonic() + self._interval
            changes = ChangeSet(data, health, self._cache.snapshot(), self._cache.health())
            try:
                self._callback(changes)
            except Exception:  # noqa: BLE001 - a consumer bug must not stop deliveries
                log.exception("change-set subscriber failed")


class ClusterCache:
    """List+watch of every collection in `specs` (default: all the data layer watches)."""

    def __init__(self, conn: Connection, served: Mapping[str, frozenset[str]] | None = None, *,
                 specs: list[WatchSpec] | None = None, tuning: Tuning = Tuning()):
        if specs is None:
            specs = watch_specs(served or {})
        self.conn = conn
        self._reflectors = [Reflector(conn, spec, self._changed, tuning) for spec in specs]
        self._heartbeat = Heartbeat(conn, self._heartbeat_changed, tuning.heartbeat_interval,
                                    tuning.heartbeat_timeout)
        self._by_key: dict[str, list[Reflector]] = {}
        for reflector in self._reflectors:
            self._by_key.setdefault(reflector.spec.key, []).append(reflector)
        self.keys = tuple(self._by_key)
        self._subscriptions: list[Subscription] = []
        self._lock = threading.Lock()
        self._joined: dict[str, tuple[list[list[dict]], list[dict]]] = {}  # key -> (parts, their concatenation)
        self._started = False

    def start(self) -> "ClusterCache":
        self._started = True
        for reflector in self._reflectors:
            reflector.start()
        self._heartbeat.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop every thread this cache started; True when all of them ended within `timeout`."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.cancel()
        for reflector in self._reflectors:
            reflector.stop()
        self._heartbeat.stop()
        deadline = time.monotonic() + timeout
        stopped = True
        for thread in [*self._reflectors, self._heartbeat, *subscriptions]:
            stopped = thread.join(max(0.0, deadline - time.monotonic())) and stopped
        return stopped

    def __enter__(self) -> "ClusterCache":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until every collection has been listed once (True) or the timeout passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for reflector in self._reflectors:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not reflector.synced_once.wait(remaining):
                return False
        return True

    def relist(self) -> None:
        """Drop every watch and list again (the operator's "refresh")."""
        for reflector in self._reflectors:
            reflector.request_relist()

    def spec(self, key: str) -> WatchSpec:
        """Where the collection stored under `key` is listed from (its first watch)."""
        return self._by_key[key][0].spec

    def snapshot(self) -> RawCluster:
        """The current objects. A key's list is the same object as in the previous snapshot until
        one of its collections changes, so consumers can reuse whatever they derived from it."""
        raw: dict[str, list[dict]] = {key: [] for key in RAW_KEYS}
        for key, reflectors in self._by_key.items():
            parts = [reflector.items() for reflector in reflectors]
            if len(parts) == 1:
                raw[key] = parts[0]
                continue
            with self._lock:
                joined = self._joined.get(key)
                if joined is None or not identical(joined[0], parts):
                    joined = self._joined[key] = (parts, [obj for part in parts for obj in part])
            raw[key] = joined[1]
        return raw

    def health(self) -> dict[str, Health]:
        """Per key; while the server does not answer at all, every key is stale whatever its
        watches last said (a hung server fails no watch until its read timeout)."""
        silent = self._heartbeat.down_since
        return {key: combine_health([*(r.health for r in reflectors),
                                     *([Health(False, silent, self._heartbeat.error)] if silent else [])])
                for key, reflectors in self._by_key.items()}

    def subscribe(self, callback: Callable[[ChangeSet], None], max_rate_hz: float = 4.0) -> Subscription:
        """Deliver coalesced change sets to `callback` on a thread of its own (at once with the
        current state, then at most `max_rate_hz` per second and only after a change)."""
        subscription = Subscription(self, callback, max_rate_hz)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def _forget(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def _heartbeat_changed(self) -> None:
        """The server stopped or started answering: every key's health changed; once it answers
        again, re-establish every watch (one may be a dead connection that would never fail).
        Each resumes from its last version rather than relisting: a server that was merely slow
        for a few seconds must not be sent every list again (tens of MB at 5,000 nodes, which
        would slow it down again)."""
        if self._heartbeat.down_since is None:
            for reflector in self._reflectors:
                reflector.request_rewatch()
        with self._lock:
            subscriptions = list(self._subscriptions)
        for key in self.keys:
            for subscription in subscriptions:
                subscription.notify(key, False, True)

    def _changed(self, reflector: Reflector, data: bool, health: bool) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.notify(reflector.spec.key, data, health)
