"""Findings: what is wrong or worth knowing, with the evidence and the fix.

The same `Finding` shape is used by `calico-tui status`, the panes and the migration preflight, so
each finding has a stable `id`, a severity (`blocking` stops a migration, `warning` needs a look,
`info` is context), the object it is about (`subject`, e.g. `node/node03`), what was seen and what
to do. `cluster_findings` derives every finding the live picture supports.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.model.bgp import BgpTopology
from tui.model.cidr import overlaps
from tui.model.cluster import Cluster
from tui.model.usage import ORPHANED, NodeUsage, PoolUsage, node_usage, pool_usage

SEVERITIES = ("blocking", "warning", "info")


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # one of SEVERITIES
    message: str
    evidence: tuple[str, ...] = ()
    fix: str = ""
    subject: str = ""  # "kind/name" of the object concerned, "" for the cluster as a whole


def _sorted(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.id, f.subject)))


def bgp_in_use(cluster: Cluster) -> bool:
    """False when Calico routes without BGP (VXLAN or policy-only), where BGP findings are noise."""
    backends = {cluster.calico_node.networking_backend if cluster.calico_node else None,
                cluster.cni.calico_backend if cluster.cni else None}
    if backends & {"vxlan", "none"}:
        return False
    return not (cluster.installation is not None and cluster.installation.bgp == "Disabled")


def bgp_findings(cluster: Cluster, topology: BgpTopology | None = None) -> list[Finding]:
    if not bgp_in_use(cluster):
        return []
    topology = topology or BgpTopology(cluster)
    return bgp_config_findings(cluster, topology) + bgp_session_findings(topology)


def bgp_config_findings(cluster: Cluster, topology: BgpTopology) -> list[Finding]:
    """What the nodes, BGPPeers and BGPConfiguration say alone: the live view derives these once per
    change of those, not at every CalicoNodeStatus update."""
    out: list[Finding] = []
    speakers = topology.speakers
    if speakers:
        for node in cluster.nodes:
            if node.name not in speakers:
                out.append(Finding(
                    "bgp.no-address", "warning",
                    f"{node.name} has no BGP address, so it takes no part in BGP and its pods are unreachable from other nodes",
                    ("annotation projectcalico.org/IPv4Address is missing",),
                    "check that calico-node runs on the node and can autodetect its IP",
                    f"node/{node.name}"))
    for name, node in speakers.items():
        if len(speakers) > 1 and topology.peer_count(name) == 0:
            why = ("node-to-node mesh is off" if not cluster.bgp.node_to_node_mesh
                   else f"it has route-reflector cluster ID {node.rr_cluster_id}, which takes it out of the mesh")
            out.append(Finding(
                "bgp.no-peers", "blocking",
                f"{name} has no BGP peers: {why} and no BGPPeer gives it one",
                tuple(f"BGPPeer {p.name}: {p.scope}" for p in cluster.peers) or ("no BGPPeer objects",),
                "add a BGPPeer that selects the node (e.g. nodeSelector all() with peerSelector route-reflector == 'true'), "
                "or turn the node-to-node mesh back on",
                f"node/{name}"))
    for node in cluster.nodes:
        if node.route_reflector and not node.rr_cluster_id:
            out.append(Finding(
                "bgp.rr-label-without-cluster-id", "warning",
                f"{node.name} is labelled route-reflector=true but has no route-reflector cluster ID, "
                "so it peers with its clients without reflecting their routes",
                ("label route-reflector=true", "annotation projectcalico.org/RouteReflectorClusterID missing"),
                f"kubectl annotate node {node.name} projectcalico.org/RouteReflectorClusterID=224.0.0.1",
                f"node/{node.name}"))
        elif node.rr_cluster_id and not node.route_reflector:
            out.append(Finding(
                "bgp.rr-cluster-id-without-label", "warning",
                f"{node.name} has route-reflector cluster ID {node.rr_cluster_id} (it left the full mesh) "
                "but lacks the route-reflector=true label clients select reflectors by",
                (f"annotation projectcalico.org/RouteReflectorClusterID={node.rr_cluster_id}",),
                f"kubectl label node {node.name} route-reflector=true",
                f"node/{node.name}"))
    return out


def bgp_session_findings(topology: BgpTopology) -> list[Finding]:
    """What the CalicoNodeStatus reports add: only the reporting nodes (a handful) are looked at."""
    out: list[Finding] = []
    speakers = topology.speakers
    reporting = {name for name in {s.node for s in topology.cluster.node_statuses} if topology.status_known(name)}
    for name in speakers:
        if name not in reporting:
            continue
        sessions = topology.sessions(name)
        down = [s for s in sessions if s.expected and not s.established]
        if down:
            out.append(Finding(
                "bgp.session-down", "warning",
                f"{name}: {len(down)} of {sum(1 for s in sessions if s.expected)} expected BGP sessions are not Established",
                tuple(f"{s.peer_ip} ({s.type}{' ' + s.expected.peer_node if s.expected.peer_node else ''}): "
                      f"{s.state or 'not reported'}" for s in down),
                "Active/Connect/Idle: TCP 179 not reachable, wrong peer IP or AS; OpenSent/OpenConfirm: negotiation",
                f"node/{name}"))
        extra = [s for s in sessions if s.expected is None]
        if extra:
            out.append(Finding(
                "bgp.unexpected-session", "info",
                f"{name} reports BGP sessions the configuration does not explain",
                tuple(f"{s.peer_ip} ({s.type}): {s.state}" for s in extra),
                "IPv6 sessions and sessions to external routers configured outside Calico show up here",
                f"node/{name}"))
    unknown = [name for name in speakers if name not in reporting]
    if unknown and len(speakers) > 1:
        out.append(Finding(
            "bgp.states-unknown", "info",
            f"BGP session states are unknown for {len(unknown)} of {len(speakers)} nodes (no CalicoNodeStatus)",
            tuple(unknown[:10]) + (("…",) if len(unknown) > 10 else ()),
            "create a CalicoNodeStatus with classes [BGP] for the nodes to inspect (Calico suggests a few at a time)"))
    return out


def ipam_findings(cluster: Cluster, pools: tuple[PoolUsage, ...] | None = None,
                  nodes: tuple[NodeUsage, ...] | None = None) -> list[Finding]:
    """`pools`/`nodes`: pool_usage/node_usage results when the caller has them already."""
    out: list[Finding] = []
    for index, a in enumerate(cluster.pools):
        for b in cluster.pools[index + 1:]:
            if overlaps(a.cidr, b.cidr):
                out.append(Finding(
                    "ipam.pool-overlap", "blocking", f"IP pools {a.name} ({a.cidr}) and {b.name} ({b.cidr}) overlap",
                    (f"{a.name} {a.cidr}", f"{b.name} {b.cidr}"),
                    "pools must not overlap; one was probably written as a raw v1 CR past calicoctl's checks",
                    f"ippool/{b.name}"))
    if cluster.nodes and not any(p.enabled and p.cidr.version == 4 for p in cluster.pools):
        out.append(Finding(
            "ipam.no-enabled-pool", "blocking", "no enabled IPv4 pool: new pods cannot get an address",
            tuple(f"{p.name} {p.cidr} {'disabled' if p.disabled else 'not allocatable'}" for p in cluster.pools)
            or ("no IPPool objects",),
            "create or enable an IPPool"))
    for usage in pool_usage(cluster) if pools is None else pools:
        if usage.name == ORPHANED:
            out.append(Finding(
                "ipam.orphaned-blocks", "warning",
                f"{len(usage.blocks)} IPAM blocks lie in no IP pool ({usage.in_use} addresses still in use)",
                tuple(f"{b.cidr}: {b.in_use} in use, affinity {b.affinity or 'none'}" for b in usage.blocks),
                "the pool was deleted while addresses were allocated; recreate the pods holding them, "
                "then `calicoctl ipam check` / `release`"))
    released = [b for b in cluster.blocks if b.affinity is None and b.in_use]
    if released:
        out.append(Finding(
            "ipam.blocks-without-affinity", "info",
            f"{len(released)} IPAM blocks have no node affinity but still hold addresses",
            tuple(f"{b.cidr}: {b.in_use} in use" for b in released),
            "normal after a pool is disabled or deleted; the blocks go away when their pods are recreated"))
    unreadable = {item.name for item in cluster.invalid if item.kind == "Node"}
    for usage in node_usage(cluster) if nodes is None else nodes:
        if usage.node is None and usage.name not in unreadable:
            out.append(Finding(
                "ipam.stale-node", "warning",
                f"IPAM still references node {usage.name}, which does not exist",
                tuple(f"block {b.cidr}" for b in usage.blocks) + tuple(
                    f"{count} addresses in {pool or 'no pool'}" for pool, count in usage.allocations_by_pool.items()),
                "calico-kube-controllers cleans this up once the node's addresses are released "
                "(ENABLED_CONTROLLERS must include node)",
                f"node/{usage.name}"))
        for tunnel in usage.tunnels_outside_enabled_pools:
            where = f"disabled pool {tunnel.pool.name}" if tunnel.pool else "no pool"
            out.append(Finding(
                "ipam.tunnel-address-outside-enabled-pool", "warning",
                f"{usage.name}'s {tunnel.kind} tunnel address {tunnel.address} is in {where}",
                (f"annotation for {tunnel.kind}: {tunnel.address}",),
                "calico-node moves the tunnel address to an enabled pool with the same encapsulation; "
                "if none exists the tunnel address is removed",
                f"node/{usage.name}"))
    return out


def config_findings(cluster: Cluster) -> list[Finding]:
    out: list[Finding] = []
    for kcm in cluster.controller_managers:
        if kcm.pod.crash_looping:
            out.append(Finding(
                "config.kube-controller-manager-crashloop", "blocking",
                f"{kcm.pod.name} is in CrashLoopBackOff ({kcm.pod.restart_count} restarts): every controller is down",
                tuple(f"--{k}={v}" for k, v in kcm.flags.items() if "cidr" in k),
                "a --cluster-cidr that does not contain existing node podCIDRs makes node-ipam exit; "
                "restore the old flag or set --allocate-node-cidrs=false",
                f"pod/{kcm.pod.meta.ref}"))
    stale = [p for p in cluster.kube_proxy_pods if p.stale]
    if stale:
        out.append(Finding(
            "config.kube-proxy-stale", "warning",
            f"{len(stale)} kube-proxy pods run an older config than ConfigMap kube-proxy",
            tuple(f"{p.pod.name} on {p.pod.node}" for p in stale),
            "kubectl -n kube-system rollout restart daemonset kube-proxy"))
    return out


def invalid_findings(cluster: Cluster) -> list[Finding]:
    return [
        Finding("object.invalid", "warning", f"{item.kind} {item.name} could not be read: {item.reason}",
                (item.reason,), "fix the object; the views leave it out", f"{item.kind}/{item.name}")
        for item in cluster.invalid
    ]


def cluster_findings(cluster: Cluster, topology: BgpTopology | None = None,
                     pools: tuple[PoolUsage, ...] | None = None,
                     nodes: tuple[NodeUsage, ...] | None = None,
                     bgp: list[Finding] | None = None) -> tuple[Finding, ...]:
    """Every finding, blocking first. Pass the views (and BGP findings) already computed to avoid
    computing them again."""
    bgp = bgp_findings(cluster, topology) if bgp is None else list(bgp)
    return _sorted(bgp + ipam_findings(cluster, pools, nodes) + config_findings(cluster) + invalid_findings(cluster))
