"""One-shot reads against the simulator: detection, the capability map for both identities,
pagination with an expiring continue token, and pods fetched on demand."""

from __future__ import annotations

import pytest

from tests.conftest import stop_simulator
from tests.test_cmd_snapshot import serve
from tui.kube import detect as d
from tui.kube.connection import connect
from tui.kube.detect import detect
from tui.kube.listing import list_all, pods_in_pool, pods_on_node
from tui.kube.rbac import check_capabilities
from tui.kube.resources import WatchSpec, watch_specs
from tui.sim.simulator import VIEWER_CONTEXT


@pytest.fixture
def admin(sim):
    conn = connect(str(sim.kubeconfig_path), None)
    yield conn
    conn.close()


def test_capabilities_of_admin_and_viewer(sim, admin):
    served = detect(admin).served
    caps = check_capabilities(admin, served)
    assert not caps.read_only
    assert caps.can("patch", "", "configmaps", "kube-system")
    assert caps.can("create", "", "pods/eviction", "shop")
    assert caps.can("create", "projectcalico.org", "ippools")
    assert caps.denied_reads(watch_specs(served)) == []

    viewer = connect(str(sim.kubeconfig_path), VIEWER_CONTEXT)
    try:
        view = check_capabilities(viewer, served)
    finally:
        viewer.close()
    assert view.read_only
    assert view.can("watch", "crd.projectcalico.org", "ipamblocks")
    assert view.can("list", "", "pods", "kube-system")
    assert not view.can("create", "", "pods/eviction", "shop")
    assert not view.can("delete", "projectcalico.org", "ippools")
    assert view.denied_reads(watch_specs(served)) == []
    assert view.to_dict()["readOnly"] is True


def test_detects_an_operator_install(tmp_path):
    sim = serve(tmp_path, name="operator")
    try:
        conn = connect(str(sim.kubeconfig_path), None)
        info = detect(conn)
        conn.close()
    finally:
        stop_simulator(sim)
    assert (info.flavor, info.ipam, info.datastore) == (d.OPERATOR, d.CALICO_IPAM, d.KUBERNETES)
    assert "tigera-operator install (always the Kubernetes datastore)" in info.datastore_evidence


def test_pagination_survives_an_expired_continue_token(sim, admin, monkeypatch):
    nodes = WatchSpec("nodes", "v1", "nodes")
    items, version = list_all(admin, nodes, page_size=1)
    assert sorted(n["metadata"]["name"] for n in items) == ["cp-1", "worker-1", "worker-2"]
    assert all(n["kind"] == "Node" and n["apiVersion"] == "v1" for n in items)
    assert version

    pages = []
    real = admin.request

    def expire_second_page(method, path, query=None, **kwargs):
        pages.append(query.get("continue"))
        if len(pages) == 2:  # the token of the first page expires before it is used
            sim.control("POST", "faults/fail", {"count": 1, "code": 410, "pathPrefix": "/api/v1/nodes"})
        return real(method, path, query, **kwargs)

    monkeypatch.setattr(admin, "request", expire_second_page)
    again, _ = list_all(admin, nodes, page_size=1)
    assert sorted(n["metadata"]["name"] for n in again) == ["cp-1", "worker-1", "worker-2"]
    assert pages[0] is None and pages[2] is None  # restarted from the beginning


def test_pods_on_a_node_and_in_a_pool(admin):
    def pod(name, node, ip, host_network=False):
        admin.request("POST", "/api/v1/namespaces/default/pods", body={
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "hostNetwork": host_network,
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}})
        admin.request("PATCH", f"/api/v1/namespaces/default/pods/{name}/status",
                      content_type="application/merge-patch+json",
                      body={"status": {"podIP": ip, "podIPs": [{"ip": ip}], "phase": "Running"}})

    pod("a", "worker-1", "192.168.1.5")
    pod("b", "worker-1", "172.21.0.9")
    pod("c", "worker-2", "192.168.2.7")
    pod("host", "worker-1", "10.0.0.11", host_network=True)
    assert sorted(p["metadata"]["name"] for p in pods_on_node(admin, "worker-1")) == ["a", "b", "host"]
    assert pods_on_node(admin, "cp-1") == []
    assert sorted(p["metadata"]["name"] for p in pods_in_pool(admin, "192.168.0.0/16")) == ["a", "c"]
    assert [p["metadata"]["name"] for p in pods_in_pool(admin, "172.21.0.0/16")] == ["b"]
