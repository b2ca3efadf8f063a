"""Pilot tests of the dashboard against the `seed` simulated cluster, through HTTP and the real client.

Figures on screen are checked against the model's derived views computed from a fresh list (not from
the app's own cache), behaviour through the app's posted messages and screens, keys only.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from kubernetes import client, config
from textual.widgets import DataTable
from textual.worker import Worker, WorkerState

from conftest import http, stop_simulator
from screens.help import HelpScreen
from screens.node_detail import NodeDetailScreen
from screens.node_status import NodeStatusDialog
from screens.yaml_view import YamlScreen
from tui import keys
from tui.app import CalicoApp, RegistryCommands
from tui.messages import ClusterUpdated, Connected
from tui.session import LiveView, Session, status_name
from tui.sim.simulator import VIEWER_CONTEXT, Simulator
from widgets.bgp import BgpPane
from widgets.nodes import NodesPane
from widgets.pools import PoolsPane

WIDE = (140, 40)


def control(sim, path: str, body: dict | None = None) -> dict:
    """POST to the simulator's control surface (`/_sim/...`)."""
    status, _, reply = http(sim, "POST", f"/_sim/{path}", body or {}, identity=None)
    assert status == 200, reply
    return json.loads(reply or b"{}")


def fresh_view(sim) -> LiveView:
    """The model's views from one fresh list of everything, independent of the app's cache."""
    session = Session(str(sim.kubeconfig_path), None)
    opened = session.open()
    try:
        assert session.cache.wait_synced(20)
        raw = session.cache.snapshot()
    finally:
        session.close()
    assert opened.context
    return LiveView.build(raw, {}, time.time())


def rows(table) -> dict[str, dict[str, str]]:
    """Row key → {column title: cell text}."""
    titles = [str(column.value) for column in table.columns]
    return {key.value: dict(zip(titles, map(str, table.get_row(key)))) for key in table.rows}


async def until(pilot, predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def all_live(app) -> bool:
    view = app.view
    return view is not None and view.health and all(h.state == "live" for h in view.health.values())


@pytest.fixture
def messages():
    return []


@pytest.fixture
def seed_sim(tmp_path):
    """The `seed` scenario, served over HTTPS like every cluster the app talks to."""
    simulator = Simulator.from_scenario("seed")
    simulator.start_in_thread()
    simulator.kubeconfig_path = simulator.write_kubeconfig(tmp_path / "kubeconfig")
    yield simulator
    stop_simulator(simulator)


def make_app(sim, messages, **session_options) -> CalicoApp:
    return CalicoApp(Session(str(sim.kubeconfig_path), None, **session_options), watch_terminal=False)


async def test_panes_show_the_figures_of_the_model(seed_sim, messages):
    app = make_app(seed_sim, messages)
    async with app.run_test(size=WIDE, message_hook=messages.append) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        expected = fresh_view(seed_sim)
        table = app.dashboard.query_one(NodesPane).table
        await until(pilot, lambda: len(table.rows) == len(expected.nodes), "node rows")

        assert any(isinstance(m, Connected) for m in messages)
        assert any(isinstance(m, ClusterUpdated) for m in messages)
        pools = rows(app.dashboard.query_one(PoolsPane).table)
        for usage in expected.pools:
            row = pools[usage.name]
            assert row["CIDR"] == str(usage.pool.cidr)
            assert row["blocks"] == str(len(usage.blocks))
            assert f" {usage.in_use}/{usage.total} " in row["IPs in use / total"]
        assert pools["default-ipv4-ippool"]["CIDR"] == "192.168.0.0/16"

        nodes = rows(app.dashboard.query_one(NodesPane).table)
        assert set(nodes) == {u.name for u in expected.nodes}
        for usage in expected.nodes:
            held = sum(usage.allocations_by_pool.values())
            per_pool = nodes[usage.name]["blocks / IPs per pool"].split(" · ")
            shown = sum(int(part.rsplit("/", 1)[1]) for part in per_pool if "/" in part)
            assert shown == held, usage.name
        reflectors = {n.name for n in expected.cluster.nodes if n.rr_cluster_id}
        assert reflectors and {k for k, r in nodes.items() if r["route reflector"] == "◆ RR 224.0.0.1"} == reflectors

        summary = str(app.dashboard.query_one("#bgp-summary").content)
        assert "AS 63400" in summary and "mesh ✖ off" in summary
        sessions = rows(app.dashboard.query_one("#sessions-table"))
        for node in expected.cluster.nodes:
            assert sessions[node.name]["expected"] == str(len(expected.bgp.expected_peers(node.name)))
        for name, node_sessions in expected.sessions.items():
            up = sum(1 for s in node_sessions if s.established)
            expected_here = sum(1 for s in node_sessions if s.expected)
            assert sessions[name]["observed (CalicoNodeStatus)"].endswith(f"{up}/{expected_here} Established")


async def test_filter_and_node_detail_by_keys_only(seed_sim, messages):
    app = make_app(seed_sim, messages)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        nodes = app.dashboard.query_one(NodesPane)
        total = len(nodes.table.rows)
        await pilot.press("slash", *"route-reflector=true")
        await until(pilot, lambda: 0 < len(nodes.table.rows) < total, "the filtered list")
        assert all(row["route reflector"].startswith("◆ RR") for row in rows(nodes.table).values())
        assert str(nodes.border_title).startswith(f"Nodes {len(nodes.table.rows)}/{total}")

        await pilot.press(",", "!")  # "route-reflector=true,!": not a selector
        error = str(app.dashboard.query_one("#filter-error").content)
        assert error.startswith("✖") and len(nodes.table.rows) < total

        await pilot.press("backspace", "backspace", "enter")
        chosen = nodes.selected_node()
        await pilot.press("enter")
        detail = await until(pilot, lambda: isinstance(app.screen, NodeDetailScreen) and app.screen,
                             "the node detail screen")
        assert detail.node == chosen
        await until(pilot, lambda: len(detail.query_one("#blocks-table").rows) > 0, "the node's blocks")
        assert chosen in str(detail.query_one("#summary").content)

        await pilot.press("y")
        yaml_screen = await until(pilot, lambda: isinstance(app.screen, YamlScreen) and app.screen, "YAML")
        assert yaml_screen.kind == "ipamblocks"
        # The live cache keeps blocks reduced; the view shows the block as the API serves it.
        await until(pilot, lambda: "timestamp:" in yaml_screen.text, "the whole block fetched")
        await pilot.press("c")
        assert "kind: IPAMBlock" in app.clipboard and "handle_id:" in app.clipboard
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, (YamlScreen, NodeDetailScreen))
        await pilot.press("escape")
        await until(pilot, lambda: len(nodes.table.rows) == total, "the filter cleared")


async def test_tab_walks_the_panes_at_80x24(seed_sim, messages):
    app = make_app(seed_sim, messages)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        screen = app.screen
        assert screen.has_class("-narrow")
        visible = lambda: [p.id for p in (app.dashboard.query_one(PoolsPane), app.dashboard.query_one(NodesPane),
                                          app.dashboard.query_one(BgpPane)) if p.display]
        assert visible() == ["nodes"]
        await pilot.press("tab")
        assert visible() == ["bgp"]
        await pilot.press("shift+tab", "shift+tab")
        assert visible() == ["pools"]
        await pilot.click("#tab-bgp")  # the mouse works too
        await pilot.pause()
        assert visible() == ["bgp"] and app.focused.id == "peers-table"
        await pilot.press("tab", "enter")  # a row of the sessions table is a node too
        detail = await until(pilot, lambda: isinstance(app.screen, NodeDetailScreen) and app.screen, "node detail")
        assert detail.node == app.view.cluster.nodes[0].name
        await pilot.press("escape")
        await pilot.resize_terminal(*WIDE)
        await pilot.pause()
        assert not screen.has_class("-narrow") and visible() == ["pools", "nodes", "bgp"]


async def test_a_pool_disabled_through_the_api_shows_within_a_second(seed_sim, messages):
    app = make_app(seed_sim, messages)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        table = app.dashboard.query_one(PoolsPane).table
        assert rows(table)["default-ipv4-ippool"]["state"] == "✔ enabled"
        api = client.CustomObjectsApi(config.new_client_from_config(str(seed_sim.kubeconfig_path)))
        api.patch_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool",
                                        {"spec": {"disabled": True}})
        started = seed_sim.clock.now()  # the change is committed: from here on it is the dashboard's time
        await until(pilot, lambda: rows(table)["default-ipv4-ippool"]["state"] == "⊘ disabled",
                    "the pool shown disabled", 10)
        assert seed_sim.clock.now() - started < 1.0

        await pilot.press("shift+tab", "y")  # the pool's YAML follows the live object
        yaml_screen = await until(pilot, lambda: isinstance(app.screen, YamlScreen) and app.screen, "YAML")
        assert "disabled: true" in yaml_screen.text
        api.patch_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool",
                                        {"spec": {"disabled": False}})
        await until(pilot, lambda: "disabled: true" not in yaml_screen.text, "the YAML view updated")


async def test_watch_outage_greys_the_panes_and_recovers(seed_sim, messages):
    app = make_app(seed_sim, messages)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        pools = app.dashboard.query_one(PoolsPane)
        before = rows(pools.table)
        control(seed_sim, "faults/fail", {"count": 100000, "code": 503})
        control(seed_sim, "faults/drop-watches")
        await until(pilot, lambda: pools.has_class("-stale"), "the pools pane marked stale")
        assert "stale: reconnecting" in str(pools.border_subtitle)
        banner = str(pools.query_one(".stale-banner").content)
        assert "last known state, not current" in banner
        assert rows(pools.table) == before  # kept, greyed, and labelled — not dropped, not passed off as live
        control(seed_sim, "faults/clear")
        await until(pilot, lambda: not pools.has_class("-stale") and all_live(app), "recovery", 40)
        assert str(pools.border_subtitle) == "● live"


async def test_bgp_status_request_creates_and_exit_removes_node_statuses(seed_sim, messages):
    app = make_app(seed_sim, messages)
    api = client.CustomObjectsApi(config.new_client_from_config(str(seed_sim.kubeconfig_path)))

    def ours() -> set[str]:
        items = api.list_cluster_custom_object("crd.projectcalico.org", "v1", "caliconodestatuses")["items"]
        return {i["metadata"]["name"] for i in items if i["metadata"]["name"].startswith("calico-tui-")}

    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        first = app.view.cluster.nodes[0].name
        await pilot.press("b")
        await pilot.press("space", "c")
        await until(pilot, lambda: ours() == {status_name(first)}, "the CalicoNodeStatus created")
    assert ours() == set()


async def test_read_only_flag_wins_over_an_admin_identity(seed_sim, messages):
    app = make_app(seed_sim, messages, force_read_only=True)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        assert not app.session.opened.capabilities.read_only  # the identity could write
        assert "READ-ONLY (--read-only)" in str(app.dashboard.query_one("#header").content)
        assert app.screen.check_action("bgp_status", ()) is None
        await pilot.press("b")
        assert not isinstance(app.screen, NodeStatusDialog)


async def test_an_unchanged_view_redraws_nothing_and_the_palette_lists_the_registry(seed_sim, messages):
    app = make_app(seed_sim, messages)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        await pilot.pause(0.3)
        tables = list(app.dashboard.query(DataTable))
        counts = [table._update_count for table in tables]
        app.dashboard.show_view(app.view)  # the same picture again, as a coalesced no-op change set would
        assert [table._update_count for table in tables] == counts

        nodes = app.dashboard.query_one(NodesPane)
        held = {u.name: u.in_use for u in app.view.nodes}
        await pilot.press("s", "s", "s", "s")  # name → roles → status → route reflector → blocks / IPs
        assert nodes.sort_column == "blocks / IPs per pool"
        order = [row.key.value for row in nodes.table.ordered_rows]
        assert order == sorted(held, key=lambda name: (held[name], name))
        await pilot.press("s", "s", "s", "s", "s")  # past the last column: reversed, by name
        assert nodes.sort_column == "name" and nodes.sort_reverse
        assert [row.key.value for row in nodes.table.ordered_rows] == sorted(held, reverse=True)

        provider = RegistryCommands(app.screen)
        titles = {hit.text.split("  (")[0] async for hit in provider.discover()}
        assert {c.title for c in keys.commands(keys.DASHBOARD, keys.APP) if c.id != "palette"} <= titles
        hits = [hit async for hit in provider.search("yaml")]
        assert max(hits, key=lambda hit: hit.score).text == "YAML  (y)"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and app.screen.scopes == (keys.DASHBOARD, keys.APP)


async def test_a_viewer_identity_is_read_only_and_relist_reloads(seed_sim, messages):
    app = CalicoApp(Session(str(seed_sim.kubeconfig_path), VIEWER_CONTEXT), watch_terminal=False)
    async with app.run_test(size=WIDE, message_hook=messages.append) as pilot:
        await until(pilot, lambda: all_live(app), "every watch live")
        assert "READ-ONLY (identity cannot write)" in str(app.dashboard.query_one("#header").content)
        assert app.screen.check_action("bgp_status", ()) is None
        before = sum(isinstance(m, ClusterUpdated) for m in messages)
        await pilot.press("r")
        await until(pilot, lambda: any(isinstance(m, Worker.StateChanged) and m.worker.group == "relist"
                                       and m.state == WorkerState.SUCCESS for m in messages), "the relist")
        await until(pilot, lambda: all_live(app) and sum(isinstance(m, ClusterUpdated) for m in messages) > before,
                    "a fresh view after the relist")


async def test_quitting_while_connecting_leaves_no_watch_threads(seed_sim):
    """`q` during a slow connect: the worker finishes after the app is gone and must start nothing."""

    class Recorded(Session):
        finished = threading.Event()

        def open(self):
            try:
                return super().open()
            finally:
                self.finished.set()

    control(seed_sim, "faults/latency", {"seconds": 0.2})
    session = Recorded(str(seed_sim.kubeconfig_path), None)
    app = CalicoApp(session, watch_terminal=False)
    async with app.run_test() as pilot:
        await pilot.pause(0.3)
        assert app.view is None  # still connecting
        await pilot.press("q")
    assert await asyncio.to_thread(session.finished.wait, 60)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("calico-tui watch")]
