"""The simulated API server over HTTP with the real `kubernetes` client: discovery, reads, errors."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import http


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_version_health_and_discovery(sim, admin_client):
    version = client.VersionApi(admin_client).get_code()
    assert (version.major, version.minor) == ("1", "32")
    assert http(sim, "GET", "/healthz", identity=None)[2] == b"ok"
    core = client.CoreV1Api(admin_client).get_api_resources()
    names = {r.name: r for r in core.resources}
    eviction = names["pods/eviction"]
    assert (eviction.group, eviction.version, eviction.kind, eviction.verbs) == ("policy", "v1", "Eviction", ["create"])
    assert names["nodes"].namespaced is False and "no" in names["nodes"].short_names
    assert "update" in names["nodes/status"].verbs
    groups = {g.name: g for g in client.ApisApi(admin_client).get_api_versions().groups}
    assert {"apps", "policy", "crd.projectcalico.org", "projectcalico.org", "authorization.k8s.io",
            "coordination.k8s.io", "apiextensions.k8s.io", "operator.tigera.io"} <= set(groups)
    assert groups["projectcalico.org"].preferred_version.group_version == "projectcalico.org/v3"
    calico = client.CustomObjectsApi(admin_client).get_api_resources("crd.projectcalico.org", "v1")
    assert {"ippools", "ipamblocks", "blockaffinities", "bgppeers"} <= {r.name for r in calico.resources}
    operator = client.CustomObjectsApi(admin_client).get_api_resources("operator.tigera.io", "v1")
    assert {"installations", "installations/status"} <= {r.name for r in operator.resources}


def test_discovery_documents_are_plain_json(sim):
    status, headers, body = http(sim, "GET", "/api", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["kind"] == "APIVersions"
    assert http(sim, "GET", "/apis/nope.example.com/v1")[0] == 404
    assert http(sim, "GET", "/openapi/v3", identity="viewer")[0] == 200


def test_openapi_lists_every_group_version(sim):
    root = json.loads(http(sim, "GET", "/openapi/v3")[2])
    assert {"api/v1", "apis/apps/v1", "apis/projectcalico.org/v3", "apis/crd.projectcalico.org/v1"} <= \
        set(root["paths"])
    url = root["paths"]["api/v1"]["serverRelativeURL"]
    document = json.loads(http(sim, "GET", url)[2])
    kinds = {op["patch"]["x-kubernetes-group-version-kind"]["kind"] for op in document["paths"].values()}
    assert {"Namespace", "Pod", "Node", "ConfigMap"} <= kinds


def test_get_and_list_builtin_and_custom(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    nodes = core.list_node()
    assert [n.metadata.name for n in nodes.items] == ["cp-1", "worker-1", "worker-2"]
    assert core.read_node("worker-1").spec.pod_cidr == "192.168.1.0/24"
    raw = json.loads(http(sim, "GET", "/api/v1/nodes")[2])
    assert raw["kind"] == "NodeList" and "kind" not in raw["items"][0]
    pools = json.loads(http(sim, "GET", "/apis/crd.projectcalico.org/v1/ippools")[2])
    assert pools["items"][0]["kind"] == "IPPool" and pools["items"][0]["apiVersion"] == "crd.projectcalico.org/v1"


def test_not_found_statuses(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod("ghost", "default")
    assert status_of(info.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": 'pods "ghost" not found',
        "reason": "NotFound", "details": {"name": "ghost", "kind": "pods"}, "code": 404}
    with pytest.raises(ApiException) as info:
        client.AppsV1Api(admin_client).read_namespaced_deployment("ghost", "default")
    assert status_of(info.value)["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("nowhere", {"metadata": {"name": "c"}})
    assert info.value.status == 404 and status_of(info.value)["message"] == 'namespaces "nowhere" not found'
    status, _, body = http(sim, "GET", "/api/v1/widgets")
    assert status == 404 and json.loads(body)["reason"] == "NotFound"


@pytest.mark.parametrize("method,path,body,code", [
    ("POST", "/api/v1/namespaces/default/configmaps", b"{not json", 400),
    ("POST", "/api/v1/namespaces/default/configmaps", b"[1, 2]", 400),
    ("POST", "/api/v1/namespaces/default/configmaps", b"", 400),
    ("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": 7}}, 400),
    ("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x", "labels": {"a": 1}}}, 400),
    ("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x", "labels": "a=b"}}, 400),
    ("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "Not_Valid"}}, 422),
    ("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x", "labels": {"a": "b c"}}}, 422),
    ("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {}}, 422),
    ("POST", "/api/v1/namespaces/default/configmaps", {"kind": "Secret", "metadata": {"name": "x"}}, 400),
    ("POST", "/api/v1/namespaces/other/configmaps", {"metadata": {"name": "x", "namespace": "default"}}, 400),
    ("POST", "/api/v1/namespaces/default/pods", {"metadata": {"name": "p"}, "spec": {"containers": []}}, 422),
    ("POST", "/api/v1/namespaces/default/pods", {"metadata": {"name": "p"}, "spec": {"containers": "x"}}, 400),
    ("PUT", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}}, 405),
    ("GET", "/api/v1/namespaces/default/configmaps?limit=abc", None, 400),
    ("GET", "/api/v1/namespaces/default/configmaps?watch=maybe", None, 400),
    ("GET", "/api/v1/pods?labelSelector=a%20in%20(", None, 400),
    ("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx", None, 400),
    ("DELETE", "/api/v1/namespaces/default/configmaps/x?dryRun=Some", None, 400),
    ("GET", "/api/v1/namespaces/default/pods/p/nonsense", None, 404),
])
def test_bad_requests_get_4xx_status(sim, method, path, body, code):
    status, headers, raw = http(sim, method, path, body)
    assert status == code, raw
    document = json.loads(raw)
    assert document["kind"] == "Status" and document["code"] == code and document["reason"]


def test_unknown_fields_are_dropped_or_rejected_when_strict(sim, admin_client):
    body = {"metadata": {"name": "c1"}, "data": {"a": "1"}, "bogus": True}
    status, _, raw = http(sim, "POST", "/api/v1/namespaces/default/configmaps", body)
    assert status == 201 and "bogus" not in json.loads(raw)
    status, _, raw = http(sim, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
                          {**body, "metadata": {"name": "c2"}})
    assert status == 400 and 'unknown field "bogus"' in json.loads(raw)["message"]


def test_yaml_bodies_are_accepted(sim):
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  when: 2024-01-01\n"
    status, _, raw = http(sim, "POST", "/api/v1/namespaces/default/configmaps", body, content_type="application/yaml")
    assert status == 201 and json.loads(raw)["data"] == {"when": "2024-01-01"}
