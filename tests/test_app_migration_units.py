"""The migration screen's pure parts: statuses from plan and journal, what a run would do, where a
migration stopped, diffs, per-field notes, progress and live figures, the bounded following log."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from textual.app import App

from model_builders import seed_raw
from screens.confirm import sections_text
from screens.migration import rollback_actions
from tui.migrate.journal import Journal
from tui.migrate.runner import Event
from tui.migrate.steps import API, MANUAL, VERIFY, Change, DryRun, HostTask, ObjectRef, Plan, Step
from tui.migration_session import plan_stamp, runbook_name
from tui.migration_state import ALL_STEPS, next_steps, step_actions, step_rows, stopped_at
from tui.model.findings import Finding
from tui.session import LiveView
from widgets.diff_view import diff_text, host_commands, item_line, step_body
from widgets.live_figures import live_figures
from widgets.migration_form import field_notes
from widgets.run_log import MAX_LINES, RunLog
from widgets.run_progress import old_pool_by_node, progress_text

POOL = ObjectRef("projectcalico.org/v3", "IPPool", "new")
PROXY = ObjectRef("v1", "ConfigMap", "kube-proxy", "kube-system")


def change(ref=POOL, op="create", verdict="accepted", transforms=()):
    after = {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": {"name": ref.name},
             "spec": {"cidr": "172.21.0.0/16"}}
    return Change(ref, op, None if op == "create" else after, after, transforms, DryRun(verdict) if verdict else None)


HOST = HostTask("node01", "edit-kcm", {"cluster-cidr": "172.21.0.0/16"},
                ("ssh node01 sudo cp a b", "ssh node01 sudo sed -i s/x/y/ m"), "kcm runs with the flag")
PLAN = Plan(params={"old_cidr": "192.168.0.0/16", "target_cidr": "172.21.0.0/16", "old_pool": "default-ipv4-ippool"},
            cluster={"uid": "u", "stamp": "2026-01-01T00:00:00Z"},
            steps=(Step("create-pool", "Create the pool", API, "why", "if", changes=(change(),)),
                   Step("kube-proxy", "kube-proxy", API, "why", "if",
                        changes=(change(PROXY, "update", "rejected", (("kube-proxy-cluster-cidr", {}),)),)),
                   Step("roll-workloads", "Roll", API, "why", "if",
                        items=({"kind": "StatefulSet", "namespace": "shop", "name": "db", "method": "evict",
                                "pods": ["db-0", "db-1"]},
                               {"kind": "Pod", "namespace": "default", "name": "shell", "method": "delete",
                                "pods": ["shell"]})),
                   Step("kube-controller-manager", "kcm", MANUAL, "why", "if", hosts=(HOST,)),
                   Step("verify-old-pool-empty", "Verify", VERIFY, "why", "if"),
                   Step("delete-old-pool", "Delete", API, "why", "if", changes=(change(op="delete", verdict=None),))))


def journal(tmp_path, *records) -> Journal:
    book = Journal.create("uid", "m1", root=tmp_path)
    for record in records:
        book.append(record[0], **record[1])
    return book


def status_of(plan, book, running) -> dict[str, str]:
    return {row.id: row.status for row in step_rows(plan, book, running)}


def test_statuses_before_anything_ran_come_from_the_dry_runs_and_every_known_step_is_listed():
    rows = step_rows(PLAN, None, running=False)
    assert [r.id for r in rows] == list(ALL_STEPS)  # the plan's order, the left-out steps where they belong
    shown = {r.id: r.status for r in rows}
    assert shown["create-pool"] == "dry-run ok" and shown["kube-proxy"] == "dry-run rejected"
    assert shown["kube-controller-manager"] == "pending" and shown["delete-old-pool"] == "pending"
    assert shown["cni-pins"] == "skipped" and shown["node-podcidrs"] == "skipped"
    assert [r.number for r in rows if r.number] == [1, 2, 3, 4, 5, 6]


def test_statuses_from_the_journal_and_the_run_in_progress(tmp_path):
    book = journal(tmp_path, ("step-start", {"step": "create-pool"}), ("step-done", {"step": "create-pool"}),
                   ("step-start", {"step": "kube-proxy"}), ("step-failed", {"step": "kube-proxy", "error": "x"}),
                   ("step-start", {"step": "roll-workloads"}))
    assert status_of(PLAN, book, running=True)["roll-workloads"] == "running"
    assert status_of(PLAN, book, running=False)["roll-workloads"] == "interrupted"
    assert status_of(PLAN, book, True)["create-pool"] == "done" and status_of(PLAN, book, True)["kube-proxy"] == "failed"

    book.append("step-done", step="roll-workloads")
    book.append("step-start", step="kube-controller-manager")
    book.append("action-start", step="kube-controller-manager", action="host:edit-kcm:node01")
    book.append("action-done", step="kube-controller-manager", action="host:edit-kcm:node01",
                result={"performed": "by the operator"})
    assert status_of(PLAN, book, True)["kube-controller-manager"] == "waiting for operator"
    book.append("action-start", step="kube-controller-manager", action="host:edit-kcm:node02")
    assert status_of(PLAN, book, True)["kube-controller-manager"] == "running"
    book.append("step-rolled-back", step="create-pool")
    assert status_of(PLAN, book, True)["create-pool"] == "rolled back"


def test_what_one_run_executes(tmp_path):
    assert [s.id for s in next_steps(PLAN, None, until_manual=False)] == ["create-pool"]
    assert [s.id for s in next_steps(PLAN, None, until_manual=True)] == ["create-pool", "kube-proxy", "roll-workloads"]
    book = journal(tmp_path, *[(kind, {"step": s}) for s in ("create-pool", "kube-proxy", "roll-workloads")
                               for kind in ("step-start", "step-done")])
    # A manual step that comes first runs; the run stops before the next manual one (there is none here).
    assert [s.id for s in next_steps(PLAN, book, True)] == ["kube-controller-manager", "verify-old-pool-empty",
                                                           "delete-old-pool"]
    book.append("step-rolled-back", step="create-pool")
    assert next_steps(PLAN, book, False)[0].id == "create-pool"  # the runner runs a rolled-back step again


def test_confirmation_lines_name_verbs_and_objects():
    assert step_actions(PLAN.step("create-pool"), False) == ["create IPPool new"]
    assert step_actions(PLAN.step("kube-proxy"), False) == [
        "update ConfigMap kube-system/kube-proxy (kube-proxy-cluster-cidr)"]
    assert step_actions(PLAN.step("roll-workloads"), False) == [
        "evict 2 pod(s) of StatefulSet shop/db one at a time",
        "delete pod default/shell (no controller: it does not come back)"]
    assert step_actions(PLAN.step("kube-controller-manager"), False) == [
        "on node01: edit-kcm (you perform, the runner waits for it)"]
    assert step_actions(PLAN.step("kube-controller-manager"), True) == [
        "on node01: edit-kcm (the simulator performs it)"]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node04"}, "spec": {"podCIDR": "172.21.4.0/24"}}
    recreate = Step("node-podcidrs", "t", MANUAL, "w", "i", changes=(Change(ObjectRef.of(node), "recreate", node, node),))
    assert step_actions(recreate, True)[0] == "cordon, drain, delete and re-create Node node04 with podCIDR 172.21.4.0/24"
    text = sections_text("intro", [("1. Create", ["create IPPool new"])]).plain
    assert text == "intro\n\n1. Create\n  • create IPPool new\n"


def test_where_an_unfinished_migration_stopped(tmp_path):
    book = journal(tmp_path, ("step-start", {"step": "create-pool"}), ("step-done", {"step": "create-pool"}),
                   ("step-start", {"step": "kube-proxy"}),
                   ("action-start", {"step": "kube-proxy", "action": "update:ConfigMap kube-system/kube-proxy"}),
                   ("run-end", {"outcome": "aborted"}))
    text = stopped_at(PLAN, book)
    assert text.startswith("1 of 6 steps done; it was interrupted in step 2 kube-proxy (kube-proxy); "
                           "the last run ended aborted")
    assert "Interrupted action: update:ConfigMap kube-system/kube-proxy" in text


def test_rollback_lists_what_the_journal_undoes(tmp_path):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"}}
    book = journal(tmp_path,
                   ("action-done", {"step": "create-pool", "action": "create:IPPool new",
                                    "result": {"created": True, "ref": POOL.__dict__}}),
                   ("backup", {"step": "kube-proxy", "action": "a", "ref": PROXY.__dict__, "object": cm}),
                   ("backup", {"step": "kube-proxy", "action": "b", "ref": PROXY.__dict__, "object": cm}))
    runner = type("R", (), {"journal": book})()
    assert rollback_actions(runner, "create-pool") == ["delete IPPool new (created by this step)"]
    undo = rollback_actions(runner, "kube-proxy")
    assert len(undo) == 1 and undo[0].startswith("restore ConfigMap kube-system/kube-proxy as backed up at ")


def test_diffs_keep_their_markers_and_colour_only_repeats_them():
    diff = "--- a (before)\n+++ a (after)\n@@ -1,2 +1,2 @@\n spec:\n-  cidr: 192.168.0.0/16\n+  cidr: 172.21.0.0/16\n"
    text = diff_text(diff)
    assert text.plain == diff
    styles = {text.plain[s.start:s.end].split("\n")[0]: str(s.style) for s in text.spans}
    assert styles["-  cidr: 192.168.0.0/16"] == "red" and styles["+  cidr: 172.21.0.0/16"] == "green"
    assert styles["@@ -1,2 +1,2 @@"] == "cyan" and " spec:" not in styles
    body = step_body(PLAN.step("kube-proxy")).plain
    assert "update ConfigMap kube-system/kube-proxy · server dry-run: ✖ rejected" in body
    assert "delete IPPool new · server dry-run: not sent" in step_body(PLAN.step("delete-old-pool")).plain
    assert item_line({"node": "node04", "from": "192.168.4.0/24", "to": "172.21.4.0/24", "control_plane": False}) \
        == "node04: podCIDR 192.168.4.0/24 → 172.21.4.0/24"
    assert host_commands(PLAN.step("kube-controller-manager")) == (
        "# on node01: edit-kcm\nssh node01 sudo cp a b\nssh node01 sudo sed -i s/x/y/ m\n")


def test_findings_about_an_input_are_shown_under_it():
    findings = [Finding("cidr-overlap-service", "blocking", "overlaps"), Finding("capacity-blocks", "info", "room"),
                Finding("cidr-normalised", "info", "normalised"), Finding("kcm-cluster-cidr", "blocking", "crash"),
                Finding("bgp-not-established", "warning", "health")]
    notes = field_notes(findings)
    assert [f.id for f in notes["target_cidr"]] == ["cidr-overlap-service", "cidr-normalised"]
    assert [f.id for f in notes["node_strategy"]] == ["kcm-cluster-cidr"]
    assert set(notes) == {"target_cidr", "node_strategy"}


def test_progress_and_live_figures_from_a_live_view():
    view = LiveView.build(seed_raw(), {}, time.time())
    per_node = old_pool_by_node(view, "default-ipv4-ippool")
    assert per_node and all(count > 0 for _, count in per_node)
    assert per_node == sorted(per_node, key=lambda nc: (-nc[1], nc[0]))
    event = Event(datetime(2026, 1, 1, tzinfo=timezone.utc), "info", "roll-workloads", "moving", 3, 12)
    text = progress_text(event, per_node).plain
    assert text.startswith("roll-workloads █████") and "3/12 25% · moving" in text
    assert f"addresses left: {sum(c for _, c in per_node)}" in text
    figures = live_figures(view, "default-ipv4-ippool", time.time()).plain
    usage = next(u for u in view.pools if u.name == "default-ipv4-ippool")
    assert "old pool 192.168.0.0/16" in figures and f" {usage.in_use}/{usage.total} " in figures
    assert f"blocks default-ipv4-ippool {len(usage.blocks)}" in figures


def test_names_and_stamps():
    assert plan_stamp(1_767_225_600.0) == "2026-01-01T00:00:00Z"
    assert runbook_name(PLAN) == "calico-tui-runbook-192.168.0.0_16-to-172.21.0.0_16-20260101T000000Z.md"


class LogApp(App):
    def compose(self):
        yield RunLog()


def event(i: int) -> Event:
    return Event(datetime(2026, 1, 1, tzinfo=timezone.utc), "info", "roll-workloads", f"line {i}")


async def test_the_log_is_bounded_and_follows_the_tail_unless_scrolled_back():
    app = LogApp()
    async with app.run_test(size=(80, 12)) as pilot:
        log = app.query_one(RunLog)
        log.write_events([event(i) for i in range(MAX_LINES + 500)])
        await pilot.pause()
        assert log.line_count == MAX_LINES and log.lines[-1].endswith(f"line {MAX_LINES + 499}")
        assert log.lines[0] == "00:00:00 INFO    roll-workloads line 500" and log.following
        log.scroll_home(animate=False)
        await pilot.pause()
        log.write_events([event(-1)])
        await pilot.pause()
        assert log.scroll_y == 0 and not log.following
        log.scroll_end(animate=False)
        await pilot.pause()
        log.write_events([event(-2)])
        await pilot.pause()
        assert log.following and log.lines[-1].endswith("line -2")

