"""`CalicoApp`: the live dashboard's shell.

Thread workers talk to the cluster through a `Session` and post typed messages (tui.messages);
only the handlers here touch screens. One handler deals with every worker failure. The session is
closed when the app unmounts, which removes the CalicoNodeStatus objects it created.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import time
from collections.abc import Callable, Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from screens.connect_error import ConnectErrorScreen
from screens.dashboard import DashboardScreen
from screens.help import HelpScreen
from tui import keys
from tui.messages import ClusterUpdated, Connected, NodeStatusesChanged
from tui.session import LiveView, Session, failure_summary
from tui.terminal import terminal_alive
from widgets.freshness import LIVE

TERMINAL_CHECK_SECONDS = 2.0
EXIT_TERMINAL_GONE = 129  # 128 + SIGHUP, what a shell reports for a hung-up job


class RegistryCommands(Provider):
    """The command palette's view of tui.keys: the screen's commands, then the app's."""

    def _commands(self) -> Iterable[keys.Command]:
        scope = getattr(self.screen, "SCOPE", None)
        for command in keys.commands(*(s for s in (scope, keys.APP) if s)):
            if command.action != "command_palette" and self.screen.check_action(command.action, ()) is not False:
                yield command

    def _run(self, command: keys.Command) -> Callable[[], object]:
        return lambda: self.screen.run_action(command.action)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(f"{command.title}  ({keys.key_label(command)})", self._run(command),
                               help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            text = f"{command.title}  ({keys.key_label(command)})"
            # A match in the name always ranks above one found only in the (long) description.
            score = matcher.match(text) or matcher.match(command.help) * 0.1
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._run(command), text=text, help=command.help)


class CalicoApp(App[int]):
    """The dashboard app. `clock` is injectable so snapshots can freeze every age shown."""

    TITLE = "calico-tui"
    BINDINGS = keys.bindings(keys.APP)
    COMMANDS = App.COMMANDS | {RegistryCommands}

    def __init__(self, session: Session, *, clock: Callable[[], float] = time.time,
                 ansi: bool = False, watch_terminal: bool = True, sim_manual: bool = False,
                 run_options=None) -> None:
        super().__init__()
        self.session = session
        self.sim_manual = sim_manual  # the simulator plays the migration's manual host steps (--demo)
        self.run_options = run_options
        self.clock = clock
        self.watch_terminal = watch_terminal
        self.view: LiveView | None = None
        self._frozen = False  # the first complete dashboard was exempted from the cyclic GC
        self.theme = "ansi-dark" if ansi else "textual-dark"

    # -- start-up and connection ------------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen())
        self.connect()
        if self.watch_terminal and not self.is_headless:
            self.set_interval(TERMINAL_CHECK_SECONDS, self._check_terminal)
            try:
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._terminal_gone)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # no SIGHUP on this platform; the periodic check still runs

    def on_unmount(self) -> None:
        self.session.close()

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False, description="Connecting")
    def connect(self) -> None:
        opened = self.session.open()
        self.post_message(Connected(opened))
        self.session.subscribe(lambda view: self.post_message(ClusterUpdated(view)))

    def retry_connect(self) -> None:
        if isinstance(self.screen, ConnectErrorScreen):
            self.pop_screen()
        self.dashboard.show_connecting()
        self.connect()

    @property
    def dashboard(self) -> DashboardScreen:
        return next(s for s in self.screen_stack if isinstance(s, DashboardScreen))

    @on(Connected)
    def _connected(self, message: Connected) -> None:
        self.dashboard.show_identity(message.opened)

    @on(ClusterUpdated)
    def _cluster_updated(self, message: ClusterUpdated) -> None:
        if not self.is_running:
            return  # shutting down: the screens are being taken apart
        self.view = message.view
        with self.batch_update():
            for screen in self.screen_stack:
                update = getattr(screen, "show_view", None)
                if update is not None:
                    update(message.view)
        if not self._frozen and all(h.state == LIVE for h in message.view.health.values()):
            # The session froze the model once everything was listed (tui.heap); the tables filled
            # from it since, a cell per node and column, are as long-lived.
            self._frozen = True
            self.call_after_refresh(gc.freeze)

    @on(NodeStatusesChanged)
    def _node_statuses_changed(self, message: NodeStatusesChanged) -> None:
        if message.nodes:
            self.notify(f"BGP status requested for {', '.join(message.nodes)}; "
                        "calico-node fills it in within ~10 s.", timeout=6)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures are handled."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        summary, hint = failure_summary(error)
        if event.worker.group == "connect":
            self.push_screen(ConnectErrorScreen(self.session.target, summary, hint))
        else:
            self.notify(f"{event.worker.description} failed: {summary}", severity="error", timeout=8)

    # -- actions -----------------------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        scope = getattr(self.screen, "SCOPE", None)
        self.push_screen(HelpScreen(tuple(s for s in (scope, keys.APP) if s)))

    def action_open_migration(self) -> None:
        """The migration screen is installed once and kept, so a run goes on behind the dashboard."""
        from screens.migration import MigrationScreen
        from tui.migration_session import MigrationSession

        if isinstance(self.screen, MigrationScreen):
            return
        if not self.is_screen_installed("migration"):
            session = MigrationSession(self.session.kubeconfig, self.session.context, options=self.run_options,
                                       sim_manual=self.sim_manual, clock=self.clock)
            self.install_screen(MigrationScreen(session, forced_read_only=self.session.force_read_only),
                                name="migration")
        self.push_screen("migration")

    @work(thread=True, exclusive=True, group="relist", exit_on_error=False, description="Relist")
    def action_relist(self) -> None:
        self.session.relist()

    @work(thread=True, group="node-status", exit_on_error=False, description="Requesting BGP status")
    def request_node_status(self, nodes: list[str]) -> None:
        self.post_message(NodeStatusesChanged(tuple(self.session.request_node_status(nodes))))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Quit and help come from the registry provider; keep Textual's theme/keys/screenshot entries.
        yield from (c for c in super().get_system_commands(screen) if c.title != "Quit")

    # -- terminal gone (SSH drop) -----------------------------------------------------------------

    def _check_terminal(self) -> None:
        if sys.__stdin__ is None or not terminal_alive(sys.__stdin__.fileno()):
            self._terminal_gone()

    def _terminal_gone(self) -> None:
        self.exit(EXIT_TERMINAL_GONE)
