"""calico-node's status reporter: CalicoNodeStatus `status` from the BGP sessions BIRD would run.

Which sessions a node's BIRD configures is confd's job; the simulator reuses the model's rendering
of confd's rules (tui.model.bgp) for that, and simulates what the model cannot know: session
state. A session is Established when both ends run (node Ready, calico-node running) and the remote
Calico node configures the session back; external peers are assumed up. A change in topology or
readiness reaches the reported state after a short delay (`Timings.bgp_transition`); until then a
new session shows `Connect`. Nodes that are down stop reporting: their status goes stale.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone

from tui.model.bgp import MESH, bgp_topology
from tui.model.cluster import build_cluster
from tui.sim.clock import parse_rfc3339, rfc3339
from tui.sim.controllers import ipam_blocks as ib
from tui.sim.controllers.base import (BGPCONFIGURATIONS, BGPPEERS, BY_NODE, CALICONODESTATUSES, CNI_INSTALLED,
                                      IPAMBLOCKS, IPPOOLS, NODES, PODS, Controller, key_of)
from tui.sim.controllers.calico_node import is_calico_node
from tui.sim.controllers.ipam import pool_spec
from tui.sim.node_objects import is_node_ready

STATUS, NODE, POD = key_of(CALICONODESTATUSES), key_of(NODES), key_of(PODS)
TOPOLOGY_KEYS = (NODE, key_of(BGPCONFIGURATIONS), key_of(BGPPEERS))
BIRD_VERSION = "v0.3.3+birdv1.6.8"
ESTABLISHED = "Established"


def bird_time(seconds: float, now: float) -> str:
    """BIRD's default protocol time format: the time of day today, else the date."""
    when = datetime.fromtimestamp(seconds, tz=timezone.utc)
    today = datetime.fromtimestamp(now, tz=timezone.utc).date()
    return when.strftime("%H:%M:%S") if when.date() == today else when.strftime("%Y-%m-%d")


@dataclass
class SessionState:
    type: str
    state: str
    since: float
    target: str = ""
    due: float = 0.0


class BgpStatus(Controller):
    name = "calico-node/status"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._topology = None
        self._expected: dict[str, tuple] = {}
        self._sessions: dict[str, dict[str, SessionState]] = {}  # node -> peer ip -> state
        self._reconfigured: dict[str, float] = {}

    def initial_keys(self):
        return [s["metadata"]["name"] for s in self.cache.list(STATUS)]

    def on_change(self, event, key, obj, old):
        if key in TOPOLOGY_KEYS:
            if key != NODE or event != "MODIFIED" or _bgp_facts(obj) != _bgp_facts(old or {}):
                self._topology = None
            yield from self.initial_keys()
        elif key == STATUS and (event != "MODIFIED" or obj.get("spec") != (old or {}).get("spec")):
            yield obj["metadata"]["name"]
        elif key == POD and is_calico_node(obj):
            yield from self.initial_keys()

    def on_host(self, node, action):
        if action != CNI_INSTALLED:
            yield from self.initial_keys()

    def topology(self):
        if self._topology is None:
            nodes = [{"metadata": {k: n["metadata"].get(k) for k in ("name", "labels", "annotations")}}
                     for n in self.cache.list(NODE)]  # BGP only looks at labels and annotations
            raw = {"nodes": nodes, "bgpconfigurations": self.cache.list(key_of(BGPCONFIGURATIONS)),
                   "bgppeers": self.cache.list(key_of(BGPPEERS))}
            self._topology = bgp_topology(build_cluster(raw))
            self._expected = {}
        return self._topology

    def expected(self, node: str) -> tuple:
        """The node's configured sessions (memoised with the topology they come from)."""
        topology = self.topology()
        if node not in self._expected:
            self._expected[node] = topology.expected_peers(node)
        return self._expected[node]

    def up(self, node: str | None) -> bool:
        """The node's BGP speaker runs: host up, node Ready, calico-node running."""
        if node is None:
            return True
        host, obj = self.ctx.hosts.get(node), self.cache.get(NODE, None, node)
        if host is None or not host.kubelet_running or obj is None or not is_node_ready(obj):
            return False
        return any(is_calico_node(p) and (p.get("status") or {}).get("phase") == "Running"
                   and not p["metadata"].get("deletionTimestamp") for p in self.cache.by_index(POD, BY_NODE, node))

    def sync(self, name: str) -> None:
        obj = self.cache.get(STATUS, None, name)
        if obj is None:
            return
        node = (obj.get("spec") or {}).get("node", "")
        if not self.up(node):
            return  # calico-node is not running there: nobody updates this status
        now = self.ctx.now()
        sessions = self._advance(node, now)
        status = self._status(obj, node, sessions, now)
        previous = {k: v for k, v in (obj.get("status") or {}).items() if k != "lastUpdated"}
        period = int((obj.get("spec") or {}).get("updatePeriodSeconds", 10) or 0)
        last = (obj.get("status") or {}).get("lastUpdated")
        stale = last is None or (period and now >= parse_rfc3339(last) + period)
        if previous != {k: v for k, v in status.items() if k != "lastUpdated"} or stale:
            self.set_status(CALICONODESTATUSES, obj, status)
        if period:
            self.after(period, name, periodic=True)
        pending = [s.due for s in sessions.values() if s.target]
        if pending:
            self.after(max(0.0, min(pending) - now), name)

    def _advance(self, node: str, now: float) -> dict[str, SessionState]:
        """Move each session towards the state its ends imply, after the transition delay."""
        topology = self.topology()
        current = self._sessions.setdefault(node, {})
        expected = {str(p.peer_ip): p for p in self.expected(node)}
        own = topology.speakers.get(node)
        own_ip = str(own.bgp_ipv4.ip) if own is not None else None
        delay = self.ctx.timings.bgp_transition
        if set(expected) != set(current):
            self._reconfigured[node] = now
        for ip in list(current):
            if ip not in expected:
                del current[ip]  # BIRD drops a protocol removed from its configuration at once
        for ip, peer in expected.items():
            reciprocated = peer.peer_node is None or any(
                str(back.peer_ip) == own_ip for back in self.expected(peer.peer_node))
            wanted = ESTABLISHED if self.up(peer.peer_node) and reciprocated else (
                "Active" if self.up(peer.peer_node) else "Connect")
            session = current.get(ip)
            if session is None:
                session = current[ip] = SessionState(peer.type, "Connect" if delay else wanted, now)
            session.type = peer.type
            if session.state == wanted:
                session.target = ""
            elif session.target != wanted:
                session.target, session.due = wanted, now + delay
            if session.target and now >= session.due:
                session.state, session.since, session.target = session.target, now, ""
        return current

    def _status(self, obj: dict, node: str, sessions: dict[str, SessionState], now: float) -> dict:
        classes = (obj.get("spec") or {}).get("classes") or []
        status: dict = {"lastUpdated": rfc3339(now)}
        topology = self.topology()
        own = topology.speakers.get(node)
        if "Agent" in classes:
            pod = next((p for p in self.cache.by_index(POD, BY_NODE, node) if is_calico_node(p)), None)
            started = ((pod or {}).get("status") or {}).get("startTime")
            boot = parse_rfc3339(started) if started else now
            status["agent"] = {"birdV4": {
                "state": "Ready", "version": BIRD_VERSION, "routerID": str(own.bgp_ipv4.ip) if own else "",
                "lastBootTime": _bird_stamp(boot), "lastReconfigurationTime":
                    _bird_stamp(self._reconfigured.get(node, boot))}}
        if "BGP" in classes:
            peers = [{"peerIP": ip, "type": s.type, "state": s.state, "since": bird_time(s.since, now)}
                     for ip, s in sorted(sessions.items(), key=lambda kv: ipaddress.ip_address(kv[0]))]
            up = sum(1 for p in peers if p["state"] == ESTABLISHED)
            status["bgp"] = {"numberEstablishedV4": up, "numberNotEstablishedV4": len(peers) - up,
                             "numberEstablishedV6": 0, "numberNotEstablishedV6": 0, "peersV4": peers}
        if "Routes" in classes:
            status["routes"] = {"routesV4": self._routes(node, sessions)}
        return status

    def _routes(self, node: str, sessions: dict[str, SessionState]) -> list[dict]:
        """Routes to other nodes' blocks learnt over Established sessions (directly or reflected)."""
        topology = self.topology()
        learnt: dict[str, tuple[str, str]] = {}  # origin node -> (source type, peer ip)
        for ip, session in sessions.items():
            if session.state != ESTABLISHED:
                continue
            peer = topology.node_by_ip.get(ipaddress.ip_address(ip))
            if peer is None:
                continue
            source = "NodeMesh" if session.type == MESH else "BGPPeer"
            learnt.setdefault(peer.name, (source, ip))
            if peer.rr_cluster_id is not None:
                for other in self.expected(peer.name):
                    if other.peer_node and other.peer_node != node and self.up(other.peer_node):
                        learnt.setdefault(other.peer_node, (source, ip))
        pools = [pool_spec(p) for p in self.cache.list(key_of(IPPOOLS))]
        own = topology.speakers.get(node)
        routes = []
        for block in self.cache.list(key_of(IPAMBLOCKS)):
            origin = ib.node_of(block["spec"])
            if origin not in learnt or origin == node or origin not in topology.speakers:
                continue
            source, peer_ip = learnt[origin]
            gateway = topology.speakers[origin].bgp_ipv4
            routes.append({"type": "FIB", "destination": block["spec"]["cidr"], "gateway": str(gateway.ip),
                           "interface": _interface(block["spec"]["cidr"], pools, own.bgp_ipv4 if own else None,
                                                   gateway),
                           "learnedFrom": {"sourceType": source, "peerIP": peer_ip}})
        return routes


def _interface(cidr: str, pools: list[dict], own, gateway) -> str:
    net = ipaddress.ip_network(cidr)
    pool = next((p for p in pools if net.subnet_of(ipaddress.ip_network(p["cidr"]))), {})
    mode = pool.get("ipipMode", "Never")
    same_subnet = own is not None and gateway.ip in own.network
    if mode == "Always" or (mode == "CrossSubnet" and not same_subnet):
        return "tunl0"
    if pool.get("vxlanMode", "Never") == "Always" or (pool.get("vxlanMode") == "CrossSubnet" and not same_subnet):
        return "vxlan.calico"
    return "eth0"


def _bgp_facts(node: dict) -> tuple:
    meta = node.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith("projectcalico.org/")}
    return meta.get("labels"), annotations


def _bird_stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
