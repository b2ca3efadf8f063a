"""The selected step in full: why, what it changes (unified YAML diffs per object, ConfigMaps with an
embedded document diffed inside that document), the server's dry-run verdict, the exact commands and
file diff per host for manual steps, and the live state of the verification the runner waits on.

Diffs keep their `+`/`-` markers; colour is only laid on top of them, so a monochrome terminal or a
copy into a ticket loses nothing.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.migrate.steps import API, MANUAL, Change, HostTask, Step
from tui.migration_state import SKIPPED, label

DRY_RUN_WORDS = {"accepted": "✔ accepted", "rejected": "✖ rejected", "skipped": "⊘ skipped"}


def diff_text(diff: str) -> Text:
    """A unified diff, line by line, markers first; styles only repeat what the marker says."""
    text = Text()
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        text.append(line + "\n", style=style)
    return text


def dry_run_words(change: Change) -> str:
    verdict = change.dry_run
    if verdict is None:
        return "not sent"
    words = DRY_RUN_WORDS.get(verdict.status, verdict.status)
    return f"{words}: {verdict.message}" if verdict.message else words


def item_line(item: dict) -> str:
    """One entry of a rolling step's order (an owner, a node to drain, or a node to re-create)."""
    if "method" in item:
        return f"{item['method']} {item['kind']} {item['namespace']}/{item['name']}: {len(item['pods'])} pod(s)"
    if "to" in item:
        role = " (control plane)" if item.get("control_plane") else ""
        return f"{item['node']}{role}: podCIDR {item['from']} → {item['to']}"
    return f"{item.get('node', '?')}: {len(item.get('pods', ()))} pod(s)"


def host_section(host: HostTask, performer: str) -> Text:
    text = Text()
    text.append(f"On {host.node}", style="bold")
    text.append(f" ({host.action}; {performer})\n")
    if host.diff:
        text.append(f"file {host.file}\n" if host.file else "")
        text.append_text(diff_text(host.diff))
    for command in host.commands:
        text.append("  $ ", style="bold")
        text.append(command + "\n")
    text.append(f"  then the runner waits for: {host.verify}\n")
    return text


def step_header(step: Step, number: int, status: str) -> Text:
    text = Text()
    text.append(f"{number}. {step.title}\n", style="bold")
    text.append(f"{step.id} · {step.kind}{' · rolling' if step.rolling else ''} · {label(status)}")
    return text


def step_body(step: Step, sim_manual: bool = False) -> Text:
    """Why, what changes (diffs, dry-run verdicts) and the host tasks: fixed for a given plan."""
    text = Text()
    text.append("Why now. ", style="bold")
    text.append(step.why + "\n")
    text.append("If skipped. ", style="bold")
    text.append(step.if_skipped + "\n")
    if step.preconditions:
        text.append("Preconditions. ", style="bold")
        text.append("; ".join(step.preconditions) + "\n")
    if step.items:
        text.append(f"\nOrder ({len(step.items)}):\n", style="bold")
        for item in step.items:
            text.append(f"  • {item_line(item)}\n")
    for change in step.changes:
        text.append(f"\n{change.op} {change.ref}", style="bold")
        text.append(f" · server dry-run: {dry_run_words(change)}\n" if step.kind == API else "\n")
        text.append_text(diff_text(change.diff) if change.diff else Text("(no change)\n"))
    if step.hosts:
        performer = "the simulator performs it" if sim_manual else "you perform it: c copies the commands"
        text.append("\nManual host tasks\n", style="bold")
        for host in step.hosts:
            text.append_text(host_section(host, performer))
    if step.kind == MANUAL:
        text.append("The runner never assumes a host task was done: it waits until the API shows it.\n")
    return text


def step_outcome(step: Step, live: str = "") -> Text:
    """How the step is verified (with what the runner sees right now) and how it is undone."""
    text = Text()
    text.append("Verification. ", style="bold")
    text.append(step.verify or "the step completes")
    if live:
        text.append("\n  now: ", style="bold")
        text.append(live)
    text.append("\nRollback. ", style="bold")
    text.append(step.rollback or "none: this step cannot be undone automatically")
    return text


def host_commands(step: Step) -> str:
    """The commands of every host task of a step, per host, ready to paste into a shell."""
    blocks = [f"# on {host.node}: {host.action}\n" + "\n".join(host.commands) for host in step.hosts]
    return "\n\n".join(blocks) + "\n" if blocks else ""


class StepView(VerticalScroll):
    """Scrollable step detail. The diffs are rendered once per step; while a run goes on only the
    status line and the verification's live state change."""

    DEFAULT_CSS = """
    StepView { height: 1fr; }
    StepView > Static { width: 1fr; padding: 0 1; }
    StepView > #step-body { padding-top: 1; padding-bottom: 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.can_focus = True
        self.step: Step | None = None
        self.shown: tuple = ()

    def compose(self):
        yield Static("Enter a target CIDR in the parameters and press enter: the plan's steps appear here.",
                     id="step-header")
        yield Static("", id="step-body")
        yield Static("", id="step-outcome")

    def show(self, step: Step, number: int, status: str, live: str, sim_manual: bool) -> None:
        if step is not self.step:
            self.step = step
            self.query_one("#step-body", Static).update(step_body(step, sim_manual))
            self.scroll_home(animate=False)
        if self.shown != (step.id, number, status, live):
            self.shown = (step.id, number, status, live)
            self.query_one("#step-header", Static).update(step_header(step, number, status))
            self.query_one("#step-outcome", Static).update(step_outcome(step, live))

    def show_skipped(self, step_id: str) -> None:
        self.step, self.shown = None, ()
        self.query_one("#step-header", Static).update(f"{label(SKIPPED)} {step_id}")
        self.query_one("#step-body", Static).update(
            "This step is not needed with these parameters in this cluster, so the plan leaves it out.")
        self.query_one("#step-outcome", Static).update("")
