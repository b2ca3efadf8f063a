"""What the migration screen says about a plan and its journal, derived without touching widgets.

Every status is a glyph and a word (colour never carries meaning alone). A step's status comes from
the journal (done, failed, rolled back, started), from the run in progress (running, waiting for the
operator on a manual host task) and, before anything ran, from the server's dry-run verdicts.
Steps the plan left out (nothing to do with these parameters) are listed as skipped, so the operator
sees the whole procedure and not only today's part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.migrate.executors import EXECUTORS
from tui.migrate.journal import Journal
from tui.migrate.steps import MANUAL, VERIFY, Plan, Step

PENDING = "pending"
DRY_RUN_OK = "dry-run ok"
DRY_RUN_REJECTED = "dry-run rejected"
RUNNING = "running"
WAITING = "waiting for operator"
INTERRUPTED = "interrupted"
DONE = "done"
FAILED = "failed"
SKIPPED = "skipped"
ROLLED_BACK = "rolled back"

GLYPHS = {PENDING: "○", DRY_RUN_OK: "◇", DRY_RUN_REJECTED: "⚠", RUNNING: "▶", WAITING: "◐", INTERRUPTED: "◑",
          DONE: "✔", FAILED: "✖", SKIPPED: "⊘", ROLLED_BACK: "↶"}

# Every step the engine can run (its executor table); a plan holds those it needs, in its own order,
# and the others are shown as skipped where this order puts them.
ALL_STEPS = tuple(EXECUTORS)

JOURNAL_WORDS = {"done": DONE, "failed": FAILED, "rolled-back": ROLLED_BACK}


def label(status: str) -> str:
    return f"{GLYPHS[status]} {status}"


def waiting_for_operator(records: list[dict], step_id: str) -> bool:
    """The step's latest journal record hands a host task to a person: the runner now waits on
    what the API can observe (tui/migrate/executors.py records `performed: by the operator`)."""
    last = next((r for r in reversed(records) if r.get("step") == step_id), None)
    return bool(last and last["type"] == "action-done" and str(last.get("action", "")).startswith("host:")
                and (last.get("result") or {}).get("performed") == "by the operator")


def dry_run_status(step: Step) -> str:
    verdicts = [c.dry_run.status for c in step.changes if c.dry_run is not None]
    if "rejected" in verdicts:
        return DRY_RUN_REJECTED
    if verdicts and all(v == "accepted" for v in verdicts):
        return DRY_RUN_OK
    return PENDING


def step_status(step: Step, journal_status: str | None, records: list[dict], running: bool) -> str:
    """One step's status; `running` says a run is in progress right now (else a started step was
    interrupted: the app or the run stopped in the middle of it)."""
    if journal_status in JOURNAL_WORDS:
        return JOURNAL_WORDS[journal_status]
    if journal_status == "started":
        if not running:
            return INTERRUPTED
        return WAITING if waiting_for_operator(records, step.id) else RUNNING
    return dry_run_status(step)


def _records(journal: Journal | None) -> list[dict]:
    return journal.records if journal is not None else []


def _known(journal: Journal | None) -> dict[str, str]:
    return journal.step_status() if journal is not None else {}


@dataclass(frozen=True)
class StepRow:
    number: int | None  # position in the plan; None for a skipped step
    id: str
    title: str
    kind: str
    status: str


def step_rows(plan: Plan, journal: Journal | None, running: bool) -> list[StepRow]:
    """The plan's steps in its order with their status; the steps it left out are listed as
    skipped where the engine would have run them."""
    known, records = _known(journal), _records(journal)
    order = {step_id: i for i, step_id in enumerate(ALL_STEPS)}
    skipped = [step_id for step_id in ALL_STEPS if step_id not in plan.ids]
    rows = []
    for number, step in enumerate(plan.steps, 1):
        while skipped and step.id in order and order[skipped[0]] < order[step.id]:
            rows.append(StepRow(None, skipped.pop(0), "not needed with these parameters", "", SKIPPED))
        rows.append(StepRow(number, step.id, step.title, step.kind,
                            step_status(step, known.get(step.id), records, running)))
    rows += [StepRow(None, step_id, "not needed with these parameters", "", SKIPPED) for step_id in skipped]
    return rows


def next_steps(plan: Plan, journal: Journal | None, until_manual: bool) -> list[Step]:
    """The steps one run would execute: the next one not done, and with `until_manual` the ones after
    it up to the next manual host step (Runner.run(stop_before_manual=True) semantics)."""
    known = _known(journal)
    todo = [s for s in plan.steps if known.get(s.id) != "done"]
    if not todo:
        return []
    if not until_manual:
        return todo[:1]
    batch = todo[:1]
    for step in todo[1:]:
        if step.kind == MANUAL:
            break
        batch.append(step)
    return batch


def mutates(step: Step) -> bool:
    return step.kind != VERIFY


def step_actions(step: Step, sim_manual: bool) -> list[str]:
    """What running the step does, as verbs and objects, for the confirmation before it runs."""
    lines = []
    for change in step.changes:
        if change.op == "recreate":
            pod_cidr = ((change.after or {}).get("spec") or {}).get("podCIDR", "?")
            lines.append(f"cordon, drain, delete and re-create {change.ref} with podCIDR {pod_cidr}")
            continue
        how = ", ".join(name for name, _ in change.transforms)
        lines.append(f"{change.op} {change.ref}" + (f" ({how})" if how else ""))
    for item in step.items:
        if item.get("method") == "evict":
            lines.append(f"evict {len(item['pods'])} pod(s) of {item['kind']} {item['namespace']}/{item['name']} "
                         "one at a time")
        elif item.get("method") == "delete":
            lines.append(f"delete pod {item['namespace']}/{item['name']} (no controller: it does not come back)")
        elif "pods" in item and "method" not in item:
            lines.append(f"cordon node {item['node']}, evict {len(item['pods'])} pod(s), uncordon")
    who = "the simulator performs" if sim_manual else "you perform, the runner waits for"
    for host in step.hosts:
        lines.append(f"on {host.node}: {host.action} ({who} it)")
    return lines


def stopped_at(plan: Plan, journal: Journal) -> str:
    """Where an unfinished migration stopped, in one or two sentences for the resume offer."""
    known, records = journal.step_status(), journal.records
    done = sum(1 for s in plan.steps if known.get(s.id) == "done")
    following = next((s for s in plan.steps if known.get(s.id) != "done"), None)
    runs = [r for r in records if r.get("type") == "run-end"]
    outcome = f"; the last run ended {runs[-1].get('outcome')}" if runs else ""
    if following is None:
        return f"all {len(plan.steps)} steps are done, the migration was not closed{outcome}"
    number = plan.steps.index(following) + 1
    state = {"started": "was interrupted in", "failed": "failed in", "rolled-back": "rolled back"}.get(
        known.get(following.id, ""), "stopped before")
    text = (f"{done} of {len(plan.steps)} steps done; it {state} step {number} {following.id} "
            f"({following.title}){outcome}")
    started = {r["action"] for r in records if r.get("type") == "action-start" and r.get("step") == following.id}
    finished = {r["action"] for r in records if r.get("type") == "action-done" and r.get("step") == following.id}
    open_actions = sorted(started - finished)
    if open_actions:
        text += f". Interrupted action: {open_actions[-1]} (re-checked against the cluster on resume)"
    return text
