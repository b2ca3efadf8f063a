"""Keyed DataTable diffs: only changed cells are touched, so an unchanged refresh redraws nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.widgets import DataTable


def sync_rows(table: DataTable, rows: Mapping[str, Sequence[object]]) -> bool:
    """Make `table` hold exactly `rows` (row key → cells in column order); True if anything changed.

    The caller wraps calls in `app.batch_update()` and sorts afterwards when this returns True.
    """
    changed = False
    wanted = set(rows)
    for key in [k.value for k in table.rows if k.value not in wanted]:
        table.remove_row(key)
        changed = True
    columns = list(table.columns)
    for key, cells in rows.items():
        if key not in table.rows:
            table.add_row(*cells, key=key)
            changed = True
            continue
        current = table.get_row(key)
        for column, old, new in zip(columns, current, cells):
            if old != new:
                table.update_cell(key, column, new, update_width=True)
                changed = True
    return changed


def selected_key(table: DataTable) -> str | None:
    """The row key under the cursor, or None on an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
