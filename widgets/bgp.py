"""BGP pane: global AS and mesh, BGPPeers, route-reflector clusters with clients, sessions, findings."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from tui.model.identity import identical
from widgets.header import finding_line
from widgets.pane import Pane
from widgets.table_sync import RowMemo, keyed_table, selected_key, sync_rows

PEER_COLUMNS = ("name", "scope", "local side", "peer", "AS")
SESSION_COLUMNS = ("node", "role", "expected", "observed (CalicoNodeStatus)")


def observed_sessions(view) -> tuple[int, int, int]:
    """(sessions Established, sessions expected, nodes reporting) over the nodes whose
    CalicoNodeStatus reports BGP; the migration screen's live strip shows the same figure."""
    reporting = [name for name, sessions in view.sessions.items() if sessions and sessions[0].status_known]
    established = sum(1 for name in reporting for s in view.sessions[name] if s.established)
    expected = sum(1 for name in reporting for s in view.sessions[name] if s.expected is not None)
    return established, expected, len(reporting)


def bgp_summary(view) -> str:
    """Global settings, RR clusters and what the sessions add up to, in a few lines."""
    bgp = view.cluster.bgp
    mesh = "✔ on" if bgp.node_to_node_mesh else "✖ off"
    source = "" if bgp.present else " (defaults: no BGPConfiguration default)"
    lines = [f"AS {bgp.as_number} · node-to-node mesh {mesh}{source} · {len(view.cluster.peers)} BGPPeers"]
    for cluster_id, (reflectors, clients) in sorted(view.rr_clusters.items()):
        lines.append(f"RR cluster {cluster_id}: ◆ {', '.join(reflectors)} → {len(clients)} clients")
    established, expected, reporting = observed_sessions(view)
    if reporting:
        lines.append(f"Observed: {established}/{expected} sessions Established on {reporting} nodes "
                     "with CalicoNodeStatus")
    else:
        lines.append("Observed: no CalicoNodeStatus yet (b requests live BGP status)")
    lines.extend(finding_line(f) for f in view.findings if f.id.startswith("bgp."))
    return "\n".join(lines)



def peer_rows(view) -> dict[str, tuple]:
    rows = {}
    for peer in view.cluster.peers:
        local = {"global": "all nodes", "node": peer.node or "",
                 "selector": str(peer.node_selector)}[peer.scope]
        if peer.peer_selector is not None:
            remote = f"nodes {peer.peer_selector}"
        else:
            port = f":{peer.peer_port}" if peer.peer_port else ""
            remote = f"{peer.peer_ip}{port}" if peer.peer_ip else "—"
        as_number = str(peer.as_number) if peer.as_number is not None else "their own"
        rows[peer.name] = (peer.name, peer.scope, local, remote, as_number)
    return rows


def role(node) -> str:
    if node.bgp_ipv4 is None:
        return "— no BGP address"
    if node.rr_cluster_id:
        return f"◆ RR {node.rr_cluster_id}"
    return "client"


def observed_cell(node, expected: int, sessions) -> Text:
    if node.bgp_ipv4 is None:
        return Text("—")
    if not expected and not sessions:
        return Text("⚠ no BGP peers", style="bold yellow")
    if not sessions or not sessions[0].status_known:
        return Text("? not reported")
    up = sum(1 for s in sessions if s.established)
    expected = sum(1 for s in sessions if s.expected is not None)
    if up == len(sessions):
        return Text(f"✔ {up}/{expected} Established")
    return Text(f"✖ {up}/{expected} Established", style="bold red")


def session_row(node, expected: int, sessions) -> tuple:
    return node.name, role(node), str(expected), observed_cell(node, expected, sessions)


def session_rows(view, memo: RowMemo) -> dict[str, tuple]:
    """A row per node; a node whose Node, expected count and sessions are the objects of last time
    keeps its row (a CalicoNodeStatus update re-formats that node only, not all 5,000)."""
    rows = {}
    expected_peers, sessions = view.expected_peers, view.sessions
    for node in view.cluster.nodes:
        inputs = (node, expected_peers.get(node.name, 0), sessions.get(node.name, ()))
        rows[node.name] = memo.get(node.name, inputs, lambda: session_row(node, *inputs[1:]))
    memo.keep_only(rows)
    return rows


class BgpPane(Pane):
    TITLE = "BGP"
    RESOURCES = ("bgpconfigurations", "bgppeers", "caliconodestatuses", "nodes")
    DEFAULT_CSS = """
    BgpPane > Horizontal { height: 1fr; }
    BgpPane #bgp-left { width: 1fr; }
    BgpPane #bgp-summary { height: auto; max-height: 50%; padding: 0 1; }
    BgpPane #peers-table { height: 1fr; }
    BgpPane #sessions-table { width: 1fr; height: 1fr; }
    """

    _shown_from: tuple = ()  # the view parts the pane last showed
    _shown_findings: list | None = None

    def __init__(self, clock, **kwargs) -> None:
        super().__init__(clock, **kwargs)
        self._session_rows = RowMemo()

    def compose_body(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="bgp-left"):
                yield Static("", id="bgp-summary", classes="pane-text")
                yield keyed_table("peers-table", PEER_COLUMNS)
            yield keyed_table("sessions-table", SESSION_COLUMNS)

    def show_view(self, view) -> None:
        self.show_health(view.pane_health(self.RESOURCES))
        inputs = (view.cluster.bgp, view.cluster.peers, view.cluster.nodes, view.expected_peers, view.sessions,
                  view.rr_clusters)
        findings = [f for f in view.findings if f.id.startswith("bgp.")]
        if identical(inputs, self._shown_from) and findings == self._shown_findings:
            return  # IPAM churn: the live view reuses its BGP parts, and a row per node costs at 5,000
        self._shown_from, self._shown_findings = inputs, findings
        summary = bgp_summary(view)
        widget = self.query_one("#bgp-summary", Static)
        if str(widget.content) != summary:
            widget.update(summary)
        sync_rows(self.query_one("#peers-table", DataTable), peer_rows(view))
        sessions = self.query_one("#sessions-table", DataTable)
        if sync_rows(sessions, session_rows(view, self._session_rows)):
            sessions.sort("node")

    def selected_object(self) -> tuple[str, str] | None:
        sessions = self.query_one("#sessions-table", DataTable)
        if sessions.has_focus:
            node = selected_key(sessions)
            return ("nodes", node) if node else None
        peer = selected_key(self.query_one("#peers-table", DataTable))
        return ("bgppeers", peer) if peer else None
