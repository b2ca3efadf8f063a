"""Node objects as the kubelet registers and reports them, and kubeadm marks them.

Pure builders used by the kubelet controller and by the scenario generators.
"""

from __future__ import annotations

import hashlib

from tui.sim.clock import rfc3339
from tui.sim.hosts import Host

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
CONTROL_PLANE_TAINT = {"effect": "NoSchedule", "key": CONTROL_PLANE_LABEL}
UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT_KEY = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT_KEY = "node.kubernetes.io/unreachable"

DEFAULT_MACHINE = {
    "architecture": "amd64", "operatingSystem": "linux", "osImage": "Ubuntu 22.04.4 LTS",
    "kernelVersion": "5.15.0-119-generic", "containerRuntimeVersion": "containerd://1.7.22",
    "kubeletVersion": "v1.32.4", "cpu": "4", "memoryKi": 16331388, "pods": "110",
    "ephemeralStorageKi": 101430960,
}


def machine(host: Host) -> dict:
    return {**DEFAULT_MACHINE, **host.machine}


def kubelet_labels(host: Host) -> dict[str, str]:
    """Labels the kubelet sets on its own Node (plus its --node-labels)."""
    m = machine(host)
    labels = {
        "beta.kubernetes.io/arch": m["architecture"], "beta.kubernetes.io/os": m["operatingSystem"],
        "kubernetes.io/arch": m["architecture"], "kubernetes.io/hostname": host.name,
        "kubernetes.io/os": m["operatingSystem"],
    }
    labels.update(host.node_labels)
    return labels


def _host_id(host: Host, what: str, boot: int = 0) -> str:
    return hashlib.sha256(f"{what}/{host.name}/{boot}".encode()).hexdigest()


def node_info(host: Host) -> dict:
    m = machine(host)
    system = _host_id(host, "uuid")
    boot = _host_id(host, "boot", host.kubelet_starts)
    return {
        "architecture": m["architecture"],
        "bootID": f"{boot[:8]}-{boot[8:12]}-{boot[12:16]}-{boot[16:20]}-{boot[20:32]}",
        "containerRuntimeVersion": m["containerRuntimeVersion"], "kernelVersion": m["kernelVersion"],
        "kubeProxyVersion": m["kubeletVersion"], "kubeletVersion": m["kubeletVersion"],
        "machineID": _host_id(host, "machine")[:32], "operatingSystem": m["operatingSystem"],
        "osImage": m["osImage"],
        "systemUUID": f"{system[:8]}-{system[8:12]}-{system[12:16]}-{system[16:20]}-{system[20:32]}",
    }


def capacity(host: Host) -> tuple[dict, dict]:
    m = machine(host)
    cap = {"cpu": m["cpu"], "ephemeral-storage": f"{m['ephemeralStorageKi']}Ki", "hugepages-1Gi": "0",
           "hugepages-2Mi": "0", "memory": f"{m['memoryKi']}Ki", "pods": m["pods"]}
    alloc = dict(cap, **{"ephemeral-storage": str(int(m["ephemeralStorageKi"] * 1024 * 0.9)),
                         "memory": f"{m['memoryKi'] - 102400}Ki"})
    return cap, alloc


_CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


def node_conditions(now: float, ready: bool, old: list[dict] | None = None,
                    network: tuple[str, str, str] | None = None) -> list[dict]:
    """Node conditions as the kubelet posts them; `ready=False` gives the node controller's
    Unknown conditions of a node whose kubelet stopped posting status."""
    ts = rfc3339(now)
    before = {c["type"]: c for c in old or []}
    conds = []
    if network or "NetworkUnavailable" in before:
        status, reason, message = network or (
            before["NetworkUnavailable"]["status"], before["NetworkUnavailable"].get("reason"),
            before["NetworkUnavailable"].get("message"))
        conds.append({"type": "NetworkUnavailable", "status": status, "reason": reason, "message": message})
    for kind, reason, message in _CONDITIONS:
        if ready:
            conds.append({"type": kind, "status": "False", "reason": reason, "message": message})
        else:
            conds.append({"type": kind, "status": "Unknown", "reason": "NodeStatusUnknown",
                          "message": "Kubelet stopped posting node status."})
    if ready:
        conds.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                      "message": "kubelet is posting ready status"})
    else:
        conds.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                      "message": "Kubelet stopped posting node status."})
    for cond in conds:
        prev = before.get(cond["type"])
        same = prev and prev.get("status") == cond["status"]
        cond["lastTransitionTime"] = prev.get("lastTransitionTime", ts) if same else ts
        if cond["type"] == "NetworkUnavailable":
            cond["lastHeartbeatTime"] = (prev or {}).get("lastHeartbeatTime", ts) if same else ts
        else:
            cond["lastHeartbeatTime"] = ts if ready else (prev or {}).get("lastHeartbeatTime", ts)
    return conds


def node_addresses(host: Host) -> list[dict]:
    return [{"address": host.ip, "type": "InternalIP"}, {"address": host.name, "type": "Hostname"}]


def node_status(host: Host, now: float, ready: bool = True, old: dict | None = None,
                network: tuple[str, str, str] | None = None) -> dict:
    """The whole `status` of a Node (what the kubelet posts through nodes/status)."""
    old = old or {}
    cap, alloc = capacity(host)
    return {
        "addresses": node_addresses(host),
        "allocatable": alloc, "capacity": cap,
        "conditions": node_conditions(now, ready, old.get("conditions"), network),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": node_info(host),
    }


def registered_node(host: Host, now: float) -> dict:
    """The Node a kubelet creates when it registers: no podCIDR, no kubeadm control-plane marks."""
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": host.name, "labels": kubelet_labels(host),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {},
        "status": node_status(host, now),
    }


def mark_control_plane(node: dict) -> dict:
    """`kubeadm init phase mark-control-plane`: the role label and the NoSchedule taint."""
    meta = node.setdefault("metadata", {})
    meta.setdefault("labels", {}).update({CONTROL_PLANE_LABEL: "", EXCLUDE_LB_LABEL: ""})
    taints = node.setdefault("spec", {}).setdefault("taints", [])
    if not any(t.get("key") == CONTROL_PLANE_LABEL for t in taints):
        taints.append(dict(CONTROL_PLANE_TAINT))
    return node


def is_node_ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def internal_ip(node: dict) -> str | None:
    return next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                 if a.get("type") == "InternalIP"), None)
