"""The header strip: which cluster, which versions, how Calico is installed, what we may do, watch health."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from tui.kube.detect import API_SERVER, NO_CALICO, V1_CRDS, V3_CRDS
from widgets.freshness import LIVE, PaneHealth, describe, worst


class ClusterHeader(Static):
    DEFAULT_CSS = """
    ClusterHeader { height: auto; max-height: 5; background: $panel; padding: 0 1; }
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
        segments = header_segments(self.opened, self.health, self.findings, self.clock())
        self.update(pack(segments, max(self.size.width - 2, 20)))

    def on_resize(self) -> None:
        self._show()


CALICO_API_WORDS = {
    API_SERVER: "projectcalico.org/v3 (Calico API server)",
    V3_CRDS: "projectcalico.org/v3 (native CRDs)",
    V1_CRDS: "crd.projectcalico.org/v1 only",
    NO_CALICO: "✖ none found",
}
SEVERITY_GLYPHS = {"blocking": "✖ blocking", "warning": "⚠ warning", "info": "ℹ info"}


def finding_line(finding) -> str:
    return f"{SEVERITY_GLYPHS[finding.severity]}: {finding.message}"


def findings_counts(findings) -> str:
    """`✖ 1 blocking · ⚠ 2 warnings` (empty when there is nothing to report)."""
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("blocking", "warning")}
    parts = [f"✖ {counts['blocking']} blocking" if counts["blocking"] else "",
             f"⚠ {counts['warning']} warning{'s' if counts['warning'] != 1 else ''}" if counts["warning"] else ""]
    return " · ".join(p for p in parts if p)


def header_segments(opened, health: dict[str, PaneHealth], findings: str, now: float) -> list[Text]:
    """What the header says, most important first: who and where, what we may do, how fresh, what is
    wrong, then versions and how Calico is installed."""
    info = opened.info
    overall = worst(list(health.values()))
    live = sum(1 for h in health.values() if h.state == LIVE)
    api = CALICO_API_WORDS.get(info.calico_api, info.calico_api)
    segments = [
        Text.assemble((f"⎈ {opened.context}", "bold"), f" @ {opened.server}"),
        Text(f"⊘ READ-ONLY ({opened.read_only_reason})", style="bold reverse") if opened.read_only
        else Text("✎ read-write", style="bold"),
        Text(f"watches {describe(overall, now)} {live}/{len(health)}" if health else "watches ◌ starting",
             style="" if overall.state == LIVE else "bold"),
        Text(findings, style="bold") if findings else None,
        Text(f"Kubernetes {info.kubernetes_version}"),
        Text(f"Calico {info.calico_version or '?'}"),
        Text(f"API {api}"),
        Text(f"datastore {info.datastore}"),
        Text(f"{info.flavor} install"),
        Text(f"IPAM {info.ipam}"),
    ]
    return [segment for segment in segments if segment is not None]


def pack(segments: list[Text], width: int, separator: str = " · ") -> Text:
    """Segments joined on lines of at most `width` cells, never split inside one (a narrow terminal
    gets more lines instead of cut-off facts)."""
    lines: list[Text] = []
    for segment in segments:
        if lines and lines[-1].cell_len + len(separator) + segment.cell_len <= width:
            lines[-1].append(separator)
            lines[-1].append_text(segment)
        else:
            lines.append(segment.copy())
    return Text("\n").join(lines)
