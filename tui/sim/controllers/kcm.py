"""kube-controller-manager as a process on each control-plane node, and its node IPAM.

The manifest is host state (tui.sim.hosts); the kubelet publishes it as the mirror pod
`kube-controller-manager-<node>`, whose status this controller reports. At every (re)start with
`--allocate-node-cidrs=true` the range allocator marks each node's podCIDR as occupied; a podCIDR
neither inside nor containing `--cluster-cidr` is fatal (reference kubernetes.md section 1.2): the
process exits with the real log line and the kubelet restarts it with back-off (CrashLoopBackOff).
While at least one instance runs, the kube-controller-manager controllers work, and the leader's
node IPAM gives podCIDRs to nodes without one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from tui.sim.controllers.base import CNI_INSTALLED, NODES, PODS, Controller, key_of, klog
from tui.sim.controllers.events import WARNING
from tui.sim.pod_objects import backoff_seconds, crashloop_container, running_status
from tui.sim.static_pods import KCM

NODE, POD = key_of(NODES), key_of(PODS)
NAMESPACE = "kube-system"


def occupancy_error(cluster_cidr: str, nodes: list[dict]) -> str | None:
    """The range allocator's start-up check: the error for the first node (in name order) whose
    podCIDR is neither inside nor containing the cluster CIDR, else None."""
    cluster = ipaddress.ip_network(cluster_cidr, strict=False)
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        spec = node.get("spec") or {}
        for idx, text in enumerate(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])):
            cidr = ipaddress.ip_network(text, strict=False)
            if cidr.version != cluster.version:
                continue
            if not (cidr.subnet_of(cluster) or cluster.subnet_of(cidr)):
                return (f"failed to mark cidr[{text}] at idx [{idx}] as occupied for node: "
                        f"{node['metadata']['name']}: cidr {text} is out the range of cluster cidr {cluster_cidr}")
    return None


def next_pod_cidr(cluster_cidr: str, mask: int, nodes: list[dict]) -> str | None:
    """The first free node CIDR of the cluster CIDR, or None when the range is exhausted."""
    cluster = ipaddress.ip_network(cluster_cidr, strict=False)
    taken: set = set()  # candidate subnets (at `mask`) that some node's podCIDR overlaps
    for node in nodes:
        for text in (node.get("spec") or {}).get("podCIDRs") or []:
            net = ipaddress.ip_network(text, strict=False)
            if net.version != cluster.version or not net.overlaps(cluster):
                continue
            if net.prefixlen >= mask:
                taken.add(net.supernet(new_prefix=mask))
            else:
                taken.update(net.subnets(new_prefix=mask))
    return next((str(c) for c in cluster.subnets(new_prefix=mask) if c not in taken), None)


@dataclass
class Process:
    """One kube-controller-manager container instance (belongs to one mirror pod uid)."""

    pod_uid: str
    container_id: str
    starts: int = 0  # start attempts so far; restartCount = starts - 1
    running: bool = False
    next_start: float = 0.0
    started_at: float = 0.0
    exited_at: float | None = None


class KubeControllerManager(Controller):
    name = "kube-controller-manager"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.procs: dict[str, Process] = {}
        ctx.manager.kcm_available = self.available

    def available(self) -> bool:
        return self.leader() is not None

    def leader(self) -> str | None:
        """The instance holding the leader lease: the first running one (by node name)."""
        for node in sorted(self.procs):
            host = self.ctx.hosts.get(node)
            if self.procs[node].running and host is not None and host.kubelet_running:
                return node
        return None

    def flags(self, node: str) -> dict[str, str | None]:
        host = self.ctx.hosts[node]
        return {f: host.kcm_flag(f) for f in ("cluster-cidr", "allocate-node-cidrs", "node-cidr-mask-size")}

    def initial_keys(self):
        return [h.name for h in self.ctx.hosts.values() if KCM in h.static_pods]

    def on_change(self, event, key, obj, old):
        if key == POD and obj["metadata"].get("namespace") == NAMESPACE and \
                obj["metadata"].get("labels", {}).get("component") == KCM:
            yield obj["spec"].get("nodeName")

    def on_host(self, node, action):
        if action != CNI_INSTALLED:
            yield node

    def _mirror(self, node: str) -> dict | None:
        return self.cache.get(POD, NAMESPACE, f"{KCM}-{node}")

    def sync(self, node: str) -> None:
        host = self.ctx.hosts.get(node)
        mirror = self._mirror(node)
        if host is None or KCM not in host.static_pods or mirror is None or not host.kubelet_running \
                or mirror["metadata"].get("deletionTimestamp"):
            return
        now = self.ctx.now()
        proc = self.procs.get(node)
        if proc is None or proc.pod_uid != mirror["metadata"]["uid"]:
            proc = self.procs[node] = Process(mirror["metadata"]["uid"], self.ctx.namer.container_id(),
                                              next_start=now + self.ctx.timings.kcm_start)
        if not proc.running and now >= proc.next_start:
            self._start(node, proc, mirror)
        elif not proc.running:
            self.after(proc.next_start - now, node)
        self._report(node, proc, host)

    def _start(self, node: str, proc: Process, mirror: dict) -> None:
        now, api = self.ctx.now(), self.ctx.api
        proc.starts += 1
        if proc.starts > 1:
            proc.container_id = self.ctx.namer.container_id()
        version = self.ctx.hosts[node].static_pods[KCM]["spec"]["containers"][0].get("image", "").rsplit(":", 1)[-1]
        lines = [klog("I", now, "serving.go:386", "Generated self-signed cert in-memory"),
                 klog("I", now, "controllermanager.go:197", f'"Starting" version="{version}"'),
                 klog("I", now, "leaderelection.go:254",
                      "attempting to acquire leader lease kube-system/kube-controller-manager...")]
        flags = self.flags(node)
        error = None
        if flags["allocate-node-cidrs"] == "true" and flags["cluster-cidr"]:
            lines.append(klog("I", now, "range_allocator.go:116",
                              "No Secondary Service CIDR provided. Skipping filtering out secondary service "
                              "addresses."))
            error = occupancy_error(flags["cluster-cidr"], self.cache.list(NODE))
        if error:
            lines += [klog("E", now, "controllermanager.go:522", 'Error starting "nodeipam"'),
                      klog("F", now, "controllermanager.go:235", f"error starting controllers: {error}")]
            proc.running, proc.exited_at = False, now
            proc.next_start = now + backoff_seconds(proc.starts)
            self.after(proc.next_start - now, node)
            meta = mirror["metadata"]
            if proc.starts > 1:
                self.ctx.events.emit(mirror, "BackOff", f"Back-off restarting failed container {KCM} in pod "
                                     f"{meta['name']}_{meta['namespace']}({meta['uid']})", WARNING, "kubelet", node)
        else:
            lines.append(klog("I", now, "controllermanager.go:765", '"Started controller" controller="nodeipam"'))
            proc.running, proc.started_at = True, now
        api.append_log(NAMESPACE, mirror["metadata"]["name"], "\n".join(lines))
        for other in self.ctx.manager.controllers:
            if isinstance(other, NodeIpam):
                for n in self.cache.list(NODE):
                    other.enqueue(n["metadata"]["name"])

    def _report(self, node: str, proc: Process, host) -> None:
        mirror = self._mirror(node)
        container = mirror["spec"]["containers"][0]
        now = self.ctx.now()
        status = running_status(mirror, host.ip, host.ip, [proc.container_id],
                                proc.started_at or now, now, ready=proc.running)
        started = proc.started_at if proc.running else (proc.exited_at or now)
        status["containerStatuses"] = [crashloop_container(
            mirror, container, proc.container_id, max(0, proc.starts - 1), proc.exited_at or now, started,
            backing_off=not proc.running)]
        if proc.running and proc.starts <= 1:
            status["containerStatuses"][0]["lastState"] = {}
        if (mirror.get("status") or {}).get("containerStatuses") == status["containerStatuses"] and \
                mirror["status"].get("phase") == "Running":
            return
        self.set_status(PODS, mirror, status)


class NodeIpam(Controller):
    """The leader kube-controller-manager's range allocator: podCIDRs for nodes without one."""

    name = "node-ipam-controller"
    kcm = True

    def initial_keys(self):
        return [n["metadata"]["name"] for n in self.cache.list(NODE)]

    def on_change(self, event, key, obj, old):
        if key == NODE and event != "DELETED":
            yield obj["metadata"]["name"]

    def _kcm(self) -> KubeControllerManager:
        return next(c for c in self.ctx.manager.controllers if isinstance(c, KubeControllerManager))

    def sync(self, name: str) -> None:
        kcm = self._kcm()
        leader = kcm.leader()
        node = self.cache.get(NODE, None, name)
        if leader is None or node is None or (node.get("spec") or {}).get("podCIDRs"):
            return
        flags = kcm.flags(leader)
        if flags["allocate-node-cidrs"] != "true" or not flags["cluster-cidr"]:
            return
        cluster = ipaddress.ip_network(flags["cluster-cidr"], strict=False)
        mask = int(flags["node-cidr-mask-size"] or (24 if cluster.version == 4 else 64))
        cidr = next_pod_cidr(flags["cluster-cidr"], mask, self.cache.list(NODE))
        if cidr is None:
            self.ctx.events.emit(node, "CIDRNotAvailable", f"Node {name} status is now: CIDRNotAvailable",
                                 component="cidrAllocator")
            return
        self.ctx.api.patch(self.ctx.res(NODES), None, name, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                           "application/merge-patch+json")
