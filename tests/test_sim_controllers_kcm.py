"""kube-controller-manager in the simulated cluster: the crash loop of a cluster-cidr change with
old node podCIDRs, the safe order (re-create nodes first), node IPAM, and host actions."""

from cluster_fixtures import cluster, control, host_action, settle  # noqa: F401 (fixture)

CONTROL_PLANE = ("node01", "node02", "node03")
NEW = "172.21.0.0/16"
LINE = ("failed to mark cidr[192.168.1.0/24] at idx [0] as occupied for node: node01: "
        "cidr 192.168.1.0/24 is out the range of cluster cidr 172.21.0.0/16")


def kcm_pod(clients, node):
    return clients.core.read_namespaced_pod(f"kube-controller-manager-{node}", "kube-system")


def flag(pod, name):
    return next(a.split("=", 1)[1] for a in pod.spec.containers[0].command if a.startswith(f"--{name}="))


def test_mirror_pods_carry_the_manifest_flags(cluster):
    sim, clients = cluster
    for node in CONTROL_PLANE:
        pod = kcm_pod(clients, node)
        assert pod.metadata.annotations["kubernetes.io/config.mirror"]
        assert pod.metadata.labels == {"component": "kube-controller-manager", "tier": "control-plane"}
        assert (flag(pod, "cluster-cidr"), flag(pod, "allocate-node-cidrs"), flag(pod, "node-cidr-mask-size")) == (
            "192.168.0.0/16", "true", "24")
        assert pod.status.phase == "Running" and pod.status.container_statuses[0].ready
        assert pod.status.pod_ip == pod.status.host_ip  # host network


def test_cluster_cidr_change_with_old_node_cidrs_crash_loops(cluster):
    sim, clients = cluster
    old_uid = kcm_pod(clients, "node01").metadata.uid
    for node in CONTROL_PLANE:
        reply = host_action(sim, node, "edit-kcm", clusterCIDR=NEW)
        assert f"--cluster-cidr={NEW}" in reply["command"]
    settle(sim, seconds=5)
    pod = kcm_pod(clients, "node01")
    assert pod.metadata.uid != old_uid  # the kubelet replaced the static pod
    assert flag(pod, "cluster-cidr") == NEW
    state = pod.status.container_statuses[0]
    assert state.state.waiting.reason == "CrashLoopBackOff" and not state.ready
    assert state.last_state.terminated is None or state.last_state.terminated.exit_code == 1
    log = clients.core.read_namespaced_pod_log(pod.metadata.name, "kube-system")
    assert LINE in log and 'Error starting "nodeipam"' in log
    restarts = []
    for _ in range(3):
        sim.controllers.advance(400)
        restarts.append(kcm_pod(clients, "node01").status.container_statuses[0].restart_count)
    assert restarts[0] >= 1 and restarts == sorted(restarts) and restarts[-1] > restarts[0]
    assert kcm_pod(clients, "node01").status.container_statuses[0].last_state.terminated.exit_code == 1
    backoffs = [e for e in clients.events("kube-system", pod.metadata.name) if e.reason == "BackOff"]
    assert backoffs and backoffs[0].type == "Warning"
    # every controller of kube-controller-manager is down: a deleted pod is not replaced
    victim = clients.pods("shop", "app=cart")[0].metadata.name
    clients.core.delete_namespaced_pod(victim, "shop")
    settle(sim, seconds=30)
    assert len([p for p in clients.pods("shop", "app=cart")]) == 2
    assert control(sim, "controllers")["kcmAvailable"] is False


def recreate_node(clients, name: str, pod_cidr: str) -> None:
    """What operators do (no podCIDR update is allowed): delete the Node, create it again."""
    node = clients.api_client.sanitize_for_serialization(clients.core.read_node(name))
    node["metadata"] = {k: v for k, v in node["metadata"].items()
                        if k in ("name", "labels", "annotations")}
    node["spec"] = {**node["spec"], "podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    node.pop("status", None)
    clients.core.delete_node(name)
    clients.core.create_node(node)


def test_recreating_nodes_first_keeps_kube_controller_manager_running(cluster):
    sim, clients = cluster
    nodes = sorted(n.metadata.name for n in clients.core.list_node().items)
    for i, name in enumerate(nodes, start=1):
        recreate_node(clients, name, f"172.21.{i}.0/24")
    settle(sim, seconds=5)
    for node in CONTROL_PLANE:  # the old cluster CIDR neither contains nor is inside 172.21.x.0/24: fine
        host_action(sim, node, "edit-kcm", clusterCIDR=NEW)
    settle(sim, seconds=120)
    for node in CONTROL_PLANE:
        pod = kcm_pod(clients, node)
        state = pod.status.container_statuses[0]
        assert flag(pod, "cluster-cidr") == NEW
        assert state.state.running is not None and state.ready and state.restart_count == 0
    assert control(sim, "controllers")["kcmAvailable"] is True
    # running with the new range, the node IPAM gives a re-registered node a CIDR from it
    clients.core.delete_node("node10")
    host_action(sim, "node10", "restart-kubelet")
    settle(sim, seconds=60)
    assert clients.core.read_node("node10").spec.pod_cidr == "172.21.0.0/24"


def test_allocate_node_cidrs_false_also_survives_the_change(cluster):
    sim, clients = cluster
    for node in CONTROL_PLANE:
        host_action(sim, node, "edit-kcm", clusterCIDR=NEW, allocateNodeCIDRs="false")
    settle(sim, seconds=60)
    for node in CONTROL_PLANE:
        assert kcm_pod(clients, node).status.container_statuses[0].ready


def test_host_actions_reject_bad_input(cluster):
    from conftest import http
    sim, _ = cluster
    for body in ({"node": "nope", "action": "restart-kubelet"}, {"node": "node04", "action": "edit-kcm"},
                 {"node": "node01", "action": "reboot"},
                 {"node": "node01", "action": "edit-kcm", "clusterCIDR": "not-a-cidr"}):
        status, _, raw = http(sim, "POST", "/_sim/hosts", body, identity=None)
        assert status == 400, raw
