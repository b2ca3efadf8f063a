"""Server-side ``meta.k8s.io/v1`` Tables, so ``kubectl get`` prints the columns a real cluster shows.

kubectl asks for a Table on every ``get`` (and ``get -w``) and prints whatever cells come back; the
cells below follow the apiserver's printers for nodes, pods, namespaces, config maps, daemon sets and
deployments (every other kind gets Name and Age). The server always sends the wide (priority 1)
columns too: ``-o wide`` is kubectl choosing to show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from tui.model.raw import parse_time

__all__ = ["human_duration", "to_table", "wants_table"]


def _column(name: str, description: str, priority: int = 0, fmt: str = "",
            kind: str = "string") -> dict:
    return {"name": name, "type": kind, "format": fmt, "description": description,
            "priority": priority}


def _count(name: str, description: str) -> dict:
    return _column(name, description, kind="integer")


_NAME = _column("Name", "Name of the object, unique within its namespace.", fmt="name")
_AGE = _column("Age", "Time since the object was created.")
_TEMPLATE_COLUMNS = [
    _column("Containers", "Names of each container in the template.", priority=1),
    _column("Images", "Images referenced by each container in the template.", priority=1),
    _column("Selector", "The label selector of the pods.", priority=1),
]

_COLUMNS: dict[tuple[str, str], list[dict]] = {
    ("", "Node"): [
        _NAME,
        _column("Status", "The status of the node"),
        _column("Roles", "The roles of the node"),
        _AGE,
        _column("Version", "Kubelet version reported by the node."),
        _column("Internal-IP", "First InternalIP address of the node.", priority=1),
        _column("External-IP", "First ExternalIP address of the node.", priority=1),
        _column("OS-Image", "OS image reported by the node.", priority=1),
        _column("Kernel-Version", "Kernel version reported by the node.", priority=1),
        _column("Container-Runtime", "Container runtime version reported by the node.", priority=1),
    ],
    ("", "Pod"): [
        _NAME,
        _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _column("Status", "The aggregate status of the containers in this pod."),
        _column("Restarts", "The number of times the containers in this pod have been restarted "
                            "and when the last container in this pod has restarted."),
        _AGE,
        _column("IP", "The pod's primary IP address.", priority=1),
        _column("Node", "The node the pod is bound to.", priority=1),
        _column("Nominated Node", "The node the scheduler nominated for preemption.", priority=1),
        _column("Readiness Gates", "True readiness gates out of all declared.", priority=1),
    ],
    ("", "Namespace"): [_NAME, _column("Status", "The status of the namespace"), _AGE],
    ("", "ConfigMap"): [_NAME, _count("Data", "Number of data and binaryData keys."), _AGE],
    ("apps", "DaemonSet"): [
        _NAME,
        _count("Desired", "Nodes that should run the daemon pod."),
        _count("Current", "Nodes running at least one daemon pod."),
        _count("Ready", "Nodes whose daemon pod is ready."),
        _count("Up-to-date", "Nodes running the updated daemon pod."),
        _count("Available", "Nodes whose daemon pod is available."),
        _column("Node Selector", "The pod template's node selector."),
        _AGE,
        *_TEMPLATE_COLUMNS,
    ],
    ("apps", "Deployment"): [
        _NAME,
        _column("Ready", "Ready pods out of the desired replicas."),
        _count("Up-to-date", "Pods running the current template."),
        _count("Available", "Pods available to serve."),
        _AGE,
        *_TEMPLATE_COLUMNS,
    ],
}


def human_duration(seconds: float) -> str:
    """kubectl's compact age (``12s``, ``5m3s``, ``37m``, ``5h2m``, ``5d2h``, ``3y20d``).

    Precision drops as the age grows, exactly like apimachinery's ``duration.HumanDuration``.
    """
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m" if whole % 60 == 0 else f"{minutes}m{whole % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def _parse_time(value: object) -> datetime | None:
    return parse_time(value) if isinstance(value, str) else None


def _since(value: object, now: datetime) -> str:
    when = _parse_time(value)
    if when is None:
        return "<unknown>"
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return human_duration((now - when).total_seconds())


def _node_cells(node: Mapping, now: datetime) -> list:
    meta, spec, status = node.get("metadata", {}), node.get("spec") or {}, node.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if spec.get("unschedulable"):
        state.append("SchedulingDisabled")
    roles = set()
    for key, value in (meta.get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1]:
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return next((a.get("address", "") for a in status.get("addresses") or []
                     if a.get("type") == kind), "<none>")

    return [
        meta.get("name", ""), ",".join(state), ",".join(sorted(roles)) or "<none>",
        _since(meta.get("creationTimestamp"), now), info.get("kubeletVersion", ""),
        address("InternalIP"), address("ExternalIP"),
        info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _finished_at(container_status: Mapping) -> datetime | None:
    last = (container_status.get("lastState") or {}).get("terminated") or {}
    return _parse_time(last.get("finishedAt"))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def _exit_reason(terminated: Mapping, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + terminated["reason"]
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _pod_status(pod: Mapping) -> tuple[str, int, int, int, datetime | None]:
    """(status word, ready containers, total containers, restarts, last restart) as kubectl shows."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    conditions = status.get("conditions") or []
    reason = status.get("reason") or status.get("phase") or ""
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in conditions):
        reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {name for name, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last = sidecar_last = None

    initializing = False
    for index, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        last = _later(last, _finished_at(cs))
        if cs.get("name") in sidecars:
            sidecar_restarts += cs.get("restartCount", 0)
            sidecar_last = _later(sidecar_last, _finished_at(cs))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting") or {}
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if cs.get("name") in sidecars and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if terminated is not None:
            reason = _exit_reason(terminated, "Init:")
        elif waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in conditions)
    if not initializing or initialized:
        restarts, last = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            last = _later(last, _finished_at(cs))
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _exit_reason(terminated)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    if pod.get("metadata", {}).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return reason, ready, total, restarts, last


def _pod_cells(pod: Mapping, now: datetime) -> list:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec") or {}, pod.get("status") or {}
    reason, ready, total, restarts, last = _pod_status(pod)
    restarts_text = str(restarts)
    if restarts and last is not None:
        restarts_text = f"{restarts} ({_since(last.isoformat(), now)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        by_type = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true = sum(1 for g in gates if by_type.get(g.get("conditionType")) == "True")
        gates_text = f"{true}/{len(gates)}"
    return [
        meta.get("name", ""), f"{ready}/{total}", reason, restarts_text,
        _since(meta.get("creationTimestamp"), now),
        (ips[0].get("ip") if ips else "") or "<none>", spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>", gates_text,
    ]


def _default_cells(obj: Mapping, now: datetime) -> list:
    meta = obj.get("metadata", {})
    return [meta.get("name", ""), _since(meta.get("creationTimestamp"), now)]


def _namespace_cells(namespace: Mapping, now: datetime) -> list:
    name, age = _default_cells(namespace, now)
    return [name, (namespace.get("status") or {}).get("phase", ""), age]


def _configmap_cells(configmap: Mapping, now: datetime) -> list:
    name, age = _default_cells(configmap, now)
    return [name, len(configmap.get("data") or {}) + len(configmap.get("binaryData") or {}), age]


def _format_selector(selector: Mapping | None) -> str:
    """A LabelSelector in selector syntax (``app=web,tier in (a,b)``), ``<none>`` when empty."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        terms.append({"In": f"{key} in ({','.join(sorted(values))})",
                      "NotIn": f"{key} notin ({','.join(sorted(values))})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(terms) or "<none>"


def _template_cells(workload: Mapping) -> list:
    spec = workload.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers), _format_selector(spec.get("selector"))]


def _daemonset_cells(daemonset: Mapping, now: datetime) -> list:
    name, age = _default_cells(daemonset, now)
    status = daemonset.get("status") or {}
    template = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
    node_selector = ",".join(f"{k}={v}" for k, v in sorted((template.get("nodeSelector") or {}).items()))
    counts = [status.get(k, 0) for k in ("desiredNumberScheduled", "currentNumberScheduled",
                                         "numberReady", "updatedNumberScheduled", "numberAvailable")]
    return [name, *counts, node_selector or "<none>", age, *_template_cells(daemonset)]


def _deployment_cells(deployment: Mapping, now: datetime) -> list:
    name, age = _default_cells(deployment, now)
    status = deployment.get("status") or {}
    desired = (deployment.get("spec") or {}).get("replicas", 1)
    return [name, f"{status.get('readyReplicas', 0)}/{desired}", status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0), age, *_template_cells(deployment)]


_CELLS = {
    ("", "Node"): _node_cells, ("", "Pod"): _pod_cells, ("", "Namespace"): _namespace_cells,
    ("", "ConfigMap"): _configmap_cells, ("apps", "DaemonSet"): _daemonset_cells,
    ("apps", "Deployment"): _deployment_cells,
}


def _row_object(obj: Mapping, include_object: str) -> dict | None:
    if include_object == "Object":
        return dict(obj)
    if include_object == "None":
        return None
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": dict(obj.get("metadata", {}))}


def to_table(res_kind: str, group: str, objects: list[dict], now: datetime,
             include_object: str = "Metadata") -> dict:
    """A Table for ``objects`` of kind ``res_kind`` in API ``group``.

    ``include_object`` is the ``includeObject`` query value (``None``, ``Metadata``, ``Object``).
    The caller fills ``metadata.resourceVersion`` (and ``continue``) as for a list.
    """
    key = (group, res_kind)
    cells = _CELLS.get(key, _default_cells)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [dict(c) for c in _COLUMNS.get(key, [_NAME, _AGE])],
        "rows": [{"cells": cells(obj, now), "object": _row_object(obj, include_object)}
                 for obj in objects],
    }


def wants_table(accept_header: str) -> bool:
    """True when the Accept header asks for a ``meta.k8s.io`` Table (as kubectl ``get`` does)."""
    for media_range in (accept_header or "").split(","):
        params = {}
        for part in media_range.split(";")[1:]:
            name, _, value = part.partition("=")
            params[name.strip()] = value.strip()
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
    return False
