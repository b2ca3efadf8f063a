"""Reading raw API JSON: the `RawCluster` contract and typed field access that fails with a reason.

Objects arrive exactly as the API served them, so any field may be missing, null or of the wrong
type (a raw `kubectl edit` of a v1 CR skips all validation). Every accessor here either returns a
value of the promised type or raises `Malformed` naming the field; the builders turn that into an
`Invalid` entry instead of crashing. JSON null is treated as absent, as Kubernetes does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tui.model.cidr import CidrError
from tui.model.selector import Selector, SelectorError, parse_selector

RawObject = Mapping[str, Any]
RawCluster = Mapping[str, Sequence[RawObject]]

# The keys of a RawCluster (docs/ARCHITECTURE.md, "Raw cluster snapshot"); missing keys mean "none".
RAW_KEYS = (
    "ippools", "ipamblocks", "blockaffinities", "bgpconfigurations", "bgppeers", "caliconodestatuses",
    "clusterinformations", "nodes", "pods", "daemonsets", "configmaps", "installations",
)

# libcalico-go keeps v3 metadata (user labels, annotations) as JSON in this annotation of the v1 CR;
# the v1 CR's own labels only carry projectcalico.org/ and operator.tigera.io/ keys.
CALICO_METADATA_ANNOTATION = "projectcalico.org/metadata"


class Malformed(ValueError):
    """A field that is missing, of the wrong type or unusable; the message names the field."""


def lookup(obj: RawObject, path: str) -> Any:
    """The value at a dotted path, or None when absent or null."""
    value: Any = obj
    for depth, key in enumerate(path.split(".")):
        if value is None:
            return None
        if type(value) is not dict and not isinstance(value, Mapping):
            walked = ".".join(path.split(".")[:depth])
            raise Malformed(f"{walked}: expected an object, got {_type(value)}")
        value = value.get(key)
    return value


def _type(value: object) -> str:
    return {str: "string", bool: "boolean", int: "integer", float: "number", list: "list",
            dict: "object"}.get(type(value), type(value).__name__)


def _typed(obj: RawObject, path: str, kinds: tuple[type, ...], label: str) -> Any:
    value = lookup(obj, path)
    # Exact JSON types first (fast); bool is an int in Python but never in JSON schemas.
    if value is None or type(value) in kinds:
        return value
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise Malformed(f"{path}: expected {label}, got {_type(value)}")
    return value


def req_str(obj: RawObject, path: str) -> str:
    value = _typed(obj, path, (str,), "a string")
    if not value:
        raise Malformed(f"{path}: required but missing")
    return value


def opt_str(obj: RawObject, path: str, default: str | None = None) -> str | None:
    """A string, or `default` when absent or empty (Calico writes unset strings as "")."""
    value = _typed(obj, path, (str,), "a string")
    return value if value else default


def opt_bool(obj: RawObject, path: str, default: bool | None = None) -> bool | None:
    value = _typed(obj, path, (bool,), "a boolean")
    return default if value is None else value


def opt_int(obj: RawObject, path: str, default: int | None = None) -> int | None:
    value = _typed(obj, path, (int,), "an integer")
    return default if value is None else value


def opt_list(obj: RawObject, path: str) -> list[Any]:
    value = _typed(obj, path, (list,), "a list")
    return [] if value is None else value


def opt_map(obj: RawObject, path: str) -> Mapping[str, Any]:
    value = _typed(obj, path, (dict, Mapping), "an object")
    return {} if value is None else value


def str_map(obj: RawObject, path: str) -> dict[str, str]:
    """A map of strings (labels, annotations, ConfigMap data): the object's own dict when it is
    one (read-only, like the object; no copy for each of thousands of objects)."""
    value = opt_map(obj, path)
    if not all(type(item) is str for item in value.values()):
        key, item = next((k, v) for k, v in value.items() if not isinstance(v, str))
        raise Malformed(f"{path}.{key}: expected a string, got {_type(item)}")
    return value if type(value) is dict else dict(value)


def str_list(obj: RawObject, path: str) -> tuple[str, ...]:
    items = opt_list(obj, path)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise Malformed(f"{path}[{index}]: expected a string, got {_type(item)}")
    return tuple(items)


def objects(obj: RawObject, path: str) -> list[Mapping[str, Any]]:
    """A list whose items must all be objects."""
    items = opt_list(obj, path)
    for index, item in enumerate(items):
        require_object(f"{path}[{index}]", item)
    return items


def require_object(path: str, item: Any) -> Mapping[str, Any]:
    if type(item) is not dict and not isinstance(item, Mapping):
        raise Malformed(f"{path}: expected an object, got {_type(item)}")
    return item


def checked(path: str, parse: Any, value: Any) -> Any:
    """Run a CIDR/selector parser on a field's value, turning its error into Malformed for `path`."""
    try:
        return parse(value)
    except (CidrError, SelectorError) as error:
        raise Malformed(f"{path}: {error}") from None


def selector_field(obj: RawObject, path: str, default: str | None = None) -> Selector | None:
    """A Calico selector field; empty means `default` (None: the field is unset)."""
    text = opt_str(obj, path, default)
    return None if text is None else checked(path, parse_selector, text)


_EPOCH_MIN = datetime.min.replace(tzinfo=timezone.utc)


def parse_time(text: str | None) -> datetime | None:
    """RFC 3339 timestamps as the API writes them (`2024-05-01T10:00:00Z`), always timezone-aware
    (UTC when the text has no offset); None when absent or unparsable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Meta:
    """The metadata every view needs. `labels`/`annotations` are read-only by convention."""

    name: str
    namespace: str | None
    uid: str | None
    resource_version: str | None
    creation_timestamp: str | None
    deletion_timestamp: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    last_changed: str | None  # newest managedFields time, else creationTimestamp

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def read_meta(obj: RawObject) -> Meta:
    """Metadata, with Calico's v3 labels/annotations merged in from the v1 metadata annotation."""
    if not isinstance(obj, Mapping):
        raise Malformed(f"expected an object, got {_type(obj)}")
    labels = str_map(obj, "metadata.labels")
    annotations = str_map(obj, "metadata.annotations")
    stored = annotations.get(CALICO_METADATA_ANNOTATION)
    if stored:
        try:
            v3 = json.loads(stored)
        except ValueError:
            raise Malformed(f"metadata.annotations.{CALICO_METADATA_ANNOTATION}: not JSON") from None
        if not isinstance(v3, Mapping):
            raise Malformed(f"metadata.annotations.{CALICO_METADATA_ANNOTATION}: expected a JSON object")
        labels = {**str_map(v3, "labels"), **labels}
        annotations = {**str_map(v3, "annotations"), **annotations}
    times = [t for entry in objects(obj, "metadata.managedFields") if (t := opt_str(entry, "time"))]
    created = opt_str(obj, "metadata.creationTimestamp")
    return Meta(
        name=req_str(obj, "metadata.name"),
        namespace=opt_str(obj, "metadata.namespace"),
        uid=opt_str(obj, "metadata.uid"),
        resource_version=opt_str(obj, "metadata.resourceVersion"),
        creation_timestamp=created,
        deletion_timestamp=opt_str(obj, "metadata.deletionTimestamp"),
        labels=labels,
        annotations=annotations,
        last_changed=max(times, key=lambda t: parse_time(t) or _EPOCH_MIN, default=created),
    )


def object_name(obj: object) -> str:
    """Best-effort `namespace/name` of an object that may be too broken to read."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("metadata"), Mapping):
        return "?"
    name, namespace = obj["metadata"].get("name"), obj["metadata"].get("namespace")
    name = name if isinstance(name, str) and name else "?"
    return f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name
