"""Keyed DataTable diffs: only changed cells are touched, so an unchanged refresh redraws nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from weakref import WeakKeyDictionary

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

# Per table and column, how many cells have each width. Textual re-measures every cell of a column
# when an updated cell is narrower than the column (O(rows) per update); knowing the widths lets a
# diff ask for that only when the column's widest width really changes.
_widths: WeakKeyDictionary[DataTable, dict[object, Counter[int]]] = WeakKeyDictionary()
# Per table, the rows it was last synced to (row key -> the cells tuple given).
_synced: WeakKeyDictionary[DataTable, dict[str, Sequence[object]]] = WeakKeyDictionary()


def keyed_table(table_id: str, columns: Sequence[str]) -> DataTable:
    """A row-cursor table whose column keys are the column titles (what `sync_rows` fills)."""
    table = DataTable(cursor_type="row", zebra_stripes=True, id=table_id)
    for column in columns:
        table.add_column(column, key=column)
    return table


def cell_width(value: object) -> int:
    """Terminal cells a one-line table value takes."""
    return value.cell_len if isinstance(value, Text) else cell_len(str(value))


def _histograms(table: DataTable) -> dict[object, Counter[int]]:
    """The table's width counts, recounted when the table was changed behind sync_rows' back."""
    widths = _widths.get(table)
    if widths is None or set(widths) != set(table.columns) or any(
            sum(counts.values()) != table.row_count for counts in widths.values()):
        widths = {column: Counter(cell_width(cell) for cell in table.get_column(column)) for column in table.columns}
        _widths[table] = widths
    return widths


def _count(counts: Counter[int], width: int, delta: int) -> None:
    counts[width] += delta
    if counts[width] <= 0:
        del counts[width]


def sync_rows(table: DataTable, rows: Mapping[str, Sequence[object]]) -> set[str]:
    """Make `table` hold exactly `rows` (row key → cells in column order); returns the keys of the
    rows added, changed or removed (empty, hence false, when nothing changed).

    A row whose cells are the very tuple given last time is skipped without comparing cells, so a
    caller that reuses the tuples of unchanged rows pays O(changed rows) at thousands of rows.
    The caller wraps calls in `app.batch_update()` and sorts afterwards when anything changed.
    """
    changed: set[str] = set()
    columns = list(table.columns)
    widths = _histograms(table)
    synced = _synced.get(table, {})
    for key in [k.value for k in table.rows if k.value not in rows]:
        for column, cell in zip(columns, table.get_row(key)):
            _count(widths[column], cell_width(cell), -1)
        table.remove_row(key)
        changed.add(key)
    for key, cells in rows.items():
        if type(cells) is tuple and synced.get(key) is cells and key in table.rows:
            continue
        if key not in table.rows:
            table.add_row(*cells, key=key)
            for column, cell in zip(columns, cells):
                _count(widths[column], cell_width(cell), +1)
            changed.add(key)
            continue
        current = table.get_row(key)
        for column, old, new in zip(columns, current, cells):
            if old != new:
                counts = widths[column]
                widest = max(counts, default=0)
                _count(counts, cell_width(old), -1)
                _count(counts, cell_width(new), +1)
                table.update_cell(key, column, new, update_width=max(counts, default=0) != widest)
                changed.add(key)
    _synced[table] = dict(rows)
    return changed


def selected_key(table: DataTable) -> str | None:
    """The row key under the cursor, or None on an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
