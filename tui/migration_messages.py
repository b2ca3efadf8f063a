"""Typed messages from the migration screen's workers; only the screen's handlers touch widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.migrate.engine import Preparation
from tui.migrate.gather import Snapshot
from tui.migrate.params import MigrationRequest
from tui.migrate.runner import Event, Runner
from tui.migration_session import PendingMigration, Planned


@dataclass
class MigrationLoaded(Message):
    """The cluster was read for the form's defaults; `pending` is an unfinished migration to offer."""

    snapshot: Snapshot
    pending: PendingMigration | None


@dataclass
class Assessed(Message):
    """Inline validation of the form's values (no plan, no dry-run)."""

    request: MigrationRequest
    prep: Preparation

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Assessed)


@dataclass
class PlanReady(Message):
    """A fresh preflight and plan for `request`."""

    request: MigrationRequest
    planned: Planned


@dataclass
class RunnerReady(Message):
    """A runner holds the cluster lock and its journal: a new migration, or a resumed one."""

    runner: Runner
    resumed: bool


@dataclass
class RunEvents(Message):
    """Runner events since the last tick, in order (the log is written once per batch)."""

    events: tuple[Event, ...]


@dataclass
class RunFinished(Message):
    """One invocation of the runner ended: done, stopped, failed or aborted."""

    outcome: str
