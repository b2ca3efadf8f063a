"""The preflight: every finding by severity with what was seen and the fix; blocking ones say that
they stop the run."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.model.findings import SEVERITIES
from widgets.header import SEVERITY_GLYPHS

STYLES = {"blocking": "bold red", "warning": "yellow", "info": ""}


def findings_text(findings) -> Text:
    ordered = sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
    blocking = sum(1 for f in ordered if f.severity == "blocking")
    text = Text()
    if blocking:
        text.append(f"✖ {blocking} blocking finding{'s' if blocking != 1 else ''}: running is disabled until "
                    "fixed\n\n", style="bold")
    else:
        text.append("✔ no blocking finding\n\n", style="bold")
    for f in ordered:
        text.append(SEVERITY_GLYPHS[f.severity], style=STYLES[f.severity])
        text.append(" ")
        text.append(f"{f.id}:", style="bold")
        text.append(f" {f.message}\n")
        for item in f.evidence:
            text.append(f"    seen: {item}\n")
        if f.fix:
            text.append(f"    fix: {f.fix}\n")
    return text


class FindingsList(VerticalScroll):
    DEFAULT_CSS = """
    FindingsList { height: 1fr; }
    FindingsList > Static { width: 1fr; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.can_focus = True
        self.findings: tuple = ()

    def compose(self):
        yield Static("The preflight runs as you type the target CIDR.", id="findings-text")

    def show(self, findings) -> None:
        findings = tuple(findings)
        if findings != self.findings:
            self.findings = findings
            self.query_one("#findings-text", Static).update(findings_text(findings))
