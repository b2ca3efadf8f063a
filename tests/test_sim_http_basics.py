"""The simulated API server over HTTP with the real `kubernetes` client: discovery, CRUD, errors."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import api_client

import json


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_version_and_discovery(sim, admin_client):
    version = client.VersionApi(admin_client).get_code()
    assert (version.major, version.minor) == ("1", "32")
    core = client.CoreV1Api(admin_client).get_api_resources()
    names = {r.name: r for r in core.resources}
    assert names["pods/eviction"].group == "policy" and names["pods/eviction"].kind == "Eviction"
    assert names["pods/eviction"].verbs == ["create"]
    assert names["nodes"].namespaced is False and "no" in names["nodes"].short_names
    groups = {g.name for g in client.ApisApi(admin_client).get_api_versions().groups}
    assert {"apps", "policy", "crd.projectcalico.org", "projectcalico.org", "authorization.k8s.io"} <= groups


def test_create_get_list(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c1"}, "data": {"a": "1"}})
    assert created.metadata.uid and created.metadata.resource_version
    assert core.read_namespaced_config_map("c1", "default").data == {"a": "1"}
    listed = core.list_namespaced_config_map("default")
    assert [c.metadata.name for c in listed.items] == ["c1"]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)


def test_create_existing_is_already_exists(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "c1"}})
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c1"}})
    status = status_of(info.value)
    assert info.value.status == 409 and status["reason"] == "AlreadyExists"
    assert status["message"] == 'configmaps "c1" already exists'
    assert status["details"] == {"name": "c1", "kind": "configmaps"}
