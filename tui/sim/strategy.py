"""The per-type hook through which the Api applies a resource type's own rules.

`Api` runs the same pipeline for every type (decode, metadata, generation, finalizers, dry-run,
commit) and asks the type's `Strategy` for everything type-specific. A served version that is stored
as another version (the Calico API server's `projectcalico.org/v3` over `crd.projectcalico.org/v1`)
converts in `to_storage`/`from_storage`, so reads, writes, lists and watches of either version see the
same objects.

All objects passed in are private copies in *served* form unless a docstring says otherwise;
methods may mutate them. Raise `tui.sim.errors.ApiError` to refuse a write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.sim.api import Api
    from tui.sim.resources import ResourceType


class Strategy:
    """Default behaviour: storage form == served form apart from apiVersion/kind, no extra rules."""

    def from_storage(self, api: Api, res: ResourceType, obj: dict) -> dict:
        """Stored object (a private copy) -> the object as `res` serves it. Runs on every read."""
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        return obj

    def to_storage(self, api: Api, res: ResourceType, obj: dict, stored: dict | None) -> dict:
        """Served object -> storage form. `stored` is the currently stored object (None on create)."""
        target = api.registry.storage_type(res.storage_key) or res
        obj["apiVersion"] = target.api_version
        obj["kind"] = target.kind
        return obj

    def prepare_create(self, api: Api, res: ResourceType, obj: dict, dry_run: bool = False) -> None:
        """Default and validate a new object (server-set metadata is already filled in)."""

    def prepare_update(self, api: Api, res: ResourceType, new: dict, old: dict, dry_run: bool = False) -> None:
        """Default and validate a changed object; `old` is the current served object."""

    def before_delete(self, api: Api, res: ResourceType, obj: dict, dry_run: bool) -> None:
        """Refuse a delete, or do what must happen before it (never side effects when `dry_run`)."""

    def grace_period(self, obj: dict, requested: int | None) -> int:
        """Seconds the object lingers with a deletionTimestamp before it may go (pods: > 0)."""
        return 0

    def mark_deleting(self, obj: dict) -> None:
        """Adjust an object that has just been given a deletionTimestamp (namespaces: Terminating)."""

    def deletion_blocked(self, obj: dict) -> bool:
        """Whether something besides metadata.finalizers keeps a deleted object (spec.finalizers)."""
        return False
