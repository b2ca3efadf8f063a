"""Watch semantics: resume, expiry, bookmarks, selectors, WatchList, framing, through real clients."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.conftest import http

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def events(sim, query: str, **kw) -> list[dict]:
    """A bounded raw watch: every line parsed (the stream must end by timeoutSeconds)."""
    status, headers, body = http(sim, "GET", f"{CONFIGMAPS}?watch=true&{query}", **kw)
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    assert body.endswith(b"\n") or body == b""
    lines = body.split(b"\n")[:-1]
    assert all(line.strip() for line in lines), "blank lines break the Python client"
    return [json.loads(line) for line in lines]


def collect(stream, count: int, w: watch.Watch) -> list[tuple[str, str, str]]:
    out = []
    for event in stream:
        obj = event["object"]
        meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata.to_dict()
        out.append((event["type"], meta["name"], meta.get("resource_version") or meta.get("resourceVersion")))
        if len(out) == count:
            w.stop()
    return out


def test_resumed_watch_sees_exactly_the_later_events(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    start = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}}).metadata.resource_version
    b = core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})
    a2 = core.patch_namespaced_config_map("a", "default", {"data": {"k": "v"}})
    core.delete_namespaced_config_map("b", "default")
    delete_rv = str(sim.store.resource_version)
    w = watch.Watch()
    seen = collect(w.stream(core.list_namespaced_config_map, "default", resource_version=start,
                            timeout_seconds=5), 3, w)
    assert seen == [("ADDED", "b", b.metadata.resource_version), ("MODIFIED", "a", a2.metadata.resource_version),
                    ("DELETED", "b", delete_rv)]


def test_watch_without_resource_version_starts_with_current_objects(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "existing"}})
    w = watch.Watch()
    stream = w.stream(core.list_namespaced_config_map, "default", timeout_seconds=5)
    first = next(stream)
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "existing")
    core.create_namespaced_config_map("default", {"metadata": {"name": "later"}})
    second = next(stream)
    assert (second["type"], second["object"].metadata.name) == ("ADDED", "later")
    w.stop()


def test_too_old_resource_version_is_a_410_error_event(sim, admin_client):
    sim.store.set_history_size(3)
    core = client.CoreV1Api(admin_client)
    old = core.create_namespaced_config_map("default", {"metadata": {"name": "c0"}}).metadata.resource_version
    for i in range(1, 6):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    raw = events(sim, f"resourceVersion={old}")
    assert raw == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {old} ({sim.store.compacted})", "reason": "Expired", "code": 410}}]
    with pytest.raises(ApiException) as info:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=old):
            pass
    assert info.value.status == 410 and "Expired" in info.value.reason


def test_timeout_closes_the_stream_with_a_bookmark_when_asked(sim):
    started = time.monotonic()
    got = events(sim, "resourceVersion=0&timeoutSeconds=1&allowWatchBookmarks=true")
    assert 0.9 < time.monotonic() - started < 4
    kinds = [e["type"] for e in got]
    assert kinds[-1] == "BOOKMARK" and "ADDED" not in kinds
    assert got[-1]["object"]["metadata"]["resourceVersion"] == str(sim.store.resource_version)
    assert got[-1]["object"]["kind"] == "ConfigMap"
    assert [e["type"] for e in events(sim, "resourceVersion=0&timeoutSeconds=1")] == []


def test_periodic_bookmarks_follow_simulated_time(sim):
    sim.server.bookmark_interval = 0.25
    got = events(sim, "timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion=1")
    assert sum(e["type"] == "BOOKMARK" for e in got) >= 3
    sim.clock.freeze()
    got = events(sim, "timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion=1")
    assert sum(e["type"] == "BOOKMARK" for e in got) == 1  # only the closing one: time stands still


def test_selectors_turn_entering_and_leaving_into_added_and_deleted(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    rv = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}}).metadata.resource_version
    core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"app": "web"}}})
    core.patch_namespaced_config_map("c", "default", {"data": {"a": "b"}})
    left = core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"app": "db"}}})
    core.delete_namespaced_config_map("c", "default")
    got = events(sim, f"resourceVersion={rv}&labelSelector=app%3Dweb&timeoutSeconds=1")
    assert [e["type"] for e in got] == ["ADDED", "MODIFIED", "DELETED"]
    assert got[-1]["object"]["metadata"]["labels"] == {"app": "web"}
    assert got[-1]["object"]["metadata"]["resourceVersion"] == left.metadata.resource_version
    by_name = events(sim, f"resourceVersion={rv}&fieldSelector=metadata.name%3Dother&timeoutSeconds=1")
    assert by_name == []


def test_watch_list_sends_initial_events_then_an_annotated_bookmark(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "one"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "two"}})
    got = events(sim, "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
                      "&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in got[:3]] == [
        ("ADDED", "one"), ("ADDED", "two"), ("BOOKMARK", None)]
    assert got[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    status, _, _ = http(sim, "GET", f"{CONFIGMAPS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true")
    assert status == 400
    no_initial = events(sim, "sendInitialEvents=false&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
    assert no_initial == []


def test_dry_run_emits_no_event(sim, admin_client):
    core = client.CoreV1Api(admin_client)
    rv = str(sim.store.resource_version)
    core.create_namespaced_config_map("default", {"metadata": {"name": "dry"}}, dry_run="All")
    core.create_namespaced_config_map("default", {"metadata": {"name": "real"}})
    got = events(sim, f"resourceVersion={rv}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "real")]


def test_custom_object_watch_and_table_watch(sim, admin_client):
    custom = client.CustomObjectsApi(admin_client)
    rv = str(sim.store.resource_version)
    custom.patch_cluster_custom_object("crd.projectcalico.org", "v1", "ippools", "default-ipv4-ippool",
                                       {"spec": {"disabled": True}})
    w = watch.Watch()
    got = collect(w.stream(custom.list_cluster_custom_object, "crd.projectcalico.org", "v1", "ippools",
                           resource_version=rv, timeout_seconds=5), 1, w)
    assert got[0][:2] == ("MODIFIED", "default-ipv4-ippool")
    table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    status, _, body = http(sim, "GET", f"/api/v1/nodes?watch=true&resourceVersion=0&timeoutSeconds=1",
                           headers={"Accept": table_accept})
    rows = [json.loads(line) for line in body.splitlines()]
    assert status == 200 and len(rows) == 3
    assert all(r["type"] == "ADDED" and r["object"]["kind"] == "Table" and len(r["object"]["rows"]) == 1
               for r in rows)


def test_v3_watch_sees_v1_writes_in_v3_form(sim, admin_client):
    custom = client.CustomObjectsApi(admin_client)
    rv = str(sim.store.resource_version)
    custom.patch_cluster_custom_object("crd.projectcalico.org", "v1", "ippools", "default-ipv4-ippool",
                                       {"spec": {"natOutgoing": False}})
    status, _, body = http(sim, "GET", f"/apis/projectcalico.org/v3/ippools?watch=true&resourceVersion={rv}"
                                       "&timeoutSeconds=1")
    got = [json.loads(line) for line in body.splitlines()]
    assert [e["type"] for e in got] == ["MODIFIED"]
    assert got[0]["object"]["apiVersion"] == "projectcalico.org/v3" and got[0]["object"]["spec"]["natOutgoing"] is False
