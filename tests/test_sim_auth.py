"""Identities: 401 without a token, the viewer's 403 on every write, access reviews, request log."""

from __future__ import annotations

import json
import struct

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import http

WRITES = [
    ("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}}, "create", "configmaps",
     'configmaps is forbidden: User "viewer" cannot create resource "configmaps" in API group "" in the namespace '
     '"default"'),
    ("PUT", "/api/v1/nodes/worker-1", {"metadata": {"name": "worker-1"}}, "update", "nodes",
     'nodes "worker-1" is forbidden: User "viewer" cannot update resource "nodes" in API group "" at the cluster '
     'scope'),
    ("PATCH", "/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool", {"spec": {}}, "patch", "ippools",
     'ippools.crd.projectcalico.org "default-ipv4-ippool" is forbidden: User "viewer" cannot patch resource '
     '"ippools" in API group "crd.projectcalico.org" at the cluster scope'),
    ("DELETE", "/api/v1/namespaces/default", None, "delete", "namespaces", None),
    ("DELETE", "/api/v1/namespaces/default/configmaps", None, "deletecollection", "configmaps", None),
    ("POST", "/api/v1/namespaces/default/pods/p/eviction", {"metadata": {"name": "p"}}, "create", "pods/eviction",
     'pods "p" is forbidden: User "viewer" cannot create resource "pods/eviction" in API group "" in the namespace '
     '"default"'),
    ("PATCH", "/api/v1/nodes/worker-1/status", {"status": {}}, "patch", "nodes/status", None),
    ("POST", "/apis/projectcalico.org/v3/ippools", {"metadata": {"name": "p"}}, "create", "ippools", None),
]


@pytest.mark.parametrize("method,path,body,verb,resource,message", WRITES)
def test_viewer_gets_403_on_every_write(sim, method, path, body, verb, resource, message):
    before = sim.store.resource_version
    status, _, raw = http(sim, method, path, body, identity="viewer",
                          content_type="application/merge-patch+json" if method == "PATCH" else "application/json")
    document = json.loads(raw)
    assert status == 403 and document["reason"] == "Forbidden", document
    assert f'cannot {verb} resource "{resource}"' in document["message"]
    if message:
        assert document["message"] == message
    assert sim.store.resource_version == before


def test_viewer_reads_everything_and_writes_nothing_through_the_client(sim, viewer_client):
    core = client.CoreV1Api(viewer_client)
    assert len(core.list_node().items) == 3
    assert client.CustomObjectsApi(viewer_client).list_cluster_custom_object(
        "projectcalico.org", "v3", "ippools")["items"]
    with pytest.raises(ApiException) as info:
        core.patch_node("worker-1", {"spec": {"unschedulable": True}})
    assert info.value.status == 403
    writes = [r for r in sim.server.requests if r["identity"] == "viewer" and r["method"] not in ("GET",)]
    assert writes and all(r["code"] == 403 for r in writes)
    logged = sim.control("GET", "requests")
    assert any(r["path"] == "/api/v1/nodes/worker-1" and r["code"] == 403 for r in logged)


def test_missing_or_wrong_token_is_401(sim):
    for identity, headers in ((None, {}), (None, {"Authorization": "Bearer nope"}),
                              (None, {"Authorization": "Basic YTpi"})):
        status, _, raw = http(sim, "GET", "/api/v1/nodes", identity=identity, headers=headers)
        assert status == 401 and json.loads(raw) == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
            "reason": "Unauthorized", "code": 401}
    assert http(sim, "GET", "/version", identity=None)[0] == 200


@pytest.mark.parametrize("identity,verb,allowed", [("admin", "patch", True), ("viewer", "patch", False),
                                                   ("viewer", "watch", True), ("viewer", "*", False)])
def test_self_subject_access_review_json(sim, identity, verb, allowed):
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"namespace": "", "verb": verb, "group": "", "resource": "nodes"}}}
    status, _, raw = http(sim, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review,
                          identity=identity)
    answer = json.loads(raw)
    assert status == 201 and answer["status"]["allowed"] is allowed
    assert answer["spec"] == review["spec"]


def test_self_subject_access_review_via_client(sim, admin_client, viewer_client):
    body = {"spec": {"resourceAttributes": {"verb": "delete", "group": "crd.projectcalico.org",
                                            "resource": "ippools"}}}
    admin = client.AuthorizationV1Api(admin_client).create_self_subject_access_review(body)
    viewer = client.AuthorizationV1Api(viewer_client).create_self_subject_access_review(body)
    assert (admin.status.allowed, viewer.status.allowed) == (True, False)


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2]) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += struct.pack("B", byte | (0x80 if value else 0))
        if not value:
            return out


def _protobuf_review(verb: str, resource: str) -> bytes:
    """What `kubectl auth can-i VERB RESOURCE` posts: the k8s protobuf envelope around an SSAR."""
    attributes = _field(2, verb.encode()) + _field(3, b"") + _field(5, resource.encode())
    spec = _field(1, attributes)
    review = _field(1, b"") + _field(2, spec)
    type_meta = _field(1, b"authorization.k8s.io/v1") + _field(2, b"SelfSubjectAccessReview")
    return b"k8s\x00" + _field(1, type_meta) + _field(2, review) + _field(3, b"") + _field(4, b"")


def test_self_subject_access_review_protobuf(sim):
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    for identity, verb, allowed in (("admin", "create", True), ("viewer", "create", False),
                                    ("viewer", "list", True)):
        status, headers, raw = http(sim, "POST", path, _protobuf_review(verb, "pods"), identity=identity,
                                    content_type="application/vnd.kubernetes.protobuf")
        assert status == 201 and headers["Content-Type"].startswith("application/json")
        assert json.loads(raw)["status"]["allowed"] is allowed
    status, _, _ = http(sim, "POST", path, b"k8s\x00garbage", content_type="application/vnd.kubernetes.protobuf")
    assert status == 415


def test_rules_review_and_whoami(sim):
    status, _, raw = http(sim, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                          {"spec": {"namespace": "default"}}, identity="viewer")
    rules = json.loads(raw)["status"]["resourceRules"]
    assert status == 201 and rules[0]["verbs"] == ["get", "list", "watch"]
    status, _, raw = http(sim, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, identity="viewer")
    assert status == 201 and json.loads(raw)["status"]["userInfo"]["username"] == "viewer"
