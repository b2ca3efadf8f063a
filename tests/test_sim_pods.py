"""Pod subresources and workload scale: eviction against PodDisruptionBudgets, log, binding, scale."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import http
from tui.model.disruption import budget, expected_pods


def running_pod(name: str, labels: dict, node: str = "worker-1") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


@pytest.fixture
def guarded(sim):
    """Three ready pods behind a PDB that allows one disruption (minAvailable 2)."""
    sim.api.load([running_pod(f"web-{i}", {"app": "web"}) for i in range(3)])
    sim.api.load([{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                   "metadata": {"name": "web-pdb", "namespace": "default"},
                   "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}])
    return sim


def evict(core, name):
    return core.create_namespaced_pod_eviction(name, "default", {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}})


def test_eviction_respects_the_disruption_budget(guarded, admin_client):
    core = client.CoreV1Api(admin_client)
    evict(core, "web-0")
    assert core.read_namespaced_pod("web-0", "default").metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as info:
        evict(core, "web-1")
    status = json.loads(info.value.body)
    assert info.value.status == 429 and status["reason"] == "TooManyRequests"
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [{"reason": "DisruptionBudget", "message":
                                            "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"}]
    assert core.read_namespaced_pod("web-1", "default").metadata.deletion_timestamp is None
    pdb = client.PolicyV1Api(admin_client).read_namespaced_pod_disruption_budget("web-pdb", "default")
    assert pdb.status.disruptions_allowed == 0 and pdb.status.expected_pods == 3


def test_eviction_raw_status_and_missing_pod(guarded):
    path = "/api/v1/namespaces/default/pods/web-2/eviction"
    status, _, raw = http(guarded, "POST", path, {"apiVersion": "policy/v1", "kind": "Eviction",
                                                   "metadata": {"name": "web-2"}, "deleteOptions": {}})
    assert status == 201 and json.loads(raw) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                  "status": "Success", "code": 201}
    status, _, _ = http(guarded, "POST", "/api/v1/namespaces/default/pods/ghost/eviction",
                        {"metadata": {"name": "ghost"}})
    assert status == 404


def test_eviction_with_max_unavailable_percentage(sim, admin_client):
    sim.api.load([running_pod(f"db-{i}", {"app": "db"}) for i in range(4)])
    sim.api.load([{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                   "metadata": {"name": "db", "namespace": "default"},
                   "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "db"}}}}])
    core = client.CoreV1Api(admin_client)
    evict(core, "db-0")
    evict(core, "db-1")
    with pytest.raises(ApiException) as info:
        evict(core, "db-2")
    assert info.value.status == 429


def test_pod_log(sim, admin_client):
    sim.api.load([running_pod("logger", {})])
    sim.api.append_log("default", "logger", "first line\nsecond line\n")
    core = client.CoreV1Api(admin_client)
    assert core.read_namespaced_pod_log("logger", "default") == "first line\nsecond line\n"
    assert core.read_namespaced_pod_log("logger", "default", tail_lines=1) == "second line\n"
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log("ghost", "default")
    assert info.value.status == 404


def test_binding_assigns_a_node_once(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_pod("default", {"metadata": {"name": "p"},
                                           "spec": {"containers": [{"name": "c", "image": "i"}]}})
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_pod("p", "default", {"spec": {"nodeName": "worker-1"}})
    assert info.value.status == 422 and "pod updates may not change fields" in json.loads(info.value.body)["message"]
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "worker-1"}}
    assert http(sim, "POST", "/api/v1/namespaces/default/pods/p/binding", binding)[0] == 201
    pod = core.read_namespaced_pod("p", "default")
    assert pod.spec.node_name == "worker-1"
    assert [c.type for c in pod.status.conditions] == ["PodScheduled"]
    assert http(sim, "POST", "/api/v1/namespaces/default/pods/p/binding", binding)[0] == 409


def test_scale_subresource(sim, admin_client):
    apps = client.AppsV1Api(admin_client)
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert (scale.spec.replicas, scale.status.selector) == (1, "app=web")
    scaled = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 4}})
    assert scaled.spec.replicas == 4
    deployment = apps.read_namespaced_deployment("web", "default")
    assert deployment.spec.replicas == 4 and deployment.metadata.generation == 2
    with pytest.raises(ApiException) as info:
        apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": -1}})
    assert info.value.status == 422


def test_expected_pods_come_from_the_owners_scale():
    owner_ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "controller": True}
    owned = [{**running_pod(f"p{i}", {"app": "a"}), "metadata": {"name": f"p{i}", "namespace": "default",
                                                                   "ownerReferences": [owner_ref]}}
             for i in range(4)]
    bare = running_pod("bare", {"app": "a"})
    replicaset = {"spec": {"replicas": 3}}
    assert expected_pods([*owned, bare], lambda ref, ns: replicaset if ref["name"] == "rs" else None) == 4
    assert expected_pods([*owned, bare], lambda ref, ns: None) == 5
    pdb = {"spec": {"maxUnavailable": "50%"}}
    assert budget(pdb, owned, 3) == {"currentHealthy": 4, "desiredHealthy": 1, "expectedPods": 3,
                                     "disruptionsAllowed": 3}
