"""Kubernetes Nodes with the Calico node data that KDD keeps in their annotations.

In the Kubernetes datastore there is no Calico Node object: calico-node writes the node's BGP
address, AS number, route-reflector cluster ID and tunnel addresses as `projectcalico.org/*`
annotations on the Kubernetes Node (calico.md §2), so that is where the model reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.model.calico import parse_as_number
from tui.model.cidr import Address, Interface, Network, parse_address, parse_cidr, parse_interface
from tui.model.raw import Meta, RawObject, checked, objects, opt_bool, opt_str, read_meta, str_list

ANNOTATION_PREFIX = "projectcalico.org/"
IPV4_ADDRESS = "projectcalico.org/IPv4Address"
IPV6_ADDRESS = "projectcalico.org/IPv6Address"
AS_NUMBER = "projectcalico.org/ASNumber"
RR_CLUSTER_ID = "projectcalico.org/RouteReflectorClusterID"
# Tunnel kind -> annotation holding that tunnel's address on the node.
TUNNEL_ANNOTATIONS = {
    "ipip": "projectcalico.org/IPv4IPIPTunnelAddr",
    "vxlan": "projectcalico.org/IPv4VXLANTunnelAddr",
    "vxlanV6": "projectcalico.org/IPv6VXLANTunnelAddr",
    "wireguard": "projectcalico.org/IPv4WireguardInterfaceAddr",
    "wireguardV6": "projectcalico.org/IPv6WireguardInterfaceAddr",
}
# The label route-reflector BGPPeers select on (Calico docs' convention, used by the seed cluster).
ROUTE_REFLECTOR_LABEL = ("route-reflector", "true")
ROLE_LABEL_PREFIX = "node-role.kubernetes.io/"


@dataclass(frozen=True)
class Node:
    meta: Meta
    roles: tuple[str, ...]
    ready: bool
    unschedulable: bool
    pod_cidrs: tuple[Network, ...]
    internal_ips: tuple[Address, ...]
    kubelet_version: str | None
    bgp_ipv4: Interface | None  # node BGP address with its subnet, e.g. 10.0.0.5/24
    bgp_ipv6: Interface | None
    as_number: int | None  # node-specific AS; None means the global one applies
    rr_cluster_id: str | None
    tunnel_addresses: dict[str, Address]  # kind (see TUNNEL_ANNOTATIONS) -> address

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def labels(self) -> dict[str, str]:
        return self.meta.labels

    @property
    def route_reflector(self) -> bool:
        """Carries the `route-reflector=true` label (being a reflector also needs a cluster ID)."""
        key, value = ROUTE_REFLECTOR_LABEL
        return self.meta.labels.get(key) == value

    @property
    def calico_annotations(self) -> dict[str, str]:
        return {k: v for k, v in self.meta.annotations.items() if k.startswith(ANNOTATION_PREFIX)}


def _roles(labels: dict[str, str]) -> tuple[str, ...]:
    roles = {key.removeprefix(ROLE_LABEL_PREFIX) for key in labels if key.startswith(ROLE_LABEL_PREFIX)}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return tuple(sorted(role for role in roles if role))


def _interface(text: str) -> Interface:
    """calico-node writes `10.0.0.5/24`; a hand-set bare address means a host route, as Calico reads it."""
    if "/" in text:
        return parse_interface(text)
    address = parse_address(text)
    return parse_interface(f"{address}/{address.max_prefixlen}")


def _annotation(meta: Meta, key: str, parse):
    value = meta.annotations.get(key)
    return None if not value else checked(f"metadata.annotations.{key}", parse, value)


def parse_node(obj: RawObject) -> Node:
    meta = read_meta(obj)
    ready = False
    for condition in objects(obj, "status.conditions"):
        if opt_str(condition, "type") == "Ready":
            ready = opt_str(condition, "status") == "True"
    # podCIDRs is authoritative; old objects may only carry the singular, deprecated podCIDR.
    pod_cidr_texts = str_list(obj, "spec.podCIDRs") or tuple(filter(None, [opt_str(obj, "spec.podCIDR")]))
    internal_ips = tuple(
        checked("status.addresses", parse_address, opt_str(entry, "address", ""))
        for entry in objects(obj, "status.addresses") if opt_str(entry, "type") == "InternalIP"
    )
    as_text = meta.annotations.get(AS_NUMBER)
    return Node(
        meta=meta,
        roles=_roles(meta.labels),
        ready=ready,
        unschedulable=opt_bool(obj, "spec.unschedulable", False),
        pod_cidrs=tuple(checked("spec.podCIDRs", parse_cidr, text) for text in pod_cidr_texts),
        internal_ips=internal_ips,
        kubelet_version=opt_str(obj, "status.nodeInfo.kubeletVersion"),
        bgp_ipv4=_annotation(meta, IPV4_ADDRESS, _interface),
        bgp_ipv6=_annotation(meta, IPV6_ADDRESS, _interface),
        as_number=parse_as_number(as_text, f"metadata.annotations.{AS_NUMBER}") if as_text else None,
        rr_cluster_id=meta.annotations.get(RR_CLUSTER_ID) or None,
        tunnel_addresses={
            kind: address for kind, key in TUNNEL_ANNOTATIONS.items()
            if (address := _annotation(meta, key, parse_address)) is not None
        },
    )
