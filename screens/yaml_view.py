"""The `y` screen: one live object as highlighted YAML, scrollable, copyable over SSH (OSC 52)."""

from __future__ import annotations

import yaml
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.highlight import highlight
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from tui import keys
from tui.kube.resources import is_lean


def object_yaml(obj: dict) -> str:
    """YAML as kubectl shows it, minus managedFields (noise nobody reads on a dashboard)."""
    shown = dict(obj)
    metadata = dict(shown.get("metadata") or {})
    metadata.pop("managedFields", None)
    if metadata:
        shown["metadata"] = metadata
    return yaml.safe_dump(shown, sort_keys=False, default_flow_style=False, allow_unicode=True)


def version(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


GONE = "✖ deleted from the cluster: this is its last known state"
FETCHING = "fetching the whole object from the API…"
NOT_FETCHED = "✖ could not fetch the whole object from the API"


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
        self.seen = version(obj)  # the resourceVersion the live cache last had
        self.note = ""

    @property
    def text(self) -> str:
        return "" if is_lean(self.kind, self.obj) else object_yaml(self.obj)

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
        elif version(obj) != self.seen:
            self.obj, self.seen, self.note = obj, version(obj), ""
            self._render_object()

    @work(thread=True, exclusive=True, group="yaml-fetch", exit_on_error=False, description="Fetching the object")
    def _fetch(self, name: str) -> dict:
        return self.app.session.fetch(self.kind, name)

    @on(Worker.StateChanged)
    def _fetched(self, event: Worker.StateChanged) -> None:
        """The fetched object replaces the cache's reduced one unless a newer version arrived meanwhile
        (a failure is reported by the app's one handler; here it only changes the note)."""
        if event.worker.group != "yaml-fetch" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        if event.state == WorkerState.ERROR:
            self.note = NOT_FETCHED
        elif is_lean(self.kind, self.obj):
            self.obj, self.note = event.worker.result, ""  # the API's current version (it may be newer)
        self._render_object()

    def _render_object(self) -> None:
        if is_lean(self.kind, self.obj) and self.note not in (GONE, NOT_FETCHED):
            if self.note != FETCHING:
                self.note = FETCHING
                self._fetch(self.name_key)
        rv = version(self.obj) or "?"
        suffix = f" · {self.note}" if self.note else ""
        self.query_one("#title", Static).update(f"{self.kind}/{self.name_key} · resourceVersion {rv}{suffix}")
        self.query_one("#yaml", Static).update(highlight(self.text, language="yaml"))

    def action_copy(self) -> None:
        if not self.text:
            self.notify("Nothing to copy yet: the object is being fetched.", timeout=3)
            return
        self.app.copy_to_clipboard(self.text)
        self.notify(f"Copied {self.kind}/{self.name_key} to the clipboard (OSC 52).", timeout=3)
