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
        self.findings = ""

    def show_connecting(self) -> None:
        self.opened = None
        self.update("◌ connecting…")

    def show_identity(self, opened) -> None:
        self.opened = opened
        self._show()

    def show_view(self, view) -> None:
        findings = findings_counts(view.findings)
        if view.health != self.health or findings != self.findings:
            self.health, self.findings = view.health, findings
            self._show()

    def tick(self) -> None:
        if self.health and worst(list(self.health.values())).state != LIVE:
            self._show()

    def _show(self) -> None:
        if self.opened is None:
            return
        self.update(header_text(self.opened, self.health, self.findings, self.clock()))


SEVERITY_GLYPHS = {"blocking": "✖ blocking", "warning": "⚠ warning", "info": "ℹ info"}


def finding_line(finding) -> str:
    return f"{SEVERITY_GLYPHS[finding.severity]}: {finding.message}"


def findings_counts(findings) -> str:
    """`✖ 1 blocking · ⚠ 2 warnings` (empty when there is nothing to report)."""
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("blocking", "warning")}
    parts = [f"✖ {counts['blocking']} blocking" if counts["blocking"] else "",
             f"⚠ {counts['warning']} warning{'s' if counts['warning'] != 1 else ''}" if counts["warning"] else ""]
    return " · ".join(p for p in parts if p)


def header_text(opened, health: dict[str, PaneHealth], findings: str, now: float) -> Text:
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
    if findings:
        text.append(f"  ·  {findings}", style="bold")
    return text
