"""What the data layer reads: one `WatchSpec` per list+watch, grouped by `RawCluster` key.

The selection follows docs/ARCHITECTURE.md "Objects every layer agrees on": Calico objects
cluster-wide, Nodes, and only the kube-system / calico-system objects the migration needs, each
narrowed by label or field selector. Pods cluster-wide are never watched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from tui.model.calico import attribute_owner
from tui.model.raw import Malformed

CALICO_V1 = "crd.projectcalico.org/v1"
CALICO_V3 = "projectcalico.org/v3"
OPERATOR_V1 = "operator.tigera.io/v1"

# Calico resources the monitor reads; all cluster-scoped.
CALICO_PLURALS = ("ippools", "ipamblocks", "blockaffinities", "bgpconfigurations", "bgppeers",
                  "caliconodestatuses", "clusterinformations")

KUBE_SYSTEM = "kube-system"
CALICO_SYSTEM = "calico-system"
CONFIGMAP_NAMES = ("kube-proxy", "kubeadm-config", "calico-config")


@dataclass(frozen=True)
class WatchSpec:
    """One collection to list and watch, stored in the RawCluster under `key`."""

    key: str
    group_version: str  # "v1" for the core group
    plural: str
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    # Makes a transform applied to every object as it arrives, to keep thousands of them small
    # (PartSharing keeps them equal to what the server sent; LeanBlocks reduces IPAM blocks).
    compact: Callable[[], Callable[[dict], dict]] | None = None

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    @property
    def path(self) -> str:
        root = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        scope = f"/namespaces/{self.namespace}" if self.namespace else ""
        return f"{root}{scope}/{self.plural}"

    @property
    def selectors(self) -> dict[str, str]:
        query = {}
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        if self.field_selector:
            query["fieldSelector"] = self.field_selector
        return query

    @property
    def name(self) -> str:
        """Unique, readable id: `pods kube-system k8s-app in (kube-proxy,calico-node)`."""
        parts = [self.plural if self.group_version in ("v1", CALICO_V1, CALICO_V3)
                 else f"{self.plural}.{self.group}"]
        parts += [p for p in (self.namespace, self.label_selector, self.field_selector) if p]
        return " ".join(parts)


def calico_group_for(plural: str, served: Mapping[str, frozenset[str]]) -> str | None:
    """Where the monitor reads a Calico resource: the v1 CRDs (the storage) when served, else v3."""
    for group_version in (CALICO_V1, CALICO_V3):
        if plural in served.get(group_version, ()):
            return group_version
    return None


def watch_specs(served: Mapping[str, frozenset[str]]) -> list[WatchSpec]:
    """Every collection the live cache keeps, given the resources the server serves
    (group/version -> plurals, from discovery)."""
    specs = [WatchSpec(plural, group, plural, compact=LeanBlocks if plural == "ipamblocks" else None)
             for plural in CALICO_PLURALS
             if (group := calico_group_for(plural, served)) is not None]
    specs.append(WatchSpec("nodes", "v1", "nodes", compact=PartSharing))
    specs += [
        WatchSpec("pods", "v1", "pods", KUBE_SYSTEM, "component=kube-controller-manager"),
        WatchSpec("pods", "v1", "pods", KUBE_SYSTEM, "k8s-app in (kube-proxy,calico-node)", compact=PartSharing),
        WatchSpec("pods", "v1", "pods", CALICO_SYSTEM, "k8s-app=calico-node", compact=PartSharing),
    ]
    specs += [WatchSpec("daemonsets", "apps/v1", "daemonsets", ns, field_selector=f"metadata.name={name}")
              for ns, name in ((KUBE_SYSTEM, "kube-proxy"), (KUBE_SYSTEM, "calico-node"),
                               (CALICO_SYSTEM, "calico-node"))]
    specs += [WatchSpec("configmaps", "v1", "configmaps", KUBE_SYSTEM, field_selector=f"metadata.name={name}")
              for name in CONFIGMAP_NAMES]
    if "installations" in served.get(OPERATOR_V1, ()):
        specs.append(WatchSpec("installations", OPERATOR_V1, "installations"))
    return specs


def object_key(obj: dict) -> tuple[str, str]:
    """(namespace, name): an object's identity within one collection."""
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def resource_version(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


class PartSharing:
    """Makes equal parts of similar objects one shared object: the pods of a DaemonSet repeat most
    of their spec, nodes their capacity and system info, so at 5,000 nodes this saves over 100 MB.
    Cached objects are read-only, so nobody can tell. For each key under metadata, spec and status,
    up to `candidates` distinct values are remembered and compared (C-speed `==`)."""

    SECTIONS = ("metadata", "spec", "status")

    def __init__(self, candidates: int = 4) -> None:
        self.limit = candidates
        self._seen: dict[tuple[str, str], list] = {}

    def __call__(self, obj: dict) -> dict:
        """`obj` (fresh from JSON, ours to change) with its parts shared where equal ones were seen."""
        for section in self.SECTIONS:
            part = obj.get(section)
            if type(part) is dict:
                for key, value in part.items():
                    part[key] = self._shared(section, key, value)
        return obj

    def _shared(self, section: str, key: str, value):
        if type(value) is not dict and type(value) is not list:
            return value
        seen = self._seen.setdefault((section, key), [])
        for candidate in seen:
            if candidate == value:
                return candidate
        if len(seen) < self.limit:
            seen.append(value)
        return value


class LeanBlocks:
    """IPAM blocks as the live cache keeps them: each allocation attribute reduced to the owner
    tuple the model reads (handle, node, namespace, pod, kind; see parse_ipamblock), with one string
    object per node and namespace name. At 5,000 nodes the 150,000 attribute dicts were about
    110 MB, the largest part of the dashboard's memory, and a large part of what the cyclic
    collector walks; the tuples take well under half. Only the allocation timestamps are dropped:
    the YAML view fetches the whole block from the API. A block with a malformed attribute is kept
    as served, so the parser names the fault."""

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}

    def __call__(self, obj: dict) -> dict:
        spec = obj.get("spec")
        attributes = spec.get("attributes") if type(spec) is dict else None
        if type(attributes) is not list:
            return obj
        strings = self._strings
        owners = []
        try:
            for index, attribute in enumerate(attributes):
                handle, node, namespace, pod, kind = attribute_owner(index, attribute)
                owners.append((handle, node if node is None else strings.setdefault(node, node),
                               namespace if namespace is None else strings.setdefault(namespace, namespace),
                               pod, kind))
        except Malformed:
            return obj
        spec["attributes"] = owners
        return obj


def is_lean(kind: str, obj: dict) -> bool:
    """Whether the cache keeps `obj` reduced (LeanBlocks): show it only after fetching it whole."""
    if kind != "ipamblocks":
        return False
    attributes = (obj.get("spec") or {}).get("attributes")
    return type(attributes) is list and any(type(a) is tuple for a in attributes)
