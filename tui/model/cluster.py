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
from tui.model.identity import few_changed, identical
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
    """What the previous build of a live view parsed and derived, so the next one redoes only what
    its change set touched: parsed objects keyed by (parser, uid, resourceVersion), values derived
    from unchanged inputs (`derived`), helpers that update themselves (`state`). Entries a build did
    not use are dropped after it (`rotate`)."""

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

    def derived(self, compute: Callable[..., T], *inputs: Any) -> T:
        """`compute(*inputs)`, computed again only when some input is not the very object it was
        last time (a list: when some item is not), so a change set touching IPAM blocks rebuilds
        only what depends on them. `compute` must be module-level."""
        key = (compute, *map(id, inputs))
        seen = tuple(tuple(i) if type(i) is list else i for i in inputs)  # a list may change in place
        entry = self._current.get(key) or self._previous.get(key)
        if entry is None or len(entry[0]) != len(seen) or any(not _same(a, b) for a, b in zip(entry[0], seen)):
            entry = (seen, compute(*inputs))  # keeps the inputs alive, so their ids stay theirs
        self._current[key] = entry
        return entry[1]

    def state(self, key: Any, create: Callable[[], T]) -> T:
        """A helper object kept under `key` for as long as every build asks for it."""
        value = self._current.get(key, self._previous.get(key))
        if value is None:
            value = create()
        self._current[key] = value
        return value

    def rotate(self) -> None:
        """After each build: entries it did not use are dropped."""
        self._previous, self._current = self._current, {}


def _same(a: Any, b: Any) -> bool:
    """The same object, or tuples of the same objects."""
    return a is b or (type(a) is tuple and type(b) is tuple and identical(a, b))


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
    app = labels.get("k8s-app") or _meta_field(obj, "name")
    return app if isinstance(app, str) else None  # a damaged label or name matches no component


def _by_name(obj: Any) -> str:
    return obj.name


def _by_node(obj: Any) -> str:
    return obj.node


def _network_order(block: IPAMBlock) -> tuple[int, int, int]:
    """By family, then address: the order of comparing the networks, without their slow __lt__."""
    return block.cidr.version, int(block.cidr.network_address), block.cidr.prefixlen


class _Collection:
    """One collection parsed, tombstones left out, sorted by `order`, kept from build to build.

    The cache's list of a collection keeps its order when objects are modified, so a new list of
    the same length that differs in a few objects is patched at those objects: O(changed) work
    instead of O(objects) when IPAM churns on thousands of blocks. Anything else (objects added or
    removed, unreadable, moving in the order) is rebuilt, reusing the parsed form of every raw
    object seen last time.
    """

    def __init__(self, key: str, parse: Callable[[Any], Any], order: Callable[[Any], Any]) -> None:
        self.key, self.parse, self.order = key, parse, order
        self.rebuilt_from: type | None = None  # the type of the raw value last rebuilt from
        self.objects: list[Any] = []  # the raw objects, as a list of our own (a caller may change theirs)
        self.entries: list[tuple[Any, Invalid | None]] = []  # per object: (parsed or None, why not)
        self.slots: list[int] = []  # per object: its index in `result`, or -1
        self.result: tuple = ()
        self.invalid: tuple[Invalid, ...] = ()

    def update(self, items: Any) -> tuple[tuple, tuple[Invalid, ...]]:
        """The collection for this raw value: the very same tuple when no object in it changed."""
        if not self._patch(items):
            self._rebuild(items)
        return self.result, self.invalid

    def _read(self, obj: Any) -> tuple[Any, Invalid | None]:
        try:
            parsed = self.parse(obj)
        except Malformed as error:
            return None, Invalid(KINDS[self.key], object_name(obj), str(error))
        return (None if getattr(parsed, "deleted", False) else parsed), None

    def _patch(self, items: Any) -> bool:
        if type(items) is not list or self.rebuilt_from is not list or self.invalid:
            return False
        changed = few_changed(self.objects, items)
        if changed is None:
            return False
        if not changed:
            return True
        replaced = []
        for i in changed:
            new, invalid = self._read(items[i])
            previous = self.entries[i][0]
            if invalid is not None or new is None or previous is None or self.order(new) != self.order(previous):
                return False
            replaced.append((i, new))
        result = list(self.result)
        for i, new in replaced:
            result[self.slots[i]] = new
            self.entries[i] = (new, None)
        self.result, self.objects = tuple(result), list(items)
        return True

    def _rebuild(self, items: Any) -> None:
        reader = _Reader({self.key: items})
        objects = reader.items(self.key)
        known = {id(obj): (obj, entry) for obj, entry in zip(self.objects, self.entries)}
        entries = []
        for obj in objects:
            hit = known.get(id(obj))
            entries.append(hit[1] if hit is not None and hit[0] is obj else self._read(obj))
        valid = sorted(((parsed, i) for i, (parsed, _) in enumerate(entries) if parsed is not None),
                       key=lambda pair: self.order(pair[0]))
        slots = [-1] * len(entries)
        for slot, (_, i) in enumerate(valid):
            slots[i] = slot
        self.objects, self.entries, self.slots, self.rebuilt_from = objects, entries, slots, type(items)
        self.result = tuple(parsed for parsed, _ in valid)
        self.invalid = tuple(reader.invalid) + tuple(why for _, why in entries if why is not None)


def _pods(items: Any, kube_proxy: KubeProxyConfig | None, memo: ParseMemo | None):
    """kube-controller-manager, kube-proxy and calico-node pods (the pods the cache watches)."""
    reader = _Reader({"pods": items}, memo)
    pods = reader.items("pods")
    by_app: dict[str | None, list[Any]] = {}
    for pod in pods:
        by_app.setdefault(_app(pod), []).append(pod)
    controller_managers = tuple(sorted(
        reader.parse("pods", parse_controller_manager, by_app.get("kube-controller-manager", [])),
        key=lambda k: k.pod.name))
    kube_proxy_pods = tuple(sorted(
        reader.parse("pods", lambda p: kube_proxy_pod(p, kube_proxy), by_app.get("kube-proxy", [])),
        key=lambda k: k.pod.name))
    calico_node_pods = tuple(sorted(reader.parse("pods", parse_pod, by_app.get("calico-node", [])), key=_by_name))
    return (controller_managers, kube_proxy_pods, calico_node_pods), tuple(reader.invalid)


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

    def collection(key: str, parse: Callable[[Any], T], order: Callable[[T], Any]) -> tuple[T, ...]:
        fresh = lambda: _Collection(key, parse, order)  # noqa: E731
        value, invalid = (fresh() if memo is None else memo.state(("collection", key), fresh)).update(raw.get(key))
        reader.invalid.extend(invalid)
        return value

    daemonsets = reader.items("daemonsets")
    ds_kube_proxy = reader.parse("daemonsets", parse_daemonset, [d for d in daemonsets if _app(d) == "kube-proxy"])
    calico_node = reader.parse(
        "daemonsets", lambda obj: parse_calico_node(obj, configmap_data),
        [d for d in daemonsets if _app(d) == "calico-node"])

    blocks = collection("ipamblocks", parse_ipamblock, _network_order)
    affinities = collection("blockaffinities", parse_blockaffinity, _by_name)
    bgp_configurations = sorted(reader.parse("bgpconfigurations", parse_bgpconfiguration), key=lambda c: c.name)
    cluster_information = reader.parse("clusterinformations", parse_clusterinformation)
    installations = reader.parse("installations", parse_installation)
    pools = collection("ippools", parse_ippool, _by_name)
    nodes = collection("nodes", parse_node, _by_name)
    peers = collection("bgppeers", parse_bgppeer, _by_name)
    node_statuses = collection("caliconodestatuses", parse_caliconodestatus, _by_node)
    pods = raw.get("pods")
    (controller_managers, kube_proxy_pods, calico_node_pods), invalid = (
        _pods(pods, kube_proxy, memo) if memo is None else memo.derived(_pods, pods, kube_proxy, memo))
    reader.invalid.extend(invalid)

    return Cluster(
        pools=pools,
        blocks=blocks,
        affinities=affinities,
        nodes=nodes,
        bgp=next((c for c in bgp_configurations if c.name == "default"), DEFAULT_BGP_CONFIGURATION),
        bgp_configurations=tuple(bgp_configurations),
        peers=peers,
        node_statuses=node_statuses,
        cluster_information=next((c for c in cluster_information if c.meta.name == "default"),
                                 next(iter(cluster_information), None)),
        controller_managers=controller_managers,
        kube_proxy=kube_proxy,
        kube_proxy_pods=kube_proxy_pods,
        kube_proxy_daemonset=next(iter(ds_kube_proxy), None),
        kubeadm=kubeadm,
        cni=cni,
        calico_node=next(iter(calico_node), None),
        calico_node_pods=calico_node_pods,
        installation=next((i for i in installations if i.meta.name == "default"), next(iter(installations), None)),
        invalid=tuple(reader.invalid),
    )
