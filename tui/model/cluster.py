"""One frozen picture of the cluster, built from a `RawCluster`.

`build_cluster` never raises on bad data: an object it cannot read becomes an `Invalid` entry
(kind, name, reason) and everything else is still built. Tombstones (`deleted: true` blocks and
affinities, written just before Calico deletes them) are left out as already gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from tui.model.calico import (
    DEFAULT_BGP_CONFIGURATION,
    BGPConfiguration,
    BGPPeer,
    BlockAffinity,
    CalicoNodeStatus,
    ClusterInformation,
    IPAMBlock,
    IPPool,
    parse_bgpconfiguration,
    parse_bgppeer,
    parse_blockaffinity,
    parse_caliconodestatus,
    parse_clusterinformation,
    parse_ipamblock,
    parse_ippool,
)
from tui.model.config import (
    CalicoNodeConfig,
    CniConfig,
    ControllerManager,
    DaemonSetState,
    Installation,
    KubeadmConfig,
    KubeProxyConfig,
    KubeProxyPod,
    PodState,
    kube_proxy_pod,
    parse_calico_node,
    parse_cni_config,
    parse_controller_manager,
    parse_daemonset,
    parse_installation,
    parse_kube_proxy_config,
    parse_kubeadm_config,
    parse_pod,
)
from tui.model.node import Node, parse_node
from tui.model.raw import RAW_KEYS, Malformed, RawCluster, object_name, str_map

T = TypeVar("T")

# Kind names used in Invalid entries, by RawCluster key.
KINDS = {
    "ippools": "IPPool", "ipamblocks": "IPAMBlock", "blockaffinities": "BlockAffinity",
    "bgpconfigurations": "BGPConfiguration", "bgppeers": "BGPPeer", "caliconodestatuses": "CalicoNodeStatus",
    "clusterinformations": "ClusterInformation", "nodes": "Node", "pods": "Pod", "daemonsets": "DaemonSet",
    "configmaps": "ConfigMap", "installations": "Installation",
}


@dataclass(frozen=True)
class Invalid:
    """An object the model could not read, and why."""

    kind: str
    name: str
    reason: str


@dataclass(frozen=True)
class Cluster:
    pools: tuple[IPPool, ...] = ()  # by name, the order calicoctl lists them
    blocks: tuple[IPAMBlock, ...] = ()  # by family, then address
    affinities: tuple[BlockAffinity, ...] = ()
    nodes: tuple[Node, ...] = ()  # by name
    bgp: BGPConfiguration = DEFAULT_BGP_CONFIGURATION  # the effective cluster-wide configuration
    bgp_configurations: tuple[BGPConfiguration, ...] = ()  # every object present, incl. node.<name>
    peers: tuple[BGPPeer, ...] = ()
    node_statuses: tuple[CalicoNodeStatus, ...] = ()
    cluster_information: ClusterInformation | None = None
    controller_managers: tuple[ControllerManager, ...] = ()
    kube_proxy: KubeProxyConfig | None = None
    kube_proxy_pods: tuple[KubeProxyPod, ...] = ()
    kube_proxy_daemonset: DaemonSetState | None = None
    kubeadm: KubeadmConfig | None = None
    cni: CniConfig | None = None
    calico_node: CalicoNodeConfig | None = None
    calico_node_pods: tuple[PodState, ...] = ()
    installation: Installation | None = None
    invalid: tuple[Invalid, ...] = ()

    @cached_property
    def nodes_by_name(self) -> dict[str, Node]:
        return {node.name: node for node in self.nodes}

    @cached_property
    def pools_by_name(self) -> dict[str, IPPool]:
        return {pool.name: pool for pool in self.pools}

    def node(self, name: str) -> Node | None:
        return self.nodes_by_name.get(name)

    def pool(self, name: str) -> IPPool | None:
        return self.pools_by_name.get(name)

    def node_status(self, node_name: str) -> CalicoNodeStatus | None:
        """The CalicoNodeStatus reporting on `node_name`, if someone created one."""
        return next((status for status in self.node_statuses if status.node == node_name), None)

    def as_number_of(self, node: Node) -> int:
        """The node's effective AS: its own annotation, else the cluster-wide one."""
        return node.as_number if node.as_number is not None else self.bgp.as_number


class ParseMemo:
    """Parsed objects of the previous build, keyed by (parser, uid, resourceVersion), so that a live
    view rebuilt for every change set parses only the objects that changed (same uid and
    resourceVersion: same object). Entries a build did not use are dropped after it."""

    def __init__(self) -> None:
        self._previous: dict[tuple, Any] = {}
        self._current: dict[tuple, Any] = {}

    def parse(self, parse: Callable[[Any], T], obj: Any) -> T:
        uid, version = _meta_field(obj, "uid"), _meta_field(obj, "resourceVersion")
        if not (isinstance(uid, str) and isinstance(version, str)):
            return parse(obj)
        key = (parse, uid, version)
        if key not in self._current:
            if key in self._previous:
                self._current[key] = self._previous[key]
            else:
                try:
                    self._current[key] = parse(obj)
                except Malformed as error:
                    self._current[key] = error
        result = self._current[key]
        if isinstance(result, Malformed):
            raise result
        return result

    def rotate(self) -> None:
        self._previous, self._current = self._current, {}


class _Reader:
    """Parses one RawCluster key's objects, collecting failures as Invalid entries."""

    def __init__(self, raw: RawCluster, memo: ParseMemo | None = None) -> None:
        self.raw = raw
        self.memo = memo
        self.invalid: list[Invalid] = []

    def items(self, key: str) -> list[Any]:
        items = self.raw.get(key) or []
        if not isinstance(items, (list, tuple)):
            self.invalid.append(Invalid(KINDS[key], "*", f"expected a list of objects under {key!r}"))
            return []
        return list(items)

    def parse(self, key: str, parse: Callable[[Any], T], items: list[Any] | None = None) -> list[T]:
        out = []
        for obj in self.items(key) if items is None else items:
            try:
                out.append(self.memo.parse(parse, obj) if self.memo is not None else parse(obj))
            except Malformed as error:
                self.invalid.append(Invalid(KINDS[key], object_name(obj), str(error)))
        return out


def _labels(obj: Any) -> Mapping[str, Any]:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def _meta_field(obj: Any, key: str) -> Any:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    return metadata.get(key) if isinstance(metadata, Mapping) else None


def _app(obj: Any) -> str | None:
    """Which component a pod or DaemonSet belongs to, by the labels real installs use."""
    labels = _labels(obj)
    if labels.get("component") == "kube-controller-manager":
        return "kube-controller-manager"
    return labels.get("k8s-app") or _meta_field(obj, "name")


def build_cluster(raw: RawCluster, memo: ParseMemo | None = None) -> Cluster:
    """The typed picture of a raw snapshot; never raises on malformed objects. Pass the same `memo`
    to successive builds of a live view to re-parse only changed objects (call `memo.rotate()` after each)."""
    reader = _Reader(raw, memo)
    for key in raw:
        if key not in RAW_KEYS:
            reader.invalid.append(Invalid("RawCluster", key, "unknown key, ignored"))

    configmaps = reader.items("configmaps")
    configmap_data = {}
    for cm in configmaps:
        ref = (_meta_field(cm, "namespace"), _meta_field(cm, "name"))
        try:
            if isinstance(ref[1], str) and isinstance(ref[0], (str, type(None))):
                configmap_data[ref] = str_map(cm, "data")
        except Malformed:
            continue  # reported when the ConfigMap itself is parsed below
    by_name = {name: [cm for cm in configmaps if _meta_field(cm, "name") == name]
               for name in ("kube-proxy", "kubeadm-config", "calico-config")}
    kube_proxy = next(iter(reader.parse("configmaps", parse_kube_proxy_config, by_name["kube-proxy"])), None)
    kubeadm = next(iter(reader.parse("configmaps", parse_kubeadm_config, by_name["kubeadm-config"])), None)
    cni = next(iter(reader.parse("configmaps", parse_cni_config, by_name["calico-config"])), None)

    pods = reader.items("pods")
    daemonsets = reader.items("daemonsets")
    ds_kube_proxy = reader.parse("daemonsets", parse_daemonset, [d for d in daemonsets if _app(d) == "kube-proxy"])
    calico_node = reader.parse(
        "daemonsets", lambda obj: parse_calico_node(obj, configmap_data),
        [d for d in daemonsets if _app(d) == "calico-node"])

    blocks = [b for b in reader.parse("ipamblocks", parse_ipamblock) if not b.deleted]
    affinities = [a for a in reader.parse("blockaffinities", parse_blockaffinity) if not a.deleted]
    bgp_configurations = sorted(reader.parse("bgpconfigurations", parse_bgpconfiguration), key=lambda c: c.name)
    cluster_information = reader.parse("clusterinformations", parse_clusterinformation)
    installations = reader.parse("installations", parse_installation)

    return Cluster(
        pools=tuple(sorted(reader.parse("ippools", parse_ippool), key=lambda p: p.name)),
        blocks=tuple(sorted(blocks, key=lambda b: (b.cidr.version, b.cidr))),
        affinities=tuple(sorted(affinities, key=lambda a: a.name)),
        nodes=tuple(sorted(reader.parse("nodes", parse_node), key=lambda n: n.name)),
        bgp=next((c for c in bgp_configurations if c.name == "default"), DEFAULT_BGP_CONFIGURATION),
        bgp_configurations=tuple(bgp_configurations),
        peers=tuple(sorted(reader.parse("bgppeers", parse_bgppeer), key=lambda p: p.name)),
        node_statuses=tuple(sorted(reader.parse("caliconodestatuses", parse_caliconodestatus), key=lambda s: s.node)),
        cluster_information=next((c for c in cluster_information if c.meta.name == "default"),
                                 next(iter(cluster_information), None)),
        controller_managers=tuple(sorted(
            reader.parse("pods", parse_controller_manager, [p for p in pods if _app(p) == "kube-controller-manager"]),
            key=lambda k: k.pod.name)),
        kube_proxy=kube_proxy,
        kube_proxy_pods=tuple(sorted(
            reader.parse("pods", lambda p: kube_proxy_pod(p, kube_proxy), [p for p in pods if _app(p) == "kube-proxy"]),
            key=lambda k: k.pod.name)),
        kube_proxy_daemonset=next(iter(ds_kube_proxy), None),
        kubeadm=kubeadm,
        cni=cni,
        calico_node=next(iter(calico_node), None),
        calico_node_pods=tuple(sorted(
            reader.parse("pods", parse_pod, [p for p in pods if _app(p) == "calico-node"]), key=lambda p: p.name)),
        installation=next((i for i in installations if i.meta.name == "default"), next(iter(installations), None)),
        invalid=tuple(reader.invalid),
    )
