"""Writes through the real client: PUT/PATCH/DELETE rules, generation, status, dry-run, finalizers."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import http

DEPLOYMENT = {
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
}


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_stale_put_is_conflict(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    first = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"v": "1"}})
    first.data = {"v": "2"}
    second = core.replace_namespaced_config_map("c", "default", first)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    first.data = {"v": "3"}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("c", "default", first)
    status = status_of(info.value)
    assert info.value.status == 409 and status["reason"] == "Conflict"
    assert status["message"] == ('Operation cannot be fulfilled on configmaps "c": the object has been modified; '
                                 'please apply your changes to the latest version and try again')
    assert core.read_namespaced_config_map("c", "default").data == {"v": "2"}


def test_unconditional_put_and_custom_resources_require_rv(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    replaced = core.replace_namespaced_config_map("c", "default", {"metadata": {"name": "c"}, "data": {"a": "b"}})
    assert replaced.data == {"a": "b"}
    custom = client.CustomObjectsApi(admin_client)
    pool = custom.get_cluster_custom_object("crd.projectcalico.org", "v1", "ippools", "default-ipv4-ippool")
    del pool["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as info:
        custom.replace_cluster_custom_object("crd.projectcalico.org", "v1", "ippools", "default-ipv4-ippool", pool)
    assert info.value.status == 422
    assert "metadata.resourceVersion" in status_of(info.value)["message"]


def test_node_pod_cidr_is_immutable(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    for patch in ({"spec": {"podCIDR": "10.99.0.0/24", "podCIDRs": ["10.99.0.0/24"]}},
                  {"spec": {"podCIDR": "10.99.0.0/24"}}):
        with pytest.raises(ApiException) as info:
            core.patch_node("worker-1", patch)
        status = status_of(info.value)
        assert info.value.status == 422 and status["reason"] == "Invalid"
        assert status["message"] == ('Node "worker-1" is invalid: spec.podCIDRs: Forbidden: node updates may not '
                                     'change podCIDR except from "" to valid')
        assert status["details"] == {"name": "worker-1", "kind": "Node", "causes": [{
            "reason": "FieldValueForbidden", "field": "spec.podCIDRs",
            "message": 'Forbidden: node updates may not change podCIDR except from "" to valid'}]}
    assert core.read_node("worker-1").spec.pod_cidrs == ["192.168.1.0/24"]
    created = core.create_node({"metadata": {"name": "fresh"}})
    assert created.spec.pod_cidr is None
    patched = core.patch_node("fresh", {"spec": {"podCIDR": "10.1.0.0/24"}})
    assert (patched.spec.pod_cidr, patched.spec.pod_cidrs) == ("10.1.0.0/24", ["10.1.0.0/24"])


def test_cordon_adds_the_unschedulable_taint(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    node = core.patch_node("worker-2", {"spec": {"unschedulable": True}})
    assert [t.key for t in node.spec.taints] == ["node.kubernetes.io/unschedulable"]
    node = core.patch_node("worker-2", {"spec": {"unschedulable": None}})
    assert node.spec.taints is None


def test_generation_and_status_subresource(sim, admin_client):
    apps = client.AppsV1Api(admin_client)
    created = apps.create_namespaced_deployment("default", DEPLOYMENT)
    assert created.metadata.generation == 1 and created.spec.strategy.type == "RollingUpdate"
    labelled = apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"x": "y"}}})
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2
    ignored = apps.patch_namespaced_deployment("web", "default", {"status": {"replicas": 7}})
    assert ignored.status.replicas is None and ignored.metadata.generation == 2
    status = apps.patch_namespaced_deployment_status("web", "default", {"status": {"replicas": 3,
                                                                                   "observedGeneration": 2}})
    assert status.status.replicas == 3 and status.metadata.generation == 2 and status.spec.replicas == 3
    spec_via_status = apps.patch_namespaced_deployment_status("web", "default", {"spec": {"replicas": 9}})
    assert spec_via_status.spec.replicas == 3


def test_no_op_update_keeps_the_resource_version(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "b"}})
    same = core.patch_namespaced_config_map("c", "default", {"data": {"a": "b"}})
    assert same.metadata.resource_version == created.metadata.resource_version
    assert sim.store.resource_version == int(created.metadata.resource_version)


def test_patch_types(sim, admin_client):
    apps = client.AppsV1Api(admin_client)
    apps.create_namespaced_deployment("default", DEPLOYMENT)
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
    merged = apps.patch_namespaced_deployment("web", "default", smp)
    assert {c.name for c in merged.spec.template.spec.containers} == {"sidecar", "nginx"}
    replaced = apps.patch_namespaced_deployment("web", "default", smp,
                                                _content_type="application/merge-patch+json")
    assert [c.name for c in replaced.spec.template.spec.containers] == ["sidecar"]
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 5}]
    assert apps.patch_namespaced_deployment("web", "default", ops).spec.replicas == 5
    with pytest.raises(ApiException) as info:
        apps.patch_namespaced_deployment("web", "default", [{"op": "test", "path": "/spec/replicas", "value": 1}])
    assert 400 <= info.value.status < 500
    custom = client.CustomObjectsApi(admin_client)
    status, _, raw = http(sim, "PATCH", "/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool",
                          {"spec": {"natOutgoing": False}}, content_type="application/strategic-merge-patch+json")
    assert status == 415 and json.loads(raw)["reason"] == "UnsupportedMediaType"
    pool = custom.patch_cluster_custom_object("crd.projectcalico.org", "v1", "ippools", "default-ipv4-ippool",
                                              {"spec": {"natOutgoing": False}})
    assert pool["spec"]["natOutgoing"] is False
    status, _, _ = http(sim, "PATCH", "/api/v1/namespaces/default/configmaps/x", {"a": 1}, content_type="text/plain")
    assert status == 415


def test_patch_carrying_a_stale_resource_version_conflicts(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map("c", "default", {"metadata": {"resourceVersion": "1"}, "data": {"a": "b"}})
    assert info.value.status == 409 and status_of(info.value)["reason"] == "Conflict"


def test_server_side_apply_creates_then_merges(sim):
    path = "/api/v1/namespaces/default/configmaps/applied"
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}}
    status, _, raw = http(sim, "PATCH", path, config, content_type="application/apply-patch+yaml")
    assert status == 422 and "fieldManager" in json.loads(raw)["message"]
    status, _, raw = http(sim, "PATCH", path + "?fieldManager=tool", config,
                          content_type="application/apply-patch+yaml")
    assert status == 201 and json.loads(raw)["data"] == {"a": "1"}
    status, _, raw = http(sim, "PATCH", path + "?fieldManager=tool", {**config, "data": {"b": "2"}},
                          content_type="application/apply-patch+yaml")
    assert status == 200 and json.loads(raw)["data"] == {"b": "2"}
    status, _, raw = http(sim, "PATCH", path + "?fieldManager=other", {**config, "data": {"b": "3"}},
                          content_type="application/apply-patch+yaml")
    assert status == 409 and json.loads(raw)["details"]["causes"][0]["reason"] == "FieldManagerConflict"
    status, _, raw = http(sim, "PATCH", path + "?fieldManager=other&force=true", {**config, "data": {"b": "3"}},
                          content_type="application/apply-patch+yaml")
    assert status == 200 and json.loads(raw)["data"] == {"b": "3"}


def test_dry_run_persists_nothing_and_emits_nothing(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    before = sim.store.resource_version
    would_be = core.create_namespaced_config_map("default", {"metadata": {"name": "dry"}, "data": {"a": "b"}},
                                                 dry_run="All")
    assert would_be.metadata.uid and would_be.data == {"a": "b"}
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", "default")
    core.create_namespaced_config_map("default", {"metadata": {"name": "real"}})
    rv = sim.store.resource_version
    core.patch_namespaced_config_map("real", "default", {"data": {"x": "y"}}, dry_run="All")
    core.delete_namespaced_config_map("real", "default", dry_run="All")
    with pytest.raises(ApiException) as info:
        core.patch_node("worker-1", {"spec": {"podCIDR": "10.9.9.0/24"}}, dry_run="All")
    assert info.value.status == 422
    assert sim.store.resource_version == rv == before + 1
    assert core.read_namespaced_config_map("real", "default").data is None


def test_generate_name_and_server_fields(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    made = core.create_namespaced_config_map("default", {"metadata": {"generateName": "cfg-", "uid": "mine",
                                                                      "creationTimestamp": "2001-01-01T00:00:00Z"}})
    assert made.metadata.name.startswith("cfg-") and len(made.metadata.name) == 9
    assert made.metadata.uid != "mine" and made.metadata.creation_timestamp.year > 2001


def test_finalizers_defer_deletion_until_removed(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    deferred = core.delete_namespaced_config_map("held", "default")
    assert deferred["metadata"]["deletionTimestamp"] and deferred["metadata"]["deletionGracePeriodSeconds"] == 0
    assert core.delete_namespaced_config_map("held", "default") == deferred
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": ["example.com/hold",
                                                                                          "example.com/more"]}})
    assert info.value.status == 422
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map("held", "default")
    assert info.value.status == 404


def test_delete_statuses_and_preconditions(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    made = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map("c", "default", body={"preconditions": {"uid": "someone-else"}})
    assert info.value.status == 409
    gone = core.delete_namespaced_config_map("c", "default")
    assert gone == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": "c", "kind": "configmaps", "uid": made.metadata.uid}}


def test_graceful_pod_deletion_waits_for_the_kubelet(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "worker-1", "containers": [{"name": "c", "image": "i"}]}}
    core.create_namespaced_pod("default", pod)
    core.create_namespaced_pod("default", {**pod, "metadata": {"name": "unscheduled"},
                                           "spec": {"containers": pod["spec"]["containers"]}})
    terminating = core.delete_namespaced_pod("p", "default")
    assert terminating.metadata.deletion_grace_period_seconds == 30
    assert core.read_namespaced_pod("p", "default").metadata.deletion_timestamp is not None
    shorter = core.delete_namespaced_pod("p", "default", grace_period_seconds=5)
    assert shorter.metadata.deletion_grace_period_seconds == 5
    gone = core.delete_namespaced_pod("unscheduled", "default")
    assert gone.metadata.name == "unscheduled"
    pods = sim.api.type("pods")
    sim.api.delete(pods, "default", "p", grace_period_seconds=0)  # what the kubelet does
    assert core.list_namespaced_pod("default").items == []


def test_namespace_deletion_terminates_then_removes_contents(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespace({"metadata": {"name": "scratch"}})
    assert core.read_namespace("scratch").spec.finalizers == ["kubernetes"]
    core.create_namespaced_config_map("scratch", {"metadata": {"name": "c"}})
    core.create_namespaced_config_map("scratch", {"metadata": {"name": "held", "finalizers": ["example.com/x"]}})
    core.delete_namespace("scratch")
    namespace = core.read_namespace("scratch")
    assert namespace.status.phase == "Terminating"
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("scratch", {"metadata": {"name": "late"}})
    assert info.value.status == 403
    assert [c.metadata.name for c in core.list_namespaced_config_map("scratch").items] == ["held"]
    core.patch_namespaced_config_map("held", "scratch", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as info:
        core.read_namespace("scratch")
    assert info.value.status == 404
    with pytest.raises(ApiException) as info:
        core.delete_namespace("kube-system")
    assert info.value.status == 403


def test_crd_created_through_the_api_is_served(sim, admin_client):
    ext = client.ApiextensionsV1Api(admin_client)
    ext.create_custom_resource_definition({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                                   "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}})
    crd = ext.read_custom_resource_definition("widgets.example.com")
    assert {c.type for c in crd.status.conditions} == {"NamesAccepted", "Established"}
    custom = client.CustomObjectsApi(admin_client)
    made = custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", {
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3, "x": 1},
        "status": {"ignored": True}})
    assert made["spec"] == {"size": 3} and "status" not in made and made["metadata"]["generation"] == 1
    with pytest.raises(ApiException) as info:
        custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", {
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {"size": "big"}})
    assert info.value.status == 422
    ext.delete_custom_resource_definition("widgets.example.com")
    assert http(sim, "GET", "/apis/example.com/v1/namespaces/default/widgets")[0] == 404
    assert sim.store.count(("example.com", "widgets")) == 0


def test_calico_v3_is_backed_by_v1_storage(sim, admin_client):
    custom = client.CustomObjectsApi(admin_client)
    pool = {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "new-pool"},
            "spec": {"cidr": "10.244.0.0/16"}}
    made = custom.create_cluster_custom_object("projectcalico.org", "v3", "ippools", pool)
    assert made["spec"]["blockSize"] == 26 and made["spec"]["nodeSelector"] == "all()"
    stored = custom.get_cluster_custom_object("crd.projectcalico.org", "v1", "ippools", "new-pool")
    assert stored["spec"]["cidr"] == "10.244.0.0/16"
    overlapping = {**pool, "metadata": {"name": "overlap"}, "spec": {"cidr": "10.244.8.0/24"}}
    with pytest.raises(ApiException) as info:
        custom.create_cluster_custom_object("projectcalico.org", "v3", "ippools", overlapping)
    assert info.value.status == 422


def test_delete_collection_with_a_selector(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db"), ("d", "db")):
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": {"tier": tier}}})
    core.delete_collection_namespaced_config_map("default", field_selector="metadata.name=d")
    status, _, raw = http(sim, "DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dweb")
    assert status == 200 and [i["metadata"]["name"] for i in json.loads(raw)["items"]] == ["a", "b"]
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["c"]


def test_apps_replace_and_delete(sim, admin_client):
    apps = client.AppsV1Api(admin_client)
    created = apps.create_namespaced_deployment("default", DEPLOYMENT)
    created.spec.replicas = 4
    replaced = apps.replace_namespaced_deployment("web", "default", created)
    assert replaced.spec.replicas == 4 and replaced.metadata.generation == 2
    with pytest.raises(ApiException) as info:
        apps.replace_namespaced_deployment("web", "default", replaced.to_dict() | {
            "spec": {**replaced.to_dict()["spec"], "selector": {"matchLabels": {"app": "other"}}}})
    assert info.value.status == 422
    apps.delete_namespaced_deployment("web", "default")
    assert apps.list_namespaced_deployment("default").items == []


def test_namespace_finalize_subresource(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespace({"metadata": {"name": "held"}})
    core.create_namespaced_pod("held", {"metadata": {"name": "p"}, "spec": {
        "nodeName": "worker-1", "containers": [{"name": "c", "image": "i"}]}})
    core.delete_namespace("held")
    assert core.read_namespace("held").status.phase == "Terminating"  # the pod waits for its kubelet
    status, _, raw = http(sim, "PUT", "/api/v1/namespaces/held/finalize",
                          {"metadata": {"name": "held"}, "spec": {"finalizers": []}})
    assert status == 200 and json.loads(raw)["spec"]["finalizers"] == []
    with pytest.raises(ApiException) as info:
        core.read_namespace("held")
    assert info.value.status == 404


def test_pod_replace_with_the_submitted_manifest_is_defaulted_before_comparing(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    manifest = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}
    created = core.create_namespaced_pod("default", manifest)
    relabelled = {**manifest, "metadata": {"name": "p", "labels": {"a": "b"},
                                           "resourceVersion": created.metadata.resource_version}}
    assert core.replace_namespaced_pod("p", "default", relabelled).metadata.labels == {"a": "b"}
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_pod("p", "default", {"spec": {"restartPolicy": "Never"}})
    assert info.value.status == 422
    assert core.patch_namespaced_pod("p", "default", {"spec": {"containers": [
        {"name": "c", "image": "nginx:2"}]}}).spec.containers[0].image == "nginx:2"
