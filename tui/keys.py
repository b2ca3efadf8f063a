"""The one registry of user commands: key bindings, the `?` help screen and the command palette.

Every command the user can trigger has an id here, so a keymap can rebind it, help lists it and the
palette finds it. Screens take their BINDINGS from `bindings(scope)`; nothing else declares keys,
which keeps help, palette and behaviour from drifting apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Command:
    id: str
    key: str
    action: str
    title: str
    help: str
    scope: str
    footer: bool = True
    key_display: str | None = None


APP = "app"
DASHBOARD = "dashboard"
NODE_DETAIL = "node-detail"
YAML = "yaml"
CONNECT_ERROR = "connect-error"
DIALOG = "dialog"
NODE_STATUS = "node-status"
MIGRATION = "migration"
CONFIRM = "confirm"

COMMANDS: tuple[Command, ...] = (
    Command("quit", "q", "quit", "Quit", "Leave calico-tui (removes CalicoNodeStatus objects it created).", APP),
    Command("help", "question_mark", "help", "Help", "Show every key and what it does.", APP, key_display="?"),
    Command("palette", "ctrl+p", "command_palette", "Commands", "Search every command by name.", APP,
            footer=False),
    Command("relist", "r", "relist", "Relist", "Drop the cache and list everything again from the API server.", APP),
    Command("next-pane", "tab", "next_pane", "Next pane", "Move to the next pane (pools, nodes, BGP).", DASHBOARD,
            footer=False),
    Command("prev-pane", "shift+tab", "prev_pane", "Previous pane", "Move to the previous pane.", DASHBOARD,
            footer=False),
    Command("filter", "slash", "filter", "Filter", "Filter nodes by name or by a label selector "
            "(e.g. route-reflector=true, node-role.kubernetes.io/control-plane).", DASHBOARD, key_display="/"),
    Command("node-detail", "enter", "node_detail", "Detail", "Open the selected node: blocks, IPs, BGP sessions, "
            "kube-proxy and calico-node pods (on a pool or peer row: its YAML).", DASHBOARD),
    Command("yaml", "y", "yaml", "YAML", "Show the live object of the selected row as YAML.", DASHBOARD),
    Command("sort", "s", "sort", "Sort", "Sort nodes by the next column (again on the last one: reverse).",
            DASHBOARD),
    Command("bgp-status", "b", "bgp_status", "BGP status", "Ask calico-node for live BGP sessions of up to 10 "
            "nodes (creates CalicoNodeStatus objects, removed on exit; needs write access).", DASHBOARD),
    Command("migrate", "m", "app.open_migration", "Migrate", "Open the migration screen: parameters, preflight, "
            "the plan's steps with diffs, run with live log (a run in progress goes on while you look elsewhere).",
            DASHBOARD),
    Command("clear-filter", "escape", "clear_filter", "Clear filter", "Remove the node filter.", DASHBOARD,
            footer=False),
    Command("detail-back", "escape", "app.pop_screen", "Back", "Back to the dashboard.", NODE_DETAIL),
    Command("detail-yaml", "y", "yaml", "YAML", "Show the selected block or pod, or the node, as YAML.",
            NODE_DETAIL),
    Command("yaml-back", "escape", "app.pop_screen", "Back", "Close the YAML view.", YAML),
    Command("yaml-copy", "c", "copy", "Copy", "Copy the YAML to your local clipboard (OSC 52, works over SSH).",
            YAML),
    Command("migration-params", "1", "panel('params')", "Parameters", "Show the parameters form.", MIGRATION,
            footer=False),
    Command("migration-preflight", "2", "panel('preflight')", "Preflight", "Show the preflight findings.", MIGRATION,
            footer=False),
    Command("migration-steps", "3", "panel('steps')", "Steps", "Show the plan's steps and their status.", MIGRATION,
            footer=False),
    Command("migration-step", "4", "panel('step')", "Step detail", "Show the selected step: why, diffs, dry-run, "
            "host commands, live verification.", MIGRATION, footer=False),
    Command("migration-run", "5", "panel('run')", "Run log", "Show the run: progress and live log.", MIGRATION,
            footer=False),
    Command("migration-plan", "ctrl+r", "plan", "Plan", "Plan with the parameters as they are (enter in a text "
            "field does the same): a fresh read of the cluster, preflight, steps and server-side dry-runs.",
            MIGRATION),
    Command("migration-next", "n", "run_step", "Next step", "Run the next step, after a confirmation that lists "
            "its verbs and objects.", MIGRATION),
    Command("migration-until-manual", "u", "run_until_manual", "Until manual", "Run the steps up to the next manual "
            "host step, after one confirmation listing each step's verbs and objects.", MIGRATION),
    Command("migration-pause", "p", "pause", "Pause/resume", "Pause the run after the current action; again to "
            "resume.", MIGRATION),
    Command("migration-abort", "a", "abort", "Abort", "Stop the run after the current action; the journal keeps "
            "where it stopped, so it can be resumed.", MIGRATION),
    Command("migration-rollback", "b", "rollback", "Roll back", "Undo the selected api step from the journal's "
            "backups (after a confirmation).", MIGRATION, footer=False),
    Command("migration-export", "e", "export", "Export", "Write the plan as a markdown runbook into the current "
            "directory.", MIGRATION, footer=False),
    Command("migration-copy", "c", "copy", "Copy commands", "Copy the selected manual step's host commands to your "
            "local clipboard (OSC 52, works over SSH).", MIGRATION, footer=False),
    Command("migration-dashboard", "d", "dashboard", "Dashboard", "Back to the dashboard without stopping the run "
            "(m comes back).", MIGRATION),
    Command("migration-back", "escape", "dashboard", "Dashboard", "Back to the dashboard without stopping the run.",
            MIGRATION, footer=False),
    Command("confirm-yes", "y", "confirm", "Yes", "Do it.", CONFIRM),
    Command("confirm-no", "n,escape", "cancel", "No", "Do nothing.", CONFIRM, key_display="n/esc"),
    Command("retry", "r", "retry", "Retry", "Try to connect to the cluster again.", CONNECT_ERROR),
    Command("dialog-close", "escape", "dismiss_dialog", "Close", "Close this dialog.", DIALOG),
    Command("node-status-create", "c", "create", "Create", "Create CalicoNodeStatus objects for the checked "
            "nodes (space checks a node).", NODE_STATUS),
    Command("node-status-cancel", "escape", "dismiss_dialog", "Cancel", "Close without creating anything.",
            NODE_STATUS),
)


def commands(*scopes: str) -> list[Command]:
    """Commands of the given scopes, in registry order."""
    return [command for command in COMMANDS if command.scope in scopes]


def bindings(scope: str) -> list[Binding]:
    """Textual bindings for one scope, each carrying its command id."""
    return [
        Binding(c.key, c.action, c.title, show=c.footer, key_display=c.key_display, id=c.id, tooltip=c.help)
        for c in commands(scope)
    ]


def key_label(command: Command) -> str:
    """How help shows a key: `?` rather than `question_mark`."""
    return command.key_display or command.key


def help_rows(scopes: Iterable[str]) -> list[tuple[str, str, str]]:
    """(key, title, help) rows for the help screen, screen-specific commands first."""
    ordered = sorted(commands(*scopes), key=lambda c: c.scope == APP)
    return [(key_label(c), c.title, c.help) for c in ordered]
