"""BGP pane: global AS and mesh, BGPPeers, route-reflector clusters with clients, sessions, findings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from widgets.pane import Pane
from widgets.table_sync import selected_key, sync_rows

PEER_COLUMNS = ("name", "scope", "local side", "peer", "AS")
SESSION_COLUMNS = ("node", "role", "sessions", "observed")


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

    def compose_body(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="bgp-left"):
                yield Static("", id="bgp-summary", classes="pane-text")
                peers = DataTable(cursor_type="row", zebra_stripes=True, id="peers-table")
                for column in PEER_COLUMNS:
                    peers.add_column(column, key=column)
                yield peers
            sessions = DataTable(cursor_type="row", zebra_stripes=True, id="sessions-table")
            for column in SESSION_COLUMNS:
                sessions.add_column(column, key=column)
            yield sessions

    def show_view(self, view) -> None:
        self.show_health(view.pane_health(self.RESOURCES))
        summary = bgp_summary(view.cluster)
        widget = self.query_one("#bgp-summary", Static)
        if str(widget.content) != summary:
            widget.update(summary)
        sync_rows(self.query_one("#peers-table", DataTable), peer_rows(view.cluster))
        sessions = self.query_one("#sessions-table", DataTable)
        if sync_rows(sessions, session_rows(view.cluster)):
            sessions.sort("node")

    def selected_object(self) -> tuple[str, str] | None:
        sessions = self.query_one("#sessions-table", DataTable)
        if sessions.has_focus:
            node = selected_key(sessions)
            return ("nodes", node) if node else None
        peer = selected_key(self.query_one("#peers-table", DataTable))
        return ("bgppeers", peer) if peer else None
