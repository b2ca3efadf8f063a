"""Dumb versioned storage, the simulator's etcd: objects, one global revision, a bounded history.

No API semantics live here (see api.py). Every commit gets the next integer revision (served as a
string resourceVersion), is appended to a bounded history that watches resume from and continue
tokens read through, and is pushed synchronously to listeners.

Stored dicts are never mutated after they are committed: writers hand over fresh dicts and readers
get copies from `clone`, so history entries stay valid snapshots.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

from tui.sim.resources import StorageKey

DEFAULT_HISTORY = 5000


def clone(value):
    """Deep copy of plain JSON data; several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def object_key(obj: dict) -> tuple[str, str]:
    m = meta(obj)
    return m.get("namespace") or "", m.get("name") or ""


def without_rv(obj: dict) -> dict:
    """`obj` with metadata.resourceVersion dropped (shallow where possible), to compare contents."""
    m = meta(obj)
    if "resourceVersion" not in m:
        return obj
    return {**obj, "metadata": {k: v for k, v in m.items() if k != "resourceVersion"}}


def stamped(obj: dict, rv: int) -> dict:
    return {**obj, "metadata": {**meta(obj), "resourceVersion": str(rv)}}


class TooOld(Exception):
    """The requested revision is older than the history window."""

    def __init__(self, requested: int, oldest: int):
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: StorageKey
    obj: dict  # the new state; for DELETED the last state stamped with the delete's revision
    old: dict | None  # the previous state (None for ADDED)


class Store:
    def __init__(self, history_size: int = DEFAULT_HISTORY):
        self._objects: dict[StorageKey, dict[tuple[str, str], dict]] = {}
        self._rv = 0
        self._history: deque[Event] = deque()
        self._history_size = history_size
        self._compacted = 0  # every event with rv > this is still in the history
        self._listeners: list[Callable[[Event], None]] = []

    # --- reading -----------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def compacted(self) -> int:
        """Oldest revision a watch or a continue token may still start from."""
        return self._compacted

    @property
    def history_size(self) -> int:
        return self._history_size

    def get(self, key: StorageKey, namespace: str, name: str) -> dict | None:
        """The stored object itself (do not mutate; see `clone`)."""
        return self._objects.get(key, {}).get((namespace or "", name))

    def list(self, key: StorageKey, namespace: str | None = None) -> list[dict]:
        """Stored objects of one type in etcd key order (namespace, then name)."""
        objects = self._objects.get(key, {})
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        return [objects[k] for k in keys]

    def count(self, key: StorageKey) -> int:
        return len(self._objects.get(key, {}))

    def keys(self) -> list[StorageKey]:
        return [k for k, objects in self._objects.items() if objects]

    def events_since(self, rv: int) -> list[Event]:
        """Events after revision `rv`; TooOld when some of them have left the history."""
        if rv < self._compacted:
            raise TooOld(rv, self._compacted)
        # History is ordered; walk back from the newest end, which is where watchers usually are.
        out = []
        for event in reversed(self._history):
            if event.rv <= rv:
                break
            out.append(event)
        out.reverse()
        return out

    def list_at(self, key: StorageKey, rv: int, namespace: str | None = None) -> list[dict]:
        """The objects of one type as they were at revision `rv` (TooOld outside the history)."""
        later = [e for e in self.events_since(rv) if e.key == key]
        if not later:
            return self.list(key, namespace)
        state = dict(self._objects.get(key, {}))
        for event in reversed(later):
            k = object_key(event.obj)
            if event.old is None:
                state.pop(k, None)
            else:
                state[k] = event.old
        return [state[k] for k in sorted(state) if namespace is None or k[0] == namespace]

    # --- writing -----------------------------------------------------------------------------
    def listen(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call `callback(event)` after every commit; returns the function that unsubscribes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def create(self, key: StorageKey, obj: dict) -> dict:
        return self._commit("ADDED", key, obj, None)

    def update(self, key: StorageKey, obj: dict) -> dict:
        old = self.get(key, *object_key(obj))
        if old is None:
            raise KeyError(object_key(obj))
        return self._commit("MODIFIED", key, obj, old)

    def delete(self, key: StorageKey, namespace: str, name: str, final: dict | None = None) -> dict:
        """Remove an object; the DELETED event carries `final` (default: the stored state)."""
        old = self.get(key, namespace, name)
        if old is None:
            raise KeyError((namespace, name))
        return self._commit("DELETED", key, old if final is None else final, old)

    def _commit(self, kind: str, key: StorageKey, obj: dict, old: dict | None) -> dict:
        self._rv += 1
        new = stamped(obj, self._rv)
        objects = self._objects.setdefault(key, {})
        if kind == "DELETED":
            del objects[object_key(obj)]
        else:
            objects[object_key(new)] = new
        event = Event(self._rv, kind, key, new, old)
        self._history.append(event)
        self._trim()
        for listener in list(self._listeners):
            listener(event)
        return new

    def _trim(self) -> None:
        while len(self._history) > self._history_size:
            self._compacted = self._history.popleft().rv

    def set_history_size(self, size: int) -> None:
        self._history_size = max(1, size)
        self._trim()

    def bulk_create(self, entries: Iterable[tuple[StorageKey, dict]]) -> None:
        """Insert many new objects without events: for building a big cluster before anyone watches
        (each object still gets its own revision; the history starts after them). The objects are
        handed over: their metadata is stamped in place."""
        for key, obj in entries:
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._objects.setdefault(key, {})[object_key(obj)] = obj
        self.compact()

    def compact(self) -> None:
        """Forget all history: every older revision becomes too old (a fault tests inject)."""
        self._history.clear()
        self._compacted = self._rv

    # --- snapshots ---------------------------------------------------------------------------
    def snapshot(self) -> dict:
        return {"resourceVersion": str(self._rv),
                "objects": [{"key": list(key), "object": clone(obj)}
                            for key in sorted(self._objects) for obj in self.list(key)]}

    def restore(self, snapshot: dict) -> None:
        """Make the stored state equal to `snapshot` through ordinary commits.

        Revisions keep increasing and watchers see the differences as events, so nothing that
        watches the store can tell a restore from a burst of writes.
        """
        wanted: dict[StorageKey, dict[tuple[str, str], dict]] = {}
        for entry in snapshot.get("objects", []):
            key = tuple(entry["key"])
            wanted.setdefault(key, {})[object_key(entry["object"])] = entry["object"]
        for key in sorted(set(self._objects) | set(wanted)):
            current = dict(self._objects.get(key, {}))
            target = wanted.get(key, {})
            for k in sorted(set(current) - set(target)):
                self.delete(key, *k)
            for k in sorted(target):
                obj = clone(target[k])
                if k not in current:
                    self.create(key, obj)
                elif without_rv(current[k]) != without_rv(obj):
                    self.update(key, obj)

