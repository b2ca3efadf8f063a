"""Raw API objects shaped exactly like the real ones, for the model tests (not a test module).

Calico objects are `crd.projectcalico.org/v1` as the apiserver serves them (see the CRDs in
shared/calico-crds); `seed_raw()` is the seed cluster's literal configuration.
"""

from __future__ import annotations

import ipaddress
from typing import Any

V1 = "crd.projectcalico.org/v1"


def calico(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": V1, "kind": kind,
            "metadata": {"name": name, "resourceVersion": "1", "uid": f"uid-{name}", **metadata},
            "spec": spec}


def ippool(name: str, cidr: str, **spec: Any) -> dict[str, Any]:
    return calico("IPPool", name, {"cidr": cidr, **spec})


def ipamblock(cidr: str, node: str | None, owners: dict[int, dict[str, str]] | None = None,
              affinity: str | None = "host", deleted: bool = False) -> dict[str, Any]:
    """A block whose ordinals in `owners` are allocated, each to its own attribute entry."""
    network = ipaddress.ip_network(cidr)
    owners = owners or {}
    attributes, allocations = [], [None] * network.num_addresses
    for ordinal, owner in sorted(owners.items()):
        allocations[ordinal] = len(attributes)
        handle = f"ipip-tunnel-addr-{owner['node']}" if owner.get("type") else f"k8s-pod-network.{ordinal:064x}"
        attributes.append({"handle_id": handle, "secondary": owner})
    spec: dict[str, Any] = {
        "cidr": cidr,
        "allocations": allocations,
        "unallocated": [i for i in range(network.num_addresses) if i not in owners],
        "attributes": attributes,
        "strictAffinity": False,
        "deleted": deleted,
    }
    if node is not None and affinity is not None:
        spec["affinity"] = f"{affinity}:{node}"
        spec["affinityClaimTime"] = "2024-05-01T10:00:00Z"
    name = cidr.replace(".", "-").replace(":", "-").replace("/", "-")
    return calico("IPAMBlock", name, spec)


def pod_owner(namespace: str, pod: str, node: str) -> dict[str, str]:
    return {"namespace": namespace, "node": node, "pod": pod, "timestamp": "2024-05-01 10:00:00.000000000 +0000 UTC"}


def tunnel_owner(node: str) -> dict[str, str]:
    return {"node": node, "type": "ipipTunnelAddress"}


def blockaffinity(node: str, cidr: str, state: str = "confirmed", deleted: str = "false") -> dict[str, Any]:
    name = f"{node}-" + cidr.replace(".", "-").replace("/", "-")
    return calico("BlockAffinity", name, {"node": node, "cidr": cidr, "state": state, "deleted": deleted})


def node(name: str, address: str | None, labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None, pod_cidr: str | None = None, ready: bool = True) -> dict[str, Any]:
    all_annotations = dict(annotations or {})
    if address:
        all_annotations["projectcalico.org/IPv4Address"] = address
    obj: dict[str, Any] = {
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1",
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})},
                     "annotations": all_annotations},
        "spec": {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "addresses": [{"type": "Hostname", "address": name}]
            + ([{"type": "InternalIP", "address": address.split("/")[0]}] if address else []),
            "nodeInfo": {"kubeletVersion": "v1.32.4"},
        },
    }
    if pod_cidr:
        obj["spec"] = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    return obj


def caliconodestatus(node_name: str, peers: list[tuple[str, str, str]]) -> dict[str, Any]:
    """`peers`: (peerIP, type, state)."""
    obj = calico("CalicoNodeStatus", node_name,
                 {"node": node_name, "classes": ["Agent", "BGP", "Routes"], "updatePeriodSeconds": 10})
    obj["status"] = {
        "lastUpdated": "2024-05-01T10:00:00Z",
        "agent": {"birdV4": {"state": "Ready", "version": "v0.3.3+birdv1.6.8", "routerID": "10.10.0.11"}},
        "bgp": {
            "numberEstablishedV4": sum(1 for p in peers if p[2] == "Established"),
            "numberNotEstablishedV4": sum(1 for p in peers if p[2] != "Established"),
            "numberEstablishedV6": 0, "numberNotEstablishedV6": 0,
            "peersV4": [{"peerIP": ip, "type": t, "state": s, "since": "10:00:00"} for ip, t, s in peers],
        },
    }
    return obj


SEED_ADDRESSES = {
    "node01": "10.10.0.11/24", "node02": "10.10.0.12/24", "node03": "10.10.0.13/24",
    "node04": "10.10.1.14/24", "node05": "10.10.1.15/24", "node06": "10.10.1.16/24", "node07": "10.10.1.17/24",
    "node08": "10.10.2.18/24", "node09": "10.10.2.19/24", "node10": "10.10.2.20/24",
}
RR_NODES = ("node01", "node02")


def seed_raw() -> dict[str, list[dict[str, Any]]]:
    """The seed cluster: 10 nodes, RRs node01/node02 (cluster ID 224.0.0.1), mesh off at AS 63400,
    `default-ipv4-ippool` with a few blocks and pods, and the empty `new-pool`."""
    nodes = []
    for index, (name, address) in enumerate(SEED_ADDRESSES.items(), start=1):
        labels = {"node-role.kubernetes.io/control-plane": ""} if index <= 3 else {}
        annotations = {"projectcalico.org/IPv4IPIPTunnelAddr": f"192.168.{index}.1"}
        if name in RR_NODES:
            labels["route-reflector"] = "true"
            annotations["projectcalico.org/RouteReflectorClusterID"] = "224.0.0.1"
        nodes.append(node(name, address, labels, annotations, pod_cidr=f"192.168.{index}.0/24"))
    blocks, affinities = [], []
    for index, name in enumerate(SEED_ADDRESSES, start=1):
        cidr = f"192.168.{index}.0/26"
        owners = {1: tunnel_owner(name)}
        owners.update({2 + k: pod_owner("shop", f"frontend-{index}-{k}", name) for k in range(index % 4)})
        blocks.append(ipamblock(cidr, name, owners))
        affinities.append(blockaffinity(name, cidr))
    return {
        "ippools": [
            ippool("default-ipv4-ippool", "192.168.0.0/16", blockSize=26, ipipMode="CrossSubnet",
                   vxlanMode="Never", natOutgoing=True, nodeSelector="all()", allowedUses=["Workload", "Tunnel"]),
            ippool("new-pool", "172.21.0.0/16", ipipMode="CrossSubnet", vxlanMode="Never", natOutgoing=True,
                   nodeSelector="all()"),
        ],
        "ipamblocks": blocks,
        "blockaffinities": affinities,
        "bgpconfigurations": [calico("BGPConfiguration", "default",
                                     {"asNumber": 63400, "logSeverityScreen": "Info", "nodeToNodeMeshEnabled": False})],
        "bgppeers": [calico("BGPPeer", "peer-with-route-reflectors",
                            {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'"})],
        "caliconodestatuses": [
            caliconodestatus("node01", [(SEED_ADDRESSES[n].split("/")[0], "NodePeer", "Established")
                                        for n in SEED_ADDRESSES if n != "node01"]),
            caliconodestatus("node04", [("10.10.0.11", "NodePeer", "Established"),
                                        ("10.10.0.12", "NodePeer", "Active")]),
        ],
        "clusterinformations": [calico("ClusterInformation", "default", {
            "calicoVersion": "v3.32.1", "clusterGUID": "0f3e", "clusterType": "k8s,bgp,kubeadm,kdd",
            "datastoreReady": True})],
        "nodes": nodes,
    }
