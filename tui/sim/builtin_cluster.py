"""A small static cluster: the Calico CRDs, three kubeadm nodes, the system namespaces, one IPPool and
the global BGPConfiguration. Fast to load and free of controllers, it is what the API server's own
tests run against; the demo runs the richer scenarios in `tui/sim/scenarios/`.
"""

from __future__ import annotations

from tui.sim.crds import load_crds

NODES = (("cp-1", "10.0.0.10", "192.168.0.0/24", True), ("worker-1", "10.0.0.11", "192.168.1.0/24", False),
         ("worker-2", "10.0.0.12", "192.168.2.0/24", False))
NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CREATED = "2025-01-06T09:00:00Z"


def node(name: str, ip: str, pod_cidr: str, control_plane: bool) -> dict:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}
    spec: dict = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
             "lastHeartbeatTime": CREATED, "lastTransitionTime": CREATED}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "creationTimestamp": CREATED,
                     "annotations": {"projectcalico.org/IPv4Address": f"{ip}/24"}},
        "spec": spec,
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "4", "memory": "8131244Ki", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8028844Ki", "pods": "110"},
            "conditions": [ready],
            "nodeInfo": {"architecture": "amd64", "bootID": f"boot-{name}", "containerRuntimeVersion":
                         "containerd://1.7.24", "kernelVersion": "6.1.0-28-amd64", "kubeProxyVersion": "v1.32.0",
                         "kubeletVersion": "v1.32.0", "machineID": f"machine-{name}", "operatingSystem": "linux",
                         "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": f"uuid-{name}"},
        },
    }


def objects() -> list[dict]:
    """The cluster's objects, in load order."""
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "creationTimestamp": CREATED}}
                  for n in NAMESPACES]
    pool = {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
            "metadata": {"name": "default-ipv4-ippool", "creationTimestamp": CREATED},
            "spec": {"cidr": "192.168.0.0/16", "blockSize": 26, "ipipMode": "Always", "vxlanMode": "Never",
                     "natOutgoing": True, "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"]}}
    bgp = {"apiVersion": "crd.projectcalico.org/v1", "kind": "BGPConfiguration",
           "metadata": {"name": "default", "creationTimestamp": CREATED},
           "spec": {"asNumber": 64512, "nodeToNodeMeshEnabled": True, "logSeverityScreen": "Info"}}
    return [*load_crds(), *namespaces, *(node(*n) for n in NODES), pool, bgp]
