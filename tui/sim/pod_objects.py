"""Pod objects and pod status as the apiserver defaults them and the kubelet reports them.

Pure builders shared by the controllers (which write them through the Api) and the scenario
generators (which bulk-load them), so a pod looks the same however it came to exist.
"""

from __future__ import annotations

import copy
import hashlib

from functools import lru_cache

from tui.sim.clock import rfc3339 as _rfc3339
from tui.sim.kinds import pod_spec_defaults, qos_class

rfc3339 = lru_cache(maxsize=4096)(_rfc3339)  # pods started together share timestamps
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CALICO_CONTAINER_ID = "cni.projectcalico.org/containerID"
CALICO_POD_IP = "cni.projectcalico.org/podIP"
CALICO_POD_IPS = "cni.projectcalico.org/podIPs"
DAEMONSET_TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists"},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists"},
    {"effect": "NoSchedule", "key": "node.kubernetes.io/disk-pressure", "operator": "Exists"},
    {"effect": "NoSchedule", "key": "node.kubernetes.io/memory-pressure", "operator": "Exists"},
    {"effect": "NoSchedule", "key": "node.kubernetes.io/pid-pressure", "operator": "Exists"},
    {"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable", "operator": "Exists"},
]
DAEMONSET_HOSTNETWORK_TOLERATION = {
    "effect": "NoSchedule", "key": "node.kubernetes.io/network-unavailable", "operator": "Exists"}

def pod_from_template(template: dict, name: str, namespace: str, owner: dict | None = None,
                      generate_name: str | None = None, extra_labels: dict | None = None,
                      node_name: str | None = None) -> dict:
    """A new pod from a workload's pod template (metadata + spec), as its controller submits it."""
    meta = template.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    metadata = {"name": name, "namespace": namespace, "labels": labels}
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    if generate_name:
        metadata["generateName"] = generate_name
    if owner is not None:
        metadata["ownerReferences"] = [{
            "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["name"],
            "uid": owner["uid"], "controller": True, "blockOwnerDeletion": True}]
    spec = copy.deepcopy(template.get("spec") or {})
    if node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def defaulted_pod(pod: dict) -> dict:
    """What the apiserver stores for a new pod (for objects loaded without going through the Api)."""
    pod_spec_defaults(pod["spec"], admission=True)
    pod["status"] = {"phase": "Pending", "qosClass": qos_class(pod["spec"])}
    return pod


@lru_cache(maxsize=1024)
def full_image(image: str) -> str:
    """containerd's fully qualified image reference, as shown in containerStatuses."""
    name = image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"
    first = name.split("/", 1)[0]
    if "/" not in name:
        return f"docker.io/library/{name}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    return name


@lru_cache(maxsize=1024)
def image_id(image: str) -> str:
    repo = full_image(image).rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(full_image(image).encode()).hexdigest()}"


def _condition(kind: str, status: str, now: str, reason: str | None = None,
               message: str | None = None) -> dict:
    cond = {"lastProbeTime": None, "lastTransitionTime": now, "status": status, "type": kind}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _keep_transitions(old: list[dict], new: list[dict]) -> list[dict]:
    """Keep lastTransitionTime of conditions whose status did not change."""
    if not old:
        return new
    before = {c["type"]: c for c in old}
    for cond in new:
        prev = before.get(cond["type"])
        if prev and prev.get("status") == cond["status"]:
            cond["lastTransitionTime"] = prev.get("lastTransitionTime", cond["lastTransitionTime"])
    return new


def creating_status(pod: dict, host_ip: str, started, now) -> dict:
    """Status while the sandbox is being created: containers waiting in ContainerCreating."""
    ts = rfc3339(now)
    names = [c["name"] for c in pod["spec"].get("containers", [])]
    unready = f"containers with unready status: [{' '.join(names)}]"
    conditions = [
        _condition("PodReadyToStartContainers", "False", ts),
        _condition("Initialized", "True", ts),
        _condition("Ready", "False", ts, "ContainersNotReady", unready),
        _condition("ContainersReady", "False", ts, "ContainersNotReady", unready),
        _condition("PodScheduled", "True", ts),
    ]
    statuses = [{
        "image": c.get("image", ""), "imageID": "", "lastState": {}, "name": c["name"], "ready": False,
        "restartCount": 0, "started": False, "state": {"waiting": {"reason": "ContainerCreating"}},
    } for c in pod["spec"].get("containers", [])]
    return {
        "phase": "Pending", "qosClass": qos_class(pod["spec"]),
        "conditions": _keep_transitions((pod.get("status") or {}).get("conditions"), conditions),
        "containerStatuses": statuses, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "startTime": rfc3339(started),
    }


def running_status(pod: dict, host_ip: str, pod_ip: str, container_ids: list[str], started,
                   now, ready: bool = True) -> dict:
    """Status of a pod whose containers all run (`ready=False` while terminating)."""
    ts = rfc3339(now)
    flag = "True" if ready else "False"
    conditions = [
        _condition("PodReadyToStartContainers", "True", ts),
        _condition("Initialized", "True", ts),
        _condition("Ready", flag, ts),
        _condition("ContainersReady", flag, ts),
        _condition("PodScheduled", "True", ts),
    ]
    statuses = []
    for container, cid in zip(pod["spec"].get("containers", []), container_ids):
        statuses.append({
            "containerID": f"containerd://{cid}", "image": full_image(container.get("image", "")),
            "imageID": image_id(container.get("image", "")), "lastState": {}, "name": container["name"],
            "ready": ready, "restartCount": 0, "started": True,
            "state": {"running": {"startedAt": rfc3339(started)}},
        })
    return {
        "phase": "Running", "qosClass": qos_class(pod["spec"]),
        "conditions": _keep_transitions((pod.get("status") or {}).get("conditions"), conditions),
        "containerStatuses": statuses, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": rfc3339(started),
    }


def with_readiness(status: dict, ready: bool, now) -> dict:
    """A running pod's status with its Ready/ContainersReady conditions and containers set to `ready`."""
    flag = "True" if ready else "False"
    out = dict(status)
    out["conditions"] = [dict(c, status=flag, lastTransitionTime=rfc3339(now))
                         if c.get("type") in ("Ready", "ContainersReady") and c.get("status") != flag else c
                         for c in status.get("conditions") or []]
    out["containerStatuses"] = [dict(c, ready=ready) for c in status.get("containerStatuses") or []]
    return out


def crashloop_container(pod: dict, container: dict, container_id: str, restarts: int, exited_at,
                        started_at, backing_off: bool) -> dict:
    """A container status that keeps exiting with code 1: running briefly, then CrashLoopBackOff."""
    last = {"terminated": {"containerID": f"containerd://{container_id}", "exitCode": 1,
                           "finishedAt": rfc3339(exited_at), "reason": "Error",
                           "startedAt": rfc3339(started_at)}} if restarts else {}
    if backing_off:
        meta = pod["metadata"]
        state = {"waiting": {"message": f"back-off {backoff_seconds(restarts)}s restarting failed "
                                        f"container={container['name']} pod={meta['name']}_"
                                        f"{meta['namespace']}({meta.get('uid', '')})",
                             "reason": "CrashLoopBackOff"}}
    else:
        state = {"running": {"startedAt": rfc3339(started_at)}}
    return {"containerID": f"containerd://{container_id}", "image": full_image(container.get("image", "")),
            "imageID": image_id(container.get("image", "")), "lastState": last, "name": container["name"],
            "ready": not backing_off, "restartCount": restarts, "started": not backing_off, "state": state}


def backoff_seconds(restarts: int) -> int:
    """The kubelet's crash-loop back-off: 10 s doubling per restart, capped at 5 minutes."""
    return min(300, 10 * (2 ** max(0, restarts - 1)))


def is_mirror(pod: dict) -> bool:
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_ready(pod: dict) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def controller_ref(obj: dict) -> dict | None:
    return next((r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")), None)
