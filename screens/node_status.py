"""Confirmation dialog for live BGP status: pick up to 10 nodes; CalicoNodeStatus objects cost the
node and the API server CPU (Calico's docs recommend a few nodes, for debugging), so this is opt-in."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, SelectionList, Static

from tui import keys
from tui.session import MAX_NODE_STATUSES


class NodeStatusDialog(ModalScreen[list[str] | None]):
    BINDINGS = keys.bindings(keys.NODE_STATUS)
    SCOPE = keys.NODE_STATUS
    DEFAULT_CSS = """
    NodeStatusDialog { align: center middle; }
    NodeStatusDialog > Vertical {
        width: 70; max-width: 95%; height: auto; max-height: 90%; border: round $warning; background: $surface;
    }
    NodeStatusDialog SelectionList { height: auto; max-height: 14; }
    NodeStatusDialog #count { color: $text-muted; }
    """

    def __init__(self, nodes: list[str]) -> None:
        super().__init__()
        self.nodes = nodes

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Request live BGP status"
            yield Static(f"Creates a CalicoNodeStatus (Agent, BGP, every 10 s) for each checked node, at most "
                         f"{MAX_NODE_STATUSES}. They are removed when calico-tui exits.")
            yield SelectionList[str](*((node, node) for node in self.nodes))
            yield Static("", id="count")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()
        self._count()

    @on(SelectionList.SelectedChanged)
    def _count(self) -> None:
        chosen = len(self.query_one(SelectionList).selected)
        over = chosen > MAX_NODE_STATUSES
        self.query_one("#count", Static).update(
            f"{'✖' if over else '✔'} {chosen} of at most {MAX_NODE_STATUSES} checked"
            + (" — uncheck some" if over else " · c creates · escape cancels"))

    def action_create(self) -> None:
        chosen = list(self.query_one(SelectionList).selected)
        if 0 < len(chosen) <= MAX_NODE_STATUSES:
            self.dismiss(chosen)

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
