"""A yes/no question before anything changes the cluster, listing exactly what would be done."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui import keys


def sections_text(intro: str, sections: list[tuple[str, list[str]]]) -> Text:
    text = Text(intro + "\n" if intro else "")
    for heading, lines in sections:
        text.append(f"\n{heading}\n", style="bold")
        for line in lines:
            text.append(f"  • {line}\n")
    return text


class ConfirmDialog(ModalScreen[bool]):
    """`sections` are (heading, lines) pairs, e.g. a step and the verbs and objects it writes."""

    BINDINGS = keys.bindings(keys.CONFIRM)
    SCOPE = keys.CONFIRM
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical {
        width: 100; max-width: 95%; height: auto; max-height: 90%; border: round $warning; background: $surface;
    }
    ConfirmDialog VerticalScroll { height: auto; max-height: 30; }
    ConfirmDialog #question { padding-top: 1; text-style: bold; }
    """

    def __init__(self, title: str, intro: str, sections: list[tuple[str, list[str]]], question: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = sections_text(intro, sections)
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            with VerticalScroll():
                yield Static(self.body, id="confirm-body")
            yield Static(f"{self.question}  y yes · n no", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
