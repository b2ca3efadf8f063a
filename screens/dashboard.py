"""The screen operators keep open: header, IP pools, nodes and BGP panes, node filter.

At 120×35 and larger all three panes are visible together and tab moves the focus between them;
below that one pane at a time fills the screen and tab (or a click on the tab strip) switches.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import DescendantFocus, Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Tab, Tabs

from screens.node_detail import NodeDetailScreen
from screens.node_status import NodeStatusDialog
from screens.yaml_view import YamlScreen
from tui import keys
from widgets.bgp import BgpPane
from widgets.header import ClusterHeader
from widgets.nodes import NodesPane
from widgets.pane import Pane
from widgets.pools import PoolsPane

WIDE = (120, 35)
PANES = ("pools", "nodes", "bgp")
TITLES = {"pools": "IP pools", "nodes": "Nodes", "bgp": "BGP"}


class DashboardScreen(Screen[None]):
    BINDINGS = keys.bindings(keys.DASHBOARD)
    SCOPE = keys.DASHBOARD
    DEFAULT_CSS = """
    DashboardScreen #pane-tabs { display: none; height: 2; }
    DashboardScreen.-narrow #pane-tabs { display: block; }
    DashboardScreen #pools { height: auto; max-height: 12; }
    DashboardScreen #nodes { height: 1fr; min-height: 8; }
    DashboardScreen #bgp { height: 1fr; min-height: 12; }
    DashboardScreen.-narrow Pane { display: none; }
    DashboardScreen.-narrow #panes > Pane.-active { display: block; height: 1fr; max-height: 100%; }
    """

    active: reactive[str] = reactive("nodes")

    def compose(self) -> ComposeResult:
        clock = self.app.clock
        yield ClusterHeader(clock, id="header")
        yield Tabs(*(Tab(TITLES[p], id=f"tab-{p}") for p in PANES), active="tab-nodes", id="pane-tabs")
        with Vertical(id="panes"):
            yield PoolsPane(clock, id="pools")
            yield NodesPane(clock, id="nodes")
            yield BgpPane(clock, id="bgp")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Tabs).can_focus = False
        self.set_interval(1.0, self._tick_ages)
        self.watch_active(self.active)
        self.query_one(NodesPane).focus_table()

    def pane(self, name: str) -> Pane:
        return self.query_one(f"#{name}", Pane)

    # -- data --------------------------------------------------------------------------------------

    def show_connecting(self) -> None:
        self.query_one(ClusterHeader).show_connecting()

    def show_identity(self, opened) -> None:
        self.query_one(ClusterHeader).show_identity(opened)
        self.refresh_bindings()

    def show_view(self, view) -> None:
        self.query_one(ClusterHeader).show_view(view)
        for name in PANES:
            self.pane(name).show_view(view)

    def _tick_ages(self) -> None:
        """Ages in words change with time alone; only these few labels are re-rendered."""
        for name in PANES:
            pane = self.pane(name)
            pane.show_health(pane.health)
        self.query_one(ClusterHeader).tick()

    # -- layout ------------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        width, height = event.size
        self.set_class(width < WIDE[0] or height < WIDE[1], "-narrow")

    def watch_active(self, active: str) -> None:
        for name in PANES:
            self.pane(name).set_class(name == active, "-active")
        tabs = self.query_one(Tabs)
        if tabs.active != f"tab-{active}":
            # Only a click on a tab may move the focus: a queued echo of this change would
            # otherwise pull the focus back from wherever it went since (the filter field).
            with tabs.prevent(Tabs.TabActivated):
                tabs.active = f"tab-{active}"

    @on(Tabs.TabActivated)
    def _tab_clicked(self, event: Tabs.TabActivated) -> None:
        name = event.tab.id.removeprefix("tab-")
        if name != self.active:
            self.active = name
            self.pane(name).focus_table()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        for pane in event.widget.ancestors_with_self:
            if isinstance(pane, Pane):
                self.active = pane.id
                return

    def _step_pane(self, step: int) -> None:
        """Tab walks every pane's tables in order (the BGP pane has peers and sessions)."""
        tables = [table for name in PANES for table in self.pane(name).query(DataTable)]
        focused = self.focused
        index = tables.index(focused) if focused in tables else tables.index(self.pane(self.active).table) - step
        tables[(index + step) % len(tables)].focus()

    def action_next_pane(self) -> None:
        self._step_pane(1)

    def action_prev_pane(self) -> None:
        self._step_pane(-1)

    # -- filter ------------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.active = "nodes"
        self.query_one(NodesPane).open_filter()

    def action_clear_filter(self) -> None:
        self.query_one(NodesPane).close_filter()

    # -- detail, YAML, BGP status ------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on a node row opens the node; on a pool or peer row, its YAML."""
        if event.data_table.id in ("nodes-table", "sessions-table"):
            self.app.push_screen(NodeDetailScreen(event.row_key.value))
        else:
            self.action_yaml()

    def action_node_detail(self) -> None:
        node = self.query_one(NodesPane).selected_node()
        if node is not None:
            self.app.push_screen(NodeDetailScreen(node))

    def action_yaml(self) -> None:
        view = self.app.view
        selected = self.pane(self.active).selected_object()
        if view is None or selected is None:
            return
        kind, name = selected
        obj = view.find(kind, name)
        if obj is not None:
            self.app.push_screen(YamlScreen(kind, obj))

    def action_sort(self) -> None:
        nodes = self.query_one(NodesPane)
        nodes.focus_table()
        nodes.next_sort()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "bgp_status":
            return True if self.app.session.can_request_node_status else None
        return True

    def action_bgp_status(self) -> None:
        view = self.app.view
        if view is None:
            return

        def chosen(nodes: list[str] | None) -> None:
            if nodes:
                self.app.request_node_status(nodes)

        self.app.push_screen(NodeStatusDialog([node.name for node in view.cluster.nodes]), chosen)
