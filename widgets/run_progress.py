"""Progress of the step that is running: a bar with counts from the runner's progress events and,
from the live cluster, the addresses each node still holds in the old pool."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from widgets.usage import bar, percent


def old_pool_by_node(view, old_pool: str) -> list[tuple[str, int]]:
    """(node, addresses it holds in the old pool), nodes with none left out, most first."""
    counts = [(u.name, u.allocations_by_pool.get(old_pool, 0)) for u in view.nodes]
    return sorted(((n, c) for n, c in counts if c), key=lambda nc: (-nc[1], nc[0]))


def progress_text(event, per_node: list[tuple[str, int]] | None) -> Text:
    text = Text()
    if event is not None and event.total:
        text.append(f"{event.step} ", style="bold")
        text.append(f"{bar(event.done, event.total, 20)} {event.done}/{event.total} "
                    f"{percent(event.done, event.total):.0f}% · {event.message}")
    if per_node is not None:
        if text:
            text.append("\n")
        left = sum(c for _, c in per_node)
        text.append(f"old pool, addresses left: {left}", style="bold")
        if per_node:
            text.append(" · " + " · ".join(f"{n} {c}" for n, c in per_node))
    return text


class RunProgress(Widget):
    """Fixed height, repainted in place (like LiveFigures): it changes with every cluster view."""

    DEFAULT_CSS = """
    RunProgress { height: 3; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.event = None
        self.view = None
        self.old_pool: str | None = None
        self.text = Text()

    def render(self) -> Text:
        return self.text

    def show_event(self, event) -> None:
        """The latest progress event (done/total) of the running step; None clears the bar."""
        self.event = event
        self._show()

    def show_view(self, view, old_pool: str | None) -> None:
        self.view, self.old_pool = view, old_pool
        self._show()

    def _show(self) -> None:
        per_node = old_pool_by_node(self.view, self.old_pool) if self.view is not None and self.old_pool else None
        text = progress_text(self.event, per_node)
        if text != self.text:
            self.text = text
            self.refresh()
