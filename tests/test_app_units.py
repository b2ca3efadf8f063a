"""Pure pieces of the dashboard: key registry, freshness words, usage bars, keyed table diffs, filters."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from model_builders import seed_raw
from tui import keys
from tui.model.cluster import ParseMemo, build_cluster
from tui.model.k8s_selectors import SelectorError
from tui.terminal import apply_color_system, no_color, terminal_alive
from widgets.freshness import FAILED, LIVE, LOADING, RECONNECTING, PaneHealth, describe, duration, worst
from tui.session import LiveView
from widgets.nodes import NodeRows, node_matcher
from widgets.table_sync import keyed_table, selected_key, sync_rows
from widgets.usage import bar, usage_cell


def test_every_command_has_a_unique_id_and_one_key_per_scope():
    ids = [c.id for c in keys.COMMANDS]
    assert len(ids) == len(set(ids))
    for scope in {c.scope for c in keys.COMMANDS}:
        scoped = [c.key for c in keys.commands(scope)]
        assert len(scoped) == len(set(scoped)), scope


def test_bindings_carry_the_registry_ids():
    bindings = keys.bindings(keys.DASHBOARD)
    assert {b.id for b in bindings} == {c.id for c in keys.commands(keys.DASHBOARD)}
    assert all(b.tooltip for b in bindings)


def test_help_rows_list_screen_commands_before_app_commands():
    rows = keys.help_rows((keys.DASHBOARD, keys.APP))
    labels = [row[0] for row in rows]
    assert labels.index("/") < labels.index("?")
    assert ("q", "Quit") == rows[[r[1] for r in rows].index("Quit")][:2]


@pytest.mark.parametrize("choice, expected", [("truecolor", "truecolor"), ("256", "256"), ("16", "standard")])
def test_color_system_choice_sets_textual_env(choice, expected):
    environ: dict[str, str] = {}
    apply_color_system(choice, environ)
    assert environ == {"TEXTUAL_COLOR_SYSTEM": expected}


def test_color_system_auto_keeps_the_users_setting():
    environ = {"TEXTUAL_COLOR_SYSTEM": "256"}
    apply_color_system("auto", environ)
    assert environ == {"TEXTUAL_COLOR_SYSTEM": "256"}
    with pytest.raises(ValueError):
        apply_color_system("8", environ)


def test_no_color_is_honoured_even_when_empty():
    assert no_color({"NO_COLOR": ""})
    assert not no_color({})


def test_a_pipe_is_not_a_terminal():
    read, write = os.pipe()
    try:
        assert not terminal_alive(read)
    finally:
        os.close(read)
        os.close(write)


@pytest.mark.parametrize("seconds, words", [(0, "0 s"), (12.7, "12 s"), (60, "1 min"), (3599, "59 min"),
                                            (3900, "1 h 5 min")])
def test_duration_words(seconds, words):
    assert duration(seconds) == words


def test_freshness_words_never_call_stale_data_live():
    assert describe(PaneHealth(LIVE), 100) == "● live"
    assert describe(PaneHealth(RECONNECTING, since=88), 100) == "⚠ stale: reconnecting, 12 s"
    assert describe(PaneHealth(FAILED, since=40, detail="403 forbidden"), 100) == "✖ stale: watch failed, 1 min"
    assert not PaneHealth(LOADING).stale and PaneHealth(RECONNECTING, 1).stale


def test_worst_health_is_the_oldest_outage():
    older, newer = PaneHealth(RECONNECTING, since=10), PaneHealth(RECONNECTING, since=50)
    assert worst([PaneHealth(LIVE), newer, older]) == older
    assert worst([PaneHealth(LIVE), PaneHealth(FAILED, 90)]).state == FAILED
    assert worst([]).state == LOADING


def test_usage_bar_shows_any_use_and_never_overflows():
    assert bar(0, 64, 10) == " " * 10
    assert bar(1, 65536, 10).strip() == "▏"
    assert bar(64, 64, 10) == "█" * 10
    assert bar(32, 64, 10) == "█████     "
    assert usage_cell(3, 64).plain.endswith(" 3/64 5%")


def test_node_filter_by_name_and_label_selector():
    labels = {"route-reflector": "true", "node-role.kubernetes.io/control-plane": ""}
    assert node_matcher("cp")("cp-1", {})
    assert not node_matcher("worker")("cp-1", labels)
    assert node_matcher("route-reflector=true")("x", labels)
    assert not node_matcher("route-reflector!=true")("x", labels)
    assert node_matcher("node-role.kubernetes.io/control-plane")("x", labels)
    with pytest.raises(SelectorError):
        node_matcher("route-reflector in (true")


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield keyed_table("t", ("name", "value"))


async def test_sync_rows_touches_only_what_changed():
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        assert sync_rows(table, {"a": ("a", "1"), "b": ("b", "2")})
        assert not sync_rows(table, {"a": ("a", "1"), "b": ("b", "2")})
        count = table._update_count
        assert sync_rows(table, {"a": ("a", "1"), "c": ("c", "3")})
        assert [table.get_row(k) for k in ("a", "c")] == [["a", "1"], ["c", "3"]]
        assert "b" not in table.rows and table._update_count > count
        assert sync_rows(table, {"a": ("a", "9"), "c": ("c", "3")})
        assert table.get_cell("a", "value") == "9"
        assert selected_key(table) == "a"

        async def measured():  # DataTable measures updated cells when idle
            while table._updated_cells or table._require_update_dimensions:
                await pilot.pause(0.01)

        assert sync_rows(table, {"a": ("a", "a much wider value"), "c": ("c", "3")})
        await measured()
        assert table.columns["value"].content_width == len("a much wider value")


async def test_sync_rows_with_only_looks_at_the_named_keys():
    app = TableApp()
    async with app.run_test():
        table = app.query_one(DataTable)
        sync_rows(table, {"a": ("a", "1"), "b": ("b", "2"), "c": ("c", "3")})
        rows = {"a": ("a", "1"), "b": ("b", "20"), "c": ("c", "30"), "d": ("d", "4")}
        assert sync_rows(table, rows, only={"b", "d"}) == {"b", "d"}
        assert table.get_cell("c", "value") == "3"  # not named: left alone
        assert table.get_cell("b", "value") == "20" and "d" in table.rows
        del rows["a"]
        assert sync_rows(table, rows, only={"a"}) == {"a"}
        assert "a" not in table.rows and table.row_count == 3


async def test_a_frame_drawn_before_columns_are_measured_is_not_kept():
    """Textual measures widths when idle; a row rendered in between must not stay cut short."""
    app = TableApp()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(DataTable)
        sync_rows(table, {"a": ("a", "1")})
        await pilot.pause()
        wide = "a much wider value"
        sync_rows(table, {"a": ("a", wide)})
        table.render_line(1)  # drawn with the old column width, and cached
        while table._updated_cells or table._require_update_dimensions:
            await pilot.pause(0.01)
        assert wide in table.render_line(1).text


def test_node_rows_look_only_at_nodes_whose_usage_changed():
    raw = seed_raw()
    memo = ParseMemo()
    rows = NodeRows()
    everyone = node_matcher("")
    assert rows.update(LiveView.build(raw, {}, 0.0, memo=memo), everyone)[0] is None
    assert rows.update(LiveView.build(raw, {}, 0.0, memo=memo), everyone)[0] == set()
    block = copy.deepcopy(raw["ipamblocks"][4])
    block["metadata"]["resourceVersion"] += "0"
    raw["ipamblocks"][4] = block
    touched, before = rows.update(LiveView.build(raw, {}, 0.0, memo=memo), everyone)
    assert touched == {block["spec"]["affinity"].removeprefix("host:")} == set(before)
    assert len(rows.rows) == 10
    assert rows.update(LiveView.build(raw, {}, 0.0, memo=memo), node_matcher("node0"))[0] is None
    assert sorted(rows.rows) == [f"node0{i}" for i in range(1, 10)]


def test_a_parse_memo_rebuilds_only_changed_objects():
    raw = seed_raw()
    memo = ParseMemo()
    first = build_cluster(raw, memo)
    memo.rotate()
    assert first == build_cluster(seed_raw())
    changed = copy.deepcopy(raw["nodes"][3])
    changed["metadata"]["resourceVersion"] += "0"
    changed["metadata"]["labels"]["route-reflector"] = "true"
    raw["nodes"][3] = changed
    second = build_cluster(raw, memo)
    memo.rotate()
    assert second == build_cluster(raw)
    unchanged = [a is b for a, b in zip(first.nodes, second.nodes)]
    assert unchanged == [i != 3 for i in range(len(first.nodes))]
    assert second.nodes[3].route_reflector and not first.nodes[3].route_reflector


def test_the_command_line_does_not_import_textual_before_the_colour_choice():
    """TEXTUAL_COLOR_SYSTEM is read once, at textual's import: parsing arguments must not import it."""
    code = ("import sys, tui.cli; tui.cli.build_parser().parse_args(['--color-system', '256']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_the_migration_guide_lists_every_key_of_the_screen():
    guide = (Path(__file__).parent.parent / "docs" / "MIGRATION.md").read_text()
    missing = [c.id for c in keys.commands(keys.MIGRATION) if f"| `{keys.key_label(c)}` | {c.title} |" not in guide]
    assert not missing, f"docs/MIGRATION.md lacks these migration-screen keys: {missing}"
