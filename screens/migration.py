"""The migration screen: parameters validated as you type, the preflight, the plan's steps with their
diffs and dry-run verdicts, and the journaled run with its live log, progress and the cluster's key
figures.

Workers do the engine's blocking work and post typed messages (tui.migration_messages); only the
handlers here touch widgets. The runner runs on a loop of its own (tui.run_loop), awaited by an async
worker of this screen, which the app installs once and keeps: `d` goes back to the dashboard and the
run goes on. Nothing mutating runs without a confirmation that listed its verbs and objects.

At 140×30 and larger every panel is visible; below that one panel fills the screen and 1–5 (or the
tab strip) switch between them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import DescendantFocus, Resize, ScreenResume
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static, Tab, Tabs

from screens.confirm import ConfirmDialog
from tui import keys
from tui.migrate.engine import StartError
from tui.migrate.params import MigrationParams, MigrationRequest
from tui.migrate.runner import ABORTED, DONE, FAILED, STOPPED, Runner
from tui.migrate.steps import MANUAL, Plan, Step
from tui.migration_messages import (Assessed, MigrationLoaded, PlanReady, RunEvents, RunFinished,
                                    RunnerReady)
from tui.migration_session import MigrationSession, PendingMigration, Planned
from tui.migration_state import RUNNING, WAITING, mutates, next_steps, step_actions, step_rows
from tui.model.findings import Finding
from tui.run_loop import RunLoop
from widgets.diff_view import StepView, host_commands
from widgets.findings_list import FindingsList
from widgets.live_figures import LiveFigures
from widgets.migration_form import ParametersForm
from widgets.run_log import RunLog
from widgets.run_progress import RunProgress
from widgets.static_sync import set_content
from widgets.step_list import StepList

WIDE = (140, 30)
PANELS = ("params", "preflight", "steps", "step", "run")
TITLES = {"params": "Parameters", "preflight": "Preflight", "steps": "Steps", "step": "Step",
          "run": "Run"}
COLUMN_OF = {"params": "left", "preflight": "left", "steps": "right", "step": "right", "run": "right"}
GATED = ("run_step", "run_until_manual", "pause", "abort", "export")  # actions check_action may disable
DEBOUNCE = 0.3  # seconds of typing quiet before the form is validated again
TICK = 0.1  # runner events are written to the log in batches this often
OUTCOME_WORDS = {DONE: "✔ done", STOPPED: "‖ stopped where asked", FAILED: "✖ failed: the log says why",
                 ABORTED: "✖ aborted: the journal keeps where it stopped"}


class MigrationScreen(Screen[None]):
    BINDINGS = keys.bindings(keys.MIGRATION)
    SCOPE = keys.MIGRATION
    DEFAULT_CSS = """
    MigrationScreen #panel-tabs { display: none; height: 2; }
    MigrationScreen.-narrow #panel-tabs { display: block; }
    MigrationScreen #body { height: 1fr; layout: horizontal; }
    MigrationScreen #left { width: 46; }
    MigrationScreen #right { width: 1fr; }
    MigrationScreen .panel { border: round $panel-lighten-2; height: 1fr; }
    MigrationScreen .panel:focus-within { border: round $primary; }
    MigrationScreen #steps { height: auto; max-height: 15; }
    MigrationScreen #run { height: auto; }
    MigrationScreen #run RunProgress, MigrationScreen #run RunLog { display: none; }
    MigrationScreen.-ran #run { height: 14; }
    MigrationScreen.-ran #run RunProgress, MigrationScreen.-ran #run RunLog { display: block; }
    MigrationScreen #run-status { height: auto; }
    MigrationScreen.-narrow #body { layout: vertical; }
    MigrationScreen.-narrow #left, MigrationScreen.-narrow #right { width: 1fr; height: 1fr; }
    MigrationScreen.-narrow .panel, MigrationScreen.-narrow #steps, MigrationScreen.-narrow #run {
        height: 1fr; max-height: 100%;
    }
    """

    active: reactive[str] = reactive("params")

    def __init__(self, session: MigrationSession, *, forced_read_only: bool = False) -> None:
        super().__init__()
        self.session = session
        self.forced_read_only = forced_read_only
        self.assessed = None  # the latest inline validation (engine.Preparation)
        self.planned: Planned | None = None
        self.planned_request: MigrationRequest | None = None
        self.pending: PendingMigration | None = None  # an unfinished migration not (yet) resumed
        self.runner: Runner | None = None
        self.running = False
        self.paused = False
        self.outcome: str | None = None
        self.live: dict[str, str] = {}  # latest runner message per step: its verification's live state
        self.run_loop: RunLoop | None = None  # the runner's own loop (tui.run_loop), made with the runner
        self._events: deque = deque()  # appended by the runner's thread, drained here every tick
        self._debounce: Timer | None = None
        self._enabled: tuple = ()
        self._current: str | None = None  # the step running or waiting, followed by the step list
        self._left = False  # left for the dashboard (coming back asks again about an unfinished migration)

    # -- layout ------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Tabs(*(Tab(f"{i} {TITLES[p]}", id=f"tab-{p}") for i, p in enumerate(PANELS, 1)), id="panel-tabs")
        yield LiveFigures(self.app.clock, id="figures")
        with Vertical(id="body"):
            with Vertical(id="left"):
                with Vertical(id="params", classes="panel"):
                    yield ParametersForm(id="form")
                with Vertical(id="preflight", classes="panel"):
                    yield FindingsList(id="findings")
            with Vertical(id="right"):
                with Vertical(id="steps", classes="panel"):
                    yield StepList(id="step-list")
                with Vertical(id="step", classes="panel"):
                    yield StepView(id="step-view")
                with Vertical(id="run", classes="panel"):
                    yield Static("", id="run-status")
                    yield RunProgress(id="progress")
                    yield RunLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        for name in PANELS:
            self.query_one(f"#{name}").border_title = f"{PANELS.index(name) + 1} {TITLES[name]}"
        self.query_one(Tabs).can_focus = False
        self._set_layout(self.app.size.width, self.app.size.height)
        self.watch_active(self.active)
        self._tick = self.set_interval(TICK, self._flush_events, pause=True)  # resumed while a run goes on
        if self.app.view is not None:
            self.show_view(self.app.view)
        self._show_status()
        self.form.widget("target_cidr").focus()
        self.load()

    @property
    def form(self) -> ParametersForm:
        return self.query_one(ParametersForm)

    @property
    def step_list(self) -> StepList:
        return self.query_one(StepList)

    @property
    def plan(self) -> Plan | None:
        if self.runner is not None:
            return self.runner.plan
        return self.planned.plan if self.planned else None

    def on_resize(self, event: Resize) -> None:
        self._set_layout(*event.size)

    def _set_layout(self, width: int, height: int) -> None:
        narrow = width < WIDE[0] or height < WIDE[1]
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            self._show_panels()

    def _show_panels(self) -> None:
        """Narrow: only the active panel (and its column) is displayed. Set directly rather than by
        classes, which would restyle every widget of the form on each switch."""
        narrow = self.has_class("-narrow")
        for name in PANELS:
            self.query_one(f"#{name}").display = not narrow or name == self.active
        for column in ("left", "right"):
            self.query_one(f"#{column}").display = not narrow or COLUMN_OF[self.active] == column

    def watch_active(self, active: str) -> None:
        self._show_panels()
        tabs = self.query_one(Tabs)
        if tabs.active != f"tab-{active}":
            tabs.active = f"tab-{active}"

    @on(Tabs.TabActivated)
    def _tab_clicked(self, event: Tabs.TabActivated) -> None:
        name = event.tab.id.removeprefix("tab-")
        if name != self.active:
            self.action_panel(name)

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        for node in event.widget.ancestors_with_self:
            if node.id in PANELS:
                self.active = node.id
                return

    def action_panel(self, name: str) -> None:
        self.active = name
        target = {"params": self.form.widget("target_cidr"), "preflight": self.query_one(FindingsList),
                  "steps": self.step_list, "step": self.query_one(StepView), "run": self.query_one(RunLog)}[name]
        self.call_after_refresh(target.focus)

    # -- live cluster figures ----------------------------------------------------------------------

    def show_view(self, view) -> None:
        figures, progress = self.query_one_optional(LiveFigures), self.query_one_optional(RunProgress)
        if figures is None or progress is None:
            return  # not composed yet (on_mount shows the app's latest view) or being removed
        figures.show_view(view)
        progress.show_view(view, self._old_pool())

    @on(ScreenResume)
    def _shown_again(self) -> None:
        """Back from the dashboard: catch up with the cluster, and ask again about an unfinished
        migration that was not resumed."""
        if self.app.view is not None:
            self.show_view(self.app.view)
        if self._left and self.pending is not None and self.runner is None:
            self._offer_resume(self.pending)
        self._left = False  # (a dialog closing resumes this screen too)

    def _old_pool(self) -> str | None:
        if self.plan is not None:
            return self.plan.params["old_pool"]
        params = self.assessed.params if self.assessed is not None else None
        return params.old_pool if params else None

    # -- loading and validating --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="migration-load", exit_on_error=False,
          description="Reading the cluster for the migration")
    def load(self) -> None:
        snapshot = self.session.load()
        self.post_message(MigrationLoaded(snapshot, self.session.pending()))

    @on(MigrationLoaded)
    def _loaded(self, message: MigrationLoaded) -> None:
        self.form.set_pools([p.name for p in message.snapshot.cluster.pools if p.cidr.version == 4])
        if self.runner is None and message.pending is not None:
            self._offer_resume(message.pending)
        elif self.form.request() is not None:
            self._assess_soon()

    def _offer_resume(self, pending: PendingMigration) -> None:
        self.pending = pending
        rows = step_rows(pending.plan, pending.journal, running=False)
        lines = [f"{r.number}. {r.id}: {r.status}" for r in rows if r.number is not None]

        def answered(resume: bool | None) -> None:
            if resume:
                self.resume_migration(pending.migration_id)
            self._show_status()

        self.app.push_screen(ConfirmDialog("Unfinished migration", pending.summary, [("Steps", lines)],
                                           "Resume it? (No: look around; running stays disabled until it "
                                           "is resumed)"), answered)

    @on(ParametersForm.Changed)
    def _form_changed(self, message: ParametersForm.Changed) -> None:
        self._show_status()
        if self._debounce is not None:
            self._debounce.stop()
        if message.request is not None:
            self._debounce = self.set_timer(DEBOUNCE, self._assess_soon)

    def _assess_soon(self) -> None:
        request = self.form.request()
        if request is not None:
            self.assess(request)

    @work(thread=True, exclusive=True, group="migration-assess", exit_on_error=False,
          description="Validating the parameters")
    def assess(self, request: MigrationRequest) -> None:
        self.post_message(Assessed(request, self.session.assess(request)))

    @on(Assessed)
    def _assessed(self, message: Assessed) -> None:
        if message.request != self.form.request():
            return  # the operator typed on meanwhile
        self.assessed = message.prep
        self.form.fill(message.prep.params)
        self.form.show_findings(message.prep.findings)
        if self.planned is None or self.planned_request != message.request:
            self.query_one(FindingsList).show(message.prep.findings)
        self.query_one(LiveFigures).follow_pool(self._old_pool())
        self._show_status()

    # -- planning ----------------------------------------------------------------------------------

    @on(ParametersForm.Submitted)
    def _submitted(self) -> None:
        self.action_plan()

    def action_plan(self) -> None:
        request = self.form.request()
        if self.runner is not None:
            self.notify("A migration is under way: its plan is fixed (the journal's).", timeout=4)
        elif request is None:
            self.notify("Enter a target CIDR first, e.g. 172.21.0.0/16.", severity="warning", timeout=4)
        else:
            set_content(self.query_one("#run-status", Static), "◌ planning: reading the cluster, server-side "
                        "dry-runs…")
            self.make_plan(request)

    @work(thread=True, exclusive=True, group="migration-plan", exit_on_error=False,
          description="Planning the migration")
    def make_plan(self, request: MigrationRequest) -> None:
        self.post_message(PlanReady(request, self.session.plan(request)))

    @on(PlanReady)
    def _plan_ready(self, message: PlanReady) -> None:
        if self.runner is not None:
            return
        self.planned, self.planned_request = message.planned, message.request
        prep = message.planned.prep
        self.form.show_findings(prep.findings)
        self.query_one(FindingsList).show(prep.findings)
        self.query_one(LiveFigures).follow_pool(self._old_pool())
        self._refresh_steps()
        if message.planned.plan is not None:
            self.step_list.select(message.planned.plan.steps[0].id)
        self._show_status()
        self.action_panel("preflight" if prep.blocking or message.planned.plan is None else "steps")

    # -- steps and the step view -------------------------------------------------------------------

    def _refresh_steps(self) -> None:
        plan = self.plan
        if plan is None:
            return
        journal = self.runner.journal if self.runner else None
        rows = step_rows(plan, journal, self.running)
        self.step_list.show_rows(rows)
        current = next((r.id for r in rows if r.status in (RUNNING, WAITING)), None)
        if current is not None and current != self._current:
            self.step_list.select(current)  # a step starting (or waiting for you) is shown at once
        self._current = current
        self._show_step()

    @on(DataTable.RowHighlighted, "#step-list")
    def _step_highlighted(self) -> None:
        self._show_step()

    def _selected_step(self) -> tuple[int, Step] | None:
        plan, selected = self.plan, self.step_list.selected
        for number, step in enumerate(plan.steps if plan else (), 1):
            if step.id == selected:
                return number, step
        return None

    def _show_step(self) -> None:
        view = self.query_one(StepView)
        chosen = self._selected_step()
        if chosen is None:
            if self.step_list.selected:
                view.show_skipped(self.step_list.selected)
            return
        number, step = chosen
        journal = self.runner.journal if self.runner else None
        status = next(r.status for r in step_rows(self.plan, journal, self.running) if r.id == step.id)
        view.show(step, number, status, self.live.get(step.id, ""), self.session.sim_manual)

    # -- run ---------------------------------------------------------------------------------------

    def run_blocked(self) -> str:
        """Why running is not possible now ("" when it is)."""
        if self.forced_read_only:
            return "read-only session (--read-only): everything is visible and export works, running is disabled"
        if self.running:
            return "a run is in progress: p pauses, a aborts"
        if self.runner is None:
            if self.pending is not None:
                return (f"migration {self.pending.migration_id} of this cluster is unfinished: resume it first "
                        "(d, then m, asks again)")
            if self.planned is None:
                return "no plan yet: enter a target CIDR in the parameters and press enter"
            if self.planned_request != self.form.request():
                return "the parameters changed since the plan: press enter in the form to plan again"
            prep = self.planned.prep
            if prep.blocking:
                ids = ", ".join(f.id for f in prep.blocking)
                return f"{len(prep.blocking)} blocking finding(s): {ids} (see 2 Preflight)"
            if not prep.can_write:
                return "this identity may not make these changes: everything is visible and export works"
            if self.planned.plan is None:
                return "no plan could be made from these parameters"
        if not next_steps(self.plan, self.runner.journal if self.runner else None, False):
            return "every step is done"
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_step", "run_until_manual"):
            return None if self.run_blocked() else True
        if action in ("pause", "abort"):
            return True if self.running else None
        if action == "export":
            return True if self.plan is not None else None
        return True

    def _show_status(self) -> None:
        status = self.query_one("#run-status", Static)
        if self.running:
            current = next((r for r in step_rows(self.plan, self.runner.journal, True)
                            if r.status in (RUNNING, WAITING)), None)
            doing = f"{current.number}. {current.id} ({current.status})" if current else "between steps"
            state = "‖ pausing after the current action" if self.paused else "▶ running"
            set_content(status, f"{state}: {doing} · p pause/resume · a abort · d dashboard (the run goes on)")
        else:
            reason = self.run_blocked()
            outcome = f"last run: {OUTCOME_WORDS.get(self.outcome, self.outcome)} · " if self.outcome else ""
            if reason:
                set_content(status, f"{outcome}✖ running disabled: {reason}")
            else:
                nxt = next_steps(self.plan, self.runner.journal if self.runner else None, False)[0]
                set_content(status, f"{outcome}◇ ready: n runs step {self.plan.steps.index(nxt) + 1} {nxt.id} · "
                              "u runs up to the next manual step")
        enabled = tuple(self.check_action(action, ()) for action in GATED)
        if enabled != self._enabled:  # the footer is rebuilt on refresh: only when something changed
            self._enabled = enabled
            self.refresh_bindings()

    def action_run_step(self) -> None:
        self._confirm_and_run(until_manual=False)

    def action_run_until_manual(self) -> None:
        self._confirm_and_run(until_manual=True)

    def _confirm_and_run(self, until_manual: bool) -> None:
        reason = self.run_blocked()
        if reason:
            self.notify(f"Cannot run: {reason}", severity="warning", timeout=5)
            return
        plan = self.plan
        steps = next_steps(plan, self.runner.journal if self.runner else None, until_manual)
        until = None if until_manual else steps[0].id
        if not any(mutates(s) for s in steps):
            self.run_migration(until, until_manual)
            return
        sections = [(f"{plan.steps.index(s) + 1}. {s.title} ({s.id}, {s.kind})",
                     step_actions(s, self.session.sim_manual) or ["verification only"]) for s in steps]
        stop = next((s for s in plan.steps[plan.steps.index(steps[-1]) + 1:]), None)
        intro = ("Each write is re-read, checked against this preview (never clobbering a concurrent change), "
                 "dry-run on the server and journaled with a backup first.")
        if until_manual and stop is not None and stop.kind == MANUAL:
            intro += f" The run stops before {stop.id}, the next manual step."
        title = (f"Run step {plan.steps.index(steps[0]) + 1}: {steps[0].id}" if len(steps) == 1
                 else f"Run {len(steps)} steps")

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_migration(until, until_manual)

        self.app.push_screen(ConfirmDialog(title, intro, sections, "Make these changes now?"), answered)

    def _adopt_runner(self, runner: Runner) -> None:
        self.runner = runner
        self.pending = None
        self.run_loop = RunLoop()
        runner.subscribe(self._events.append)

    @work(exclusive=True, group="migration-run", exit_on_error=False, description="Migration run")
    async def run_migration(self, until: str | None, until_manual: bool) -> None:
        if self.runner is None:
            try:
                runner = await asyncio.to_thread(self.session.start, self.planned.plan)
            except StartError as exc:
                self.notify(f"Cannot start: {exc}", severity="error", timeout=8)
                return
            self._adopt_runner(runner)
            self.post_message(RunnerReady(runner, resumed=False))
        await self._drive(lambda: self.runner.run(until=until, stop_before_manual=until_manual))

    @work(exclusive=True, group="migration-run", exit_on_error=False, description="Resuming the migration")
    async def resume_migration(self, migration_id: str) -> None:
        try:
            runner = await asyncio.to_thread(self.session.resume, migration_id)
        except StartError as exc:
            self.notify(f"Cannot resume: {exc}", severity="error", timeout=8)
            return
        self._adopt_runner(runner)
        self.post_message(RunnerReady(runner, resumed=True))

    async def _drive(self, invocation) -> None:
        """Run one runner invocation on the runner's loop and await it; the screen shows it running
        meanwhile. Cancelling this worker cancels the run where it is."""
        self.running, self.paused, self.outcome = True, False, None
        self._tick.resume()
        self.call_later(self._show_status)
        try:
            outcome = await asyncio.wrap_future(self.run_loop.submit(invocation()))
        finally:
            self.running = False
        self.post_message(RunFinished(outcome))

    @on(RunnerReady)
    def _runner_ready(self, message: RunnerReady) -> None:
        plan = message.runner.plan
        self.add_class("-ran")  # the run panel grows to show progress and log
        self.form.disabled = True  # the plan is fixed now: the journal's
        if message.resumed:
            self.form.fill(MigrationParams.from_dict(plan.params))
            self.query_one(FindingsList).show(Finding(**{**f, "evidence": tuple(f.get("evidence", ()))})
                                              for f in plan.findings)
            self.query_one("#log", RunLog).write_line(
                f"resumed migration {message.runner.journal.migration_id}: journal {message.runner.journal.path}")
        self.query_one(LiveFigures).follow_pool(self._old_pool())
        self._refresh_steps()
        nxt = next_steps(plan, message.runner.journal, False)
        self.step_list.select((nxt[0] if nxt else plan.steps[-1]).id)
        self._show_status()
        self.action_panel("run" if not message.resumed else "steps")

    def _flush_events(self) -> None:
        batch = []
        while self._events:
            batch.append(self._events.popleft())
        if batch:
            self.post_message(RunEvents(tuple(batch)))

    @on(RunEvents)
    def _run_events(self, message: RunEvents) -> None:
        self.query_one(RunLog).write_events(message.events)
        progress = None
        for event in message.events:
            if event.step is not None:
                self.live[event.step] = event.message
            if event.total is not None:
                progress = event
        if progress is not None:
            self.query_one(RunProgress).show_event(progress)
        self._refresh_steps()
        self._show_status()

    @on(RunFinished)
    def _run_finished(self, message: RunFinished) -> None:
        self._tick.pause()
        self._flush_events()
        self.outcome = message.outcome
        self.paused = False
        self._refresh_steps()
        self._show_status()
        severity = "information" if message.outcome in (DONE, STOPPED) else "error"
        self.notify(f"Run {OUTCOME_WORDS.get(message.outcome, message.outcome)}", severity=severity, timeout=5)

    def action_pause(self) -> None:
        if not self.running:
            return
        self.run_loop.call(self.runner.resume if self.paused else self.runner.pause)
        self.paused = not self.paused
        self._show_status()

    def action_abort(self) -> None:
        if self.running:
            self.run_loop.call(self.runner.abort)
            self.paused = False

    # -- rollback ----------------------------------------------------------------------------------

    def action_rollback(self) -> None:
        chosen = self._selected_step()
        if chosen is None or self.runner is None:
            self.notify("Select a step of a started migration to roll back.", severity="warning", timeout=4)
            return
        number, step = chosen
        status = self.runner.journal.step_status().get(step.id)
        if self.running or self.forced_read_only:
            self.notify(f"Cannot roll back now: {self.run_blocked()}", severity="warning", timeout=5)
            return
        if status not in ("done", "failed") or step.kind == MANUAL or step.rolling:
            self.notify(f"{step.id} cannot be rolled back: {step.rollback or 'no automatic rollback'}"
                        + ("" if status in ("done", "failed") else " (and it has not run)"),
                        severity="warning", timeout=6)
            return
        undo = rollback_actions(self.runner, step.id)

        def answered(yes: bool | None) -> None:
            if yes:
                self.rollback_step(step.id)

        self.app.push_screen(ConfirmDialog(f"Roll back step {number}: {step.id}", step.rollback or "",
                                           [("From the journal", undo or ["nothing was changed by this step"])],
                                           "Undo this step now?"), answered)

    @work(exclusive=True, group="migration-run", exit_on_error=False, description="Rolling back")
    async def rollback_step(self, step_id: str) -> None:
        await self._drive(lambda: self.runner.rollback(step_id))

    # -- export, copy, leave -----------------------------------------------------------------------

    def action_export(self) -> None:
        if self.plan is None:
            return
        path = self.session.export(self.plan, Path.cwd())
        self.notify(f"Runbook written to {path}", timeout=6)

    def action_copy(self) -> None:
        chosen = self._selected_step()
        text = host_commands(chosen[1]) if chosen else ""
        if not text:
            self.notify("The selected step has no host commands.", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the host commands of {chosen[1].id} to the clipboard (OSC 52).", timeout=3)

    def action_dashboard(self) -> None:
        self._left = True
        self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.run_loop is not None:
            self.run_loop.stop()  # a run still going is cancelled where it is; the journal knows
        if self.runner is not None:
            try:
                self.session.release(self.runner)
            except Exception:  # noqa: BLE001 - leaving must not fail; an unreleased Lease expires in 60 s
                pass
        self.session.close()


def rollback_actions(runner: Runner, step_id: str) -> list[str]:
    """What rolling a step back does, from its journal: created objects deleted, changed ones restored."""
    lines = []
    for record in runner.journal.of_type("action-done"):
        result = record.get("result") or {}
        if record.get("step") == step_id and result.get("created") and result.get("ref"):
            ref = result["ref"]
            lines.append(f"delete {ref['kind']} {ref['name']} (created by this step)")
    seen = set()
    for record in runner.journal.backups(step_id):
        ref = record["ref"]
        key = (ref["kind"], ref.get("namespace"), ref["name"])
        if key not in seen:
            seen.add(key)
            where = f"{ref['namespace']}/" if ref.get("namespace") else ""
            lines.append(f"restore {ref['kind']} {where}{ref['name']} as backed up at {record['time']}")
    return lines
