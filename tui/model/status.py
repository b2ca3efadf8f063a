"""`calico-tui status`: the JSON document (schemaVersion 1, see docs/CLI.md) and the text report.

Both are pure functions of one Cluster plus the connection/detection facts (`info`, the `cluster`
section, produced by tui.kube.detect), so the same cluster always prints the same output. The text
report's IPAM table is laid out like `calicoctl ipam show --show-blocks`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from tui.model.bgp import BgpTopology, Session
from tui.model.cluster import Cluster
from tui.model.findings import Finding, cluster_findings
from tui.model.node import Node
from tui.model.usage import ORPHANED, NodeUsage, PoolUsage, node_usage, pool_usage

SCHEMA_VERSION = 1
# Which tunnel address `tunnelAddress` shows, in order of preference.
TUNNEL_PREFERENCE = ("ipip", "vxlan", "wireguard", "vxlanV6", "wireguardV6")


def _tunnel(node: Node) -> str | None:
    kind = next((k for k in TUNNEL_PREFERENCE if k in node.tunnel_addresses), None)
    return None if kind is None else str(node.tunnel_addresses[kind])


def _pool_json(usage: PoolUsage) -> dict[str, Any]:
    pool = usage.pool
    return {
        "name": pool.name,
        "cidr": str(pool.cidr),
        "blockSize": pool.block_size,
        "disabled": pool.disabled,
        "enabled": pool.enabled,
        "ipipMode": pool.ipip_mode,
        "vxlanMode": pool.vxlan_mode,
        "natOutgoing": pool.nat_outgoing,
        "nodeSelector": str(pool.node_selector),
        "allowedUses": list(pool.allowed_uses),
        "operatorManaged": pool.operator_managed,
        "blocks": len(usage.blocks),
        "ipsInUse": usage.in_use,
        "ipsTotal": usage.total,
    }


def _node_json(cluster: Cluster, usage: NodeUsage, topology: BgpTopology) -> dict[str, Any]:
    node = usage.node
    return {
        "name": node.name,
        "ready": node.ready,
        "unschedulable": node.unschedulable,
        "roles": list(node.roles),
        "routeReflector": node.route_reflector,
        "routeReflectorClusterID": node.rr_cluster_id,
        "bgpIPv4": None if node.bgp_ipv4 is None else str(node.bgp_ipv4),
        "asNumber": cluster.as_number_of(node),
        "podCIDRs": [str(cidr) for cidr in node.pod_cidrs],
        "tunnelAddress": _tunnel(node),
        "tunnelAddresses": {kind: str(address) for kind, address in sorted(node.tunnel_addresses.items())},
        "blocks": [{"cidr": str(b.cidr), "pool": usage.block_pools[b.name], "inUse": b.in_use} for b in usage.blocks],
        "ipsInUse": usage.in_use,
        "ipsInUseByPool": {pool or ORPHANED: count for pool, count in sorted(
            usage.allocations_by_pool.items(), key=lambda item: item[0] or "")},
        "borrowedIPs": len(usage.borrowed),
        "bgpMeshPeers": topology.mesh_peer_count(node.name),
        "bgpPeers": [{"peerIP": str(p.peer_ip), "port": p.port, "peerNode": p.peer_node, "type": p.type,
                      "asNumber": p.as_number, "source": p.source, "routeReflectorClient": p.route_reflector_client}
                     for p in topology.expected_peers(node.name, mesh=False)],
    }


def _session_json(session: Session) -> dict[str, Any]:
    expected = session.expected
    return {
        "node": session.node,
        "peerIP": str(session.peer_ip),
        "peerNode": expected.peer_node if expected else None,
        "type": session.type,
        "source": expected.source if expected else None,
        "routeReflectorClient": expected.route_reflector_client if expected else False,
        "expected": expected is not None,
        "state": session.state,
        "established": session.established,
    }


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {"id": finding.id, "severity": finding.severity, "subject": finding.subject,
            "message": finding.message, "evidence": list(finding.evidence), "fix": finding.fix}


def _peer_ip(peer) -> str | None:
    if peer.peer_ip is None:
        return None
    if peer.peer_port is None:
        return str(peer.peer_ip)
    return f"[{peer.peer_ip}]:{peer.peer_port}" if peer.peer_ip.version == 6 else f"{peer.peer_ip}:{peer.peer_port}"


def status_document(cluster: Cluster, info: Mapping[str, Any]) -> dict[str, Any]:
    """The `--format json` document: schemaVersion, cluster, pools, orphanedBlocks, nodes, bgp, findings."""
    topology = BgpTopology(cluster)
    usages = pool_usage(cluster)
    nodes = node_usage(cluster)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "cluster": dict(info),
        "pools": [_pool_json(u) for u in usages if u.pool is not None],
        "orphanedBlocks": [
            {"cidr": str(b.cidr), "affinity": b.affinity, "inUse": b.in_use, "capacity": b.capacity}
            for u in usages if u.pool is None for b in u.blocks
        ],
        "nodes": [_node_json(cluster, u, topology) for u in nodes if u.node is not None],
        "bgp": {
            "asNumber": cluster.bgp.as_number,
            "nodeToNodeMeshEnabled": cluster.bgp.node_to_node_mesh,
            "configured": cluster.bgp.present,
            "peers": [
                {"name": p.name, "scope": p.scope, "node": p.node,
                 "nodeSelector": None if p.node_selector is None else str(p.node_selector),
                 "peerIP": _peer_ip(p),
                 "peerSelector": None if p.peer_selector is None else str(p.peer_selector),
                 "asNumber": p.as_number}
                for p in cluster.peers
            ],
            "sessions": [_session_json(s) for s in topology.observed_sessions()],
        },
        "findings": [_finding_json(f) for f in cluster_findings(cluster, topology, usages, nodes)],
    }


# --- text ----------------------------------------------------------------------------------------


def _boxed(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    """A table drawn like calicoctl's (go-pretty default style): centred headers, `right` columns right-aligned."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def centred(text: str, width: int) -> str:
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)

    def line(cells: Sequence[str], align) -> str:
        return "| " + " | ".join(align(i, c, w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    out = [rule, line(headers, lambda i, c, w: centred(c, w)), rule]
    out += [line(r, lambda i, c, w: c.rjust(w) if i in right else c.ljust(w)) for r in rows]
    return out + [rule]


def _columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """kubectl-style columns: upper-case headers, left-aligned, three spaces apart."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    return ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [list(headers), *rows]]


def _count(n: int) -> str:
    return f"{float(n):.5g}"  # calicoctl prints counts with Go's %.5g


def _share(n: int, total: int) -> str:
    return f"{_count(n)} ({100 * n / total:.0f}%)" if total else _count(n)


def ipam_table(usages: Sequence[PoolUsage]) -> list[str]:
    """`calicoctl ipam show --show-blocks` of `pool_usage(cluster)`: a row per pool followed by its
    blocks; orphaned blocks have no pool row."""
    rows = []
    for usage in usages:
        if usage.pool is not None:
            rows.append(["IP Pool", str(usage.cidr), _count(usage.total),
                         _share(usage.in_use, usage.total), _share(usage.free, usage.total)])
        rows += [["Block", str(b.cidr), _count(b.capacity), _share(b.in_use, b.capacity), _share(b.free, b.capacity)]
                 for b in usage.blocks]
    return _boxed(["GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS FREE"], rows, right={2})


def _info_lines(info: Mapping[str, Any]) -> list[str]:
    def get(key: str) -> str:
        value = info.get(key)
        return "unknown" if value in (None, "") else str(value)

    lines = [f"Cluster:    {get('server')} (context {get('context')}), Kubernetes {get('kubernetesVersion')}",
             f"Calico:     {get('calicoVersion')}, {get('flavor')} install"
             + (f" in {info['calicoNamespace']}" if info.get("calicoNamespace") else "")
             + f", IPAM {get('ipam')}",
             f"Datastore:  {get('datastore')}"
             + (f" ({'; '.join(info['datastoreEvidence'])})" if info.get("datastoreEvidence") else ""),
             f"Calico API: {get('calicoApi')}; writes: {get('writePath')}"]
    if info.get("dataLocation"):
        lines.append(f"Data:       {info['dataLocation']}")
    return lines


def _node_rows(cluster: Cluster, nodes: Sequence[NodeUsage]) -> list[list[str]]:
    rows = []
    for usage in nodes:
        node = usage.node
        if node is None:
            continue
        rr = node.rr_cluster_id or "-"
        if node.route_reflector != bool(node.rr_cluster_id):
            rr += " (label)" if node.route_reflector else " (no label)"
        blocks = Counter(usage.block_pools[b.name] or ORPHANED for b in usage.blocks)
        rows.append([
            node.name, "Ready" if node.ready else "NotReady", ",".join(node.roles) or "<none>", rr,
            str(node.bgp_ipv4.ip) if node.bgp_ipv4 else "-", str(cluster.as_number_of(node)),
            ",".join(str(c) for c in node.pod_cidrs) or "-",
            ", ".join(f"{pool} {n}" for pool, n in sorted(blocks.items())) or "-",
            str(usage.in_use), _tunnel(node) or "-",
        ])
    return rows


def _session_rows(cluster: Cluster, topology: BgpTopology) -> list[list[str]]:
    rows = []
    for node in cluster.nodes:
        expected = topology.peer_count(node.name)
        if node.name not in topology.speakers:
            continue
        if topology.status_known(node.name):
            established = sum(1 for s in topology.sessions(node.name) if s.expected and s.established)
            states = [str(established), str(expected - established)]
        else:
            states = ["?", "?"]
        kinds = {p.type for p in topology.expected_peers(node.name, mesh=False)}
        if topology.mesh_peer_count(node.name):
            kinds.add("NodeMesh")
        rows.append([node.name, str(expected), *states, ", ".join(sorted(kinds)) or "-"])
    return rows


def status_text(cluster: Cluster, info: Mapping[str, Any]) -> str:
    """The human report: cluster facts, the calicoctl-style IPAM table, nodes, BGP, findings."""
    topology, usages, nodes = BgpTopology(cluster), pool_usage(cluster), node_usage(cluster)
    out = _info_lines(info)
    out += ["", "IP pools and blocks (as calicoctl ipam show --show-blocks):", *ipam_table(usages)]
    out += ["", "Nodes:", *_columns(
        ["NAME", "STATUS", "ROLES", "RR CLUSTER", "BGP IPV4", "AS", "PODCIDRS", "BLOCKS", "IPS", "TUNNEL"],
        _node_rows(cluster, nodes))]
    mesh = "on" if cluster.bgp.node_to_node_mesh else "off"
    source = "" if cluster.bgp.present else " (defaults: no BGPConfiguration default)"
    out += ["", f"BGP: AS {cluster.bgp.as_number}, node-to-node mesh {mesh}{source}"]
    if cluster.peers:
        out += _columns(["BGPPEER", "SCOPE", "LOCAL", "PEER", "AS"], [
            [p.name, p.scope, p.node or (str(p.node_selector) if p.node_selector else "all nodes"),
             _peer_ip(p) or str(p.peer_selector), "-" if p.as_number is None else str(p.as_number)]
            for p in cluster.peers])
    session_rows = _session_rows(cluster, topology)
    if session_rows:
        out += ["", *_columns(["NODE", "EXPECTED", "ESTABLISHED", "NOT ESTABLISHED", "TYPES"], session_rows)]
    findings = cluster_findings(cluster, topology, usages, nodes)
    out += ["", f"Findings: {len(findings) or 'none'}"]
    for finding in findings:
        subject = f" {finding.subject}" if finding.subject else ""
        out.append(f"  [{finding.severity}] {finding.id}{subject}: {finding.message}")
        out += [f"      - {item}" for item in finding.evidence]
        if finding.fix:
            out.append(f"      fix: {finding.fix}")
    return "\n".join(out) + "\n"
