"""The header strip: which cluster, which versions, how Calico is installed, what we may do, watch health."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from widgets.freshness import LIVE, PaneHealth, describe, worst


class ClusterHeader(Static):
    DEFAULT_CSS = """
    ClusterHeader { height: 2; background: $panel; padding: 0 1; }
    """

    def __init__(self, clock: Callable[[], float], **kwargs) -> None:
        super().__init__("◌ connecting…", **kwargs)
        self.clock = clock
        self.opened = None
        self.health: dict[str, PaneHealth] = {}

    def show_connecting(self) -> None:
        self.opened = None
        self.update("◌ connecting…")

    def show_identity(self, opened) -> None:
        self.opened = opened
        self._render()

    def show_view(self, view) -> None:
        if view.health != self.health:
            self.health = view.health
            self._render()

    def tick(self) -> None:
        if self.health and worst(list(self.health.values())).state != LIVE:
            self._render()

    def _render(self) -> None:
        if self.opened is None:
            return
        self.update(header_text(self.opened, self.health, self.clock()))


def header_text(opened, health: dict[str, PaneHealth], now: float) -> Text:
    """Two lines: identity and versions; Calico install facts, write capability and watch health."""
    info = opened.info
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"⎈ {opened.context}", style="bold")
    text.append(f" @ {opened.server}  ·  Kubernetes {info.kubernetes_version}  ·  Calico {info.calico_version}")
    text.append("\n")
    text.append(f"API {info.calico_api}  ·  datastore {info.datastore}  ·  {info.flavor}  ·  IPAM {info.ipam}  ·  ")
    if opened.read_only:
        text.append(f"⊘ READ-ONLY ({opened.read_only_reason})", style="bold reverse")
    else:
        text.append("✎ read-write", style="bold")
    text.append("  ·  watches ")
    live = sum(1 for h in health.values() if h.state == LIVE)
    overall = worst(list(health.values()))
    text.append(f"{describe(overall, now)} {live}/{len(health)}" if health else "◌ starting",
                style="" if overall.state == LIVE else "bold")
    return text
