"""Helpers for the migration acceptance tests (not a test module): a running simulated cluster,
the CLI in-process, watchers for budgets and restarts, and the cluster's end state in one dict."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml

from tui.cli import main
from tui.kube.connection import connect
from tui.migrate.rest import CONFIGMAPS, DAEMONSETS, IPAMBLOCKS_V1, IPPOOLS_V1, LEASES, NODES, PODS, ApiStatusError, Rest
from tui.model.config import parse_controller_manager
from tui.model.node import parse_node
from tui.model.disruption import pod_healthy
from tui.sim.simulator import Simulator

OLD, NEW = "192.168.0.0/16", "172.21.0.0/16"
SPEED = 100
# Fast polling and a short settle: the simulated cluster runs SPEED times faster than real time.
RUN_OPTIONS = ["--poll-interval", "0.1", "--settle", "0.3", "--wait-timeout", "120"]


def start_cluster(directory: Path, scenario: str = "seed", **options) -> Simulator:
    sim = Simulator.from_scenario(scenario, speed=SPEED, **options)
    sim.start_in_thread()
    sim.kubeconfig_path = sim.write_kubeconfig(directory / "kubeconfig")
    return sim


def cli(sim: Simulator, *args: str, context: str | None = None) -> int:
    argv = ["--kubeconfig", str(sim.kubeconfig_path)] + (["--context", context] if context else [])
    return main(argv + list(args))


class Watch:
    """Observes every committed change: the fewest healthy pods a budget guarded, and every
    kube-controller-manager container restart."""

    def __init__(self, sim: Simulator, namespace: str = "shop", app: str = "postgres"):
        self.healthy: dict[str, bool] = {}
        self.min_healthy = 0
        self.kcm_restarts: list[str] = []
        self.namespace, self.app = namespace, app

        def begin():
            pods, _ = sim.api.list(sim.api.resource("", "v1", "pods"), namespace, label_selector=f"app={app}")
            self.healthy = {p["metadata"]["name"]: pod_healthy(p) for p in pods}
            self.min_healthy = sum(self.healthy.values())
            return sim.api.subscribe(self._event)
        self._unsubscribe = sim.call(begin)

    def _event(self, event: str, res, obj: dict, old) -> None:
        if res.plural != "pods":
            return
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get("component") == "kube-controller-manager":
            for status in (obj.get("status") or {}).get("containerStatuses") or []:
                if status.get("restartCount", 0) > 0:
                    self.kcm_restarts.append(f"{meta['name']} restartCount {status['restartCount']}")
        if meta.get("namespace") != self.namespace or labels.get("app") != self.app:
            return
        if event == "DELETED":
            self.healthy.pop(meta["name"], None)
        else:
            self.healthy[meta["name"]] = pod_healthy(obj)
        self.min_healthy = min(self.min_healthy, sum(self.healthy.values()))

    def stop(self, sim: Simulator) -> None:
        sim.call(self._unsubscribe)


def _in(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)


def end_state(sim: Simulator) -> dict:
    """What a finished migration must have changed, as comparable data."""
    conn = connect(str(sim.kubeconfig_path), None)
    rest = Rest(conn)
    try:
        blocks = [b for b in rest.list(IPAMBLOCKS_V1)
                  if ipaddress.ip_network(b["spec"]["cidr"]).overlaps(ipaddress.ip_network(OLD))]
        pods = rest.list(PODS)
        nodes = [parse_node(n) for n in rest.list(NODES)]
        kcm = {}
        for pod in rest.list(PODS, "kube-system", "component=kube-controller-manager"):
            parsed = parse_controller_manager(pod)
            kcm[parsed.pod.node] = (parsed.flags.get("cluster-cidr"), parsed.flags.get("allocate-node-cidrs"),
                                    parsed.pod.phase, parsed.pod.ready, parsed.pod.restart_count)
        proxy = sorted({str((p["metadata"].get("annotations") or {}).get("calico-tui.sim/kube-proxy-cluster-cidr"))
                        for p in rest.list(PODS, "kube-system", "k8s-app=kube-proxy")})
        kubeadm = yaml.safe_load(rest.get(CONFIGMAPS, "kube-system", "kubeadm-config")["data"]["ClusterConfiguration"])
        calico_node = [d for d in rest.list(DAEMONSETS) if d["metadata"]["name"] == "calico-node"][0]
        env = {e["name"]: e.get("value") for e in calico_node["spec"]["template"]["spec"]["containers"][0]["env"]}
        try:
            rest.get(LEASES, "kube-system", "calico-tui-migration")
            lease = True
        except ApiStatusError:
            lease = False
        return {
            "pools": sorted((p["metadata"]["name"], p["spec"]["cidr"], bool(p["spec"].get("disabled")))
                            for p in rest.list(IPPOOLS_V1)),
            "old blocks": len(blocks),
            "old allocations": sum(1 for b in blocks for a in b["spec"]["allocations"] if a is not None),
            "pods outside the new pool": sorted(
                f"{p['metadata']['namespace']}/{p['metadata']['name']} {p['status'].get('podIP')}" for p in pods
                if not p["spec"].get("hostNetwork") and p.get("status", {}).get("podIP")
                and not _in(p["status"]["podIP"], NEW)),
            "pods not running": sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods
                                       if not pod_healthy(p)),
            "bare pod": any(p["metadata"]["name"] == "debug-shell" for p in pods),
            "tunnels outside the new pool": sorted(f"{n.name} {a}" for n in nodes for a in n.tunnel_addresses.values()
                                                   if not _in(str(a), NEW)),
            "node podCIDRs": {n.name: [str(c) for c in n.pod_cidrs] for n in nodes},
            "cordoned": sorted(n.name for n in nodes if n.unschedulable),
            "not ready": sorted(n.name for n in nodes if not n.ready),
            "control-plane nodes": sorted(n.name for n in nodes if "control-plane" in n.roles),
            "kube-controller-manager": kcm,
            "kube-proxy runs with": proxy,
            "kubeadm podSubnet": kubeadm["networking"]["podSubnet"],
            "CALICO_IPV4POOL_CIDR": env.get("CALICO_IPV4POOL_CIDR"),
            "lock held": lease,
        }
    finally:
        conn.close()


def expected_state(state: dict, node_strategy: str, manifest: bool = True) -> dict:
    """`state` as it must be after a complete migration with `node_strategy`."""
    expected = dict(state)
    expected.update({
        "pools": [("ipv4-ippool-172-21-0-0-16", NEW, False)], "bare pod": False,
        "old blocks": 0, "old allocations": 0, "pods outside the new pool": [], "pods not running": [],
        "tunnels outside the new pool": [], "cordoned": [], "not ready": [],
        "control-plane nodes": ["node01", "node02", "node03"],
        "kube-proxy runs with": [NEW], "kubeadm podSubnet": NEW, "lock held": False,
        "kube-controller-manager": {node: (NEW, "false" if node_strategy == "disable-allocation" else "true",
                                           "Running", True, 0) for node in ("node01", "node02", "node03")},
    })
    if manifest:
        expected["CALICO_IPV4POOL_CIDR"] = NEW
    if node_strategy == "recreate-nodes":
        expected["node podCIDRs"] = {f"node{i:02d}": [f"172.21.{i}.0/24"] for i in range(1, 11)}
    else:
        expected["node podCIDRs"] = {f"node{i:02d}": [f"192.168.{i}.0/24"] for i in range(1, 11)}
    return expected
