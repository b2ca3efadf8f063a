"""The `?` screen: every key of the current screen and of the app, straight from the registry."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui import keys


class HelpScreen(ModalScreen[None]):
    """Lists the commands of `scopes` (the screen it was opened from, then the app's)."""

    BINDINGS = keys.bindings(keys.DIALOG)
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; max-width: 110; height: 90%; border: round $primary; background: $surface;
    }
    HelpScreen DataTable { height: 1fr; }
    HelpScreen .hint { color: $text-muted; }
    """

    def __init__(self, scopes: tuple[str, ...]) -> None:
        super().__init__()
        self.scopes = scopes

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Keys"
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Static("escape closes · ctrl+p searches these commands by name · the mouse works too",
                         classes="hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "command", "what it does")
        for row in keys.help_rows(self.scopes):
            table.add_row(*row)

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
