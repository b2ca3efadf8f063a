"""The controllers' shared informer cache: every object of the watched types, with indexes.

Real controllers read from informers and write through the API; so do ours. The cache is fed by the
Api's change callback, so it is up to date the moment a write commits. Cached objects are the
committed dicts themselves (never mutated after commit): treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Key = tuple[str, str]  # (group, plural) of the stored version


def obj_key(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


class Index:
    """Objects of one type grouped by a computed value (e.g. pods by node name)."""

    def __init__(self, fn: Callable[[dict], Iterable[str]]) -> None:
        self.fn = fn
        self.groups: dict[str, dict[tuple[str, str], dict]] = {}

    def add(self, obj: dict) -> None:
        for value in self.fn(obj):
            self.groups.setdefault(value, {})[obj_key(obj)] = obj

    def remove(self, obj: dict) -> None:
        for value in self.fn(obj):
            group = self.groups.get(value)
            if group is not None:
                group.pop(obj_key(obj), None)
                if not group:
                    del self.groups[value]


class ObjectCache:
    def __init__(self) -> None:
        self._objects: dict[Key, dict[tuple[str, str], dict]] = {}
        self._indexes: dict[tuple[Key, str], Index] = {}

    def add_index(self, key: Key, name: str, fn: Callable[[dict], Iterable[str]]) -> None:
        index = self._indexes.setdefault((key, name), Index(fn))
        for obj in self._objects.get(key, {}).values():
            index.add(obj)

    def replace(self, key: Key, objects: Iterable[dict]) -> None:
        """Load a whole type (the informer's initial list)."""
        for (k, _), index in self._indexes.items():
            if k == key:
                index.groups.clear()
        self._objects[key] = {}
        for obj in objects:
            self.upsert(key, obj)

    def upsert(self, key: Key, obj: dict) -> None:
        objects = self._objects.setdefault(key, {})
        old = objects.get(obj_key(obj))
        for (k, _), index in self._indexes.items():
            if k == key:
                if old is not None:
                    index.remove(old)
                index.add(obj)
        objects[obj_key(obj)] = obj

    def remove(self, key: Key, obj: dict) -> None:
        old = self._objects.get(key, {}).pop(obj_key(obj), None)
        if old is not None:
            for (k, _), index in self._indexes.items():
                if k == key:
                    index.remove(old)

    def get(self, key: Key, namespace: str | None, name: str) -> dict | None:
        return self._objects.get(key, {}).get((namespace or "", name))

    def list(self, key: Key, namespace: str | None = None) -> list[dict]:
        objects = self._objects.get(key, {})
        if namespace is None:
            return [objects[k] for k in sorted(objects)]
        return [objects[k] for k in sorted(objects) if k[0] == namespace]

    def count(self, key: Key) -> int:
        return len(self._objects.get(key, {}))

    def by_index(self, key: Key, name: str, value: str) -> list[dict]:
        group = self._indexes[(key, name)].groups.get(value, {})
        return [group[k] for k in sorted(group)]

    def index_values(self, key: Key, name: str) -> list[str]:
        return sorted(self._indexes[(key, name)].groups)
