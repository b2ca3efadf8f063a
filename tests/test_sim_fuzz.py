"""Random bodies, paths, selectors and query strings: the server answers 2xx or 4xx, never 5xx, and
keeps serving (the module fixture also fails on any unexpected server exception)."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import http

EXAMPLES = int(os.environ.get("CALICO_TUI_FUZZ_EXAMPLES", "250"))  # raise it for a longer hunt
PATHS = [
    "/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/configmaps/fuzz",
    "/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/pods/fuzz",
    "/api/v1/namespaces/default/pods/fuzz/eviction", "/api/v1/namespaces/default/pods/fuzz/status",
    "/api/v1/namespaces/default/pods/fuzz/log", "/api/v1/namespaces/default/pods/fuzz/binding",
    "/api/v1/nodes", "/api/v1/nodes/worker-1", "/api/v1/nodes/worker-1/status", "/api/v1/namespaces",
    "/api/v1/namespaces/fuzz", "/api/v1/namespaces/fuzz/finalize", "/apis/apps/v1/namespaces/default/deployments",
    "/apis/apps/v1/namespaces/default/deployments/fuzz/scale", "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
    "/apis/crd.projectcalico.org/v1/ippools", "/apis/crd.projectcalico.org/v1/ippools/fuzz",
    "/apis/projectcalico.org/v3/ippools", "/apis/projectcalico.org/v3/ippools/fuzz",
    "/apis/projectcalico.org/v3/blockaffinities/fuzz", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "/api", "/apis", "/api/v1", "/openapi/v3",
]
CONTENT_TYPES = ["application/json", "application/merge-patch+json", "application/json-patch+json",
                 "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/yaml",
                 "application/vnd.kubernetes.protobuf", "text/plain"]
QUERY_KEYS = ["limit", "continue", "labelSelector", "fieldSelector", "resourceVersion", "resourceVersionMatch",
              "dryRun", "gracePeriodSeconds", "propagationPolicy", "fieldManager", "force", "fieldValidation",
              "includeObject", "tailLines", "pretty", "timeout"]

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24)
names = st.sampled_from(["fuzz", "worker-1", "default", "x" * 70, "Bad_Name", ""]) | text
json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=12)
metadata = st.fixed_dictionaries({}, optional={
    "name": names | json_values, "namespace": names, "labels": st.dictionaries(text, text | json_values, max_size=3),
    "annotations": st.dictionaries(text, text, max_size=2), "resourceVersion": text | st.integers(),
    "finalizers": st.lists(text, max_size=2) | json_values, "generateName": names,
    "ownerReferences": st.lists(st.dictionaries(text, text, max_size=3), max_size=2)})
objects = st.fixed_dictionaries({}, optional={
    "apiVersion": st.sampled_from(["v1", "apps/v1", "crd.projectcalico.org/v1", "projectcalico.org/v3"]) | text,
    "kind": st.sampled_from(["ConfigMap", "Pod", "Node", "IPPool", "Eviction", "Namespace"]) | text,
    "metadata": metadata | json_values,
    "spec": st.dictionaries(st.sampled_from(["cidr", "containers", "podCIDR", "selector", "replicas", "blockSize",
                                             "finalizers", "nodeName", "disabled"]) | text,
                            json_values, max_size=4) | json_values,
    "data": st.dictionaries(text, text | json_values, max_size=3),
    "status": json_values,
})
json_patches = st.lists(st.fixed_dictionaries({"op": st.sampled_from(["add", "remove", "replace", "move", "copy",
                                                                      "test"]) | text,
                                               "path": st.sampled_from(["/spec", "/metadata/labels/a", "/", "",
                                                                        "/spec/cidr", "/x/-"]) | text},
                                              optional={"value": json_values, "from": text}), max_size=3)
bodies = (objects.map(lambda o: json.dumps(o).encode()) | json_patches.map(lambda o: json.dumps(o).encode())
          | json_values.map(lambda o: json.dumps(o).encode()) | st.binary(max_size=64) | st.just(b""))
queries = st.dictionaries(st.sampled_from(QUERY_KEYS), text | st.sampled_from(["All", "0", "1", "-1", "true",
                                                                               "Exact", "NotOlderThan", "Strict",
                                                                               "Orphan", "a in (b", "!x,y=z"]),
                          max_size=4)


def _check(sim, status: int, raw: bytes) -> None:
    assert status < 500, raw
    if status >= 400:
        document = json.loads(raw)
        assert document["kind"] == "Status" and document["code"] == status


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=st.sampled_from(PATHS) | text,
       query=queries, body=bodies, content_type=st.sampled_from(CONTENT_TYPES),
       identity=st.sampled_from(["admin", "admin", "viewer"]))
def test_random_requests_get_2xx_or_4xx(module_sim, method, path, query, body, content_type, identity):
    path = "/" + quote(path.lstrip("/"))
    query_string = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
    status, _, raw = http(module_sim, method, f"{path}?{query_string}" if query_string else path,
                          body if method in ("POST", "PUT", "PATCH", "DELETE") else None,
                          identity=identity, content_type=content_type)
    _check(module_sim, status, raw)
    assert http(module_sim, "GET", "/healthz", identity=None)[0] == 200


@settings(max_examples=12, deadline=None)
@given(labels=text, fields=st.sampled_from(["metadata.name=x", "spec.nodeName!=a", "bogus=1", "a"]) | text,
       rv=st.sampled_from(["", "0", "1", "999999", "-4"]) | text, initial=st.sampled_from(["", "true", "false", "x"]))
def test_random_watch_queries(module_sim, labels, fields, rv, initial):
    query = {"watch": "true", "timeoutSeconds": "1", "labelSelector": labels, "fieldSelector": fields,
             "resourceVersion": rv, "allowWatchBookmarks": "true"}
    if initial:
        query.update(sendInitialEvents=initial, resourceVersionMatch="NotOlderThan")
    path = "/api/v1/pods?" + "&".join(f"{k}={quote(v)}" for k, v in query.items())
    status, _, raw = http(module_sim, "GET", path)
    _check(module_sim, status, raw)
    if status == 200:
        assert all(json.loads(line)["type"] in ("ADDED", "BOOKMARK", "ERROR") for line in raw.splitlines())
