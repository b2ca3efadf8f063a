"""build_cluster: one consistent picture, malformed objects become Invalid entries and never raise."""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_builders import calico, installation_raw, ippool, kube_system_raw, seed_raw
from tui.model.cluster import KINDS, build_cluster
from tui.model.findings import cluster_findings
from tui.model.status import status_document


def full_raw() -> dict[str, list[dict[str, Any]]]:
    return {**seed_raw(), **kube_system_raw(), "installations": [installation_raw()]}


def test_seed_builds_completely() -> None:
    cluster = build_cluster(full_raw())
    assert cluster.invalid == ()
    assert [p.name for p in cluster.pools] == ["default-ipv4-ippool", "new-pool"]
    assert len(cluster.nodes) == 10 and len(cluster.blocks) == 10 and len(cluster.affinities) == 10
    assert cluster.bgp.as_number == 63400 and not cluster.bgp.node_to_node_mesh
    assert [p.name for p in cluster.peers] == ["peer-with-route-reflectors"]
    assert [s.node for s in cluster.node_statuses] == ["node01", "node04"]
    assert cluster.cluster_information.calico_version == "v3.32.1"
    assert len(cluster.controller_managers) == 3 and len(cluster.kube_proxy_pods) == 10
    assert cluster.kube_proxy_daemonset.name == "kube-proxy" and cluster.calico_node.namespace == "kube-system"
    assert len(cluster.calico_node_pods) == 10 and cluster.kubeadm and cluster.cni
    assert cluster.installation.ip_pools[0].cidr == "192.168.0.0/16"
    assert cluster.node("node01").rr_cluster_id == "224.0.0.1" and cluster.node("nope") is None
    assert cluster.pool("new-pool").cidr.compressed == "172.21.0.0/16"
    assert cluster.as_number_of(cluster.node("node05")) == 63400
    assert cluster.node_status("node04").node == "node04" and cluster.node_status("node05") is None


def test_empty_cluster() -> None:
    cluster = build_cluster({})
    assert cluster.pools == () and cluster.invalid == () and cluster.bgp.as_number == 64512
    assert status_document(cluster, {})["pools"] == []


def test_order_of_raw_lists_does_not_matter() -> None:
    raw = full_raw()
    shuffled = copy.deepcopy(raw)
    rng = random.Random(7)
    for items in shuffled.values():
        rng.shuffle(items)
    assert build_cluster(shuffled) == build_cluster(raw)
    assert status_document(build_cluster(shuffled), {}) == status_document(build_cluster(raw), {})


def test_malformed_objects_become_invalid_entries() -> None:
    raw = seed_raw()
    raw["ippools"].append(ippool("broken", "10.0.0.300/16"))
    raw["ippools"].append("not an object")
    raw["bgppeers"].append(calico("BGPPeer", "nothing", {"node": "node01"}))
    raw["nodes"][3]["metadata"]["labels"] = ["wrong", "type"]
    raw["ipamblocks"][0]["spec"]["allocations"] = {"0": 1}
    raw["bogus"] = []
    raw["caliconodestatuses"] = {"not": "a list"}
    cluster = build_cluster(raw)
    invalid = {(i.kind, i.name): i.reason for i in cluster.invalid}
    assert "spec.cidr" in invalid[("IPPool", "broken")]
    assert "expected an object" in invalid[("IPPool", "?")]
    assert "peerIP or peerSelector" in invalid[("BGPPeer", "nothing")]
    assert "metadata.labels" in invalid[("Node", "node04")]
    assert "spec.allocations" in invalid[("IPAMBlock", "192-168-1-0-26")]
    assert ("RawCluster", "bogus") in invalid
    assert ("CalicoNodeStatus", "*") in invalid
    assert [p.name for p in cluster.pools] == ["default-ipv4-ippool", "new-pool"]
    assert len(cluster.nodes) == 9 and len(cluster.blocks) == 9
    ids = {(f.id, f.subject) for f in cluster_findings(cluster)}
    assert ("object.invalid", "IPPool/broken") in ids


# --- fuzz: any damage to any field is either understood or reported -------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70) | st.sampled_from(["", "x", "true", "10.0.0.0/8", "all()"]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["a", "name", "cidr"]), inner,
                                                                 max_size=2),
    max_leaves=4,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            out += paths(item, prefix + (index,))
    return out


def damage(obj: Any, path: tuple, action: str, replacement: Any) -> Any:
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return obj


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_objects_never_crash(data) -> None:
    raw = full_raw()
    key = data.draw(st.sampled_from(sorted(k for k in raw if raw[k])))
    index = data.draw(st.integers(0, len(raw[key]) - 1))
    target = raw[key][index]
    for _ in range(data.draw(st.integers(1, 3))):
        candidates = paths(target)
        if not candidates:
            break
        path = data.draw(st.sampled_from(candidates))
        damage(target, path, data.draw(st.sampled_from(["delete", "replace"])), data.draw(JSON_VALUES))
    cluster = build_cluster(raw)
    # Every derived view still works on whatever was understood.
    document = status_document(cluster, {})
    assert document["schemaVersion"] == 1
    if key in ("ippools", "ipamblocks", "blockaffinities", "bgpconfigurations", "bgppeers", "nodes"):
        understood = {"ippools": cluster.pools, "ipamblocks": cluster.blocks, "blockaffinities": cluster.affinities,
                      "bgpconfigurations": cluster.bgp_configurations, "bgppeers": cluster.peers,
                      "nodes": cluster.nodes}[key]
        rejected = [i for i in cluster.invalid if i.kind == KINDS[key]]
        tombstones = sum(1 for obj in raw[key] if isinstance(obj, dict) and isinstance(obj.get("spec"), dict)
                         and obj["spec"].get("deleted") in (True, "true"))
        assert len(understood) + len(rejected) + tombstones == len(raw[key])
