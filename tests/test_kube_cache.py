"""The live cache against the simulated API server over HTTP: it follows changes, coalesces them,
survives every injected fault, converges to exactly the server's state, and stops every thread."""

from __future__ import annotations

import threading
import time

import pytest

from tui.kube.cache import ClusterCache
from tui.kube.connection import connect
from tui.kube.detect import detect
from tui.kube.listing import read_cluster
from tui.kube.reflector import Tuning
from tui.kube.resources import object_key, resource_version

FAST = Tuning(watch_timeout=3, read_timeout=5, list_read_timeout=3, connect_timeout=1,
              backoff_base=0.05, backoff_cap=0.4)
POOLS_V3 = "/apis/projectcalico.org/v3/ippools"


def control(sim, path: str, body: dict | None = None) -> dict:
    """POST to the simulator's control surface."""
    return sim.control("POST", path, body or {})


def eventually(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def state(raw) -> set[tuple]:
    """A RawCluster as comparable identities: (key, namespace, name, resourceVersion)."""
    return {(key, *object_key(obj), resource_version(obj)) for key, items in raw.items() for obj in items}


def pool(name: str, cidr: str) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": name},
            "spec": {"cidr": cidr, "ipipMode": "Never", "natOutgoing": True}}


def our_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("calico-tui")]


@pytest.fixture
def conn(sim):
    connection = connect(str(sim.kubeconfig_path), None)
    yield connection
    connection.close()


@pytest.fixture
def live(conn):
    """A started cache on the simulator, and a recorder of every change set it delivers."""
    info = detect(conn)
    cache = ClusterCache(conn, info.served, tuning=FAST).start()
    received = []
    cache.subscribe(received.append, max_rate_hz=20)
    assert cache.wait_synced(10)
    yield cache, info, received
    assert cache.stop(5)
    assert our_threads() == []


def converged(cache, conn, info) -> bool:
    return state(cache.snapshot()) == state(read_cluster(conn, info.served))


def test_cache_holds_the_servers_state_and_follows_changes(live, conn):
    cache, info, received = live
    assert converged(cache, conn, info)
    assert eventually(lambda: received)[0].resources_changed >= {"ippools", "nodes"}
    assert all(h.synced and h.error is None for h in cache.health().values())

    conn.request("POST", POOLS_V3, body=pool("new-pool", "172.21.0.0/16"))
    assert eventually(lambda: any(p["metadata"]["name"] == "new-pool" for p in cache.snapshot()["ippools"]))
    change = eventually(lambda: next((c for c in received if "ippools" in c.resources_changed
                                      and any(p["metadata"]["name"] == "new-pool" for p in c.raw["ippools"])), None))
    assert change is not None and "nodes" not in change.resources_changed
    # The watch stores v1 objects (the storage), whatever group the write went through.
    new = next(p for p in cache.snapshot()["ippools"] if p["metadata"]["name"] == "new-pool")
    assert new["apiVersion"] == "crd.projectcalico.org/v1" and new["spec"]["cidr"] == "172.21.0.0/16"

    conn.request("PATCH", "/api/v1/nodes/worker-1", body={"metadata": {"labels": {"route-reflector": "true"}}},
                 content_type="application/merge-patch+json")
    conn.request("DELETE", f"{POOLS_V3}/new-pool")
    assert eventually(lambda: converged(cache, conn, info))
    node = next(n for n in cache.snapshot()["nodes"] if n["metadata"]["name"] == "worker-1")
    assert node["metadata"]["labels"]["route-reflector"] == "true"
    assert cache.health()["nodes"].last_event_age() < 5


def test_bursts_are_coalesced_and_quiet_clusters_deliver_nothing(conn):
    info = detect(conn)
    cache = ClusterCache(conn, info.served, tuning=FAST).start()
    try:
        assert cache.wait_synced(10)
        received = []
        cache.subscribe(received.append, max_rate_hz=2)
        assert eventually(lambda: received)
        for i in range(30):
            conn.request("POST", POOLS_V3, body=pool(f"burst-{i}", f"10.{100 + i}.0.0/16"))
        assert eventually(lambda: len(cache.snapshot()["ippools"]) == 31)
        time.sleep(0.6)
        assert 2 <= len(received) <= 4   # the first delivery, then a couple for 30 creations
        assert len(received[-1].raw["ippools"]) == 31
        gaps = [b.raw is not a.raw for a, b in zip(received, received[1:])]
        assert all(gaps)
        count = len(received)
        cache.relist()  # a relist that finds nothing new is not a change
        time.sleep(1.2)
        assert len(received) == count
        assert converged(cache, conn, info)
    finally:
        assert cache.stop(5)
    assert our_threads() == []


def test_dropped_watches_and_forced_410_relist_and_emit_deletions(live, conn, sim):
    cache, info, received = live
    for i in range(3):
        conn.request("POST", POOLS_V3, body=pool(f"p{i}", f"10.{50 + i}.0.0/16"))
    assert eventually(lambda: converged(cache, conn, info))
    # Keep the watches away while objects vanish, then make their resourceVersion too old:
    # only a relist can notice the deletions.
    control(sim, "faults/fail", {"count": 10_000, "code": 503, "pathPrefix": "/apis/crd.projectcalico.org"})
    control(sim, "faults/drop-watches")
    assert eventually(lambda: cache.health()["ippools"].error is not None, 5)
    for i in range(3):
        conn.request("DELETE", f"{POOLS_V3}/p{i}")
    control(sim, "history", {"compact": True})
    sim.control("DELETE", "requests")
    control(sim, "faults/clear")
    names = lambda: {p["metadata"]["name"] for p in cache.snapshot()["ippools"]}  # noqa: E731
    assert eventually(lambda: names() == {"default-ipv4-ippool"})
    # The deletions were found by relisting after the watch's 410, not by the watch.
    pool_requests = [r["query"] for r in sim.control("GET", "requests")
                     if r["path"] == "/apis/crd.projectcalico.org/v1/ippools" and r["code"] == 200]
    assert "watch=true" in pool_requests[0] and "watch" not in pool_requests[1]
    assert eventually(lambda: converged(cache, conn, info))
    assert eventually(lambda: cache.health()["ippools"].synced and cache.health()["ippools"].error is None)

    control(sim, "faults/expire-watches", {"count": 40})
    control(sim, "faults/drop-watches")
    conn.request("POST", POOLS_V3, body=pool("after-410", "10.60.0.0/16"))
    assert eventually(lambda: converged(cache, conn, info))
    assert any(p["metadata"]["name"] == "after-410" for p in received[-1].raw["ippools"]) or eventually(
        lambda: any(p["metadata"]["name"] == "after-410" for p in received[-1].raw["ippools"]))


def test_errors_and_latency_show_in_health_then_converge(live, conn, sim):
    cache, info, received = live
    control(sim, "faults/latency", {"seconds": 0.2})
    control(sim, "faults/fail", {"count": 60, "code": 500, "pathPrefix": "/api/v1/nodes"})
    control(sim, "faults/fail", {"count": 60, "code": 429, "pathPrefix": "/apis/crd.projectcalico.org/v1/ippools"})
    control(sim, "faults/drop-watches")
    nodes = eventually(lambda: (h := cache.health()["nodes"]).error and h)
    assert not nodes.synced and nodes.reconnecting_since is not None and "500" in nodes.error
    pools = eventually(lambda: (h := cache.health()["ippools"]).error and h)
    assert "429" in pools.error
    assert eventually(lambda: any("nodes" in c.health_changed and c.health["nodes"].error for c in received))
    conn.request("POST", POOLS_V3, body=pool("during-outage", "10.70.0.0/16"))
    control(sim, "faults/clear")
    assert eventually(lambda: converged(cache, conn, info), 20)
    assert eventually(lambda: all(h.synced and not h.error for h in cache.health().values()), 10)
    assert eventually(lambda: received[-1].health["nodes"].synced)


def test_server_restart_with_state_kept(live, conn, sim):
    cache, info, received = live
    restart = threading.Thread(target=sim.restart, kwargs={"downtime": 1.5})
    restart.start()
    try:
        outage = eventually(lambda: (h := cache.health()["ippools"]).error and h, 5)
        assert outage and "connection refused" in outage.error and outage.reconnecting_since is not None
        assert eventually(lambda: received[-1].health["ippools"].error)
    finally:
        restart.join()
    conn.request("POST", POOLS_V3, body=pool("after-restart", "10.80.0.0/16"))
    assert eventually(lambda: converged(cache, conn, info), 20)
    assert any(p["metadata"]["name"] == "after-restart" for p in cache.snapshot()["ippools"])
    assert eventually(lambda: all(h.synced and not h.error for h in cache.health().values()), 10)


def test_stop_is_prompt_even_when_the_server_hangs(conn, sim):
    info = detect(conn)
    slow = Tuning(watch_timeout=60, read_timeout=120, list_read_timeout=120, backoff_base=0.05, backoff_cap=0.4)
    cache = ClusterCache(conn, info.served, tuning=slow).start()
    assert cache.wait_synced(10)
    cache.subscribe(lambda changes: None)
    control(sim, "faults/pause")
    control(sim, "faults/drop-watches")
    time.sleep(0.5)  # every reflector is now blocked waiting for an answer that never comes
    started = time.monotonic()
    assert cache.stop(5)
    assert time.monotonic() - started < 2
    assert our_threads() == []
    control(sim, "faults/resume")
