"""Keyed DataTable diffs: only changed cells are touched, so an unchanged refresh redraws nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TypeVar
from weakref import WeakKeyDictionary

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Region
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from tui.model.identity import identical

T = TypeVar("T")

# Per table and column, how many cells have each width. Textual re-measures every cell of a column
# when an updated cell is narrower than the column (O(rows) per update); knowing the widths lets a
# diff ask for that only when the column's widest width really changes.
_widths: WeakKeyDictionary[DataTable, dict[object, Counter[int]]] = WeakKeyDictionary()
# Per table, the rows it was last synced to (row key -> the cells tuple given).
_synced: WeakKeyDictionary[DataTable, dict[str, Sequence[object]]] = WeakKeyDictionary()


class KeyedTable(DataTable):
    """A DataTable that never shows a row drawn for column widths it no longer has.

    Textual caches rendered cells and rows by its update counter, not by column width, and measures
    widths only when idle: a frame drawn between `update_cell` and that measurement stays cached
    with the old widths (a column cut short, or one left too wide, until the next update). A width
    change found when idle therefore starts a new cache generation.
    """

    _drawn_widths: tuple[int, ...] = ()

    def _update_dimensions(self, new_rows) -> None:
        super()._update_dimensions(new_rows)
        widths = tuple(column.content_width for column in self.columns.values())
        if widths != self._drawn_widths:
            self._drawn_widths = widths
            self._update_count += 1
            self.refresh()


def keyed_table(table_id: str, columns: Sequence[str]) -> DataTable:
    """A row-cursor table whose column keys are the column titles (what `sync_rows` fills)."""
    table = KeyedTable(cursor_type="row", zebra_stripes=True, id=table_id)
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


def sync_rows(table: DataTable, rows: Mapping[str, Sequence[object]], only: Collection[str] | None = None
              ) -> set[str]:
    """Make `table` hold exactly `rows` (row key → cells in column order); returns the keys of the
    rows added, changed or removed (empty, hence false, when nothing changed).

    A row whose cells are the very tuple given last time is skipped without comparing cells, so a
    caller that reuses the tuples of unchanged rows pays O(changed rows) at thousands of rows.
    `only`, when the caller knows it, names the only keys that may differ from the last sync (a key
    in it but not in `rows` is removed); the rest of the table is then not even scanned.
    The caller wraps calls in `app.batch_update()` and sorts afterwards when anything changed.
    """
    changed: set[str] = set()
    repainted: set[str] = set()
    columns = list(table.columns)
    widths = _histograms(table)
    synced = _synced.setdefault(table, {})
    if only is None:
        gone = [k.value for k in table.rows if k.value not in rows]
        candidates: Iterable[str] = rows
    else:
        gone = [key for key in only if key not in rows and key in table.rows]
        candidates = [key for key in only if key in rows]
    for key in gone:
        for column, cell in zip(columns, table.get_row(key)):
            _count(widths[column], cell_width(cell), -1)
        table.remove_row(key)
        synced.pop(key, None)
        changed.add(key)
    for key in candidates:
        cells = rows[key]
        if type(cells) is tuple and synced.get(key) is cells and key in table.rows:
            continue
        synced[key] = cells
        if key not in table.rows:
            table.add_row(*cells, key=key)
            for column, cell in zip(columns, cells):
                _count(widths[column], cell_width(cell), +1)
            changed.add(key)
            continue
        updates = []  # (column, new value, whether the column's widest width changes)
        for column, old, new in zip(columns, table.get_row(key), cells):
            if old != new:
                counts = widths[column]
                widest = max(counts, default=0)
                _count(counts, cell_width(old), -1)
                _count(counts, cell_width(new), +1)
                updates.append((column, new, max(counts, default=0) != widest))
        if updates:
            changed.add(key)
            if any(resize for _, _, resize in updates) or not _set_quietly(table, key, updates):
                for column, new, resize in updates:
                    table.update_cell(key, column, new, update_width=resize)
                repainted.clear()  # the whole table is drawn again anyway
            else:
                repainted.add(key)
    if repainted:
        _forget_rows(table, repainted)
    return changed


class RowMemo:
    """Rows rebuilt only when one of their inputs is a different object. The live view keeps the
    objects of whatever did not change, so an unchanged row keeps its very tuple and `sync_rows`
    skips it by identity."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[tuple, object]] = {}

    def get(self, key: str, inputs: tuple, build: Callable[[], T]) -> T:
        hit = self._rows.get(key)
        if hit is None or not identical(hit[0], inputs):
            hit = (inputs, build())
            self._rows[key] = hit
        return hit[1]

    def keep_only(self, keys: Collection[str]) -> None:
        """Forget rows of keys long gone, once they outnumber the live ones."""
        if len(self._rows) > 2 * len(keys):
            self._rows = {key: self._rows[key] for key in keys if key in self._rows}


# Textual's DataTable redraws every visible row after any update_cell (its render caches are keyed
# by a table-wide update counter) and the terminal gets the whole table again. For a cell update that
# leaves column widths alone, only that row's cached rendering is dropped and only that row repainted:
# at thousands of rows under churn this is most of the dashboard's CPU and of the bytes sent over SSH.
# It relies on the caches of the pinned Textual; without them it falls back to update_cell.
_ROW_CACHES = ("_cell_render_cache", "_row_render_cache")  # keyed by (row key, ...)


def _set_quietly(table: DataTable, key: str, updates: list[tuple[str, object, bool]]) -> bool:
    data = getattr(table, "_data", None)
    if not isinstance(data, dict) or not all(hasattr(table, name) for name in
                                             (*_ROW_CACHES, "_row_renderable_cache", "_line_cache")):
        return False
    row = data[RowKey(key)]
    for column, value, _ in updates:
        row[ColumnKey(column)] = value
    return True


def _forget_rows(table: DataTable, keys: set[str]) -> None:
    """Drop the cached rendering of these rows and repaint them (and nothing else)."""
    row_keys = {RowKey(key) for key in keys}
    for name in _ROW_CACHES:
        cache = getattr(table, name)
        for cached in [k for k in cache.keys() if k[0] in row_keys]:
            cache.discard(cached)
    indexes = [table.get_row_index(key) for key in row_keys]
    for index in indexes:
        table._row_renderable_cache.discard((table._update_count, index))
    table._line_cache.clear()
    if any(table.rows[key].height != 1 for key in row_keys):
        table.refresh()
        return
    # DataTable.refresh_row sums the heights of every row above (O(rows) per call); ours are one
    # line high, so a row's line is its index below the header.
    header = table.header_height if table.show_header else 0
    for index in indexes:
        region = Region(0, header + index, table.virtual_size.width, 1)
        if table.window_region.overlaps(region):
            table.refresh(region.translate(-table.scroll_offset))


def selected_key(table: DataTable) -> str | None:
    """The row key under the cursor, or None on an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
