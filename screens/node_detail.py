"""Node detail (enter on a node): its blocks, every address it holds, its BGP sessions, its system pods.

Refreshed live from each new view while open; all tables are keyed diffs like the dashboard's.
"""

from __future__ import annotations

from ipaddress import ip_network

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from screens.yaml_view import YamlScreen
from tui import keys
from tui.model.bgp import Session
from tui.model.config import PodState
from widgets.bgp import BgpPane, role
from widgets.freshness import describe
from widgets.header import finding_line
from widgets.nodes import NodesPane, per_pool, route_reflector_cell, status_cell, tunnel_cell
from widgets.table_sync import keyed_table, selected_key, sync_rows
from widgets.usage import usage_cell

SECTIONS = {
    "blocks": ("IPAM blocks", ("block", "pool", "affinity", "usage")),
    "ips": ("Allocated IPs", ("IP", "owner", "block", "handle")),
    "sessions": ("BGP sessions", ("peer", "peer node", "type", "source", "state", "since")),
    "pods": ("kube-proxy and calico-node pods", ("pod", "phase", "ready", "restarts", "started", "config")),
}
# What `y` shows for a row of each table: the raw collection the row key names an object of.
YAML_KIND = {"blocks": "ipamblocks", "pods": "pods"}


def block_rows(view, node: str) -> dict[str, tuple]:
    usage = next((u for u in view.nodes if u.name == node), None)
    if usage is None:
        return {}
    return {block.name: (str(block.cidr), usage.block_pools.get(block.name) or "⚠ no pool",
                         block.affinity or "released", usage_cell(block.in_use, block.capacity))
            for block in usage.blocks}


def ip_rows(view, node: str) -> dict[str, tuple]:
    """Every address held by the node or allocated in its blocks; borrowed ones say whose block."""
    rows = {}
    for block in view.cluster.blocks:
        for allocation in block.allocations:
            if allocation.node != node and block.affinity_node != node:
                continue
            if allocation.node != node:
                note = f" (held by {allocation.node or 'no node'})"
            elif block.affinity_node != node:
                note = f" (borrowed from {block.affinity_node or 'no owner'}'s block)"
            else:
                note = ""
            owner = allocation.owner if allocation.kind == "pod" else f"tunnel {allocation.kind}"
            rows[str(allocation.ip)] = (str(allocation.ip), owner + note, str(block.cidr), allocation.handle or "")
    return rows


def session_state(session: Session) -> Text:
    if session.observed is None:
        return Text("? not reported" if not session.status_known else "✖ missing", style="" if not
                    session.status_known else "bold red")
    if session.expected is None:
        return Text(f"⚠ {session.observed.state} (not expected)", style="yellow")
    if session.established:
        return Text("✔ Established")
    return Text(f"✖ {session.observed.state or 'unknown'}", style="bold red")


def session_rows(view, node: str) -> dict[str, tuple]:
    rows = {}
    for session in view.sessions.get(node) or view.bgp.sessions(node):
        expected = session.expected
        key = f"{session.peer_ip}/{session.type}"
        rows[key] = (str(session.peer_ip), (expected.peer_node if expected else None) or "external",
                     session.type, expected.source if expected else "—", session_state(session),
                     (session.observed.since if session.observed else None) or "")
    return rows


def pod_row(pod: PodState, config: str) -> tuple:
    ready = "✔ ready" if pod.ready else f"✖ {pod.waiting_reason or 'not ready'}"
    return (pod.meta.ref, pod.phase or "?", ready, str(pod.restart_count), pod.start_time or "", config)


def pod_rows(view, node: str) -> dict[str, tuple]:
    cluster = view.cluster
    rows = {}
    for proxy in cluster.kube_proxy_pods:
        if proxy.pod.node == node:
            config = {True: "⚠ stale config", False: "✔ current config", None: "? unknown"}[proxy.stale]
            rows[proxy.pod.name] = pod_row(proxy.pod, config)
    for pod in cluster.calico_node_pods:
        if pod.node == node:
            rows[pod.name] = pod_row(pod, "")
    return rows


def address_order(text: str) -> tuple:
    """Addresses and CIDRs in numeric order (10.0.0.9 before 10.0.0.10), anything else by text."""
    try:
        return (0, ip_network(text, strict=False).network_address.packed, text)
    except ValueError:
        return (1, b"", text)


ROWS = {"blocks": block_rows, "ips": ip_rows, "sessions": session_rows, "pods": pod_rows}


def node_summary(view, node_name: str) -> str:
    usage = next((u for u in view.nodes if u.name == node_name), None)
    node = usage.node if usage else None
    if node is None:
        return f"{node_name} · ✖ not in the cluster (any rows below are IPAM leftovers)"
    bgp = f"BGP {node.bgp_ipv4} AS {view.cluster.as_number_of(node)}" if node.bgp_ipv4 else "no BGP address"
    rr = route_reflector_cell(node).plain
    parts = [node.name, ",".join(node.roles) or "no role", status_cell(node), bgp, rr or role(node),
             "podCIDR " + (",".join(map(str, node.pod_cidrs)) or "—"), "tunnel " + tunnel_cell(usage),
             "; ".join(f"{pool}: {blocks} blocks, {ips} IPs" for pool, (blocks, ips) in per_pool(usage).items())]
    findings = [finding_line(f) for f in view.findings if f.subject == f"node/{node_name}"]
    return "\n".join([" · ".join(p for p in parts if p), *findings])


class NodeDetailScreen(Screen[None]):
    BINDINGS = keys.bindings(keys.NODE_DETAIL)
    SCOPE = keys.NODE_DETAIL
    DEFAULT_CSS = """
    NodeDetailScreen #summary { background: $panel; padding: 0 1; }
    NodeDetailScreen .section { text-style: bold; margin-top: 1; padding: 0 1; }
    NodeDetailScreen DataTable { height: auto; max-height: 16; }
    """

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def compose(self) -> ComposeResult:
        yield Static(self.node, id="summary")
        with VerticalScroll():
            for key, (title, columns) in SECTIONS.items():
                yield Static(title, classes="section", id=f"{key}-title")
                yield keyed_table(f"{key}-table", columns)
        yield Footer()

    def on_mount(self) -> None:
        if self.app.view is not None:
            self.show_view(self.app.view)
        self.query_one("#blocks-table", DataTable).focus()

    def show_view(self, view) -> None:
        health = view.pane_health(NodesPane.RESOURCES + BgpPane.RESOURCES)
        stale = f"{describe(health, self.app.clock())} — last known state, not current\n" if health.stale else ""
        summary = stale + node_summary(view, self.node)
        widget = self.query_one("#summary", Static)
        if str(widget.content) != summary:
            widget.update(summary)
        for key, rows in ROWS.items():
            found = rows(view, self.node)
            table = self.query_one(f"#{key}-table", DataTable)
            if sync_rows(table, found):
                table.sort(SECTIONS[key][1][0], key=address_order)
            self.query_one(f"#{key}-title", Static).update(f"{SECTIONS[key][0]} ({len(found)})")

    def action_yaml(self) -> None:
        """The selected block or pod; otherwise (IPs, sessions) the node itself."""
        view = self.app.view
        if view is None:
            return
        focused = self.focused
        section = focused.id.removesuffix("-table") if isinstance(focused, DataTable) and focused.id else ""
        kind, name = YAML_KIND.get(section, "nodes"), self.node
        if section in YAML_KIND:
            name = selected_key(focused)
            if name is None:
                return
        obj = view.find(kind, name)
        if obj is not None:
            self.app.push_screen(YamlScreen(kind, obj))
