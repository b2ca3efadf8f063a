"""Pilot tests of the migration screen against the `seed` simulated cluster, keys only: the whole
migration 192.168.0.0/16 → 172.21.0.0/16 with the simulator performing the manual host steps (end
state checked as the engine's acceptance tests check it), and a run killed mid-rolling-step by the
app's exit, resumed from the journal by a new app instance and finished. Both run at 80×24, where one
panel shows at a time.
"""

from __future__ import annotations

import time

from migrate_cluster import end_state, expected_state
from migration_pilot import (SMALL, cluster, confirmation, count, fast, isolated, make_app, open_migration, plan,  # noqa: F401
                             run, statuses)
from screens.confirm import ConfirmDialog
from test_app_dashboard import until
from tui.migrate.runner import DONE, STOPPED
from tui.migration_messages import RunEvents, RunFinished, RunnerReady


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
        await confirmation(pilot, "u")
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
        await pilot.press("n")  # not now: look around first; running waits for the resume
        assert "is unfinished: resume it first" in screen.run_blocked()
        await pilot.press("escape", "m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the offer, again")
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
