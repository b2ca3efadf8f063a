"""Expected BGP sessions per node, as confd would configure BIRD, merged with observed states.

Rules (confd `updatePeersV1` and the BGP processor, Calico v3.32):

* A node takes part in BGP only with an IPv4 address (annotation `projectcalico.org/IPv4Address`).
* Full mesh (`nodeToNodeMeshEnabled`, default on): every node WITHOUT a route-reflector cluster ID
  peers with every other node without one. A cluster ID takes the node out of the mesh.
* BGPPeers: the local side is `node`, the nodes matching `nodeSelector`, or every node when neither
  is set (a global peer); the remote side is `peerIP` (with `asNumber`) or every node matching
  `peerSelector` (with its own AS). Global peerings win over node-specific ones to the same address.
* Calico adds the reverse peering on the remote Calico nodes, so selector and node-IP peerings are
  symmetric: a route reflector matched by `peerSelector` peers back with every client.
* Nobody peers with its own address.

Only IPv4 sessions are derived (the pod-CIDR migration is IPv4); observed IPv6 sessions are kept
as observed-only. Explicit ports in `peerIP` are kept; `listenPort` overrides are not modelled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from tui.model.calico import BGPPeer, PeerStatus
from tui.model.cidr import Address
from tui.model.cluster import Cluster
from tui.model.identity import identical
from tui.model.node import Node

MESH = "NodeMesh"
NODE_PEER = "NodePeer"
GLOBAL_PEER = "GlobalPeer"


@dataclass(frozen=True)
class ExpectedPeer:
    node: str  # local side
    peer_ip: Address
    port: int | None
    type: str  # NodeMesh, NodePeer or GlobalPeer, as CalicoNodeStatus reports it
    peer_node: str | None  # the Calico node behind peer_ip, None for an external router
    as_number: int
    source: str  # BGPPeer name, or "node-to-node mesh"
    route_reflector_client: bool  # the local node reflects routes to this peer


@dataclass(frozen=True)
class Session:
    """An expected session with what calico-node reports about it (`observed` None: not reported)."""

    node: str
    expected: ExpectedPeer | None  # None: reported but not expected (stale config, IPv6, ...)
    observed: PeerStatus | None
    status_known: bool  # the node has a CalicoNodeStatus with BGP sessions

    @property
    def peer_ip(self) -> Address:
        return self.expected.peer_ip if self.expected else self.observed.peer_ip

    @property
    def type(self) -> str:
        return self.expected.type if self.expected else self.observed.type

    @property
    def state(self) -> str | None:
        """The BGP state, None when unknown (no CalicoNodeStatus or the session is not reported)."""
        return self.observed.state if self.observed else None

    @property
    def established(self) -> bool | None:
        if not self.status_known:
            return None
        return self.observed is not None and self.observed.established


@dataclass(frozen=True)
class _Remote:
    ip: Address
    port: int | None
    node: str | None
    as_number: int
    rr_cluster_id: str | None


class BgpTopology:
    """Derived once per Cluster; `expected_peers(node)` is cheap afterwards."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.speakers = {n.name: n for n in cluster.nodes if n.bgp_ipv4 is not None}
        self.node_by_ip = {n.bgp_ipv4.ip: n for n in self.speakers.values()}
        # (local node or None for global, peer ip, port) -> (remote, source BGPPeer name); first wins.
        self.peerings: dict[tuple[str | None, Address, int | None], tuple[_Remote, str]] = {}
        self._peer_counts: dict[str, int] = {}
        # Per node, kept across with_statuses copies: a route reflector's list is its thousands of
        # clients, asked for again by every CalicoNodeStatus update.
        self._expected: dict[tuple[str, bool], tuple[ExpectedPeer, ...]] = {}
        self._sessions: dict[str, tuple[Session, ...]] = {}  # per node, for this copy's statuses
        # Per node, kept across copies: the reported peers the sessions were merged from. calico-node
        # rewrites a status at every update period; unchanged sessions parse to the same PeerStatus
        # objects, so a reflector's thousands of merged sessions are reused by an identity check.
        self._merged: dict[str, tuple[bool, tuple[PeerStatus, ...], tuple[Session, ...]]] = {}
        self._compute_peerings()

    # -- BGPPeer resolution ----------------------------------------------------------------------

    def _matching(self, selector) -> list[Node]:
        return [node for node in self.cluster.nodes if selector.matches(node.labels)]

    def _as_remote(self, node: Node) -> _Remote | None:
        if node.bgp_ipv4 is None:
            return None
        return _Remote(node.bgp_ipv4.ip, None, node.name, self.cluster.as_number_of(node), node.rr_cluster_id)

    def _remotes(self, peer: BGPPeer) -> list[_Remote]:
        if peer.peer_selector is not None:
            return [r for n in self._matching(peer.peer_selector) if (r := self._as_remote(n))]
        if peer.peer_ip is None or peer.peer_ip.version != 4:
            return []
        calico_node = self.node_by_ip.get(peer.peer_ip)
        # confd gives explicit-IP peers no cluster ID, even when the address is a Calico node's.
        return [_Remote(peer.peer_ip, peer.peer_port, calico_node.name if calico_node else None,
                        peer.as_number if peer.as_number is not None else self.cluster.bgp.as_number, None)]

    def _locals(self, peer: BGPPeer) -> list[str]:
        if peer.node_selector is not None:
            return [n.name for n in self._matching(peer.node_selector)]
        return [peer.node] if peer.node else []

    def _reverse_locals(self, peer: BGPPeer) -> list[str]:
        """The Calico nodes on the remote side of a BGPPeer, which get the reverse peering."""
        if peer.peer_selector is not None:
            return [n.name for n in self._matching(peer.peer_selector)]
        node = self.node_by_ip.get(peer.peer_ip) if peer.peer_ip is not None else None
        wanted_as = peer.as_number if peer.as_number is not None else self.cluster.bgp.as_number
        return [node.name] if node is not None and self.cluster.as_number_of(node) == wanted_as else []

    def _emit(self, local: str | None, remote: _Remote, source: str) -> None:
        key = (local, remote.ip, remote.port)
        if key in self.peerings or (local is not None and (None, remote.ip, remote.port) in self.peerings):
            return
        self.peerings[key] = (remote, source)

    def _compute_peerings(self) -> None:
        peers = self.cluster.peers
        for peer in (p for p in peers if p.scope == "global"):
            for remote in self._remotes(peer):
                self._emit(None, remote, peer.name)
        for peer in (p for p in peers if p.scope != "global"):
            remotes = self._remotes(peer)
            for local in self._locals(peer):
                for remote in remotes:
                    self._emit(local, remote, peer.name)
        for peer in peers:
            reverse_locals = self._reverse_locals(peer)
            if not reverse_locals:
                continue
            back = self._locals(peer) if peer.scope != "global" else [n.name for n in self.cluster.nodes]
            remotes = [r for name in back if (n := self.cluster.node(name)) and (r := self._as_remote(n))]
            for local in reverse_locals:
                for remote in remotes:
                    self._emit(local, remote, peer.name)

    # -- per node --------------------------------------------------------------------------------

    @cached_property
    def _by_local(self) -> dict[str | None, list[tuple[_Remote, str]]]:
        grouped: dict[str | None, list[tuple[_Remote, str]]] = {}
        for (local, _, _), value in self.peerings.items():
            grouped.setdefault(local, []).append(value)
        return grouped

    @cached_property
    def _mesh_members(self) -> list[_Remote]:
        """Nodes in the full mesh: BGP speakers without a cluster ID, when the mesh is on."""
        if not self.cluster.bgp.node_to_node_mesh:
            return []
        return [self._as_remote(n) for n in self.speakers.values() if n.rr_cluster_id is None]

    @cached_property
    def _mesh_addresses(self) -> Counter:
        return Counter(remote.ip for remote in self._mesh_members)

    def _in_mesh(self, node: Node) -> bool:
        return self.cluster.bgp.node_to_node_mesh and node.rr_cluster_id is None

    def mesh_peer_count(self, node_name: str) -> int:
        """How many full-mesh sessions the node has, without listing them (a mesh grows as N²)."""
        node = self.speakers.get(node_name)
        if node is None or not self._in_mesh(node):
            return 0
        return len(self._mesh_members) - self._mesh_addresses[node.bgp_ipv4.ip]

    def peer_count(self, node_name: str) -> int:
        count = self._peer_counts.get(node_name)
        if count is None:
            count = self._peer_counts[node_name] = (self.mesh_peer_count(node_name)
                                                    + len(self.expected_peers(node_name, mesh=False)))
        return count

    def with_statuses(self, cluster: Cluster) -> BgpTopology:
        """This topology over `cluster`, which differs from ours only in its CalicoNodeStatus
        objects: the peerings (costly at thousands of nodes) do not depend on them, and statuses
        change every update period."""
        copy = object.__new__(BgpTopology)
        copy.__dict__.update(self.__dict__)
        copy.cluster = cluster
        copy._sessions = {}
        return copy

    def expected_peers(self, node_name: str, mesh: bool = True) -> tuple[ExpectedPeer, ...]:
        """The node's IPv4 sessions as confd configures them; `mesh=False` leaves out full-mesh ones."""
        peers = self._expected.get((node_name, mesh))
        if peers is None:
            peers = self._expected[node_name, mesh] = self._expected_peers(node_name, mesh)
        return peers

    def _expected_peers(self, node_name: str, mesh: bool) -> tuple[ExpectedPeer, ...]:
        node = self.speakers.get(node_name)
        if node is None:
            return ()
        own_ip = node.bgp_ipv4.ip
        own_as = self.cluster.as_number_of(node)
        out: list[ExpectedPeer] = []

        def add(remote: _Remote, type_: str, source: str) -> None:
            if remote.ip == own_ip:
                return
            reflects = (node.rr_cluster_id is not None and remote.as_number == own_as
                        and remote.rr_cluster_id != node.rr_cluster_id)
            out.append(ExpectedPeer(node_name, remote.ip, remote.port, type_, remote.node, remote.as_number,
                                    source, reflects))

        if mesh and self._in_mesh(node):
            for remote in self._mesh_members:
                add(remote, MESH, "node-to-node mesh")
        for remote, source in self._by_local.get(None, []):
            add(remote, GLOBAL_PEER, source)
        for remote, source in self._by_local.get(node_name, []):
            add(remote, NODE_PEER, source)
        return tuple(sorted(out, key=lambda p: (p.type, p.peer_ip, p.port or 0)))

    def status_known(self, node_name: str) -> bool:
        """Whether a CalicoNodeStatus reports this node's BGP sessions."""
        status = self.cluster.node_status(node_name)
        return status is not None and status.reports_bgp

    def sessions(self, node_name: str) -> tuple[Session, ...]:
        """Expected sessions merged with the node's CalicoNodeStatus, then reported-only ones."""
        sessions = self._sessions.get(node_name)
        if sessions is None:
            status = self.cluster.node_status(node_name)
            known = status is not None and status.reports_bgp
            peers = status.peers if known else ()
            hit = self._merged.get(node_name)
            if hit is not None and hit[0] == known and identical(hit[1], peers):
                sessions = hit[2]
            else:
                sessions = self._merged_sessions(node_name)
                self._merged[node_name] = (known, peers, sessions)
            self._sessions[node_name] = sessions
        return sessions

    def _merged_sessions(self, node_name: str) -> tuple[Session, ...]:
        known = self.status_known(node_name)
        observed = {(p.peer_ip, p.type): p for p in self.cluster.node_status(node_name).peers} if known else {}
        out = []
        for expected in self.expected_peers(node_name):
            out.append(Session(node_name, expected, observed.pop((expected.peer_ip, expected.type), None), known))
        out.extend(Session(node_name, None, p, known) for p in observed.values())
        return tuple(out)

    def observed_sessions(self) -> tuple[Session, ...]:
        """The sessions of every node a CalicoNodeStatus reports on, merged with expectations."""
        return tuple(s for n in self.cluster.nodes if self.status_known(n.name) for s in self.sessions(n.name))


def bgp_topology(cluster: Cluster) -> BgpTopology:
    return BgpTopology(cluster)
