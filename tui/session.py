"""One cluster as the dashboard uses it: connect, detect, capabilities, live cache, model building.

Every method here blocks (HTTP) and is called from the app's thread workers, never from the UI.
Change sets from the cache are built into the model on the cache's delivery thread, so the UI thread
only diffs rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tui import audit
from tui.kube.cache import ChangeSet, ClusterCache
from tui.kube.detect import ClusterInfo, detect
from tui.kube.rbac import Capabilities
from tui.heap import Heap
from tui.kube.reflector import Health
from tui.model.bgp import BgpTopology, bgp_topology
from tui.model.bgp import Session as BgpSession
from tui.model.cluster import Cluster, ParseMemo, build_cluster
from tui.model.findings import Finding, bgp_config_findings, bgp_in_use, bgp_session_findings, cluster_findings
from tui.model.raw import RawCluster
from tui.model.usage import NodeUsage, PoolUsage, node_usage, pool_usage
from widgets.freshness import FAILED, LIVE, LOADING, RECONNECTING, PaneHealth, worst

MAX_NODE_STATUSES = 10
MANAGED_BY = {"app.kubernetes.io/managed-by": "calico-tui"}
REFRESH_HZ = 10  # at most this many redraws a second; at 4 the wait alone put p99 event-to-screen past 250 ms


@dataclass(frozen=True)
class Opened:
    """What the header shows about the cluster and what this identity may do."""

    context: str
    server: str
    info: ClusterInfo
    capabilities: Capabilities
    read_only: bool
    read_only_reason: str


RRClusters = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]


@dataclass(frozen=True)
class LiveView:
    """One coalesced picture: the model with its derived views (computed off the UI thread), the raw
    objects it came from, and per-resource health."""

    cluster: Cluster
    pools: tuple[PoolUsage, ...]
    nodes: tuple[NodeUsage, ...]
    bgp: BgpTopology
    expected_peers: dict[str, int]  # BGP sessions each node should have, from the configuration
    sessions: dict[str, tuple[BgpSession, ...]]  # merged with observed states, nodes with a CalicoNodeStatus
    rr_clusters: RRClusters  # cluster ID -> (reflectors, clients)
    findings: tuple[Finding, ...]
    raw: RawCluster
    health: dict[str, PaneHealth]
    received: float
    changed: frozenset[str] = frozenset()

    @classmethod
    def build(cls, raw: RawCluster, health: dict[str, PaneHealth], received: float,
              changed: frozenset[str] = frozenset(), memo: ParseMemo | None = None) -> LiveView:
        """`memo` carried from one change set to the next keeps unchanged objects parsed.

        Per-session detail is derived only for nodes that report sessions (a CalicoNodeStatus,
        at most a handful); every other node gets its expected count, which stays cheap at
        thousands of nodes. The node detail screen derives one node's sessions on demand.
        """
        cluster = build_cluster(raw, memo)
        def derive(compute, *inputs):
            return compute(*inputs) if memo is None else memo.derived(compute, *inputs)

        shape, expected, rr_clusters, configured = derive(bgp_shape, cluster.nodes, cluster.peers, cluster.bgp)
        topology, sessions, bgp = derive(bgp_state, shape, configured, cluster.node_statuses, bgp_in_use(cluster))
        pools, nodes = pool_usage(cluster, memo), node_usage(cluster, memo)
        findings = cluster_findings(cluster, topology, pools, nodes, bgp)
        if memo is not None:
            memo.rotate()
        return cls(cluster, pools, nodes, topology, expected, sessions, rr_clusters, findings, raw, health,
                   received, changed)

    def pane_health(self, resources: tuple[str, ...]) -> PaneHealth:
        """The worst health among the watches a pane depends on (unwatched ones are ignored)."""
        return worst([self.health[r] for r in resources if r in self.health])

    def find(self, kind: str, name: str) -> dict | None:
        """The raw object `kind/name` as the API served it (for the YAML view)."""
        return next((o for o in self.raw.get(kind, ()) if o.get("metadata", {}).get("name") == name), None)


def bgp_shape(nodes, peers, bgp):
    """The configured BGP topology, each node's expected session count, the route-reflector
    clusters and the findings of the configuration: they depend on nodes, BGPPeers and
    BGPConfiguration only, so IPAM churn and status updates (the busy cases at scale) reuse them as
    they are. Built on a cluster of just these parts, the topology keeps no old blocks alive."""
    part = Cluster(nodes=nodes, peers=peers, bgp=bgp)
    topology = bgp_topology(part)
    expected = {node.name: topology.peer_count(node.name) for node in nodes}
    return topology, expected, route_reflector_clusters(part, topology), bgp_config_findings(part, topology)


def bgp_state(shape: BgpTopology, configured: list[Finding], node_statuses, in_use: bool):
    """The topology with the CalicoNodeStatus reports, session detail for the nodes that have one,
    and the BGP findings."""
    base = shape.cluster
    topology = shape.with_statuses(Cluster(nodes=base.nodes, peers=base.peers, bgp=base.bgp,
                                           node_statuses=node_statuses))
    reporting = {status.node for status in node_statuses}
    sessions = {node.name: topology.sessions(node.name) for node in base.nodes if node.name in reporting}
    return topology, sessions, configured + bgp_session_findings(topology) if in_use else []


def route_reflector_clusters(cluster: Cluster, topology: BgpTopology) -> RRClusters:
    """Route-reflector cluster ID → (its reflectors, the nodes they reflect routes for)."""
    reflectors: dict[str, list[str]] = {}
    for node in cluster.nodes:
        if node.rr_cluster_id:
            reflectors.setdefault(node.rr_cluster_id, []).append(node.name)
    return {cluster_id: (tuple(names), tuple(sorted({p.peer_node for rr in names for p in topology.expected_peers(rr)
                                                     if p.route_reflector_client and p.peer_node})))
            for cluster_id, names in reflectors.items()}


def failure_summary(error: BaseException | None) -> tuple[str, str]:
    """(one-line cause, what to try) for any failure a worker reports; never a traceback."""
    from kubernetes.client.exceptions import ApiException

    from tui.kube.connection import status_message

    if isinstance(error, ApiException):
        summary = f"HTTP {error.status}: {status_message(error)}"
    else:
        summary = getattr(error, "summary", None) or f"{type(error).__name__}: {error}"
    text = summary.lower()
    if "401" in text or "unauthorized" in text:
        hint = "The credentials were rejected: refresh the token or pick another --context."
    elif "403" in text or "forbidden" in text:
        hint = "This identity may not read Calico objects: ask for list/watch on crd.projectcalico.org."
    elif "certificate" in text or "tls" in text or "ssl" in text:
        hint = "TLS verification failed: check certificate-authority in the kubeconfig."
    else:
        hint = "Check that the API server is reachable from here (VPN, bastion, --kubeconfig, --context)."
    return summary, hint


def pane_health(health: Health) -> PaneHealth:
    """Translate the cache's health of one watched collection into what a pane shows.

    The cache retries forever; an identity that may not read a collection will not heal by
    retrying, so that one is a failure rather than a reconnect.
    """
    if health.synced and health.reconnecting_since is None and not health.error:
        return PaneHealth(LIVE)
    if health.reconnecting_since is None and not health.error:
        return PaneHealth(LOADING)
    error = health.error or ""
    denied = any(word in error.lower() for word in ("forbidden", "unauthorized"))
    return PaneHealth(FAILED if denied else RECONNECTING, health.reconnecting_since, error)


class Session:
    """A connection to one cluster; `force_read_only` wins over any capability (`--read-only`)."""

    def __init__(self, kubeconfig: str | None, context: str | None, *, force_read_only: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.force_read_only = force_read_only
        self.clock = clock
        self.conn = None
        self.cache = None
        self.opened: Opened | None = None
        self._created_statuses: set[str] = set()
        self.heap = Heap()  # collector policy once the cluster is listed (tui.heap)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def target(self) -> str:
        where = f"context {self.context}" if self.context else "the current context"
        return f"{where} of {self.kubeconfig or 'the default kubeconfig'}"

    def open(self) -> Opened:
        from tui.kube.connection import access_error, connect
        from tui.kube.rbac import check_capabilities

        self._release()  # a retry replaces the previous connection
        conn = connect(self.kubeconfig, self.context)
        try:
            info = detect(conn)
            caps = check_capabilities(conn, info.served)
        except Exception as exc:
            conn.close()
            raise access_error(exc, conn.server, conn.user) or exc from exc
        reason = ("--read-only" if self.force_read_only
                  else "identity cannot write" if caps.read_only else "")
        audit.attach(conn)  # CalicoNodeStatus requests are changes to the cluster too
        with self._lock:
            if self._closed:  # the app quit while we were connecting: start no watch threads
                conn.close()
                raise SessionClosed("closed while connecting")
            self.conn = conn
            self.opened = Opened(conn.context, conn.server, info, caps, bool(reason), reason)
            self.cache = ClusterCache(conn, info.served).start()
        return self.opened

    def subscribe(self, deliver: Callable[[LiveView], None]) -> None:
        """Call `deliver` with a built LiveView for every coalesced change set (cache thread)."""
        memo = ParseMemo()

        def on_change(change: ChangeSet) -> None:
            health = {name: pane_health(h) for name, h in change.health.items()}
            view = LiveView.build(change.raw, health, self.clock(), change.resources_changed, memo)
            if all(h.state == LIVE for h in health.values()):
                self.heap.settle()  # everything is listed and parsed: long-lived from here on
            deliver(view)
            self.heap.tick()

        with self._lock:
            if self.cache is not None:
                self.cache.subscribe(on_change, max_rate_hz=REFRESH_HZ)

    def fetch(self, kind: str, name: str) -> dict:
        """One object whole, from the API: the cache keeps IPAM blocks reduced (LeanBlocks)."""
        cache, conn = self.cache, self.conn
        if cache is None or conn is None:
            raise SessionClosed("not connected")
        return conn.get(f"{cache.spec(kind).path}/{name}")

    def relist(self) -> None:
        """List everything again (nothing to do before the first connection succeeded)."""
        if self.cache is not None:
            self.cache.relist()

    @property
    def status_group(self) -> str | None:
        """CalicoNodeStatus is written through projectcalico.org/v3 when served, else the v1 CRD it
        is read from (a status request, not configuration)."""
        info = self.opened.info if self.opened else None
        return info and (info.write_group or info.calico_read_group)

    @property
    def can_request_node_status(self) -> bool:
        opened, group = self.opened, self.status_group
        return bool(opened and group and not opened.read_only
                    and opened.capabilities.can("create", group.split("/")[0], "caliconodestatuses"))

    def request_node_status(self, nodes: list[str]) -> list[str]:
        """Create CalicoNodeStatus objects (Agent + BGP, every 10 s) for up to 10 nodes; return them."""
        if not self.can_request_node_status:
            raise PermissionError("read-only: creating CalicoNodeStatus objects needs write access")
        group = self.status_group
        with self._lock:
            room = MAX_NODE_STATUSES - len(self._created_statuses)
            wanted = [n for n in nodes if status_name(n) not in self._created_statuses][:max(room, 0)]
            for node in wanted:
                body = {"apiVersion": group, "kind": "CalicoNodeStatus",
                        "metadata": {"name": status_name(node), "labels": dict(MANAGED_BY)},
                        "spec": {"node": node, "classes": ["Agent", "BGP"], "updatePeriodSeconds": 10}}
                self.conn.request("POST", f"/apis/{group}/caliconodestatuses", body=body)
                self._created_statuses.add(status_name(node))
        return wanted

    def close(self) -> None:
        """Stop watching and remove the CalicoNodeStatus objects this session created, for good: a
        connection a worker is still opening is abandoned rather than started."""
        with self._lock:
            self._closed = True
        self._release()

    def _release(self) -> None:
        if self.conn is not None and self._created_statuses:
            group = self.status_group
            for name in sorted(self._created_statuses):
                try:
                    self.conn.request("DELETE", f"/apis/{group}/caliconodestatuses/{name}")
                except Exception:  # noqa: BLE001 - best effort on exit; the objects carry our label
                    pass
            self._created_statuses.clear()
        if self.cache is not None:
            self.cache.stop()
            self.cache = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.heap.release()


class SessionClosed(Exception):
    """The session was closed while a worker was still opening it."""


def status_name(node: str) -> str:
    return f"calico-tui-{node}"
