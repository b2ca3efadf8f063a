"""Calico resources as frozen dataclasses, read from `crd.projectcalico.org/v1` or `projectcalico.org/v3` JSON.

Defaults are applied the way libcalico-go applies them when it reads storage, because a raw v1 CR
often lacks them (calico.md §1.1, pitfall 3): an IPPool without `blockSize` *is* a /26 pool to Calico.
Each `parse_*` returns the object or raises `Malformed` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from tui.model.cidr import Address, CidrError, Network, address_count, parse_address, parse_cidr
from tui.model.raw import (
    Malformed,
    Meta,
    RawObject,
    checked,
    lookup,
    objects,
    opt_bool,
    opt_int,
    opt_list,
    opt_map,
    opt_str,
    read_meta,
    req_str,
    require_object,
    selector_field,
    str_list,
)
from tui.model.selector import Selector

ENCAP_MODES = ("Never", "Always", "CrossSubnet")
DEFAULT_ALLOWED_USES = ("Workload", "Tunnel")
DEFAULT_AS_NUMBER = 64512
OPERATOR_MANAGED_LABEL = ("app.kubernetes.io/managed-by", "tigera-operator")
# Allocation owner types Calico writes in `secondary.type` for tunnel addresses.
TUNNEL_TYPES = ("ipipTunnelAddress", "vxlanTunnelAddress", "vxlanV6TunnelAddress",
                "wireguardTunnelAddress", "wireguardV6TunnelAddress")


def parse_as_number(value: Any, path: str) -> int:
    """A BGP AS number: an integer, a decimal string, or asdot `high.low`, in 0..2^32-1."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        high, dot, low = value.partition(".")
        if high.isdigit() and (not dot or low.isdigit()):
            number = int(high) * 65536 + int(low) if dot else int(high)
            if dot and (int(high) > 65535 or int(low) > 65535):
                number = None
    if number is None or not 0 <= number < 2**32:
        raise Malformed(f"{path}: {value!r} is not a BGP AS number")
    return number


def _opt_as_number(obj: RawObject, path: str) -> int | None:
    value = lookup(obj, path)
    return None if value in (None, "", 0) else parse_as_number(value, path)


def _enum(obj: RawObject, path: str, allowed: tuple[str, ...], default: str) -> str:
    value = opt_str(obj, path, default)
    if value not in allowed:
        raise Malformed(f"{path}: {value!r} is not one of {', '.join(allowed)}")
    return value


# --- IPPool ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IPPool:
    meta: Meta
    cidr: Network
    block_size: int
    ipip_mode: str
    vxlan_mode: str
    nat_outgoing: bool
    disabled: bool
    disable_bgp_export: bool
    node_selector: Selector
    namespace_selector: str | None
    allowed_uses: tuple[str, ...]
    assignment_mode: str
    allocatable: bool | None  # v3 status condition `Allocatable`; None when not reported

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def operator_managed(self) -> bool:
        key, value = OPERATOR_MANAGED_LABEL
        return self.meta.labels.get(key) == value

    @property
    def deleting(self) -> bool:
        return self.meta.deletion_timestamp is not None

    @property
    def enabled(self) -> bool:
        """Whether IPAM hands out new addresses from it (libcalico-go `filterIPPool`)."""
        return not self.disabled and not self.deleting and self.allocatable is not False

    @property
    def size(self) -> int:
        return address_count(self.cidr)


def parse_ippool(obj: RawObject) -> IPPool:
    meta = read_meta(obj)
    # Calico masks host bits when it reads a pool, so a sloppy raw CIDR still means the network.
    cidr = checked("spec.cidr", lambda text: parse_cidr(text, strict=False), req_str(obj, "spec.cidr"))
    block_size = opt_int(obj, "spec.blockSize") or (26 if cidr.version == 4 else 122)
    # calicoctl refuses a pool smaller than a block only when writing an enabled pool; reading, it is a pool.
    if not 0 < block_size <= cidr.max_prefixlen:
        raise Malformed(f"spec.blockSize: /{block_size} is not a prefix length for IPv{cidr.version}")
    allowed_uses = str_list(obj, "spec.allowedUses") or DEFAULT_ALLOWED_USES
    allocatable = None
    for condition in objects(obj, "status.conditions"):
        if opt_str(condition, "type") == "Allocatable":
            allocatable = opt_str(condition, "status") != "False"
    return IPPool(
        meta=meta,
        cidr=cidr,
        block_size=block_size,
        ipip_mode=_enum(obj, "spec.ipipMode", ENCAP_MODES, "Never"),
        vxlan_mode=_enum(obj, "spec.vxlanMode", ENCAP_MODES, "Never"),
        nat_outgoing=opt_bool(obj, "spec.natOutgoing", False),
        disabled=opt_bool(obj, "spec.disabled", False),
        disable_bgp_export=opt_bool(obj, "spec.disableBGPExport", False),
        node_selector=selector_field(obj, "spec.nodeSelector", "all()"),
        namespace_selector=opt_str(obj, "spec.namespaceSelector"),
        allowed_uses=allowed_uses,
        assignment_mode=_enum(obj, "spec.assignmentMode", ("Automatic", "Manual"), "Automatic"),
        allocatable=allocatable,
    )


# --- IPAMBlock ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Allocation:
    """One allocated address of a block and who holds it (the block attribute it points to)."""

    block: Network
    ordinal: int
    handle: str | None
    node: str | None
    namespace: str | None
    pod: str | None
    kind: str  # "pod", a tunnel type from TUNNEL_TYPES, "vmi", or "other"

    @property
    def ip(self) -> Address:
        return self.block.network_address + self.ordinal

    @property
    def owner(self) -> str:
        if self.kind == "pod":
            return f"{self.namespace}/{self.pod}"
        return self.kind if self.node is None else f"{self.kind} on {self.node}"


@dataclass(frozen=True)
class IPAMBlock:
    meta: Meta
    cidr: Network
    affinity: str | None  # raw, e.g. "host:worker-1", "virtual:lb"; None when released
    in_use: int  # len(allocations) - len(unallocated), exactly as Calico counts it
    allocations: tuple[Allocation, ...]  # allocated ordinals in ordinal order
    deleted: bool  # tombstone written just before deletion; treated as gone

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def capacity(self) -> int:
        return address_count(self.cidr)

    @property
    def free(self) -> int:
        return self.capacity - self.in_use

    @property
    def affinity_type(self) -> str | None:
        return None if self.affinity is None else (self.affinity.partition(":")[0] if ":" in self.affinity else "host")

    @cached_property
    def affinity_node(self) -> str | None:
        """The node owning the block (host affinity only); None for released or virtual blocks."""
        if self.affinity is None or self.affinity_type != "host":
            return None
        return self.affinity.partition(":")[2] if ":" in self.affinity else self.affinity

    @cached_property
    def holders(self) -> dict[str, int]:
        """Addresses per node that holds them (allocations naming no node left out), counted once
        per parsed block, so per-node usage sums blocks instead of walking every allocation."""
        counts: dict[str, int] = {}
        for allocation in self.allocations:
            if allocation.node is not None:
                counts[allocation.node] = counts.get(allocation.node, 0) + 1
        return counts

    @cached_property
    def lent(self) -> tuple[Allocation, ...]:
        """Allocations held by a node other than the block's own (borrowed from it)."""
        owner = self.affinity_node
        return tuple(a for a in self.allocations if a.node is not None and a.node != owner)


def _allocation_kind(owner: dict[str, str]) -> str:
    if owner.get("type") in TUNNEL_TYPES:
        return owner["type"]
    if "pod" in owner:
        return "pod"
    if "vmi-name" in owner:
        return "vmi"
    return "other"


Owner = tuple[str | None, str | None, str | None, str | None, str]  # handle, node, namespace, pod, kind


def attribute_owner(index: int, attr: Any) -> Owner:
    """Who holds the addresses pointing at `spec.attributes[index]`; Malformed says what is wrong."""
    owner = opt_map(require_object(f"spec.attributes[{index}]", attr), "secondary")
    if not all(type(v) is str for v in owner.values()):
        raise Malformed(f"spec.attributes[{index}].secondary: values must be strings")
    return opt_str(attr, "handle_id"), owner.get("node"), owner.get("namespace"), owner.get("pod"), \
        _allocation_kind(owner)


def parse_ipamblock(obj: RawObject) -> IPAMBlock:
    """A block as served, or as the live cache keeps it (tui.kube.resources.LeanBlocks: each
    attribute already reduced to its owner tuple)."""
    meta = read_meta(obj)
    cidr = checked("spec.cidr", parse_cidr, req_str(obj, "spec.cidr"))
    capacity = address_count(cidr)
    slots = lookup(obj, "spec.allocations")
    if not isinstance(slots, list) or len(slots) != capacity:
        got = f"{len(slots)} entries" if isinstance(slots, list) else "no list"
        raise Malformed(f"spec.allocations: block {cidr} needs {capacity} entries, got {got}")
    owners = [attr if type(attr) is tuple else attribute_owner(index, attr)
              for index, attr in enumerate(opt_list(obj, "spec.attributes"))]
    unallocated = lookup(obj, "spec.unallocated")
    if unallocated is None:
        unallocated = []
    if type(unallocated) is not list or not all(type(o) is int for o in unallocated) or (
            unallocated and not 0 <= min(unallocated) <= max(unallocated) < capacity):
        raise Malformed(f"spec.unallocated: expected ordinals 0..{capacity - 1}")
    if len(set(unallocated)) != len(unallocated):
        raise Malformed("spec.unallocated: an ordinal is listed twice")
    allocations = []
    for ordinal, index in enumerate(slots):
        if index is None:
            continue
        if type(index) is not int or not 0 <= index < len(owners):
            raise Malformed(f"spec.allocations[{ordinal}]: {index!r} is not an index into spec.attributes")
        allocations.append(Allocation(cidr, ordinal, *owners[index]))
    return IPAMBlock(
        meta=meta,
        cidr=cidr,
        affinity=opt_str(obj, "spec.affinity"),
        in_use=capacity - len(unallocated),
        allocations=tuple(allocations),
        deleted=opt_bool(obj, "spec.deleted", False),
    )


# --- BlockAffinity --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockAffinity:
    meta: Meta
    node: str
    cidr: Network
    state: str  # pending, confirmed, pendingDeletion
    type: str  # host (also when absent, pre-3.30) or virtual
    deleted: bool

    @property
    def name(self) -> str:
        return self.meta.name


def parse_blockaffinity(obj: RawObject) -> BlockAffinity:
    meta = read_meta(obj)
    # v1 stores `deleted` as the STRING "true"/"false"; v3 as a boolean.
    deleted = lookup(obj, "spec.deleted")
    if deleted in (None, "", "false", False):
        deleted = False
    elif deleted in ("true", True):
        deleted = True
    else:
        raise Malformed(f"spec.deleted: {deleted!r} is neither true nor false")
    return BlockAffinity(
        meta=meta,
        node=req_str(obj, "spec.node"),
        cidr=checked("spec.cidr", parse_cidr, req_str(obj, "spec.cidr")),
        state=opt_str(obj, "spec.state", ""),
        type=opt_str(obj, "spec.type", "host"),
        deleted=deleted,
    )


# --- BGP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BGPConfiguration:
    """`default` is cluster-wide, `node.<name>` a per-node override; `present` is False for the
    defaults Calico assumes when no `default` object exists."""

    name: str
    as_number: int
    node_to_node_mesh: bool
    listen_port: int
    log_severity: str
    service_cluster_ips: tuple[str, ...]
    present: bool = True

    @property
    def node_name(self) -> str | None:
        return self.name.removeprefix("node.") if self.name.startswith("node.") else None


DEFAULT_BGP_CONFIGURATION = BGPConfiguration(
    name="default", as_number=DEFAULT_AS_NUMBER, node_to_node_mesh=True, listen_port=179,
    log_severity="Info", service_cluster_ips=(), present=False,
)


def parse_bgpconfiguration(obj: RawObject) -> BGPConfiguration:
    meta = read_meta(obj)
    return BGPConfiguration(
        name=meta.name,
        as_number=_opt_as_number(obj, "spec.asNumber") or DEFAULT_AS_NUMBER,
        node_to_node_mesh=opt_bool(obj, "spec.nodeToNodeMeshEnabled", True),
        listen_port=opt_int(obj, "spec.listenPort", 179),
        log_severity=opt_str(obj, "spec.logSeverityScreen", "Info"),
        service_cluster_ips=tuple(req_str(item, "cidr") for item in objects(obj, "spec.serviceClusterIPs")),
    )


def split_peer_ip(text: str) -> tuple[Address, int | None]:
    """`10.0.0.1`, `10.0.0.1:1790`, `fd00::1`, `[fd00::1]:1790` -> (address, port or None)."""
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest else None
    elif text.count(":") == 1:
        host, port = text.split(":")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise Malformed(f"spec.peerIP: {text!r} has an invalid port")
    return checked("spec.peerIP", parse_address, host), None if port is None else int(port)


@dataclass(frozen=True)
class BGPPeer:
    meta: Meta
    node: str | None
    node_selector: Selector | None
    peer_ip: Address | None
    peer_port: int | None
    peer_selector: Selector | None
    as_number: int | None
    local_as_number: int | None
    source_address: str
    next_hop_mode: str | None
    reachable_by: str | None
    has_password: bool  # a secret reference is set; the secret itself is never read
    filters: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def scope(self) -> str:
        """`global` (every node), `node` (one node) or `selector` (nodes matching nodeSelector)."""
        if self.node_selector is not None:
            return "selector"
        return "node" if self.node else "global"


def parse_bgppeer(obj: RawObject) -> BGPPeer:
    meta = read_meta(obj)
    peer_ip_text = opt_str(obj, "spec.peerIP")
    peer_selector = selector_field(obj, "spec.peerSelector")
    if peer_ip_text is None and peer_selector is None:
        raise Malformed("spec: needs peerIP or peerSelector")
    peer_ip, peer_port = split_peer_ip(peer_ip_text) if peer_ip_text else (None, None)
    return BGPPeer(
        meta=meta,
        node=opt_str(obj, "spec.node"),
        node_selector=selector_field(obj, "spec.nodeSelector"),
        peer_ip=peer_ip,
        peer_port=peer_port,
        peer_selector=peer_selector,
        as_number=_opt_as_number(obj, "spec.asNumber"),
        local_as_number=_opt_as_number(obj, "spec.localASNumber"),
        source_address=opt_str(obj, "spec.sourceAddress", "UseNodeIP"),
        next_hop_mode=opt_str(obj, "spec.nextHopMode"),
        reachable_by=opt_str(obj, "spec.reachableBy"),
        has_password=lookup(obj, "spec.password.secretKeyRef") is not None,
        filters=str_list(obj, "spec.filters"),
    )


# --- CalicoNodeStatus -----------------------------------------------------------------------------

SESSION_TYPES = ("NodeMesh", "NodePeer", "GlobalPeer")
SESSION_STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close")


@dataclass(frozen=True)
class PeerStatus:
    """One BGP session as calico-node reported it (what `calicoctl node status` shows on the node)."""

    peer_ip: Address
    type: str
    state: str  # one of SESSION_STATES, or "" for a state calico-node could not map
    since: str | None

    @property
    def established(self) -> bool:
        return self.state == "Established"


@dataclass(frozen=True)
class CalicoNodeStatus:
    meta: Meta
    node: str
    classes: tuple[str, ...]
    update_period_seconds: int | None
    last_updated: str | None
    bird_v4_state: str | None  # Ready / NotReady
    peers: tuple[PeerStatus, ...]  # IPv4 and IPv6 sessions

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def reports_bgp(self) -> bool:
        """Whether this status carries BGP sessions at all (class BGP requested and filled in)."""
        return "BGP" in self.classes and self.last_updated is not None


def parse_caliconodestatus(obj: RawObject) -> CalicoNodeStatus:
    meta = read_meta(obj)
    peers = []
    for family in ("peersV4", "peersV6"):
        for index, entry in enumerate(objects(obj, f"status.bgp.{family}")):
            path = f"status.bgp.{family}[{index}]"
            peers.append(_peer_status(path, req_str(entry, "peerIP"), opt_str(entry, "type", ""),
                                      opt_str(entry, "state", ""), opt_str(entry, "since")))
    return CalicoNodeStatus(
        meta=meta,
        node=req_str(obj, "spec.node"),
        classes=str_list(obj, "spec.classes"),
        update_period_seconds=opt_int(obj, "spec.updatePeriodSeconds"),
        last_updated=opt_str(obj, "status.lastUpdated"),
        bird_v4_state=opt_str(obj, "status.agent.birdV4.state"),
        peers=tuple(peers),
    )


@lru_cache(maxsize=1 << 16)
def _peer_status_cached(peer_ip: str, type_: str, state: str, since: str | None) -> PeerStatus:
    return PeerStatus(parse_address(peer_ip), type_, state, since)


def _peer_status(path: str, peer_ip: str, type_: str, state: str, since: str | None) -> PeerStatus:
    """A route reflector reports thousands of sessions and calico-node rewrites them all at every
    update period: an unchanged session is the very PeerStatus of last time (so the merged sessions
    of the BGP topology can be reused), at the cost of a dict lookup instead of an address parse."""
    try:
        return _peer_status_cached(peer_ip, type_, state, since)
    except CidrError as error:
        raise Malformed(f"{path}.peerIP: {error}") from None


# --- ClusterInformation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterInformation:
    meta: Meta
    calico_version: str | None
    cluster_guid: str | None
    cluster_type: tuple[str, ...]  # e.g. ("typha", "kdd", "k8s", "operator", "bgp", "kubeadm")
    datastore_ready: bool | None
    variant: str | None

    @property
    def kdd(self) -> bool:
        """The datastore is Kubernetes (libcalico-go adds `kdd` to clusterType in that mode)."""
        return "kdd" in self.cluster_type


def parse_clusterinformation(obj: RawObject) -> ClusterInformation:
    cluster_type = opt_str(obj, "spec.clusterType", "")
    return ClusterInformation(
        meta=read_meta(obj),
        calico_version=opt_str(obj, "spec.calicoVersion"),
        cluster_guid=opt_str(obj, "spec.clusterGUID"),
        cluster_type=tuple(part.strip() for part in cluster_type.split(",") if part.strip()),
        datastore_ready=opt_bool(obj, "spec.datastoreReady"),
        variant=opt_str(obj, "spec.variant"),
    )

