"""The migration screen's behaviour against the `seed` cluster, by keys: validation as you type,
the kube-controller-manager blocking finding, a read-only identity, a manual step waiting for the
operator (copy, the host action, abort), rollback, pause, leaving for the dashboard during a run,
export, the palette and the layouts at 80×24 and 140×40."""

from __future__ import annotations

from pathlib import Path

from migration_pilot import (SMALL, choose, cluster, confirmation, count, fast, make_app, open_migration, plan,  # noqa: F401
                             isolated, shared_cluster, statuses)
from screens.confirm import ConfirmDialog
from screens.dashboard import DashboardScreen
from screens.migration import MigrationScreen
from test_app_dashboard import until
from tui.kube.connection import connect
from tui.migrate.hosts import SimulatorHostActions
from tui.migrate.rest import IPPOOLS_V3, ApiStatusError, Rest
from tui.migration_messages import RunEvents, RunFinished
from tui.sim.simulator import VIEWER_CONTEXT
from widgets.diff_view import StepView
from widgets.findings_list import FindingsList
from widgets.live_figures import LiveFigures

WIDE = (140, 40)
NEW_POOL = "ipv4-ippool-172-21-0-0-16"


def text(widget) -> str:
    return str(widget.content) if hasattr(widget, "content") else str(widget.render())


def note(screen: MigrationScreen, field: str) -> str:
    return text(screen.query_one(f"#note-{field}"))


def run_status(screen: MigrationScreen) -> str:
    return text(screen.query_one("#run-status"))


def step_view(screen: MigrationScreen) -> str:
    view = screen.query_one(StepView)
    return "\n".join(text(view.query_one(f"#step-{part}")) for part in ("header", "body", "outcome"))


def pool_exists(cluster, name: str) -> bool:
    conn = connect(str(cluster.kubeconfig_path), None)
    try:
        Rest(conn).get(IPPOOLS_V3, None, name)
        return True
    except ApiStatusError as exc:
        assert exc.code == 404
        return False
    finally:
        conn.close()


async def test_form_validates_as_you_type_and_fills_in_the_clusters_values(shared_cluster, isolated):
    app = make_app(shared_cluster)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_migration(pilot)
        form = screen.form
        await pilot.press(*"172.21.0.1/16")
        await until(pilot, lambda: "did you mean 172.21.0.0/16?" in note(screen, "target_cidr"), "the host-bits note")
        assert form.widget("target_cidr").has_class("-invalid")
        assert "running disabled" in run_status(screen)

        await pilot.press("backspace", "backspace", "backspace", "backspace", *"0/16")
        await until(pilot, lambda: form.widget("block_size").value == "26", "the old pool's values")
        assert note(screen, "target_cidr") == "" and not form.widget("target_cidr").has_class("-invalid")
        assert (form.widget("from_pool").value, form.widget("pool_name").value) == ("default-ipv4-ippool", NEW_POOL)
        assert (form.widget("ipip_mode").value, form.widget("vxlan_mode").value) == ("CrossSubnet", "Never")
        assert (form.widget("nat_outgoing").value, form.widget("node_selector").value) == (True, "all()")
        assert form.widget("node_cidr_mask").value == "24"  # kube-controller-manager's --node-cidr-mask-size
        findings = screen.query_one(FindingsList)
        await until(pilot, lambda: "bare-pods" in text(findings.query_one("#findings-text")), "the preflight")

        await pilot.press(*["backspace"] * 13, *"10.96.0.0/16")
        await until(pilot, lambda: "overlaps the Service range 10.96.0.0/12" in note(screen, "target_cidr"),
                    "the Service overlap")

        await pilot.press(*["backspace"] * 12, *"172.21.0.0/16")
        await choose(pilot, screen, "node_strategy", "keep")
        await until(pilot, lambda: "kcm-cluster-cidr" in text(findings.query_one("#findings-text")), "the crash")
        shown = text(findings.query_one("#findings-text"))
        assert "failed to mark cidr[192.168.1.0/24] at idx [0] as occupied for node: node01" in shown
        assert "kube-controller-manager would crash-loop" in note(screen, "node_strategy")
        assert "only when the new range contains every one of them" in text(screen.query_one("#explain-node_strategy"))


async def test_a_read_only_identity_sees_the_plan_and_exports_it_but_cannot_run(shared_cluster, isolated):
    messages = []
    app = make_app(shared_cluster, context=VIEWER_CONTEXT)
    async with app.run_test(size=WIDE, message_hook=messages.append) as pilot:
        screen = await open_migration(pilot)
        await plan(pilot, screen, messages)
        assert "rbac-read-only" in screen.run_blocked()
        assert "✖ running disabled" in run_status(screen) and "rbac-read-only" in run_status(screen)
        assert statuses(screen)["create-pool"] == "○ pending"  # no dry-run: a viewer may not send them
        await pilot.press("4")
        assert "server dry-run: ⊘ skipped: read-only identity" in step_view(screen)
        await pilot.press("n", "u")
        assert not isinstance(app.screen, ConfirmDialog) and screen.runner is None
        await pilot.press("e")
        runbooks = list(Path.cwd().glob("calico-tui-runbook-*.md"))
        assert len(runbooks) == 1
        assert runbooks[0].read_text().startswith("# Runbook: move pods from 192.168.0.0/16 to 172.21.0.0/16")


async def test_the_read_only_flag_disables_running_for_an_admin(shared_cluster, isolated):
    messages = []
    app = make_app(shared_cluster, force_read_only=True)
    async with app.run_test(size=WIDE, message_hook=messages.append) as pilot:
        screen = await open_migration(pilot)
        await plan(pilot, screen, messages, allow_bare_pod_loss=True)
        assert statuses(screen)["create-pool"] == "◇ dry-run ok"
        assert "--read-only" in run_status(screen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmDialog)


async def test_a_manual_step_waits_for_the_operator_who_copies_and_runs_the_commands(cluster):
    messages = []
    app = make_app(cluster, sim_manual=False)
    async with app.run_test(size=WIDE, message_hook=messages.append) as pilot:
        screen = await open_migration(pilot)
        await plan(pilot, screen, messages, allow_bare_pod_loss=True, node_strategy="disable-allocation")
        fast(cluster)
        await confirmation(pilot, "u")
        body = app.screen.body.plain
        assert "• create IPPool ipv4-ippool-172-21-0-0-16" in body
        assert "• update ConfigMap kube-system/kube-proxy (kube-proxy-cluster-cidr)" in body
        assert "stops before kube-controller-manager" in body
        await pilot.press("y")
        await until(pilot, lambda: count(messages, RunFinished), "the run up to the manual step", 120)

        await confirmation(pilot, "u")
        assert "on node01: edit-kcm (you perform, the runner waits for it)" in app.screen.body.plain
        await pilot.press("y")
        await until(pilot, lambda: statuses(screen)["kube-controller-manager"] == "◐ waiting for operator",
                    "the wait for the operator", 60)
        assert screen.step_list.selected == "kube-controller-manager"
        assert "ssh node01 sudo" in step_view(screen)
        await pilot.press("c")
        assert "# on node01: edit-kcm" in app.clipboard and "ssh node03 sudo" in app.clipboard

        step = screen.plan.step("kube-controller-manager")
        conn = connect(str(cluster.kubeconfig_path), None)
        SimulatorHostActions(conn).perform(step.hosts[0])  # the operator on node01
        conn.close()
        await until(pilot, lambda: "node02" in screen.live.get("kube-controller-manager", ""),
                    "the runner moving on to node02", 60)
        await pilot.press("a")
        await until(pilot, lambda: count(messages, RunFinished) == 2, "the abort")
        assert screen.outcome == "aborted" and "aborted" in run_status(screen)
        assert statuses(screen)["kube-controller-manager"] == "◑ interrupted"


async def test_rollback_pause_and_the_dashboard_during_a_run(cluster):
    messages = []
    app = make_app(cluster)
    async with app.run_test(size=WIDE, message_hook=messages.append) as pilot:
        screen = await open_migration(pilot)
        await plan(pilot, screen, messages, allow_bare_pod_loss=True)
        await confirmation(pilot, "n")
        assert app.screen.body.plain.count("•") == 1  # one step, one write
        await pilot.press("y")
        await until(pilot, lambda: count(messages, RunFinished) == 1, "create-pool")
        assert statuses(screen)["create-pool"] == "✔ done" and pool_exists(cluster, NEW_POOL)
        figures = screen.query_one(LiveFigures)
        await until(pilot, lambda: f"{NEW_POOL} 0" in text(figures), "the new pool in the live strip")

        await confirmation(pilot, "n")  # kube-proxy restarts pod by pod: in real time, long enough to pause and look away
        await pilot.press("y")
        await until(pilot, lambda: statuses(screen)["kube-proxy"] == "▶ running", "kube-proxy running")
        await pilot.press("p")
        await until(pilot, lambda: "paused" in "\n".join(screen.query_one("#log").lines), "the pause")
        assert "pausing" in run_status(screen) and count(messages, RunFinished) == 1
        await pilot.press("p", "d")
        assert isinstance(app.screen, DashboardScreen)
        events = count(messages, RunEvents)
        fast(cluster)
        await until(pilot, lambda: count(messages, RunFinished) == 2, "kube-proxy finishing behind the dashboard", 60)
        assert count(messages, RunEvents) > events
        await pilot.press("m")
        assert app.screen is screen and statuses(screen)["kube-proxy"] == "✔ done"

        screen.step_list.select("create-pool")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the rollback confirmation")
        assert f"delete IPPool {NEW_POOL} (created by this step)" in app.screen.body.plain
        await pilot.press("y")
        await until(pilot, lambda: count(messages, RunFinished) == 3, "the rollback")
        assert statuses(screen)["create-pool"] == "↶ rolled back" and not pool_exists(cluster, NEW_POOL)
        screen.step_list.select("kube-proxy")
        await pilot.press("b")  # restores the ConfigMap and the DaemonSet from the journal's backups
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the rollback confirmation")
        assert "restore ConfigMap kube-system/kube-proxy as backed up at" in app.screen.body.plain
        await pilot.press("n")
        assert statuses(screen)["kube-proxy"] == "✔ done"


async def test_panels_switch_at_80x24_and_all_show_at_140x40_and_the_palette_opens_it(shared_cluster, isolated):
    messages = []
    app = make_app(shared_cluster)
    async with app.run_test(size=SMALL, message_hook=messages.append) as pilot:
        await pilot.press("ctrl+p", *"Migrate", "enter")
        screen = await until(pilot, lambda: isinstance(app.screen, MigrationScreen) and app.screen, "the palette")
        await until(pilot, lambda: screen.form.pools, "the cluster read")

        def shown() -> set[str]:
            return {p for p in ("params", "preflight", "steps", "step", "run") if screen.query_one(f"#{p}").display
                    and screen.query_one(f"#{p}").parent.display}
        assert screen.has_class("-narrow") and shown() == {"params"}
        await plan(pilot, screen, messages, allow_bare_pod_loss=True)
        assert shown() == {"steps"}
        for key, panel in (("4", "step"), ("5", "run"), ("2", "preflight"), ("3", "steps")):
            await pilot.press(key)
            assert shown() == {panel}, key
        await pilot.resize_terminal(*WIDE)
        await until(pilot, lambda: not screen.has_class("-narrow"), "the wide layout")
        assert shown() == {"params", "preflight", "steps", "step", "run"}
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
