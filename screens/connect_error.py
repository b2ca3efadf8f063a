"""Shown instead of the dashboard when the cluster cannot be reached or refuses us: cause, hint, retry."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui import keys


class ConnectErrorScreen(Screen[None]):
    """`summary` is the one-line cause from the data layer; `hint` says what to try."""

    BINDINGS = keys.bindings(keys.CONNECT_ERROR)
    SCOPE = keys.CONNECT_ERROR
    DEFAULT_CSS = """
    ConnectErrorScreen { align: center middle; }
    ConnectErrorScreen Vertical {
        width: 80%; max-width: 100; height: auto; border: heavy $error; padding: 1 2;
    }
    ConnectErrorScreen #cause { text-style: bold; }
    ConnectErrorScreen #hint { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, target: str, summary: str, hint: str) -> None:
        super().__init__()
        self.target = target
        self.summary = summary
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Center():
            with Vertical() as box:
                box.border_title = "✖ cannot use the cluster"
                yield Static(self.target, id="target")
                yield Static(self.summary, id="cause")
                yield Static(self.hint, id="hint")
                yield Static("r retries · q quits", id="keys")
        yield Footer()

    def action_retry(self) -> None:
        self.app.retry_connect()
