"""The `y` screen: one live object as highlighted YAML, scrollable, copyable over SSH (OSC 52)."""

from __future__ import annotations

import yaml
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.highlight import highlight
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui import keys


def object_yaml(obj: dict) -> str:
    """YAML as kubectl shows it, minus managedFields (noise nobody reads on a dashboard)."""
    shown = dict(obj)
    metadata = dict(shown.get("metadata") or {})
    metadata.pop("managedFields", None)
    if metadata:
        shown["metadata"] = metadata
    return yaml.safe_dump(shown, sort_keys=False, default_flow_style=False, allow_unicode=True)


GONE = "✖ deleted from the cluster: this is its last known state"


class YamlScreen(Screen[None]):
    """Shows `obj` and follows it live while open."""

    BINDINGS = keys.bindings(keys.YAML)
    SCOPE = keys.YAML
    DEFAULT_CSS = """
    YamlScreen #title { height: 1; background: $panel; padding: 0 1; }
    YamlScreen VerticalScroll { height: 1fr; }
    YamlScreen #yaml { width: auto; padding: 0 1; }
    """

    def __init__(self, kind: str, obj: dict) -> None:
        super().__init__()
        self.kind = kind
        self.obj = obj
        self.note = ""

    @property
    def text(self) -> str:
        return object_yaml(self.obj)

    @property
    def name_key(self) -> str:
        return (self.obj.get("metadata") or {}).get("name", "")

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        with VerticalScroll():
            yield Static(id="yaml")
        yield Footer()

    def on_mount(self) -> None:
        self._render_object()
        self.query_one(VerticalScroll).focus()

    def show_view(self, view) -> None:
        """Follow the live object: a new resourceVersion replaces it; deletion keeps the last state, said so."""
        obj = view.find(self.kind, self.name_key)
        if obj is None:
            if self.note != GONE:
                self.note = GONE
                self._render_object()
        elif obj.get("metadata", {}).get("resourceVersion") != self.obj.get("metadata", {}).get("resourceVersion"):
            self.obj, self.note = obj, ""
            self._render_object()

    def _render_object(self) -> None:
        rv = (self.obj.get("metadata") or {}).get("resourceVersion", "?")
        suffix = f" · {self.note}" if self.note else ""
        self.query_one("#title", Static).update(f"{self.kind}/{self.name_key} · resourceVersion {rv}{suffix}")
        self.query_one("#yaml", Static).update(highlight(self.text, language="yaml"))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify(f"Copied {self.kind}/{self.name_key} to the clipboard (OSC 52).", timeout=3)
