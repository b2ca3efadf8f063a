"""The plan's data: ordered steps, each with the objects it changes (before/after, dry-run
result), host tasks for what only a person on the node can do, and how it is verified and undone.

Plans are pure data. They are rendered for review (runbook), stored whole in the journal when a
migration starts (a resumed run follows the plan it started with, not a re-plan of a half-migrated
cluster) and executed by the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from tui.migrate.diff import object_diff
from tui.migrate.rest import Resource, resource_for

API, MANUAL, VERIFY = "api", "manual-host", "verify"


@dataclass(frozen=True)
class ObjectRef:
    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @property
    def resource(self) -> Resource:
        return resource_for(self.api_version, self.kind)

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    @classmethod
    def of(cls, obj: dict) -> "ObjectRef":
        meta = obj.get("metadata") or {}
        return cls(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))


@dataclass(frozen=True)
class DryRun:
    """The server's verdict on a change sent with `dryRun=All`."""

    status: str  # accepted | rejected | skipped
    message: str = ""

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" if self.message else self.status


@dataclass(frozen=True)
class Change:
    """One object write. `transforms` re-derive `after` from the live object at apply time."""

    ref: ObjectRef
    op: str  # create | update | delete
    before: dict | None
    after: dict | None
    transforms: tuple[tuple[str, dict], ...] = ()
    dry_run: DryRun | None = None

    @property
    def diff(self) -> str:
        return object_diff(self.before, self.after)

    @property
    def key(self) -> str:
        return f"{self.op}:{self.ref}"


@dataclass(frozen=True)
class HostTask:
    """Something only a person on the node can do, with the exact file diff and commands, and the
    simulator host action that plays it in the demo (`--sim-manual`)."""

    node: str
    action: str  # edit-kcm | restart-kubelet
    args: dict
    commands: tuple[str, ...]
    verify: str
    file: str | None = None
    diff: str = ""


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    kind: str  # api | manual-host | verify
    why: str
    if_skipped: str
    changes: tuple[Change, ...] = ()
    hosts: tuple[HostTask, ...] = ()
    items: tuple[dict, ...] = ()  # what a rolling step moves, in order
    preconditions: tuple[str, ...] = ()
    verify: str = ""
    rollback: str | None = None

    @property
    def rolling(self) -> bool:
        return bool(self.items)


@dataclass(frozen=True)
class Plan:
    params: dict
    cluster: dict
    steps: tuple[Step, ...]
    findings: tuple[dict, ...] = ()
    notes: tuple[str, ...] = ()

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"no step {step_id!r} in this plan (steps: {', '.join(self.ids)})")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.steps)

    def with_step(self, step: Step) -> "Plan":
        return replace(self, steps=tuple(step if s.id == step.id else s for s in self.steps))

    def to_dict(self) -> dict:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        return _from_dict(cls, data)


_NESTED = {"steps": Step, "changes": Change, "hosts": HostTask, "ref": ObjectRef, "dry_run": DryRun}


def _to_dict(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _to_dict(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_dict(v) for v in value]
    return value


def _from_dict(cls, data: dict):
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        nested = _NESTED.get(f.name)
        if nested is not None and isinstance(value, list):
            value = tuple(_from_dict(nested, v) for v in value)
        elif nested is not None and isinstance(value, dict):
            value = _from_dict(nested, value)
        elif f.name == "transforms":
            value = tuple((name, args) for name, args in value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)

