"""The plan's steps in execution order, each with its kind and status as glyph and word."""

from __future__ import annotations

from textual.widgets import DataTable

from tui.migrate.steps import MANUAL
from tui.migration_state import StepRow, label
from widgets.table_sync import selected_key, sync_rows

COLUMNS = ("#", "step", "kind", "status")
KIND_WORDS = {MANUAL: "manual"}


def step_cells(row: StepRow) -> tuple[str, str, str, str]:
    kind = KIND_WORDS.get(row.kind, row.kind)
    return (str(row.number) if row.number is not None else "–", row.id, kind, label(row.status))


class StepList(DataTable):
    DEFAULT_CSS = """
    StepList { height: auto; max-height: 100%; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        for column in COLUMNS:
            self.add_column(column, key=column)

    def show_rows(self, rows: list[StepRow]) -> None:
        sync_rows(self, {row.id: step_cells(row) for row in rows})

    @property
    def selected(self) -> str | None:
        return selected_key(self)

    def select(self, step_id: str) -> None:
        if step_id in self.rows:
            self.move_cursor(row=self.get_row_index(step_id))
