"""The `?` screen: every key of the current screen and of the app, straight from the registry."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui import keys


def help_table(scopes: tuple[str, ...]) -> Table:
    """Keys, names and what they do; descriptions wrap instead of being cut at 80 columns."""
    table = Table(box=None, expand=True, pad_edge=False)
    table.add_column("key", no_wrap=True, style="bold")
    table.add_column("command", no_wrap=True)
    table.add_column("what it does", ratio=1)
    for row in keys.help_rows(scopes):
        table.add_row(*row)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the commands of `scopes` (the screen it was opened from, then the app's)."""

    BINDINGS = keys.bindings(keys.DIALOG)
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; max-width: 110; height: 90%; border: round $primary; background: $surface;
    }
    HelpScreen VerticalScroll { height: 1fr; }
    HelpScreen .hint { color: $text-muted; }
    """

    def __init__(self, scopes: tuple[str, ...]) -> None:
        super().__init__()
        self.scopes = scopes

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Keys"
            with VerticalScroll():
                yield Static(help_table(self.scopes), id="help-table")
            yield Static("escape closes · ctrl+p searches these commands by name · the mouse works too",
                         classes="hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
