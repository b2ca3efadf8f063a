"""What the data layer reads: one `WatchSpec` per list+watch, grouped by `RawCluster` key.

The selection follows docs/ARCHITECTURE.md "Objects every layer agrees on": Calico objects
cluster-wide, Nodes, and only the kube-system / calico-system objects the migration needs, each
narrowed by label or field selector. Pods cluster-wide are never watched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

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
    # (PartSharing, AttributeStrings); objects stay equal to what the server sent.
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
    specs = [WatchSpec(plural, group, plural, compact=AttributeStrings if plural == "ipamblocks" else None)
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


class AttributeStrings:
    """One string object per distinct node and namespace name in IPAM blocks' allocation
    attributes: a 5,000-node cluster has 150,000 of them, each decoded as a string of its own."""

    KEYS = ("node", "namespace")

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}

    def __call__(self, obj: dict) -> dict:
        strings = self._strings
        for attribute in (obj.get("spec") or {}).get("attributes") or ():
            secondary = attribute.get("secondary") if type(attribute) is dict else None
            if type(secondary) is dict:
                for key in self.KEYS:
                    value = secondary.get(key)
                    if type(value) is str:
                        secondary[key] = strings.setdefault(value, value)
        return obj
