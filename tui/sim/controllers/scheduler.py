"""kube-scheduler: binds pending pods to a node they fit on.

Filters as the default plugins do for what the simulated cluster has (node Ready, not cordoned,
taints tolerated, nodeSelector and required node affinity, pod capacity) and scores by spreading a
workload's pods, then by fewest pods, then by name, so placement is deterministic.
"""

from __future__ import annotations

from collections import Counter

from tui.sim.controllers.base import BY_NODE, BY_OWNER, NODES, PODS, Controller, key_of
from tui.sim.controllers.events import WARNING
from tui.sim.node_objects import is_node_ready
from tui.sim.pod_objects import controller_ref

POD = key_of(PODS)
NODE = key_of(NODES)


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    for tol in tolerations or []:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if not tol.get("key"):
            if tol.get("operator") == "Exists":
                return True
            continue
        if tol["key"] != taint.get("key"):
            continue
        if tol.get("operator") == "Exists" or tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def untolerated(pod: dict, node: dict) -> dict | None:
    """The first NoSchedule/NoExecute taint of the node the pod does not tolerate."""
    tolerations = pod["spec"].get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return taint
    return None


def affinity_matches(pod: dict, node: dict) -> bool:
    """nodeSelector plus required node affinity (matchExpressions on labels, matchFields on the name)."""
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod["spec"].get("nodeSelector") or {}).items()):
        return False
    required = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    return any(_term_matches(term, labels, fields) for term in terms)


def _term_matches(term: dict, labels: dict, fields: dict) -> bool:
    for values, exprs in ((labels, term.get("matchExpressions")), (fields, term.get("matchFields"))):
        for expr in exprs or []:
            key, op, wanted = expr.get("key"), expr.get("operator"), expr.get("values") or []
            have = values.get(key)
            ok = {"In": have in wanted, "NotIn": have not in wanted, "Exists": key in values,
                  "DoesNotExist": key not in values}.get(op, False)
            if op in ("Gt", "Lt") and have is not None and wanted:
                ok = int(have) > int(wanted[0]) if op == "Gt" else int(have) < int(wanted[0])
            if not ok:
                return False
    return True


class Scheduler(Controller):
    name = "kube-scheduler"

    def setup(self) -> None:
        self.cache.add_index(POD, "unscheduled", lambda p: [] if (p.get("spec") or {}).get("nodeName")
                             or (p.get("metadata") or {}).get("deletionTimestamp") else ["pending"])

    def initial_keys(self):
        for pod in self.cache.by_index(POD, "unscheduled", "pending"):
            yield pod["metadata"]["namespace"], pod["metadata"]["name"]

    def on_change(self, event, key, obj, old):
        if key == POD and event != "DELETED" and not obj["spec"].get("nodeName"):
            yield obj["metadata"]["namespace"], obj["metadata"]["name"]
        elif key == NODE or (key == POD and event == "DELETED"):
            yield from self.initial_keys()  # capacity or nodes changed: retry what is pending

    def sync(self, key) -> None:
        namespace, name = key
        pod = self.cache.get(POD, namespace, name)
        if pod is None or pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        if pod["spec"].get("schedulerName", "default-scheduler") != "default-scheduler":
            return
        nodes = self.cache.list(NODE)
        reasons: dict[str, int] = {}
        fits = []
        for node in nodes:
            reason = self._filter(pod, node)
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
            else:
                fits.append(node)
        if not fits:
            detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
            message = (f"0/{len(nodes)} nodes are available: {detail}. preemption: 0/{len(nodes)} nodes are "
                       f"available: {len(nodes)} Preemption is not helpful for scheduling.")
            if not _unschedulable_with(pod, message):
                status = dict(pod.get("status") or {})
                status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                         "message": message, "lastProbeTime": None,
                                         "lastTransitionTime": self.ctx.clock.timestamp()}]
                self.ctx.api.update(self.ctx.res(PODS), namespace, name, {**pod, "status": status},
                                    subresource="status")
                self.ctx.events.emit(pod, "FailedScheduling", message, WARNING, "default-scheduler")
            return
        owner = (controller_ref(pod) or {}).get("uid")
        siblings = Counter(p["spec"].get("nodeName") for p in self.cache.by_index(POD, BY_OWNER, owner)) \
            if owner else Counter()

        def score(node: dict):
            name = node["metadata"]["name"]
            return siblings[name], self.cache.count_index(POD, BY_NODE, name), name

        target = min(fits, key=score)["metadata"]["name"]
        self.ctx.api.bind_pod(namespace, name, target)
        self.ctx.events.emit(pod, "Scheduled", f"Successfully assigned {namespace}/{name} to {target}",
                             component="default-scheduler")

    def _filter(self, pod: dict, node: dict) -> str | None:
        if node["metadata"].get("deletionTimestamp"):
            return "node(s) were being deleted"
        if (node.get("spec") or {}).get("unschedulable") and not any(
                t.get("key") == "node.kubernetes.io/unschedulable" for t in pod["spec"].get("tolerations") or []):
            return "node(s) were unschedulable"
        taint = untolerated(pod, node)
        if taint:
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
        if not is_node_ready(node):
            return "node(s) were not ready"
        if not affinity_matches(pod, node):
            return "node(s) didn't match Pod's node affinity/selector"
        capacity = int(((node.get("status") or {}).get("allocatable") or {}).get("pods", "110"))
        if self.cache.count_index(POD, BY_NODE, node["metadata"]["name"]) >= capacity:
            return "Too many pods"
        return None


def _unschedulable_with(pod: dict, message: str) -> bool:
    return any(c.get("type") == "PodScheduled" and c.get("message") == message
               for c in (pod.get("status") or {}).get("conditions") or [])
