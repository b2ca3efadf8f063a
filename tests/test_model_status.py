"""`calico-tui status` document and text report built from the model."""

from __future__ import annotations

import json

from model_builders import ipamblock, ippool, kube_system_raw, node, pod_owner, seed_raw
from tui.model.cluster import build_cluster
from tui.model.status import SCHEMA_VERSION, ipam_table, status_document, status_text
from tui.model.usage import pool_usage

INFO = {"server": "https://127.0.0.1:6443", "context": "demo", "kubernetesVersion": "v1.32.4",
        "calicoApi": "v1-crds", "writePath": "calicoctl only", "datastore": "kubernetes",
        "datastoreEvidence": ["calico-node DATASTORE_TYPE=kubernetes"], "flavor": "manifest",
        "calicoNamespace": "kube-system", "ipam": "calico-ipam", "calicoVersion": "v3.32.1",
        "dataLocation": "Calico keeps its data in the Kubernetes API"}


def seed_document() -> dict:
    return status_document(build_cluster({**seed_raw(), **kube_system_raw()}), INFO)


def test_document_sections_and_json() -> None:
    document = seed_document()
    assert document["schemaVersion"] == SCHEMA_VERSION == 1
    assert set(document) == {"schemaVersion", "cluster", "pools", "orphanedBlocks", "nodes", "bgp", "findings"}
    assert document["cluster"] == INFO
    assert json.loads(json.dumps(document)) == document


def test_seed_literal_objects_show_up() -> None:
    document = seed_document()
    assert document["bgp"]["asNumber"] == 63400 and document["bgp"]["nodeToNodeMeshEnabled"] is False
    assert document["bgp"]["configured"] is True
    assert document["bgp"]["peers"] == [{
        "name": "peer-with-route-reflectors", "scope": "selector", "node": None, "nodeSelector": "all()",
        "peerIP": None, "peerSelector": 'route-reflector == "true"', "asNumber": None}]
    pools = {p["name"]: p for p in document["pools"]}
    assert pools["new-pool"] == {
        "name": "new-pool", "cidr": "172.21.0.0/16", "blockSize": 26, "disabled": False, "enabled": True,
        "ipipMode": "CrossSubnet", "vxlanMode": "Never", "natOutgoing": True, "nodeSelector": "all()",
        "allowedUses": ["Workload", "Tunnel"], "operatorManaged": False, "blocks": 0, "ipsInUse": 0,
        "ipsTotal": 65536}
    assert (pools["default-ipv4-ippool"]["blocks"], pools["default-ipv4-ippool"]["ipsInUse"]) == (10, 25)
    nodes = {n["name"]: n for n in document["nodes"]}
    assert nodes["node01"]["routeReflector"] is True and nodes["node01"]["routeReflectorClusterID"] == "224.0.0.1"
    assert nodes["node05"]["routeReflector"] is False and nodes["node05"]["routeReflectorClusterID"] is None
    assert nodes["node01"]["bgpIPv4"] == "10.10.0.11/24" and nodes["node01"]["asNumber"] == 63400
    assert nodes["node03"]["podCIDRs"] == ["192.168.3.0/24"] and nodes["node03"]["tunnelAddress"] == "192.168.3.1"
    assert nodes["node03"]["blocks"] == [{"cidr": "192.168.3.0/26", "pool": "default-ipv4-ippool", "inUse": 4}]
    assert nodes["node03"]["roles"] == ["control-plane"] and nodes["node03"]["ready"] is True


def test_sessions_and_findings_in_document() -> None:
    document = seed_document()
    node04 = [s for s in document["bgp"]["sessions"] if s["node"] == "node04"]
    assert {(s["peerIP"], s["state"], s["established"]) for s in node04} == {
        ("10.10.0.11", "Established", True), ("10.10.0.12", "Active", False)}
    assert {s["node"] for s in document["bgp"]["sessions"]} == {"node01", "node04"}  # the ones with a status
    node07 = next(n for n in document["nodes"] if n["name"] == "node07")
    assert node07["bgpMeshPeers"] == 0
    assert node07["bgpPeers"] == [
        {"peerIP": "10.10.0.11", "port": None, "peerNode": "node01", "type": "NodePeer", "asNumber": 63400,
         "source": "peer-with-route-reflectors", "routeReflectorClient": False},
        {"peerIP": "10.10.0.12", "port": None, "peerNode": "node02", "type": "NodePeer", "asNumber": 63400,
         "source": "peer-with-route-reflectors", "routeReflectorClient": False}]
    finding = next(f for f in document["findings"] if f["id"] == "bgp.session-down")
    assert set(finding) == {"id", "severity", "subject", "message", "evidence", "fix"}
    assert finding["subject"] == "node/node04" and finding["severity"] == "warning"


def test_orphaned_blocks_section() -> None:
    raw = seed_raw()
    raw["ipamblocks"].append(ipamblock("10.99.0.0/26", None, {3: pod_owner("legacy", "billing-0", "node05")}))
    document = status_document(build_cluster(raw), {})
    assert document["orphanedBlocks"] == [{"cidr": "10.99.0.0/26", "affinity": None, "inUse": 1, "capacity": 64}]
    assert "10.99.0.0/26" not in {p["cidr"] for p in document["pools"]}


def test_ipam_table_is_laid_out_like_calicoctl() -> None:
    raw = {
        "ippools": [ippool("big", "10.0.0.0/8"), ippool("small", "172.16.0.0/24", blockSize=28)],
        "ipamblocks": [ipamblock("172.16.0.0/28", "n1", {i: pod_owner("a", f"p{i}", "n1") for i in range(3)}),
                       ipamblock("192.168.9.0/30", None, {0: pod_owner("a", "x", "n1")})],
    }
    assert ipam_table(pool_usage(build_cluster(raw))) == [
        "+----------+----------------+------------+------------+-------------------+",
        "| GROUPING |      CIDR      | IPS TOTAL  | IPS IN USE |     IPS FREE      |",
        "+----------+----------------+------------+------------+-------------------+",
        "| IP Pool  | 10.0.0.0/8     | 1.6777e+07 | 0 (0%)     | 1.6777e+07 (100%) |",
        "| IP Pool  | 172.16.0.0/24  |        256 | 3 (1%)     | 253 (99%)         |",
        "| Block    | 172.16.0.0/28  |         16 | 3 (19%)    | 13 (81%)          |",
        "| Block    | 192.168.9.0/30 |          4 | 1 (25%)    | 3 (75%)           |",
        "+----------+----------------+------------+------------+-------------------+",
    ]


def test_text_report() -> None:
    raw = {**seed_raw(), **kube_system_raw()}
    raw["nodes"].append(node("node11", None, ready=False))
    text = status_text(build_cluster(raw), INFO)
    lines = text.splitlines()
    assert lines[0] == "Cluster:    https://127.0.0.1:6443 (context demo), Kubernetes v1.32.4"
    assert "Calico:     v3.32.1, manifest install in kube-system, IPAM calico-ipam" in lines
    assert "| IP Pool  | 192.168.0.0/16  |     65536 | 25 (0%)    | 65511 (100%) |" in lines
    assert "| Block    | 192.168.3.0/26  |        64 | 4 (6%)     | 60 (94%)     |" in lines
    assert "BGP: AS 63400, node-to-node mesh off" in lines
    node01 = next(line for line in lines if line.startswith("node01 "))
    assert node01.split()[:6] == ["node01", "Ready", "control-plane", "224.0.0.1", "10.10.0.11", "63400"]
    node11 = next(line for line in lines if line.startswith("node11 "))
    assert node11.split()[:5] == ["node11", "NotReady", "<none>", "-", "-"]
    assert any(line.startswith("node04 ") and line.split()[1:4] == ["2", "1", "1"] for line in lines)
    assert "  [warning] bgp.no-address node/node11:" in text
    assert text.index("[warning]") < text.index("[info]")
    assert status_text(build_cluster(raw), INFO) == text


def test_text_report_of_an_unknown_cluster() -> None:
    text = status_text(build_cluster({}), {})
    assert "Cluster:    unknown (context unknown), Kubernetes unknown" in text
    assert "BGP: AS 64512, node-to-node mesh on (defaults: no BGPConfiguration default)" in text
    assert "Findings: none" in text


def test_full_mesh_is_counted_not_listed() -> None:
    """A mesh has N² sessions; the document counts them per node instead of listing them."""
    raw = {"nodes": [node(f"n{i:03d}", f"10.1.{i // 200}.{i % 200 + 1}/16") for i in range(300)]}
    document = status_document(build_cluster(raw), {})
    assert document["bgp"]["sessions"] == []
    assert {n["bgpMeshPeers"] for n in document["nodes"]} == {299}
    assert all(n["bgpPeers"] == [] for n in document["nodes"])
    assert not [f for f in document["findings"] if f["id"] == "bgp.no-peers"]
