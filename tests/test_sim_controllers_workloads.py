"""Workloads in the simulated cluster: drains by eviction respect PodDisruptionBudgets, rollout
restarts replace every pod within the strategy's bounds, cordoned nodes get no new pods, bare pods
stay deleted, deleted nodes lose their pods and come back only when their kubelet restarts."""

import pytest

from cluster_fixtures import cluster, host_action, live, settle  # noqa: F401 (fixture)
from kubernetes.client.exceptions import ApiException

RESTARTED = "kubectl.kubernetes.io/restartedAt"


def ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def evict(clients, pod):
    clients.core.create_namespaced_pod_eviction(pod.metadata.name, pod.metadata.namespace, {
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": pod.metadata.name, "namespace": pod.metadata.namespace}})


def test_evictions_respect_the_statefulset_budget(cluster):
    sim, clients = cluster
    pods = sorted(clients.pods("shop", "app=postgres"), key=lambda p: p.metadata.name)
    assert [p.metadata.name for p in pods] == ["postgres-0", "postgres-1", "postgres-2"]
    evict(clients, pods[0])
    with pytest.raises(ApiException) as refused:
        evict(clients, pods[1])  # minAvailable 2: only two healthy pods remain
    assert refused.value.status == 429
    assert "disruption budget" in refused.value.body
    settle(sim)
    replaced = clients.core.read_namespaced_pod("postgres-0", "shop")
    assert replaced.metadata.uid != pods[0].metadata.uid and ready(replaced)
    assert replaced.status.pod_ip and replaced.metadata.labels["statefulset.kubernetes.io/pod-name"] == "postgres-0"
    pdb = clients.custom.get_namespaced_custom_object("policy", "v1", "shop", "poddisruptionbudgets", "postgres")
    assert pdb["status"]["currentHealthy"] == 3 and pdb["status"]["disruptionsAllowed"] == 1
    evict(clients, clients.core.read_namespaced_pod("postgres-1", "shop"))


def test_drain_of_a_node_by_eviction(cluster):
    """kubectl drain: cordon, then evict every pod but DaemonSet and mirror pods; retry on 429."""
    sim, clients = cluster
    node = clients.core.read_namespaced_pod("postgres-1", "shop").spec.node_name
    clients.core.patch_node(node, {"spec": {"unschedulable": True}})
    for _ in range(20):
        pending = [p for p in live(clients.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={node}").items)
            if not any(r.kind == "DaemonSet" for r in p.metadata.owner_references or [])
            and "kubernetes.io/config.mirror" not in (p.metadata.annotations or {})]
        if not pending:
            break
        for pod in pending:
            try:
                evict(clients, pod)
            except ApiException as exc:
                assert exc.status == 429
        settle(sim)
        for p in clients.pods("shop", "app=postgres"):  # the budget was never broken
            assert sum(ready(q) for q in live(clients.pods("shop", "app=postgres"))) >= 2 or not ready(p)
    assert not pending
    assert all(p.spec.node_name != node for p in live(clients.pods("shop")))
    assert len(live(clients.pods("shop", "app=postgres"))) == 3
    taints = clients.core.read_node(node).spec.taints
    assert any(t.key == "node.kubernetes.io/unschedulable" for t in taints)


def test_rollout_restart_replaces_every_pod_of_a_deployment_within_its_budget(cluster):
    sim, clients = cluster
    before = {p.metadata.name for p in clients.pods("shop", "app=frontend")}
    clients.apps.patch_namespaced_deployment("frontend", "shop", {"spec": {"template": {"metadata": {
        "annotations": {RESTARTED: "2025-01-01T00:00:00Z"}}}}})
    lowest = 6
    for _ in range(60):  # walk the rollout one simulated second at a time
        sim.controllers.advance(1)
        pods = live(clients.pods("shop", "app=frontend"))
        lowest = min(lowest, sum(1 for p in pods if ready(p)))
        assert len(pods) <= 6 + 2  # maxSurge 25% of 6, rounded up
    settle(sim)
    pods = live(clients.pods("shop", "app=frontend"))
    assert len(pods) == 6 and not {p.metadata.name for p in pods} & before
    assert all(p.metadata.annotations[RESTARTED] == "2025-01-01T00:00:00Z" and ready(p) for p in pods)
    assert lowest >= 5  # maxUnavailable 25% of 6, rounded down
    deployment = clients.apps.read_namespaced_deployment("frontend", "shop")
    assert deployment.status.updated_replicas == 6 and deployment.status.available_replicas == 6
    replicasets = clients.apps.list_namespaced_replica_set("shop", label_selector="app=frontend").items
    assert sorted(rs.spec.replicas for rs in replicasets) == [0, 6]


def test_rollout_restart_of_a_statefulset_and_a_daemonset(cluster):
    sim, clients = cluster
    uids = {p.metadata.name: p.metadata.uid for p in clients.pods("shop", "app=postgres")}
    ds_pods = {p.metadata.name for p in clients.pods("logging")}
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED: "2025-01-01T00:00:00Z"}}}}}
    clients.apps.patch_namespaced_stateful_set("postgres", "shop", patch)
    clients.apps.patch_namespaced_daemon_set("fluent-bit", "logging", patch)
    settle(sim)
    pods = {p.metadata.name: p for p in clients.pods("shop", "app=postgres")}
    assert set(pods) == set(uids) and all(pods[n].metadata.uid != uids[n] for n in uids)
    sts = clients.apps.read_namespaced_stateful_set("postgres", "shop")
    assert sts.status.current_revision == sts.status.update_revision and sts.status.ready_replicas == 3
    fluent = live(clients.pods("logging"))
    assert len(fluent) == 10 and not {p.metadata.name for p in fluent} & ds_pods
    assert len({p.spec.node_name for p in fluent}) == 10


def test_cordoned_node_gets_no_new_pods_but_keeps_its_daemonset_pod(cluster):
    sim, clients = cluster
    node = clients.pods("shop", "app=frontend")[0].spec.node_name
    clients.core.patch_node(node, {"spec": {"unschedulable": True}})
    for pod in clients.pods("shop"):
        if pod.spec.node_name == node and pod.metadata.labels.get("app") != "postgres":
            clients.core.delete_namespaced_pod(pod.metadata.name, "shop")
    settle(sim)
    assert all(p.spec.node_name != node for p in live(clients.pods("shop")) if p.metadata.labels["app"] != "postgres")
    assert any(p.spec.node_name == node for p in clients.pods("logging"))


def test_bare_pod_is_not_recreated_and_host_network_pods_carry_the_node_ip(cluster):
    sim, clients = cluster
    clients.core.delete_namespaced_pod("debug-shell", "default")
    settle(sim)
    assert not clients.pods("default")
    for pod in clients.pods("kube-system", "k8s-app=kube-proxy"):
        node = clients.core.read_node(pod.spec.node_name)
        internal = next(a.address for a in node.status.addresses if a.type == "InternalIP")
        assert pod.spec.host_network and pod.status.pod_ip == pod.status.host_ip == internal


def test_deleted_node_loses_its_pods_and_returns_bare_after_a_kubelet_restart(cluster):
    sim, clients = cluster
    name = "node03"
    assert clients.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}").items
    clients.core.delete_node(name)
    settle(sim)
    assert not clients.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}").items
    assert name not in {n.metadata.name for n in clients.core.list_node().items}  # no re-registration
    host_action(sim, name, "restart-kubelet")
    settle(sim)
    node = clients.core.read_node(name)
    assert "node-role.kubernetes.io/control-plane" not in node.metadata.labels
    assert not any(t.key == "node-role.kubernetes.io/control-plane" for t in node.spec.taints or [])
    assert node.spec.pod_cidr == "192.168.0.0/24"  # from the running kube-controller-manager's range
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    pods = live(clients.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}").items)
    apps = {p.metadata.labels.get("k8s-app") or p.metadata.labels.get("component")
            or p.metadata.labels.get("app.kubernetes.io/name") for p in pods}
    assert {"calico-node", "kube-proxy", "fluent-bit", "kube-controller-manager"} <= apps
    events = clients.core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}").items
    assert "RegisteredNode" in {e.reason for e in events}


def test_stopped_kubelet_turns_the_node_not_ready(cluster):
    sim, clients = cluster
    host_action(sim, "node06", "stop-kubelet")
    sim.controllers.advance(20)
    assert ready_node(clients, "node06")  # the node controller waits for its grace period
    sim.controllers.advance(30)
    node = clients.core.read_node("node06")
    assert not ready_node(clients, "node06")
    assert {(t.key, t.effect) for t in node.spec.taints} >= {("node.kubernetes.io/unreachable", "NoSchedule"),
                                                              ("node.kubernetes.io/unreachable", "NoExecute")}
    pods = clients.core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node06").items
    assert pods and not any(ready(p) for p in pods)
    host_action(sim, "node06", "start-kubelet")
    settle(sim)
    assert ready_node(clients, "node06") and not clients.core.read_node("node06").spec.taints
    assert all(ready(p) for p in clients.core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node06").items)


def ready_node(clients, name) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in clients.core.read_node(name).status.conditions)
