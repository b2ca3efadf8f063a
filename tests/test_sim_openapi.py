"""The OpenAPI v3 documents answer kubectl's fieldValidation lookup for every served kind."""

from urllib.parse import parse_qs, urlparse

from tui.sim.openapi import group_version_path, openapi_group_version, openapi_root


def kubectl_supports_field_validation(doc: dict, group: str, version: str, kind: str) -> bool:
    """kubectl's check: some PATCH operation tagged with the GVK has a fieldValidation query param."""
    for item in doc["paths"].values():
        op = item.get("patch")
        if not op or op.get("x-kubernetes-group-version-kind") != {
                "group": group, "version": version, "kind": kind}:
            continue
        return any(p["name"] == "fieldValidation" and p["in"] == "query" for p in op["parameters"])
    return False


def test_root_points_at_each_group_version_with_a_stable_hash():
    root = openapi_root([("", "v1"), ("apps", "v1"), ("projectcalico.org", "v3")])
    assert set(root["paths"]) == {"api/v1", "apis/apps/v1", "apis/projectcalico.org/v3"}
    url = urlparse(root["paths"]["apis/projectcalico.org/v3"]["serverRelativeURL"])
    assert url.path == "/openapi/v3/apis/projectcalico.org/v3"
    assert parse_qs(url.query)["hash"][0]
    again = openapi_root([("projectcalico.org", "v3")])["paths"]["apis/projectcalico.org/v3"]
    assert again == root["paths"]["apis/projectcalico.org/v3"]
    assert root["paths"]["api/v1"] != root["paths"]["apis/apps/v1"]


def test_group_version_documents_cover_every_kind():
    core = openapi_group_version("", "v1", ["ConfigMap", "Node", "Pod", "Namespace"])
    for kind in ("ConfigMap", "Node", "Pod", "Namespace"):
        assert kubectl_supports_field_validation(core, "", "v1", kind)
    assert not kubectl_supports_field_validation(core, "", "v1", "Secret")
    assert not kubectl_supports_field_validation(core, "apps", "v1", "Pod")

    apps = openapi_group_version("apps", "v1", ["Deployment", "DaemonSet"])
    assert kubectl_supports_field_validation(apps, "apps", "v1", "Deployment")
    calico = openapi_group_version("projectcalico.org", "v3", ["IPPool", "BGPPeer"])
    assert kubectl_supports_field_validation(calico, "projectcalico.org", "v3", "IPPool")
    crd = openapi_group_version("crd.projectcalico.org", "v1", ["IPPool"])
    assert kubectl_supports_field_validation(crd, "crd.projectcalico.org", "v1", "IPPool")


def test_paths_are_unique_and_under_the_group_version():
    doc = openapi_group_version("projectcalico.org", "v3", ["IPPool", "IPPool", "BGPPeer"])
    assert len(doc["paths"]) == 2
    assert all(p.startswith("/" + group_version_path("projectcalico.org", "v3") + "/")
               for p in doc["paths"])
    assert doc["openapi"].startswith("3.")
