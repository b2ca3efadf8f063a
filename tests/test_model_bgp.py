"""Expected BGP sessions (mesh, route reflectors, BGPPeers) merged with CalicoNodeStatus, and BGP findings."""

from __future__ import annotations

import ipaddress
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from model_builders import RR_NODES, SEED_ADDRESSES, calico, caliconodestatus, node, seed_raw
from tui.model.bgp import GLOBAL_PEER, MESH, NODE_PEER, BgpTopology
from tui.model.cluster import Cluster, build_cluster
from tui.model.findings import bgp_findings
from tui.model.selector import parse_selector


def ip(name: str) -> str:
    return SEED_ADDRESSES[name].split("/")[0]


def expected(topology: BgpTopology, name: str) -> set[tuple[str, str]]:
    return {(str(p.peer_ip), p.type) for p in topology.expected_peers(name)}


def test_seed_route_reflector_topology() -> None:
    topology = BgpTopology(build_cluster(seed_raw()))
    # Clients peer with both reflectors; each reflector peers with everyone else, the other reflector included.
    assert expected(topology, "node05") == {(ip("node01"), NODE_PEER), (ip("node02"), NODE_PEER)}
    assert expected(topology, "node01") == {(ip(n), NODE_PEER) for n in SEED_ADDRESSES if n != "node01"}
    reflected = {str(p.peer_ip): p.route_reflector_client for p in topology.expected_peers("node01")}
    assert reflected[ip("node02")] is False  # same cluster ID: a reflector peer, not a client
    assert reflected[ip("node05")] is True
    assert not any(p.route_reflector_client for p in topology.expected_peers("node05"))
    assert {p.source for p in topology.expected_peers("node05")} == {"peer-with-route-reflectors"}
    assert {p.as_number for p in topology.expected_peers("node05")} == {63400}


def test_seed_sessions_merge_observed_states() -> None:
    topology = BgpTopology(build_cluster(seed_raw()))
    node04 = {str(s.peer_ip): s for s in topology.sessions("node04")}
    assert node04[ip("node01")].established is True and node04[ip("node01")].state == "Established"
    assert node04[ip("node02")].established is False and node04[ip("node02")].state == "Active"
    node05 = topology.sessions("node05")
    assert all(s.established is None and s.state is None and not s.status_known for s in node05)
    assert all(s.established for s in topology.sessions("node01"))


def test_mesh_skips_route_reflectors_and_nodes_without_address() -> None:
    raw = seed_raw()
    raw["bgpconfigurations"] = []
    raw["bgppeers"] = []
    raw["nodes"].append(node("node11", None))
    cluster = build_cluster(raw)
    assert cluster.bgp.node_to_node_mesh and not cluster.bgp.present and cluster.bgp.as_number == 64512
    topology = BgpTopology(cluster)
    plain = [n for n in SEED_ADDRESSES if n not in RR_NODES]
    assert expected(topology, "node03") == {(ip(n), MESH) for n in plain if n != "node03"}
    assert expected(topology, "node01") == set()  # a cluster ID takes the node out of the mesh
    assert expected(topology, "node11") == set()


def test_global_peer_wins_over_node_peer_and_peer_ip_reverse() -> None:
    raw = seed_raw()
    raw["bgppeers"] += [
        calico("BGPPeer", "tor", {"peerIP": "10.10.0.1", "asNumber": 65001}),
        calico("BGPPeer", "tor-node03", {"node": "node03", "peerIP": "10.10.0.1", "asNumber": 65001}),
        calico("BGPPeer", "node03-to-node09", {"node": "node03", "peerIP": ip("node09")}),
        calico("BGPPeer", "zone-a", {"nodeSelector": "has(zone)", "peerIP": "10.10.9.9:1790", "asNumber": 65002}),
    ]
    raw["nodes"][5]["metadata"]["labels"]["zone"] = "a"  # node06
    topology = BgpTopology(build_cluster(raw))
    node03 = {(str(p.peer_ip), p.type): p for p in topology.expected_peers("node03")}
    assert node03[("10.10.0.1", GLOBAL_PEER)].source == "tor" and node03[("10.10.0.1", GLOBAL_PEER)].peer_node is None
    assert ("10.10.0.1", NODE_PEER) not in node03
    assert node03[(ip("node09"), NODE_PEER)].peer_node == "node09"
    # Calico adds the reverse peering on the Calico node behind an explicit peerIP.
    assert (ip("node03"), NODE_PEER) in expected(topology, "node09")
    node06 = [p for p in topology.expected_peers("node06") if str(p.peer_ip) == "10.10.9.9"]
    assert [(p.port, p.as_number, p.type) for p in node06] == [(1790, 65002, NODE_PEER)]
    assert ("10.10.9.9", NODE_PEER) not in expected(topology, "node07")


def test_reverse_peering_needs_matching_as() -> None:
    raw = seed_raw()
    raw["bgppeers"] = [calico("BGPPeer", "to-node09", {"node": "node03", "peerIP": ip("node09"), "asNumber": 65000})]
    topology = BgpTopology(build_cluster(raw))
    assert (ip("node09"), NODE_PEER) in expected(topology, "node03")
    assert expected(topology, "node09") == set()


def test_unexpected_observed_sessions_are_kept() -> None:
    raw = seed_raw()
    raw["caliconodestatuses"] = [caliconodestatus("node05", [
        (ip("node01"), "NodePeer", "Established"), (ip("node02"), "NodePeer", "Established"),
        ("10.10.1.16", "NodeMesh", "Idle")])]
    sessions = BgpTopology(build_cluster(raw)).sessions("node05")
    extra = [s for s in sessions if s.expected is None]
    assert [(str(s.peer_ip), s.type, s.state) for s in extra] == [("10.10.1.16", "NodeMesh", "Idle")]
    assert all(s.established for s in sessions if s.expected)


def test_a_status_rewritten_with_the_same_sessions_reuses_the_merged_ones() -> None:
    """calico-node rewrites every CalicoNodeStatus each update period; a reflector's thousands of
    sessions are merged again only when one of them changed."""
    raw = seed_raw()
    peers = [(ip("node01"), "NodePeer", "Established"), (ip("node02"), "NodePeer", "Established")]
    raw["caliconodestatuses"] = [caliconodestatus("node05", peers)]
    cluster = build_cluster(raw)
    shape = BgpTopology(Cluster(nodes=cluster.nodes, peers=cluster.peers, bgp=cluster.bgp))

    def sessions_after(status: dict):
        raw["caliconodestatuses"] = [status]
        statuses = build_cluster(raw).node_statuses
        return shape.with_statuses(Cluster(nodes=cluster.nodes, peers=cluster.peers, bgp=cluster.bgp,
                                           node_statuses=statuses)).sessions("node05")

    first = sessions_after(caliconodestatus("node05", peers))
    rewritten = caliconodestatus("node05", peers)
    rewritten["status"]["lastUpdated"] = "2024-05-01T10:00:10Z"
    assert sessions_after(rewritten) is first
    changed = sessions_after(caliconodestatus("node05", [peers[0], (ip("node02"), "NodePeer", "Active")]))
    assert changed is not first and not all(s.established for s in changed)


# --- findings -------------------------------------------------------------------------------------


def finding_ids(raw: dict) -> Counter:
    return Counter((f.id, f.subject) for f in bgp_findings(build_cluster(raw)))


def test_seed_findings() -> None:
    ids = finding_ids(seed_raw())
    assert ids[("bgp.session-down", "node/node04")] == 1
    assert ("bgp.states-unknown", "") in ids
    assert not any(i.startswith("bgp.no-peers") for i, _ in ids)


def test_no_bgp_path_when_mesh_off_and_no_peers() -> None:
    raw = seed_raw()
    raw["bgppeers"][0]["spec"]["nodeSelector"] = "!has(node-role.kubernetes.io/control-plane)"
    ids = finding_ids(raw)
    assert ids[("bgp.no-peers", "node/node03")] == 1  # control plane, not a reflector, not selected
    assert ("bgp.no-peers", "node/node05") not in ids
    assert ("bgp.no-peers", "node/node01") not in ids  # reflectors still get the reverse peerings


def test_route_reflector_label_and_cluster_id_must_go_together() -> None:
    raw = seed_raw()
    del raw["nodes"][0]["metadata"]["annotations"]["projectcalico.org/RouteReflectorClusterID"]
    del raw["nodes"][1]["metadata"]["labels"]["route-reflector"]
    ids = finding_ids(raw)
    assert ("bgp.rr-label-without-cluster-id", "node/node01") in ids
    assert ("bgp.rr-cluster-id-without-label", "node/node02") in ids


def test_node_without_bgp_address_and_vxlan_clusters() -> None:
    raw = seed_raw()
    raw["nodes"].append(node("node11", None))
    assert ("bgp.no-address", "node/node11") in finding_ids(raw)
    raw["configmaps"] = [{"metadata": {"name": "calico-config", "namespace": "kube-system"},
                          "data": {"calico_backend": "vxlan"}}]
    assert finding_ids(raw) == Counter()


# --- randomized topologies vs a naive restatement of confd's rules --------------------------------

NAMES = ["a", "b", "c", "d", "e"]
SELECTORS = ["all()", "rr == 'true'", "!has(rr)", "zone in {'x'}", "zone != 'x'"]
EXTERNAL = "192.0.2.1"


@st.composite
def raw_bgp(draw) -> dict:
    nodes = []
    addresses = draw(st.lists(st.integers(1, 6), min_size=len(NAMES), max_size=len(NAMES), unique=True))
    for name, host in zip(NAMES, addresses):
        labels = {}
        if draw(st.booleans()):
            labels["rr"] = "true"
        if draw(st.booleans()):
            labels["zone"] = draw(st.sampled_from(["x", "y"]))
        annotations = {}
        if draw(st.booleans()):
            annotations["projectcalico.org/RouteReflectorClusterID"] = draw(st.sampled_from(["1.1.1.1", "2.2.2.2"]))
        if draw(st.integers(0, 4)) == 0:
            annotations["projectcalico.org/ASNumber"] = "65009"
        address = None if draw(st.integers(0, 5)) == 0 else f"10.0.0.{host}/24"
        nodes.append(node(name, address, labels, annotations))
    peers = []
    for index in range(draw(st.integers(0, 4))):
        spec: dict = {}
        local = draw(st.sampled_from(["global", "node", "selector"]))
        if local == "node":
            spec["node"] = draw(st.sampled_from(NAMES))
        elif local == "selector":
            spec["nodeSelector"] = draw(st.sampled_from(SELECTORS))
        if draw(st.booleans()):
            spec["peerSelector"] = draw(st.sampled_from(SELECTORS))
        else:
            spec["peerIP"] = draw(st.sampled_from([EXTERNAL] + [f"10.0.0.{h}" for h in range(1, 7)]))
            if draw(st.booleans()):
                spec["asNumber"] = draw(st.sampled_from([64512, 65009]))
        peers.append(calico("BGPPeer", f"peer-{index}", spec))
    config = {"nodeToNodeMeshEnabled": draw(st.booleans())}
    return {"nodes": nodes, "bgppeers": peers, "bgpconfigurations": [calico("BGPConfiguration", "default", config)]}


def naive_expected(raw: dict) -> dict[str, Counter]:
    """Restate the rules pair by pair, straight from the raw objects."""
    info = {}
    for obj in raw["nodes"]:
        ann = obj["metadata"]["annotations"]
        address = ann.get("projectcalico.org/IPv4Address")
        info[obj["metadata"]["name"]] = {
            "ip": address.split("/")[0] if address else None,
            "rr": ann.get("projectcalico.org/RouteReflectorClusterID"),
            "as": int(ann.get("projectcalico.org/ASNumber", 64512)),
            "labels": obj["metadata"]["labels"],
        }
    mesh = raw["bgpconfigurations"][0]["spec"]["nodeToNodeMeshEnabled"]

    def selected(text: str) -> list[str]:
        return [n for n in NAMES if parse_selector(text).matches(info[n]["labels"])]

    def local_side(spec: dict) -> list[str]:
        if "nodeSelector" in spec:
            return selected(spec["nodeSelector"])
        return [spec["node"]] if "node" in spec else []

    def remote_ips(spec: dict) -> list[str]:
        if "peerSelector" in spec:
            return [info[n]["ip"] for n in selected(spec["peerSelector"]) if info[n]["ip"]]
        return [spec["peerIP"]]

    global_ips = set()
    node_ips: dict[str, set[str]] = {n: set() for n in NAMES}
    for peer in raw["bgppeers"]:
        spec = peer["spec"]
        is_global = "node" not in spec and "nodeSelector" not in spec
        if is_global:
            global_ips |= set(remote_ips(spec))
        else:
            for a in local_side(spec):
                node_ips[a] |= set(remote_ips(spec))
        # Reverse: the Calico nodes on the remote side peer back with the local side.
        if "peerSelector" in spec:
            remote_nodes = selected(spec["peerSelector"])
        else:
            wanted_as = spec.get("asNumber", 64512)
            remote_nodes = [n for n in NAMES if info[n]["ip"] == spec["peerIP"] and info[n]["as"] == wanted_as]
        back = NAMES if is_global else local_side(spec)
        for r in remote_nodes:
            node_ips[r] |= {info[b]["ip"] for b in back if info[b]["ip"]}
    result = {}
    for a in NAMES:
        me = info[a]
        sessions: Counter = Counter()
        if me["ip"]:
            if mesh and me["rr"] is None:
                for b in NAMES:
                    if info[b]["ip"] and info[b]["ip"] != me["ip"] and info[b]["rr"] is None:
                        sessions[(info[b]["ip"], MESH)] += 1
            for target in global_ips - {me["ip"]}:
                sessions[(target, GLOBAL_PEER)] += 1
            for target in node_ips[a] - global_ips - {me["ip"]}:
                sessions[(target, NODE_PEER)] += 1
        result[a] = sessions
    return result


@settings(max_examples=150, deadline=None)
@given(raw_bgp())
def test_expected_peers_equal_naive_rules(raw: dict) -> None:
    cluster = build_cluster(raw)
    assert cluster.invalid == ()
    topology = BgpTopology(cluster)
    naive = naive_expected(raw)
    for name in NAMES:
        mine = Counter((str(p.peer_ip), p.type) for p in topology.expected_peers(name))
        assert mine == naive[name], name
        assert topology.peer_count(name) == sum(naive[name].values())
        assert topology.mesh_peer_count(name) == sum(n for (_, kind), n in naive[name].items() if kind == MESH)
        assert MESH not in {p.type for p in topology.expected_peers(name, mesh=False)}


@settings(max_examples=60, deadline=None)
@given(raw_bgp())
def test_route_reflector_clients_equal_naive_rule(raw: dict) -> None:
    """A reflector treats an iBGP peer as a client unless the peer is in its own cluster; confd gives
    peers reached by an explicit peerIP no cluster ID at all."""
    cluster = build_cluster(raw)
    topology = BgpTopology(cluster)
    by_ip = {str(n.bgp_ipv4.ip): n for n in cluster.nodes if n.bgp_ipv4}
    specs = {p["metadata"]["name"]: p["spec"] for p in raw["bgppeers"]}
    for me in cluster.nodes:
        for peer in topology.expected_peers(me.name):
            spec = specs.get(peer.source, {})
            explicit = spec.get("peerIP") == str(peer.peer_ip) and (
                spec.get("node") == me.name or "node" not in spec and "nodeSelector" not in spec
                or "nodeSelector" in spec and parse_selector(spec["nodeSelector"]).matches(me.labels))
            other = by_ip.get(str(peer.peer_ip))
            other_rr = None if explicit or other is None else other.rr_cluster_id
            naive = (me.rr_cluster_id is not None and peer.as_number == cluster.as_number_of(me)
                     and other_rr != me.rr_cluster_id)
            assert peer.route_reflector_client == naive, (me.name, peer)


def test_addresses_are_ipv4_only() -> None:
    raw = seed_raw()
    raw["bgppeers"].append(calico("BGPPeer", "v6", {"peerIP": "fd00::1", "asNumber": 65001}))
    topology = BgpTopology(build_cluster(raw))
    assert all(isinstance(p.peer_ip, ipaddress.IPv4Address) for p in topology.expected_peers("node05"))
