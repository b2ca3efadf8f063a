"""kube-controller-manager's node lifecycle and pod GC controllers.

A node whose kubelet stops posting status turns NotReady (conditions Unknown, `unreachable` taints,
its pods not Ready, a NodeNotReady event) after the node-monitor grace period; the taints go when
the kubelet is back. New nodes get a RegisteredNode event. Pods bound to a Node object that no
longer exists are garbage-collected (force-deleted), as the pod GC does.
"""

from __future__ import annotations

from tui.sim.clock import parse_rfc3339, rfc3339
from tui.sim.controllers.base import BY_NODE, CNI_INSTALLED, NODES, PODS, Controller, key_of
from tui.sim.node_objects import NOT_READY_TAINT_KEY, UNREACHABLE_TAINT_KEY, is_node_ready, node_conditions
from tui.sim.pod_objects import is_ready, with_readiness

NODE, POD = key_of(NODES), key_of(PODS)
TAINT_KEYS = (UNREACHABLE_TAINT_KEY, NOT_READY_TAINT_KEY)


class NodeLifecycle(Controller):
    name = "node-lifecycle-controller"
    kcm = True

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._quarantined: set[str] = set()  # nodes whose orphaned pods wait for the GC delay

    def initial_keys(self):
        for node in self.cache.list(NODE):
            yield ("node", node["metadata"]["name"])
        live = {n["metadata"]["name"] for n in self.cache.list(NODE)}
        for node in self.cache.index_values(POD, BY_NODE):
            if node not in live:
                yield ("orphans", node)

    def on_change(self, event, key, obj, old):
        if key == NODE:
            name = obj["metadata"]["name"]
            if event == "ADDED":
                yield ("registered", name)
            yield ("orphans", name) if event == "DELETED" else ("node", name)
        elif key == POD and event == "ADDED" and obj["spec"].get("nodeName"):
            if self.cache.get(NODE, None, obj["spec"]["nodeName"]) is None:
                yield ("orphans", obj["spec"]["nodeName"])

    def on_host(self, node, action):
        if action != CNI_INSTALLED:
            yield ("node", node)

    def sync(self, key) -> None:
        kind, name = key
        if kind == "registered":
            node = self.cache.get(NODE, None, name)
            if node is not None:
                self.ctx.events.emit(node, "RegisteredNode", f"Node {name} event: Registered Node {name} in Controller",
                                     component="node-controller")
        elif kind == "orphans":
            self._collect_orphans(name)
        else:
            self._monitor(name)

    def _monitor(self, name: str) -> None:
        node = self.cache.get(NODE, None, name)
        host = self.ctx.hosts.get(name)
        if node is None or host is None:
            return
        api, now = self.ctx.api, self.ctx.now()
        taints = (node.get("spec") or {}).get("taints") or []
        if host.kubelet_running:
            if is_node_ready(node) and any(t.get("key") in TAINT_KEYS for t in taints):
                kept = [t for t in taints if t.get("key") not in TAINT_KEYS]
                api.patch(self.ctx.res(NODES), None, name, {"spec": {"taints": kept or None}},
                          "application/merge-patch+json")
            return
        if not is_node_ready(node):
            return
        heartbeat = next((c.get("lastHeartbeatTime") for c in node["status"].get("conditions") or []
                          if c.get("type") == "Ready"), None)
        silent_for = now - parse_rfc3339(heartbeat) if heartbeat else float("inf")
        grace = self.ctx.timings.node_monitor_grace
        if silent_for < grace:
            self.after(grace - silent_for, ("node", name))
            return
        status = dict(node["status"])
        status["conditions"] = node_conditions(now, ready=False, old=status.get("conditions"))
        node = self.set_status(NODES, node, status)
        added = rfc3339(now)
        new_taints = [t for t in taints if t.get("key") not in TAINT_KEYS] + [
            {"key": UNREACHABLE_TAINT_KEY, "effect": "NoSchedule", "timeAdded": added},
            {"key": UNREACHABLE_TAINT_KEY, "effect": "NoExecute", "timeAdded": added}]
        api.patch(self.ctx.res(NODES), None, name, {"spec": {"taints": new_taints}}, "application/merge-patch+json")
        self.ctx.events.emit(node, "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                             component="node-controller")
        for pod in self.cache.by_index(POD, BY_NODE, name):
            if is_ready(pod):
                self.set_status(PODS, pod, with_readiness(pod["status"], False, now))

    def _collect_orphans(self, node: str) -> None:
        """Pod GC: pods bound to a node whose Node object is gone are force-deleted."""
        if self.cache.get(NODE, None, node) is not None:
            return
        pods = self.cache.by_index(POD, BY_NODE, node)
        if not pods:
            return
        if node not in self._quarantined:
            self._quarantined.add(node)
            self.after(self.ctx.timings.pod_gc, ("orphans", node))
            return
        self._quarantined.discard(node)
        for pod in pods:
            meta = pod["metadata"]
            self.ctx.api.delete(self.ctx.res(PODS), meta["namespace"], meta["name"], grace_period_seconds=0)
