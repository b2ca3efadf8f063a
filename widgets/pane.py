"""A dashboard pane: a titled box that says how fresh its data is and greys it when it is not."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from widgets.freshness import PaneHealth, describe


class Pane(Vertical):
    """Base for the pools, nodes and BGP panes; subclasses fill themselves from a LiveView."""

    DEFAULT_CSS = """
    Pane { border: round $panel-lighten-2; height: 1fr; }
    Pane:focus-within { border: round $primary; }
    Pane.-stale { border: round $warning; }
    Pane.-stale DataTable, Pane.-stale .pane-text { text-opacity: 50%; }
    Pane .stale-banner { display: none; height: 1; background: $warning 30%; padding: 0 1; }
    Pane.-stale .stale-banner { display: block; }
    """

    TITLE = ""
    RESOURCES: tuple[str, ...] = ()

    def __init__(self, clock: Callable[[], float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.health = PaneHealth()
        self.border_title = self.TITLE

    def compose(self) -> ComposeResult:
        yield Static("", classes="stale-banner")
        yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    @property
    def table(self) -> DataTable:
        """The pane's main table: what tab focuses and what `y` reads the selection from."""
        return self.query(DataTable).first()

    def focus_table(self) -> None:
        self.table.focus()

    def show_health(self, health: PaneHealth) -> None:
        """Update the freshness words; called on every view and once a second for the ages."""
        self.health = health
        words = describe(health, self.clock())
        if self.border_subtitle != words:
            self.border_subtitle = words
        self.set_class(health.stale, "-stale")
        if health.stale:
            cause = f" · {health.detail}" if health.detail else ""
            self.query_one(".stale-banner", Static).update(
                f"{words} — the figures below are the last known state, not current{cause}")
