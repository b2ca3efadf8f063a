"""What the data layer reads: one `WatchSpec` per list+watch, grouped by `RawCluster` key.

The selection follows docs/ARCHITECTURE.md "Objects every layer agrees on": Calico objects
cluster-wide, Nodes, and only the kube-system / calico-system objects the migration needs, each
narrowed by label or field selector. Pods cluster-wide are never watched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

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
    specs = [WatchSpec(plural, group, plural)
             for plural in CALICO_PLURALS
             if (group := calico_group_for(plural, served)) is not None]
    specs.append(WatchSpec("nodes", "v1", "nodes"))
    specs += [
        WatchSpec("pods", "v1", "pods", KUBE_SYSTEM, "component=kube-controller-manager"),
        WatchSpec("pods", "v1", "pods", KUBE_SYSTEM, "k8s-app in (kube-proxy,calico-node)"),
        WatchSpec("pods", "v1", "pods", CALICO_SYSTEM, "k8s-app=calico-node"),
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
