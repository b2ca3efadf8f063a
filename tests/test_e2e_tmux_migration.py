"""`calico-tui --demo` in tmux (100×30): open the migration screen, enter 172.21.0.0/16, see the plan,
run its first step and see the new pool appear in the strip of live figures."""

from __future__ import annotations

import pytest

from test_e2e_tmux import SCRIPT, app_env, tmux  # noqa: F401

pytestmark = pytest.mark.e2e
NEW_POOL = "ipv4-ippool-172-21-0-0-16"


def line_of(screen: str, text: str) -> str:
    return next((line for line in screen.splitlines() if text in line), "")


def test_demo_migration_first_step_creates_the_pool(tmux, tmp_path):
    env = {**app_env(), "XDG_STATE_HOME": str(tmp_path / "state")}
    tmux.start([str(SCRIPT), "--demo"], env)
    tmux.wait_for(lambda s: "◆ RR 224.0.0.1" in s, "the dashboard with live data")
    tmux.keys("m")
    tmux.wait_for(lambda s: "target CIDR" in s and "blocks default-ipv4-ippool" in s, "the migration screen")
    tmux.keys("-l", "172.21.0.0/16")
    tmux.keys("Enter")
    screen = tmux.wait_for(lambda s: "2 Preflight ─" in s and "bare-pods" in s, "the preflight blocking the run")
    assert "running is disabled" in screen
    tmux.keys("1")  # back to the form: allow the seed's bare debug pod to go, and plan again
    tmux.wait_for(lambda s: "1 Parameters ─" in s, "the parameters")
    tmux.keys("Tab", "Tab", "Tab", "Enter")  # target CIDR → workloads → node podCIDRs → bare pod loss: open
    tmux.wait_for(lambda s: "▲" in line_of(s, "bare pod loss"), "the list of choices open")
    tmux.keys("Up", "Enter")
    tmux.wait_for(lambda s: "bare pod loss   yes" in s, "bare pod loss allowed")
    tmux.keys("C-r")
    screen = tmux.wait_for(lambda s: "create-pool" in s and "◇ dry-run ok" in s, "the plan's steps")
    assert "kube-controller-manager" in screen and "manual" in screen
    assert NEW_POOL not in screen.split("\n", 4)[3]  # the strip lists only today's pool
    tmux.keys("n")
    screen = tmux.wait_for(lambda s: "Run step 1: create-pool" in s, "the confirmation")
    assert f"create IPPool {NEW_POOL}" in screen
    tmux.keys("y")
    tmux.wait_for(lambda s: "create-pool done" in s and f"{NEW_POOL} 0 " in s, "the new pool in the strip")
    tmux.keys("3")
    screen = tmux.wait_for(lambda s: "3 Steps ─" in s, "the steps")
    assert "✔ done" in line_of(screen, "create-pool")
    tmux.keys("q")
    assert tmux.exit_code() == 0
