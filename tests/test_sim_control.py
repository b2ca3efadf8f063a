"""The `/_sim` control surface: faults, snapshot and restore, clock, and components."""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.conftest import http


def test_fail_next_requests_with_a_code(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    sim.control("POST", "faults/fail", {"count": 2, "code": 503, "pathPrefix": "/api/v1/nodes"})
    for _ in range(2):
        with pytest.raises(ApiException) as info:
            core.list_node()
        assert info.value.status == 503 and json.loads(info.value.body)["reason"] == "ServiceUnavailable"
    core.list_namespace()
    assert len(core.list_node().items) == 3
    assert sim.control("GET", "faults")["failures"] == []


def test_expire_next_watches(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    sim.control("POST", "faults/expire-watches", {"count": 1})
    status, _, body = http(sim, "GET", "/api/v1/nodes?watch=true&resourceVersion=1")
    event = json.loads(body)
    assert status == 200 and event["type"] == "ERROR" and event["object"]["code"] == 410
    w = watch.Watch()
    for event in w.stream(core.list_node, resource_version="0", timeout_seconds=5):
        assert event["type"] == "ADDED"
        w.stop()


def test_drop_watches_ends_open_streams_cleanly(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    ended = threading.Event()

    def consume():
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version="1",
                                      timeout_seconds=60):
            pass
        ended.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while sim.server.open_watches == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.control("POST", "faults/drop-watches")["dropped"] == 1
    assert ended.wait(5)


def test_latency_and_pause(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    sim.control("POST", "faults/latency", {"seconds": 0.3})
    started = time.monotonic()
    core.list_node()
    assert time.monotonic() - started >= 0.3
    sim.control("POST", "faults/clear")
    sim.control("POST", "faults/pause")
    result = []
    thread = threading.Thread(target=lambda: result.append(core.list_node()), daemon=True)
    thread.start()
    time.sleep(0.3)
    assert not result
    sim.control("POST", "faults/resume")
    thread.join(5)
    assert len(result[0].items) == 3


def test_snapshot_and_restore_keep_resource_versions_monotonic(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "keep"}})
    snapshot = sim.control("GET", "snapshot")
    core.delete_namespaced_config_map("keep", "default")
    core.create_namespaced_config_map("default", {"metadata": {"name": "extra"}})
    core.patch_node("worker-1", {"metadata": {"labels": {"changed": "yes"}}})
    rv = sim.store.resource_version
    answer = sim.control("POST", "restore", snapshot)
    assert int(answer["resourceVersion"]) > rv
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["keep"]
    assert "changed" not in core.read_node("worker-1").metadata.labels
    status, _, body = http(sim, "GET", f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"
                                       "&timeoutSeconds=1")
    assert sorted(json.loads(line)["type"] for line in body.splitlines()) == ["ADDED", "DELETED"]


def test_clock_control_and_history(sim):
    sim.control("POST", "clock", {"freeze": True})
    before = sim.control("GET", "clock")["now"]
    after = sim.control("POST", "clock", {"step": 3600})["now"]
    assert after - before == pytest.approx(3600)
    history = sim.control("POST", "history", {"compact": True})
    assert history["compacted"] == history["resourceVersion"]
    status, _, body = http(sim, "GET", "/api/v1/nodes?watch=true&resourceVersion=1")
    assert json.loads(body)["object"]["reason"] == "Expired"


def test_control_routes_from_components(sim):
    class Counter:
        def __init__(self):
            self.started = 0

        def start(self):
            self.started += 1

        def stop(self):
            pass

    component = sim.add_controller(Counter())
    sim.add_control_route("GET", "counter", lambda request: {"started": component.started})
    assert sim.control("GET", "counter") == {"started": 1}
    assert "Counter" in sim.control("GET", "state")["components"]
    status, _, raw = http(sim, "GET", "/_sim/nothing-here")
    assert status == 404 and json.loads(raw)["kind"] == "Status"


def test_list_pagination_and_expired_continue(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    for i in range(7):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    first = core.list_namespaced_config_map("default", limit=3)
    assert [c.metadata.name for c in first.items] == ["c0", "c1", "c2"]
    assert first.metadata.remaining_item_count == 4
    core.create_namespaced_config_map("default", {"metadata": {"name": "c9"}})
    second = core.list_namespaced_config_map("default", limit=3, _continue=first.metadata._continue)
    assert [c.metadata.name for c in second.items] == ["c3", "c4", "c5"]
    assert second.metadata.resource_version == first.metadata.resource_version
    third = core.list_namespaced_config_map("default", limit=3, _continue=second.metadata._continue)
    assert [c.metadata.name for c in third.items] == ["c6"] and third.metadata._continue is None
    sim.control("POST", "history", {"compact": True})
    with pytest.raises(ApiException) as info:
        core.list_namespaced_config_map("default", limit=3, _continue=first.metadata._continue)
    status = json.loads(info.value.body)
    assert info.value.status == 410 and status["reason"] == "Expired" and status["metadata"]["continue"]
    fresh = core.list_namespaced_config_map("default", limit=3, _continue=status["metadata"]["continue"])
    assert [c.metadata.name for c in fresh.items] == ["c3", "c4", "c5"]


def test_list_selectors_and_resource_version_rules(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "a", "labels": {"tier": "web"}}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "b", "labels": {"tier": "db"}}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    names = lambda **kw: [c.metadata.name for c in core.list_namespaced_config_map("default", **kw).items]
    assert names(label_selector="tier in (web,db)") == ["a", "b"]
    assert names(label_selector="tier!=web") == ["b", "c"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="metadata.name!=a") == ["b", "c"]
    assert [n.metadata.name for n in core.list_node(field_selector="spec.unschedulable=false").items] == \
        ["cp-1", "worker-1", "worker-2"]
    ahead = str(sim.store.resource_version + 100)
    assert http(sim, "GET", f"/api/v1/namespaces/default/configmaps?resourceVersion={ahead}")[0] == 504
    exact = core.list_namespaced_config_map("default", resource_version=str(sim.store.resource_version - 2),
                                            resource_version_match="Exact")
    assert [c.metadata.name for c in exact.items] == ["a"]
