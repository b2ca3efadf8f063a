"""SVG snapshots of the migration screen (regenerate with --snapshot-update): the parameters form with
a validation error, the preflight blocked by kube-controller-manager's crash, the step diffs of the
IPPool disable and of the kube-proxy ConfigMap, and the running view with its progress and log.

The `seed` cluster's clock is frozen (tests/test_snapshots), the app's clock too (it stamps the plan:
the restart annotation in the diffs), and the runner's event times; the run waits on kube-proxy pods
that a frozen cluster never restarts, polling once an hour, so its log and progress stand still.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from textual.widgets import Input

from migration_pilot import choose, confirmation
from screens.migration import MigrationScreen
from test_app_dashboard import until
from test_snapshots import FROZEN_NOW, measured, snapshot_sim  # noqa: F401
from tui.app import CalicoApp
from tui.migrate.runner import STOPPED, RunOptions
from tui.session import Session

WIDE = (140, 40)
STILL = RunOptions(poll_interval=3600, settle=0, wait_timeout=7200)


class FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.fromtimestamp(FROZEN_NOW, tz or timezone.utc)


@pytest.fixture(autouse=True)
def frozen_events(tmp_path, monkeypatch):
    monkeypatch.setattr("tui.migrate.runner.datetime", FrozenDatetime)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def make_app(sim) -> CalicoApp:
    return CalicoApp(Session(str(sim.kubeconfig_path), None, clock=lambda: FROZEN_NOW), clock=lambda: FROZEN_NOW,
                     watch_terminal=False, run_options=STILL)


async def opened(pilot) -> MigrationScreen:
    app = pilot.app
    await until(pilot, lambda: app.view is not None and all(h.state == "live" for h in app.view.health.values()),
                "the live view")
    await pilot.press("m")
    screen = await until(pilot, lambda: isinstance(app.screen, MigrationScreen) and app.screen, "the screen")
    await until(pilot, lambda: screen.form.pools, "the cluster read")
    for field in screen.query(Input):
        field.cursor_blink = False
    return screen


async def planned(pilot, **choices) -> MigrationScreen:
    screen = await opened(pilot)
    await pilot.press(*"172.21.0.0/16")
    await until(pilot, lambda: screen.form.widget("block_size").value, "the derived values")
    for name, value in choices.items():
        await choose(pilot, screen, name, value)
    await pilot.press("ctrl+r")
    await until(pilot, lambda: screen.planned is not None, "the plan", 30)
    return screen


async def still(pilot) -> None:
    pilot.app.clear_notifications()
    await measured(pilot)


def test_form_with_a_validation_error_80x24(snapshot_sim, snap_compare):
    async def typed(pilot):
        screen = await opened(pilot)
        await pilot.press(*"172.21.0.1/16")
        await until(pilot, lambda: "did you mean" in str(screen.query_one("#note-target_cidr").content), "the note")
        await still(pilot)

    assert snap_compare(make_app(snapshot_sim), terminal_size=(80, 24), run_before=typed)


def test_preflight_blocked_by_kube_controller_manager(snapshot_sim, snap_compare):
    async def keep(pilot):
        await planned(pilot, node_strategy="keep")
        await still(pilot)

    assert snap_compare(make_app(snapshot_sim), terminal_size=WIDE, run_before=keep)


@pytest.mark.parametrize("step", ["disable-old-pool", "kube-proxy"])
def test_step_diff(snapshot_sim, snap_compare, step):
    async def selected(pilot):
        screen = await planned(pilot, allow_bare_pod_loss=True)
        screen.step_list.select(step)
        await pilot.press("4")
        await still(pilot)

    assert snap_compare(make_app(snapshot_sim), terminal_size=WIDE, run_before=selected)


def test_running_view_with_progress_and_log(snapshot_sim, snap_compare):
    async def running(pilot):
        screen = await planned(pilot, allow_bare_pod_loss=True)
        for step in ("create-pool", "kube-proxy"):  # the second waits for pods a frozen cluster never restarts
            await confirmation(pilot, "n")
            await pilot.press("y")
            if step == "create-pool":
                await until(pilot, lambda: screen.outcome == STOPPED, "the new pool")
        await until(pilot, lambda: "kube-proxy restart: 0/" in str(screen.live.get("kube-proxy")), "the wait")
        await until(pilot, lambda: screen.query_one("#progress").event is not None, "the progress")
        await pilot.pause(0.3)
        await still(pilot)

    assert snap_compare(make_app(snapshot_sim), terminal_size=WIDE, run_before=running)
