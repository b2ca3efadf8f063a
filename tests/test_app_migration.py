"""Pilot tests of the migration screen against the `seed` simulated cluster, keys only: the whole
migration 192.168.0.0/16 → 172.21.0.0/16 with the simulator performing the manual host steps (end
state checked as the engine's acceptance tests check it), and a run killed mid-rolling-step by the
app's exit, resumed from the journal by a new app instance and finished.

The runner polls fast and the simulated cluster runs faster than real time (tests/migrate_cluster),
in a process of its own: Pilot waits after every key until this process is idle, which a simulator
running a hundred times faster than real time in the same process never lets it be. Both long tests
run at 80×24, where one panel shows at a time.
"""

from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from migrate_cluster import NEW, SPEED, end_state, expected_state
from screens.confirm import ConfirmDialog
from screens.migration import MigrationScreen
from test_app_dashboard import until
from tui.app import CalicoApp
from tui.kube.connection import connect
from tui.migrate.runner import DONE, STOPPED, RunOptions
from tui.migration_messages import PlanReady, RunEvents, RunFinished, RunnerReady
from tui.session import Session
from widgets.migration_form import FIELDS

FAST = RunOptions(poll_interval=0.1, settle=0.3, wait_timeout=120, backoff=0.05)
SMALL = (80, 24)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """The seed cluster served by `calico-tui demo-server` (what end_state needs: its kubeconfig), in
    real time until `fast` speeds it up for a run: a calm cluster lets the keys before it go quickly."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    kubeconfig, log = tmp_path / "kubeconfig", tmp_path / "demo-server.log"
    with open(log, "w") as errors:
        server = subprocess.Popen([sys.executable, "-m", "tui.cli", "demo-server", "--kubeconfig-out",
                                   str(kubeconfig)], stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        url = server.stdout.readline()
        assert url.startswith("https://"), log.read_text()
        yield SimpleNamespace(kubeconfig_path=kubeconfig)
    finally:
        server.terminate()
        server.wait(10)


def fast(cluster) -> None:
    """Simulated time SPEED times faster from now on (the runner polls at FAST's pace)."""
    conn = connect(str(cluster.kubeconfig_path), None)
    try:
        assert conn.request("POST", "/_sim/clock", body={"speed": SPEED})["speed"] == SPEED
    finally:
        conn.close()


def make_app(sim, **session_options) -> CalicoApp:
    return CalicoApp(Session(str(sim.kubeconfig_path), None, **session_options), watch_terminal=False,
                     sim_manual=True, run_options=FAST)


def count(messages, kind) -> int:
    return sum(isinstance(m, kind) for m in messages)


async def open_migration(pilot) -> MigrationScreen:
    await pilot.press("m")
    screen = await until(pilot, lambda: next((s for s in pilot.app.screen_stack if isinstance(s, MigrationScreen)),
                                             None), "the migration screen")
    await until(pilot, lambda: screen.form.pools or isinstance(pilot.app.screen, ConfirmDialog),
                "the cluster read for the form")
    return screen


async def go_to_field(pilot, screen: MigrationScreen, name: str) -> None:
    """Tab (or shift+tab) from the focused form field to `name`."""
    names = [f.name for f in FIELDS]
    here = names.index(screen.focused.id.removeprefix("field-"))
    step = names.index(name) - here
    await pilot.press(*(["tab"] * step if step > 0 else ["shift+tab"] * -step))
    assert screen.focused is screen.form.widget(name)


async def choose(pilot, screen: MigrationScreen, name: str, value) -> None:
    """Pick `value` in a select field by keys: open it, move to the option, enter."""
    await go_to_field(pilot, screen, name)
    field = next(f for f in FIELDS if f.name == name)
    values = [v for _, v in field.choices]
    moves = values.index(value) - values.index(screen.form.widget(name).value)
    await pilot.press("enter", *(["down"] * moves if moves > 0 else ["up"] * -moves), "enter")
    await until(pilot, lambda: screen.form.widget(name).value == value, f"{name} = {value}")


async def plan(pilot, screen: MigrationScreen, messages, **choices) -> None:
    """Type the target, make the choices, ctrl+r: wait for the plan."""
    await pilot.press(*NEW)
    for name, value in choices.items():
        await choose(pilot, screen, name, value)
    planned = count(messages, PlanReady)
    await pilot.press("ctrl+r")
    await until(pilot, lambda: count(messages, PlanReady) > planned and screen.planned, "the plan", 60)


async def run(pilot, screen: MigrationScreen, messages, key: str, timeout: float = 150) -> str:
    """Press `key`, confirm, wait for the run to end; returns its outcome."""
    finished = count(messages, RunFinished)
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "the confirmation")
    await pilot.press("y")
    await until(pilot, lambda: count(messages, RunFinished) > finished, f"the run started with {key}", timeout)
    await until(pilot, lambda: screen.outcome is not None, "the outcome shown")
    return screen.outcome


def statuses(screen: MigrationScreen) -> dict[str, str]:
    return {key.value: str(screen.step_list.get_row(key)[3]) for key in screen.step_list.rows}


async def test_whole_seed_migration_by_keys(cluster):
    messages = []
    app = make_app(cluster)
    async with app.run_test(size=SMALL, message_hook=messages.append) as pilot:
        screen = await open_migration(pilot)
        await plan(pilot, screen, messages, allow_bare_pod_loss=True)
        assert screen.run_blocked() == ""
        fast(cluster)
        steps = screen.plan.ids
        assert steps[0] == "create-pool" and "node-podcidrs" in steps and "kube-controller-manager" in steps
        outcomes = []
        started = time.monotonic()
        while screen.run_blocked() != "every step is done":
            assert time.monotonic() - started < 400, f"still running: {statuses(screen)}"
            outcomes.append(await run(pilot, screen, messages, "u"))
        assert set(outcomes) <= {STOPPED, DONE} and outcomes[-1] == DONE
        assert len(outcomes) >= 3  # stopped before each manual step, then to the end
        shown = statuses(screen)
        assert all(shown[s] == "✔ done" for s in steps), shown
        assert "migration complete" in "\n".join(screen.query_one("#log").lines)
    state = end_state(cluster)
    assert state == expected_state(state, "recreate-nodes")


async def test_killed_mid_roll_resumes_in_a_new_app_and_finishes(cluster):
    messages = []
    app = make_app(cluster)
    async with app.run_test(size=SMALL, message_hook=messages.append) as pilot:
        screen = await open_migration(pilot)
        await plan(pilot, screen, messages, allow_bare_pod_loss=True, node_strategy="disable-allocation")
        fast(cluster)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        await pilot.press("y")

        def rolling() -> bool:
            return any(e.step == "roll-workloads" and e.total and e.done >= 2
                       for m in messages if isinstance(m, RunEvents) for e in m.events)
        await until(pilot, rolling, "the roll under way", 120)
        assert statuses(screen)["roll-workloads"] == "▶ running"
    # The app is gone in the middle of the rolling step: nothing but the journal remembers.
    assert count(messages, RunFinished) == 0

    messages = []
    app = make_app(cluster)
    async with app.run_test(size=SMALL, message_hook=messages.append) as pilot:
        screen = await open_migration(pilot)
        dialog = await until(pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the offer")
        offer = dialog.body.plain
        assert "unfinished" in offer and "roll-workloads" in offer and "interrupted" in offer
        assert "5. roll-workloads: interrupted" in offer
        await pilot.press("y")
        await until(pilot, lambda: count(messages, RunnerReady), "the resumed runner")
        assert statuses(screen)["create-pool"] == "✔ done"
        assert statuses(screen)["roll-workloads"] == "◑ interrupted"
        outcomes = []
        while screen.run_blocked() != "every step is done":
            assert len(outcomes) < 6, f"still running: {statuses(screen)}"
            outcomes.append(await run(pilot, screen, messages, "u"))
        assert outcomes[-1] == DONE
    state = end_state(cluster)
    assert state == expected_state(state, "disable-allocation")
