"""The `large-cluster` generator: N nodes with about 30 running pods each, for benchmarks.

Builds the cluster in its steady state directly (nodes, Running pods with Calico addresses, IPAM
blocks with realistic fragmentation, handles, affinities), with the same builders the controllers
use, so the controllers find nothing to do at start-up. Fragmentation comes from simulated churn:
addresses taken and given back before the current pods started, which reorders free lists, spills
some nodes into a second block and leaves some affine blocks empty.
"""

from __future__ import annotations

import copy
import gc
import ipaddress
import time

from tui.sim.controllers import ipam_blocks as ib
from tui.sim.controllers.calico_node import CALICO_IS_UP, IPV4_ADDRESS, default_pool, resolve_env
from tui.sim.controllers.ipam import pool_spec
from tui.sim.controllers.kube_proxy import CLUSTER_CIDR_ANNOTATION, CONFIG_HASH_ANNOTATION, config_facts
from tui.sim.controllers.workloads import (daemon_pod, deployment_status, new_replicaset, node_affinity, owned_pod,
                                          replicaset_status)
from tui.sim.hosts import Host
from tui.sim.kinds import WORKLOAD_DEFAULTS, pod_spec_defaults
from tui.sim.naming import Namer, revision_hash
from tui.sim.node_objects import mark_control_plane, node_status, registered_node
from tui.sim.pod_objects import (CALICO_CONTAINER_ID, CALICO_POD_IP, CALICO_POD_IPS, defaulted_pod, rfc3339,
                                 running_status)
from tui.sim.scenario import Scenario, ScenarioError
from tui.sim.static_pods import cluster_configuration

MAX_NODES = 5000
CONTROL_PLANE = 3
RACK = 40  # nodes per rack (one /24 each): CrossSubnet IPIP encapsulates between racks
AGE = 3 * 86400.0  # the cluster was built three days ago
REPLICAS = (2, 3, 5, 8, 12, 20, 30, 50, 80, 120, 200)
TEAMS = 20
IMAGES = ("nginx:1.27.3", "ghcr.io/example/api:3.2.0", "redis:7.4.1", "ghcr.io/example/worker:1.18.4",
          "envoyproxy/envoy:v1.31.2")
RR_CLUSTER_ID = "224.0.0.1"


def generate(params: dict, scenario: Scenario) -> None:
    count = int(params.get("nodes", 1000))
    if not 1 <= count <= MAX_NODES:
        raise ScenarioError(f"large: --nodes must be between 1 and {MAX_NODES}, got {count}")
    if params.get("blockSize"):  # smaller blocks, more of them per node (the fragmented benchmark)
        calico_node = scenario.find("DaemonSet", "calico-node")
        container = calico_node["spec"]["template"]["spec"]["containers"][0] if calico_node else {}
        container["env"] = [*container.get("env", []),
                            {"name": "CALICO_IPV4POOL_BLOCK_SIZE", "value": str(int(params["blockSize"]))}]
    builder = Builder(scenario, count, int(params.get("podsPerNode", 30)), Namer(f"{scenario.seed}/large/{count}"))
    gc.disable()  # hundreds of thousands of new dicts and nothing cyclic: collections only cost time
    try:
        builder.build()
    finally:
        gc.enable()
    # Keep the cyclic collector from rescanning them for as long as the process lives (they are
    # acyclic, so reference counting still frees any that get deleted).
    gc.freeze()


class Builder:
    def __init__(self, scenario: Scenario, count: int, per_node: int, namer: Namer) -> None:
        self.s, self.count, self.per_node, self.namer = scenario, count, per_node, namer
        self.created = time.time() - AGE
        self.now = time.time()
        self.blocks: dict[str, dict] = {}  # block cidr -> spec
        self.taken: set[str] = set()
        self.node_blocks: dict[str, list[str]] = {}
        self.handles: list[dict] = []
        self.statuses: dict[int, tuple[dict, dict]] = {}
        self.ghosts: dict[str, list[tuple[str, int]]] = {}  # node -> ordinals held by departed pods
        self.churning: dict[str, list[int]] = {}  # node -> [allocations left before they are released]  # id(prototype) -> (prototype, its status)

    # --- helpers -------------------------------------------------------------------------------
    def stamp(self, obj: dict, when: float | None = None) -> dict:
        obj["metadata"]["uid"] = self.namer.uuid()
        obj["metadata"]["creationTimestamp"] = rfc3339(self.created if when is None else when)
        return obj

    def find(self, kind: str, name: str) -> dict:
        obj = self.s.find(kind, name)
        if obj is None:
            raise ScenarioError(f"large: the scenario must define {kind} {name} before generating")
        return obj

    # --- the cluster ---------------------------------------------------------------------------
    def build(self) -> None:
        kubeadm = cluster_configuration(self.find("ConfigMap", "kubeadm-config"))
        self.pod_subnet = (kubeadm.get("networking") or {}).get("podSubnet", "10.64.0.0/11")
        calico_ds = self.find("DaemonSet", "calico-node")
        pool = default_pool(resolve_env(calico_ds["spec"]["template"]["spec"]["containers"][0],
                                        {"metadata": {"namespace": "kube-system", "name": ""}, "spec": {}},
                                        lambda ns, name: self.s.find("ConfigMap", name)), self.pod_subnet)
        self.pool = pool_spec(pool)
        self.s.objects.append(self.stamp(pool))
        nodes = self.nodes()
        proxy_facts = config_facts(self.find("ConfigMap", "kube-proxy"))
        daemonsets = [self.stamp(calico_ds), self.stamp(self.find("DaemonSet", "kube-proxy"))]
        for ds in daemonsets:
            ds["metadata"]["generation"] = 1
            self.daemon_pods(ds, nodes, proxy_facts)
        self.workloads([n for n in nodes if n not in self.control_plane])
        for node in list(self.ghosts):
            self.release_ghosts(node)
        for cidr, spec in self.blocks.items():
            node = ib.node_of(spec)
            self.s.generated.append(self.stamp({**ib.new_block(cidr, node, self.created, 0), "spec": spec}))
            self.s.generated.append(self.stamp(ib.new_affinity(node, cidr)))
        self.s.generated.extend(self.handles)
        for node in (nodes[0], nodes[min(3, len(nodes) - 1)]):
            self.s.objects.append({"apiVersion": "crd.projectcalico.org/v1", "kind": "CalicoNodeStatus",
                                   "metadata": {"name": node},
                                   "spec": {"classes": ["Agent", "BGP"], "node": node, "updatePeriodSeconds": 30}})

    def nodes(self) -> list[str]:
        cidrs = ipaddress.ip_network(self.pod_subnet).subnets(new_prefix=24)
        names = [f"node{i:04d}" for i in range(1, self.count + 1)]
        self.control_plane = set(names[:CONTROL_PLANE])
        for i, name in enumerate(names):
            rack, slot = divmod(i, RACK)
            host = Host(name=name, address=f"10.128.{rack}.{10 + slot}/24", control_plane=name in self.control_plane)
            self.s.hosts[name] = host
            node = registered_node(host, self.created)
            node["status"] = node_status(host, self.now, network=CALICO_IS_UP)
            if host.control_plane:
                mark_control_plane(node)
            cidr = str(next(cidrs))
            node["spec"].update(podCIDR=cidr, podCIDRs=[cidr])
            annotations = node["metadata"]["annotations"]
            annotations[IPV4_ADDRESS] = host.address
            if i < 2:  # the route reflectors
                node["metadata"]["labels"]["route-reflector"] = "true"
                annotations["projectcalico.org/RouteReflectorClusterID"] = RR_CLUSTER_ID
            if self.pool.get("ipipMode", "Never") != "Never":
                annotations["projectcalico.org/IPv4IPIPTunnelAddr"] = self.assign(
                    name, ib.tunnel_handle_id(name), ib.tunnel_attributes(name))
            self.s.generated.append(self.stamp(node))
        return names

    # --- IPAM ----------------------------------------------------------------------------------
    def claim(self, node: str) -> str:
        cidr = ib.first_free_block(self.pool["cidr"], int(self.pool["blockSize"]), node, self.taken)
        if cidr is None:
            raise ScenarioError(f"large: pool {self.pool['cidr']} is full")
        self.blocks[cidr] = ib.new_block(cidr, node, self.created, int(self.created * 1e9))["spec"]
        self.taken.add(cidr)
        self.node_blocks.setdefault(node, []).append(cidr)
        return cidr

    def assign(self, node: str, handle: str, attrs: dict) -> str:
        blocks = self.node_blocks.setdefault(node, [])
        cidr = next((c for c in blocks if self.blocks[c]["unallocated"]), None) or self.claim(node)
        self.blocks[cidr], ordinal = ib.allocate(self.blocks[cidr], handle, attrs, in_place=True)
        self.handles.append(self.stamp(ib.new_handle(handle, {cidr: 1})))
        churn = self.churning.get(node)
        if churn is not None:
            churn[0] -= 1
            if churn[0] <= 0:
                self.release_ghosts(node)
        return ib.ordinal_ip(cidr, ordinal)

    def churn(self, node: str, pods: int) -> None:
        """Pods that came and went while today's pods started: their addresses are taken now and
        given back after `pods` more allocations on the node. Returned ordinals go to the tail of
        the free queue (libcalico-go's discipline), and nodes that were busy at the time spill into
        a second block, which stays affine when it empties."""
        if self.namer.randint(0, 9) == 0:  # a busy past: a burst that overflowed, long gone
            self.ghosts[node] = self.take(node, self.namer.randint(64, 100))
            self.release_ghosts(node)
        self.ghosts[node] = self.take(node, self.namer.randint(0, 90))
        self.churning[node] = [self.namer.randint(0, pods)]

    def take(self, node: str, count: int) -> list[tuple[str, int]]:
        """Ordinals from the head of the node's free queues, claiming blocks as needed."""
        taken = []
        blocks = self.node_blocks.setdefault(node, [])
        for _ in range(count):
            cidr = next((c for c in blocks if self.blocks[c]["unallocated"]), None) or self.claim(node)
            taken.append((cidr, self.blocks[cidr]["unallocated"].pop(0)))
        return taken

    def release_ghosts(self, node: str) -> None:
        for cidr, ordinal in self.ghosts.pop(node, []):
            spec = self.blocks[cidr]
            spec["unallocated"].append(ordinal)
            spec["sequenceNumber"] += 2
        self.churning.pop(node, None)

    # --- pods ----------------------------------------------------------------------------------
    def running(self, proto: dict, name: str, node: str, started: float, host_network: bool,
                annotations: dict | None = None, spec: dict | None = None) -> dict:
        """A Running pod made from a prototype (`spec`: per-pod spec fields); nested parts are shared,
        never mutated."""
        meta = {**proto["metadata"], "name": name, "uid": self.namer.uuid(), "creationTimestamp": rfc3339(started)}
        if annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        pod = {**proto, "metadata": meta, "spec": {**proto["spec"], **(spec or {}), "nodeName": node}}
        host_ip = self.s.hosts[node].ip
        if host_network:
            ip = host_ip
        else:
            sandbox = self.namer.container_id()
            ip = self.assign(node, ib.pod_handle_id(sandbox),
                             ib.pod_attributes(meta["namespace"], name, node, started))
            meta["annotations"] = {**(meta.get("annotations") or {}), CALICO_CONTAINER_ID: sandbox,
                                   CALICO_POD_IP: f"{ip}/32", CALICO_POD_IPS: f"{ip}/32"}
        base = self.statuses.get(id(proto))
        if base is None:  # the prototype's status once; per pod only addresses and container IDs differ
            ids = ["0" * 64 for _ in proto["spec"].get("containers", [])]
            base = self.statuses[id(proto)] = (proto, running_status(proto, "", "", ids, started, started))
        status = base[1]
        pod["status"] = {**status, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": ip,
                         "podIPs": [{"ip": ip}], "containerStatuses": [
                             {**c, "containerID": f"containerd://{self.namer.container_id()}"}
                             for c in status["containerStatuses"]]}
        self.s.generated.append(pod)
        return pod

    def daemon_pods(self, ds: dict, nodes: list[str], proxy_facts: tuple[str, str]) -> None:
        revision = revision_hash(ds["spec"]["template"])
        annotations = None
        if ds["metadata"]["name"] == "kube-proxy":
            annotations = {CONFIG_HASH_ANNOTATION: proxy_facts[0], CLUSTER_CIDR_ANNOTATION: proxy_facts[1]}
        prefix = f"{ds['metadata']['name']}-"
        proto = defaulted_pod(daemon_pod(ds, nodes[0], prefix, revision))
        for node in nodes:
            self.running(proto, prefix + self.namer.suffix(), node, self.created,
                         bool(proto["spec"].get("hostNetwork")), annotations, {"affinity": node_affinity(node)})

    def workloads(self, workers: list[str]) -> None:
        """Deployments (with their ReplicaSets and pods, statuses filled in) spread over the workers."""
        if not workers:
            return
        slots = max(0, self.per_node - 2)
        places = [w for _ in range(slots) for w in workers]  # round robin: spread like the scheduler
        for node in workers:
            self.churn(node, slots)
        index = 0
        while places:
            team = f"team-{index % TEAMS:02d}"
            if index < TEAMS:
                self.s.objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {
                    "name": team, "labels": {"kubernetes.io/metadata.name": team}}})
            replicas = min(len(places), self.namer.choice(REPLICAS))
            self.deployment(team, f"svc-{index:04d}", [places.pop() for _ in range(replicas)])
            index += 1

    def deployment(self, namespace: str, name: str, nodes: list[str]) -> None:
        template = {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": self.namer.choice(IMAGES)}]}}
        pod_spec_defaults(template["spec"], admission=False)
        spec = {**copy.deepcopy(WORKLOAD_DEFAULTS["deployments"]), "replicas": len(nodes),
                "selector": {"matchLabels": {"app": name}}, "template": template}
        d = self.stamp({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}, "generation": 1},
                        "spec": spec})
        rs = self.stamp(new_replicaset(d, 1, len(nodes)))
        rs["metadata"]["generation"] = 1
        prefix = f"{rs['metadata']['name']}-"
        proto = defaulted_pod(owned_pod(rs, prefix, {}, generate_name=prefix))
        pods = [self.running(proto, prefix + self.namer.suffix(), node, self.created, False) for node in nodes]
        rs["status"] = replicaset_status(rs, pods)
        d["status"] = deployment_status(d, [(rs, pods)], self.created)
        self.s.generated += [d, rs]
