"""The migration screen's strip of the dashboard's key live figures, so the operator sees each step's
effect as it happens: addresses still in use in the old pool, blocks per pool, BGP sessions
Established, and how fresh those figures are."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widget import Widget

from widgets.bgp import observed_sessions
from widgets.freshness import describe
from widgets.usage import usage_cell

WATCHED = ("ippools", "ipamblocks", "caliconodestatuses")


def live_figures(view, old_pool: str | None, now: float) -> Text:
    """`old pool 192.168.0.0/16 ▍ 40/65536 0% IPs in use · blocks … · BGP 13/13 Established · ● live`."""
    text = Text()
    old = next((u for u in view.pools if u.name == old_pool), None)
    if old is not None:
        text.append(f"old pool {old.cidr} ", style="bold")
        text.append_text(usage_cell(old.in_use, old.total, width=6))
        text.append(" IPs in use · ")
    blocks = " · ".join(f"{u.name} {len(u.blocks)}" for u in view.pools)
    text.append(f"blocks {blocks or 'none'} · ")
    established, expected, reporting = observed_sessions(view)
    text.append(f"BGP {established}/{expected} Established" if reporting else "BGP not reported")
    text.append(f" · {describe(view.pane_health(WATCHED), now)}")
    return text


class LiveFigures(Widget):
    """Two fixed lines, repainted in place: the figures change several times a second during a run,
    and a re-layout of the whole screen for each change would starve the runner."""

    DEFAULT_CSS = """
    LiveFigures { height: 2; background: $panel; padding: 0 1; }
    """

    def __init__(self, clock: Callable[[], float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.view = None
        self.old_pool: str | None = None
        self.text = Text("◌ waiting for the cluster's live figures…")

    def render(self) -> Text:
        return self.text

    def show_view(self, view) -> None:
        self.view = view
        self._show()

    def follow_pool(self, old_pool: str | None) -> None:
        if old_pool != self.old_pool:
            self.old_pool = old_pool
            self._show()

    def _show(self) -> None:
        if self.view is not None:
            text = live_figures(self.view, self.old_pool, self.clock())
            if text != self.text:
                self.text = text
                self.refresh()
