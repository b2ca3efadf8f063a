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


class YamlScreen(Screen[None]):
    """Shows `obj`; `refresh_object` replaces it when the watched object changes while open."""

    BINDINGS = keys.bindings(keys.YAML)
    SCOPE = keys.YAML
    DEFAULT_CSS = """
    YamlScreen #title { height: 1; background: $panel; padding: 0 1; }
    YamlScreen VerticalScroll { height: 1fr; }
    YamlScreen #yaml { width: auto; padding: 0 1; }
    """

    def __init__(self, kind: str, obj: dict, note: str = "") -> None:
        super().__init__()
        self.kind = kind
        self.obj = obj
        self.note = note

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

    def refresh_object(self, obj: dict | None, note: str = "") -> None:
        """Show the newest version, or say the object is gone while keeping the last one visible."""
        if obj is None:
            self.note = "deleted from the cluster: showing its last known state"
        else:
            self.obj, self.note = obj, note
        self._render_object()

    def _render_object(self) -> None:
        rv = (self.obj.get("metadata") or {}).get("resourceVersion", "?")
        suffix = f" · {self.note}" if self.note else ""
        self.query_one("#title", Static).update(f"{self.kind}/{self.name_key} · resourceVersion {rv}{suffix}")
        self.query_one("#yaml", Static).update(highlight(object_yaml(self.obj), language="yaml"))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(object_yaml(self.obj))
        self.notify(f"Copied {self.kind}/{self.name_key} to the clipboard (OSC 52).", timeout=3)
