"""Helpers for the migration screen's Pilot tests (not a test module): the seed cluster served by
`calico-tui demo-server` in a process of its own, an app wired to it, and key sequences.

Pilot waits after every key until this process is idle, which a simulator running a hundred times
faster than real time in the same process never lets it be; so the cluster runs apart, in real time
while keys are typed, and `fast` speeds it up for a run.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from migrate_cluster import NEW, SPEED
from screens.confirm import ConfirmDialog
from screens.migration import MigrationScreen
from test_app_dashboard import until
from tui.app import CalicoApp
from tui.kube.connection import connect
from tui.migrate.runner import RunOptions
from tui.migration_messages import PlanReady, RunFinished
from tui.session import Session
from widgets.migration_form import FIELDS

FAST = RunOptions(poll_interval=0.1, settle=0.3, wait_timeout=120, backoff=0.05)
SMALL = (80, 24)


@contextmanager
def demo_server(directory: Path):
    """The seed cluster served by `calico-tui demo-server`: its kubeconfig (all end_state needs)."""
    kubeconfig, log = directory / "kubeconfig", directory / "demo-server.log"
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


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """The test's own state directory (journals) and working directory (exported runbooks)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cluster(isolated):
    """A cluster of the test's own."""
    with demo_server(isolated) as served:
        yield served


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One cluster for a module's tests that only look (nothing they do changes the cluster)."""
    with demo_server(tmp_path_factory.mktemp("cluster")) as served:
        yield served


def fast(cluster) -> None:
    """Simulated time SPEED times faster from now on (the runner polls at FAST's pace)."""
    conn = connect(str(cluster.kubeconfig_path), None)
    try:
        assert conn.request("POST", "/_sim/clock", body={"speed": SPEED})["speed"] == SPEED
    finally:
        conn.close()


def make_app(sim, context: str | None = None, sim_manual: bool = True, **session_options) -> CalicoApp:
    return CalicoApp(Session(str(sim.kubeconfig_path), context, **session_options), watch_terminal=False,
                     sim_manual=sim_manual, run_options=FAST)


def count(messages, kind) -> int:
    """Messages of `kind` posted (the hook sees a bubbling message once per node it reaches)."""
    return len({id(m) for m in messages if isinstance(m, kind)})


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


async def confirmation(pilot, key: str) -> ConfirmDialog:
    """Press `key` and wait for the confirmation it asks for."""
    await pilot.press(key)
    return await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog) and pilot.app.screen,
                       "the confirmation")


async def run(pilot, screen: MigrationScreen, messages, key: str, timeout: float = 150) -> str:
    """Press `key`, confirm, wait for the run to end; returns its outcome."""
    finished = count(messages, RunFinished)
    await confirmation(pilot, key)
    await pilot.press("y")
    await until(pilot, lambda: count(messages, RunFinished) > finished, f"the run started with {key}", timeout)
    await until(pilot, lambda: screen.outcome is not None, "the outcome shown")
    return screen.outcome


def statuses(screen: MigrationScreen) -> dict[str, str]:
    return {key.value: str(screen.step_list.get_row(key)[3]) for key in screen.step_list.rows}
