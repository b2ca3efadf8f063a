"""SVG snapshots of the dashboard (Textual pinned in pyproject; regenerate with --snapshot-update).

The data comes from the `seed` simulated cluster through HTTP with the simulator's clock frozen once
the cluster settled; the app's clock is frozen too, so every age on screen is fixed. The only other
moving part, the server URL (a random loopback port), is pinned in the header before the shot.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from textual.widgets import DataTable

from conftest import stop_simulator
from tui.app import CalicoApp
from tui.session import Session
from tui.sim.clock import Clock
from tui.sim.simulator import Simulator
from widgets.header import ClusterHeader

FROZEN_NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SHOWN_SERVER = "https://127.0.0.1:6443"


@pytest.fixture
def snapshot_sim(tmp_path):
    """`seed` booted on a clock frozen at FROZEN_NOW, so every object, name and time is the same each run."""
    clock = Clock(start=FROZEN_NOW)
    clock.freeze()
    simulator = Simulator.from_scenario("seed", clock=clock)
    simulator.start_in_thread()
    simulator.kubeconfig_path = simulator.write_kubeconfig(tmp_path / "kubeconfig")
    yield simulator
    stop_simulator(simulator)


def make_app(sim) -> CalicoApp:
    return CalicoApp(Session(str(sim.kubeconfig_path), None, clock=lambda: FROZEN_NOW),
                     clock=lambda: FROZEN_NOW, watch_terminal=False)


async def settled(pilot) -> None:
    """Wait for the live data, pin the server URL, let every table measure its columns."""
    app = pilot.app
    deadline = time.monotonic() + 30
    while not (app.view and app.view.health and all(h.state == "live" for h in app.view.health.values())):
        assert time.monotonic() < deadline, "the dashboard never went live"
        await pilot.pause(0.05)
    header = app.screen.query_one(ClusterHeader)
    header.show_identity(dataclasses.replace(header.opened, server=SHOWN_SERVER))
    await measured(pilot)


async def measured(pilot) -> None:
    """Until every table measured its columns (Textual does it when idle), twice in a row."""
    quiet = 0
    while quiet < 2:
        await pilot.pause(0.05)
        busy = any(t._updated_cells or t._require_update_dimensions for t in pilot.app.screen.query(DataTable))
        quiet = 0 if busy else quiet + 1


def test_dashboard_80x24(snapshot_sim, snap_compare):
    assert snap_compare(make_app(snapshot_sim), terminal_size=(80, 24), run_before=settled)


def test_dashboard_140x40(snapshot_sim, snap_compare):
    assert snap_compare(make_app(snapshot_sim), terminal_size=(140, 40), run_before=settled)


def test_node_detail(snapshot_sim, snap_compare):
    async def open_detail(pilot):
        await settled(pilot)
        await pilot.press("enter")
        await measured(pilot)

    assert snap_compare(make_app(snapshot_sim), terminal_size=(100, 30), run_before=open_detail)


def test_yaml_view(snapshot_sim, snap_compare):
    async def open_yaml(pilot):
        await settled(pilot)
        await pilot.press("shift+tab", "y")  # the first pool, default-ipv4-ippool
        await measured(pilot)

    assert snap_compare(make_app(snapshot_sim), terminal_size=(100, 30), run_before=open_yaml)


def test_no_color(snapshot_sim, snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(snapshot_sim), terminal_size=(100, 30), run_before=settled)
