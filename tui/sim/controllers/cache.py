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

    def add(self, obj: dict, key: tuple[str, str]) -> None:
        for value in self.fn(obj):
            self.groups.setdefault(value, {})[key] = obj

    def remove(self, obj: dict, key: tuple[str, str]) -> None:
        for value in self.fn(obj):
            group = self.groups.get(value)
            if group is not None:
                group.pop(key, None)
                if not group:
                    del self.groups[value]


class ObjectCache:
    def __init__(self) -> None:
        self._objects: dict[Key, dict[tuple[str, str], dict]] = {}
        self._indexes: dict[tuple[Key, str], Index] = {}
        self._by_key: dict[Key, list[Index]] = {}

    def add_index(self, key: Key, name: str, fn: Callable[[dict], Iterable[str]]) -> None:
        if (key, name) in self._indexes:
            return
        index = self._indexes[(key, name)] = Index(fn)
        self._by_key.setdefault(key, []).append(index)
        for k, obj in self._objects.get(key, {}).items():
            index.add(obj, k)

    def replace(self, key: Key, objects: Iterable[dict]) -> None:
        """Load a whole type (the informer's initial list)."""
        self._objects[key] = {obj_key(obj): obj for obj in objects}
        for index in self._by_key.get(key, ()):
            index.groups.clear()
            for k, obj in self._objects[key].items():
                index.add(obj, k)

    def upsert(self, key: Key, obj: dict) -> None:
        objects = self._objects.setdefault(key, {})
        k = obj_key(obj)
        old = objects.get(k)
        for index in self._by_key.get(key, ()):
            if old is not None:
                index.remove(old, k)
            index.add(obj, k)
        objects[k] = obj

    def remove(self, key: Key, obj: dict) -> None:
        k = obj_key(obj)
        old = self._objects.get(key, {}).pop(k, None)
        if old is not None:
            for index in self._by_key.get(key, ()):
                index.remove(old, k)

    def get(self, key: Key, namespace: str | None, name: str) -> dict | None:
        return self._objects.get(key, {}).get((namespace or "", name))

    def list(self, key: Key, namespace: str | None = None) -> list[dict]:
        """Objects in the order they were first seen (deterministic for a deterministic history)."""
        objects = self._objects.get(key, {})
        if namespace is None:
            return list(objects.values())
        return [obj for k, obj in objects.items() if k[0] == namespace]

    def count(self, key: Key) -> int:
        return len(self._objects.get(key, {}))

    def by_index(self, key: Key, name: str, value: str) -> list[dict]:
        return list(self._indexes[(key, name)].groups.get(value, {}).values())

    def count_index(self, key: Key, name: str, value: str) -> int:
        return len(self._indexes[(key, name)].groups.get(value, ()))

    def index_values(self, key: Key, name: str) -> list[str]:
        return sorted(self._indexes[(key, name)].groups)
