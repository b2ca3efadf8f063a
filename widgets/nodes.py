"""Nodes pane: readiness, route-reflector role, BGP identity, tunnel address, podCIDR, blocks and IPs per pool.

Rows are keyed by node name and diffed; the sort column is the user's (`s` or a header click); `/`
filters by name or by a Kubernetes label selector.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from tui.model.cidr import Network
from tui.model.identity import changed_positions, identical
from tui.model.node import Node
from tui.model.usage import NodeUsage
from tui.model.k8s_selectors import SelectorError, parse_label_selector
from widgets.pane import Pane
from widgets.table_sync import RowMemo, keyed_table, selected_key, sync_rows

# The migration's questions first (where are the blocks and IPs, is the podCIDR right), BGP identity after.
COLUMNS = ("name", "roles", "status", "route reflector", "blocks / IPs per pool", "podCIDR", "BGP address", "AS",
           "tunnel")
SELECTOR_MARKS = ("=", "!", ",", "/", " in ", " notin ")

NodeMatcher = Callable[[str, dict], bool]


def node_matcher(text: str) -> NodeMatcher:
    """A plain word matches node names (substring); anything selector-shaped is a label selector.

    Raises SelectorError with the parser's message for a malformed selector.
    """
    text = text.strip()
    if not text:
        return lambda name, labels: True
    if any(mark in text for mark in SELECTOR_MARKS):
        selector = parse_label_selector(text)
        return lambda name, labels: selector.matches(labels)
    return lambda name, labels: text in name


def status_cell(node: Node | None) -> str:
    if node is None:
        return "✖ gone (IPAM only)"
    words = ["✔ Ready" if node.ready else "✖ NotReady"]
    if node.unschedulable:
        words.append("⊘ SchedulingDisabled")
    return ", ".join(words)


def route_reflector_cell(node: Node | None) -> Text:
    """RR role needs both the label and the cluster ID; one without the other is a warning."""
    if node is None:
        return Text("")
    if node.route_reflector and node.rr_cluster_id:
        return Text(f"◆ RR {node.rr_cluster_id}", style="bold")
    if node.route_reflector:
        return Text("⚠ label, no cluster ID", style="yellow")
    if node.rr_cluster_id:
        return Text(f"⚠ ID {node.rr_cluster_id}, no label", style="yellow")
    return Text("")


def outside(cidrs: tuple[Network, ...], cluster_cidrs: tuple[Network, ...]) -> bool:
    """A podCIDR kube-controller-manager could not have allocated from its --cluster-cidr."""
    return bool(cluster_cidrs) and any(
        not any(c.version == p.version and c.subnet_of(p) for p in cluster_cidrs) for c in cidrs)


def pod_cidr_cell(cidrs: tuple[Network, ...], cluster_cidrs: tuple[Network, ...]) -> Text:
    shown = ",".join(map(str, cidrs)) or "—"
    if outside(cidrs, cluster_cidrs):
        return Text(f"⚠ {shown} outside cluster CIDR", style="yellow")
    return Text(shown)


def tunnel_cell(usage: NodeUsage) -> str:
    return " ".join(f"{t.address} ({t.pool.name if t.pool else '⚠ no pool'})" for t in usage.tunnels) or "—"


def per_pool(usage: NodeUsage) -> dict[str, tuple[int, int]]:
    """Pool → (blocks affine to the node, addresses it holds), orphaned blocks under `(no pool)`."""
    counts: dict[str, list[int]] = {}
    for pool in usage.block_pools.values():
        counts.setdefault(pool or "(no pool)", [0, 0])[0] += 1
    for pool, ips in usage.allocations_by_pool.items():
        counts.setdefault(pool or "(no pool)", [0, 0])[1] += ips
    return {pool: (blocks, ips) for pool, (blocks, ips) in counts.items()}


def per_pool_cell(counts: dict[str, tuple[int, int]]) -> str:
    """`default-ipv4-ippool 3/45 · new-pool 1/2`: blocks/IPs per pool, so a migration's progress shows."""
    return " · ".join(f"{pool} {blocks}/{ips}" for pool, (blocks, ips) in counts.items()) or "—"


def node_row(usage: NodeUsage, cluster, cluster_cidrs: tuple[Network, ...]) -> tuple[tuple, dict[str, object]]:
    """One node's cells in column order, and the value each column sorts it by."""
    node = usage.node
    bgp_ip = node.bgp_ipv4 if node else None
    as_number = cluster.as_number_of(node) if node and bgp_ip else None
    pod_cidrs = node.pod_cidrs if node else ()
    counts = per_pool(usage)
    rr = route_reflector_cell(node)
    tunnel = tunnel_cell(usage)
    cells = {  # column -> (cell, sort value)
        "name": (usage.name, usage.name),
        "roles": (",".join(node.roles) if node and node.roles else "—", ",".join(node.roles) if node else ""),
        "status": (status_cell(node), (bool(node and node.ready), bool(node and not node.unschedulable))),
        "route reflector": (rr, rr.plain),
        "blocks / IPs per pool": (per_pool_cell(counts), usage.in_use),
        "podCIDR": (pod_cidr_cell(pod_cidrs, cluster_cidrs), tuple(int(c.network_address) for c in pod_cidrs)),
        "BGP address": (str(bgp_ip) if bgp_ip else "—", int(bgp_ip.ip) if bgp_ip else -1),
        "AS": (str(as_number) if as_number else "—", as_number or -1),
        "tunnel": (tunnel, tunnel),
    }
    return tuple(cells[column][0] for column in COLUMNS), {column: cells[column][1] for column in COLUMNS}


class NodeRows:
    """The nodes table's rows and sort values, kept from one view to the next.

    The live view keeps the NodeUsage object of every node that did not change, so when the node
    list, the BGP configuration, the controller managers and the filter are the same objects as
    last time, only the nodes whose NodeUsage is a different object are looked at: an identity scan
    of the tuple instead of formatting and diffing 5,000 rows per refresh.
    """

    def __init__(self) -> None:
        self.rows: dict[str, tuple] = {}
        self.sort_values: dict[str, dict[str, object]] = {}
        self._memo = RowMemo()
        self._usages: tuple[NodeUsage, ...] = ()
        self._context: tuple = ()

    def update(self, view, matcher: NodeMatcher) -> tuple[set[str] | None, dict[str, dict[str, object]]]:
        """(the names whose row may have changed, or None for any; their sort values before)."""
        cluster = view.cluster
        context = (cluster.bgp, cluster.controller_managers, matcher)
        usages, old = view.nodes, self._usages
        self._usages = usages
        if identical(context, self._context) and len(usages) == len(old):
            moved = changed_positions(old, usages)
            if all(usages[i].name == old[i].name for i in moved):
                names = {usages[i].name for i in moved}
                before = {name: self.sort_values[name] for name in names if name in self.sort_values}
                cidrs = cluster_cidrs(cluster)
                for i in moved:
                    self._place(usages[i], cluster, cidrs, matcher)
                return names, before
        self._context = context
        before = self.sort_values
        self.rows, self.sort_values = {}, {}
        cidrs = cluster_cidrs(cluster)
        for usage in usages:
            self._place(usage, cluster, cidrs, matcher)
        self._memo.keep_only(self.rows)
        return None, before

    def _place(self, usage: NodeUsage, cluster, cidrs: tuple[Network, ...], matcher: NodeMatcher) -> None:
        name, node = usage.name, usage.node
        if not matcher(name, node.labels if node else {}):
            self.rows.pop(name, None)
            self.sort_values.pop(name, None)
            return
        cells, sort = self._memo.get(name, (usage, cluster.bgp, cluster.controller_managers),
                                     lambda: node_row(usage, cluster, cidrs))
        self.rows[name], self.sort_values[name] = cells, sort


def cluster_cidrs(cluster) -> tuple[Network, ...]:
    return tuple(c for kcm in cluster.controller_managers for c in kcm.cluster_cidrs)


class NodesPane(Pane):
    TITLE = "Nodes"
    RESOURCES = ("nodes", "ipamblocks", "blockaffinities", "pods")
    DEFAULT_CSS = """
    NodesPane #filter-row { display: none; height: 1; }
    NodesPane #filter-row.-shown { display: block; }
    NodesPane #filter { border: none; height: 1; width: 1fr; padding: 0 1; }
    NodesPane #filter-error { width: auto; max-width: 60%; color: $error; padding: 0 1; }
    """

    def __init__(self, clock, **kwargs) -> None:
        super().__init__(clock, **kwargs)
        self.matcher: NodeMatcher = node_matcher("")
        self.sort_column = "name"
        self.sort_reverse = False
        self._rows = NodeRows()
        self._title = ""
        self.view = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="filter-row"):
            yield Input(placeholder="node name, or label selector (e.g. route-reflector=true)", id="filter")
            yield Static("", id="filter-error")
        yield keyed_table("nodes-table", COLUMNS)

    def show_view(self, view) -> None:
        self.view = view
        self.show_health(view.pane_health(self.RESOURCES))
        self._sync()

    def _sync(self) -> None:
        if self.view is None:
            return
        touched, before = self._rows.update(self.view, self.matcher)
        rows, values, column = self._rows.rows, self._rows.sort_values, self.sort_column
        changed = sync_rows(self.table, rows, only=touched)
        if any(key in rows and (key not in before or before[key][column] != values[key][column])
               for key in changed):
            self._sort()  # only when a row came or its sort value moved: sorting thousands of rows is not free
        title = f"{self.TITLE} {len(rows)}/{len(self.view.nodes)}"
        if title != self._title:  # setting a border title repaints the whole pane, table included
            self.border_title = self._title = title

    def _sort(self) -> None:
        values = self._rows.sort_values
        column = self.sort_column
        self.table.sort("name", key=lambda name: (values[str(name)][column], str(name)), reverse=self.sort_reverse)

    def open_filter(self) -> None:
        self.query_one("#filter-row").add_class("-shown")
        self.query_one("#filter", Input).focus()

    def close_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.query_one("#filter-row").remove_class("-shown")
        self.focus_table()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        error = self.set_filter(event.value)
        self.query_one("#filter-error", Static).update(f"✖ {error}" if error else "")

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.focus_table()

    def set_filter(self, text: str) -> str | None:
        """Apply a filter; return the parse error to show inline (the old filter stays meanwhile)."""
        try:
            self.matcher = node_matcher(text)
        except SelectorError as error:
            return str(error)
        self._sync()
        return None

    def next_sort(self) -> None:
        """Cycle the sort column; on the last column, flip direction and start over."""
        index = COLUMNS.index(self.sort_column) + 1
        if index == len(COLUMNS):
            index, self.sort_reverse = 0, not self.sort_reverse
        self.sort_by(COLUMNS[index])

    def sort_by(self, column: str) -> None:
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        self.sort_column = column
        for key, label in zip(self.table.columns, COLUMNS):
            arrow = (" ▼" if self.sort_reverse else " ▲") if label == column else ""
            self.table.columns[key].label = Text(label + arrow)
        self._sort()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    def selected_node(self) -> str | None:
        return selected_key(self.table)

    def selected_object(self) -> tuple[str, str] | None:
        node = self.selected_node()
        return ("nodes", node) if node else None
