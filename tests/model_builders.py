"""Raw API objects shaped exactly like the real ones, for the model tests (not a test module).

Calico objects are `crd.projectcalico.org/v1` as the apiserver serves them (see the CRDs in
shared/calico-crds); `seed_raw()` is the seed cluster's literal configuration.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from tui.model.config import config_hash

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


# --- kube-system objects the migration reads ------------------------------------------------------

CNI_NETWORK_CONFIG = """{
  "name": "k8s-pod-network",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "calico",
      "datastore_type": "kubernetes",
      "nodename": "__KUBERNETES_NODE_NAME__",
      "mtu": __CNI_MTU__,
      "ipam": {"type": "calico-ipam"%s},
      "policy": {"type": "k8s"},
      "kubernetes": {"kubeconfig": "__KUBECONFIG_FILEPATH__"}
    },
    {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}}
  ]
}"""


def pod(namespace: str, name: str, node_name: str, labels: dict[str, str], containers: list[dict[str, Any]],
        annotations: dict[str, str] | None = None, started: str = "2024-05-01T10:00:00Z",
        restarts: int = 0, waiting: str | None = None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": started}}
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "1",
                     "labels": labels, "annotations": annotations or {}},
        "spec": {"nodeName": node_name, "containers": containers},
        "status": {
            "phase": "Running", "startTime": started,
            "conditions": [{"type": "Ready", "status": "False" if waiting else "True"}],
            "containerStatuses": [{"name": containers[0]["name"], "restartCount": restarts, "state": state,
                                   "ready": not waiting}],
        },
    }


def kcm_pod(node_name: str, command: list[str], **kwargs: Any) -> dict[str, Any]:
    return pod("kube-system", f"kube-controller-manager-{node_name}", node_name,
               {"component": "kube-controller-manager", "tier": "control-plane"},
               [{"name": "kube-controller-manager", "image": "registry.k8s.io/kube-controller-manager:v1.32.4",
                 "command": command}],
               annotations={"kubernetes.io/config.mirror": "0123456789abcdef"}, **kwargs)


KCM_COMMAND = [
    "kube-controller-manager", "--allocate-node-cidrs=true", "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--cluster-cidr=192.168.0.0/16", "--leader-elect=true", "--node-cidr-mask-size", "24",
    "--service-cluster-ip-range=10.96.0.0/12", "--use-service-account-credentials=true",
]


def configmap(name: str, data: dict[str, str], changed: str = "2024-05-01T09:00:00Z") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "kube-system", "uid": f"uid-{name}", "resourceVersion": "7",
                         "creationTimestamp": "2024-04-01T00:00:00Z",
                         "managedFields": [{"manager": "kubeadm", "operation": "Update", "apiVersion": "v1",
                                            "time": "2024-04-01T00:00:00Z"},
                                           {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1",
                                            "time": changed}]},
            "data": data}


def kube_proxy_conf(cluster_cidr: str) -> str:
    return ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
            f"clusterCIDR: {cluster_cidr}\nmode: iptables\n")


def cluster_configuration(pod_subnet: str) -> str:
    return ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.32.4\n"
            f"networking:\n  dnsDomain: cluster.local\n  podSubnet: {pod_subnet}\n  serviceSubnet: 10.96.0.0/12\n")


def daemonset(namespace: str, name: str, containers: list[dict[str, Any]], desired: int = 10,
              updated: int = 10) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 2,
                     "labels": {"k8s-app": name}},
        "spec": {"selector": {"matchLabels": {"k8s-app": name}},
                 "template": {"metadata": {"labels": {"k8s-app": name}}, "spec": {"containers": containers}}},
        "status": {"desiredNumberScheduled": desired, "currentNumberScheduled": desired, "numberReady": desired,
                   "updatedNumberScheduled": updated, "numberAvailable": desired, "observedGeneration": 2},
    }


CALICO_NODE_CONTAINER = {
    "name": "calico-node", "image": "docker.io/calico/node:v3.32.1",
    "env": [
        {"name": "DATASTORE_TYPE", "value": "kubernetes"},
        {"name": "NODENAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "CALICO_NETWORKING_BACKEND",
         "valueFrom": {"configMapKeyRef": {"name": "calico-config", "key": "calico_backend"}}},
        {"name": "CALICO_IPV4POOL_IPIP", "value": "CrossSubnet"},
        {"name": "CALICO_IPV4POOL_CIDR", "value": "192.168.0.0/16"},
    ],
}


def kube_system_raw(kube_proxy_cidr: str = "192.168.0.0/16") -> dict[str, list[dict[str, Any]]]:
    """The kubeadm + Calico-manifest objects of the seed cluster: KCM mirror pods, kube-proxy and
    calico-node DaemonSets and pods, and the three ConfigMaps."""
    conf = kube_proxy_conf(kube_proxy_cidr)
    proxy_pods = [
        pod("kube-system", f"kube-proxy-{n}", n, {"k8s-app": "kube-proxy"}, [{"name": "kube-proxy"}],
            annotations={"calico-tui.sim/kube-proxy-config-hash": config_hash(conf),
                         "calico-tui.sim/kube-proxy-cluster-cidr": kube_proxy_cidr})
        for n in SEED_ADDRESSES
    ]
    return copy.deepcopy({
        "pods": [kcm_pod(n, KCM_COMMAND) for n in ("node01", "node02", "node03")] + proxy_pods + [
            pod("kube-system", f"calico-node-{n}", n, {"k8s-app": "calico-node"}, [CALICO_NODE_CONTAINER])
            for n in SEED_ADDRESSES],
        "daemonsets": [daemonset("kube-system", "kube-proxy", [{"name": "kube-proxy"}]),
                       daemonset("kube-system", "calico-node", [CALICO_NODE_CONTAINER])],
        "configmaps": [
            configmap("kube-proxy", {"config.conf": conf, "kubeconfig.conf": "apiVersion: v1\nkind: Config\n"}),
            configmap("kubeadm-config", {"ClusterConfiguration": cluster_configuration("192.168.0.0/16")}),
            configmap("calico-config", {"calico_backend": "bird", "veth_mtu": "0",
                                        "cni_network_config": CNI_NETWORK_CONFIG % ""}),
        ],
    })  # no object shares a dict with another or with the module constants


def installation_raw(pools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "operator.tigera.io/v1", "kind": "Installation",
        "metadata": {"name": "default", "uid": "uid-installation", "generation": 1},
        "spec": {"calicoNetwork": {"bgp": "Enabled", "ipPools": pools if pools is not None else [
            {"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "blockSize": 26,
             "encapsulation": "IPIPCrossSubnet", "natOutgoing": "Enabled", "nodeSelector": "all()"}]},
                 "cni": {"type": "Calico", "ipam": {"type": "Calico"}}},
        "status": {"variant": "Calico", "calicoVersion": "v3.32.1"},
    }
