"""The migration screen's link to the engine. Every method blocks (HTTP, journal files) and is called
from the screen's thread workers; the runners it returns run on the app's event loop.

Validation while the operator types re-uses one read of the cluster and asks the API server only
about permissions it has not asked about yet, so a keystroke usually costs no request. The plan
itself is made from a fresh read, exactly as `calico-tui plan` makes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from tui.kube.rbac import Access, Capabilities
from tui.migrate import engine
from tui.migrate.checks import Context, required_accesses
from tui.migrate.gather import Snapshot, ask_capabilities, cluster_uid, read_snapshot
from tui.migrate.journal import JOURNAL_FILE, Journal, journal_root, latest_unfinished, read_records
from tui.migrate.params import MigrationRequest
from tui.migrate.rest import Rest
from tui.migrate.runbook import render_markdown
from tui.migrate.runner import RunOptions, Runner
from tui.migrate.steps import Plan
from tui.migration_state import stopped_at


@dataclass(frozen=True)
class PendingMigration:
    """An unfinished migration of this cluster, as its journal left it."""

    migration_id: str
    plan: Plan
    journal: Journal

    @property
    def summary(self) -> str:
        p = self.plan.params
        return (f"Migration {self.migration_id} ({p['old_cidr']} → {p['target_cidr']}) is unfinished: "
                f"{stopped_at(self.plan, self.journal)}.")


@dataclass(frozen=True)
class Planned:
    """A fresh preflight and, when the parameters allow one, the plan with its dry-run verdicts."""

    prep: engine.Preparation
    plan: Plan | None


def plan_stamp(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def runbook_name(plan: Plan) -> str:
    p = plan.params
    stamp = plan.cluster.get("stamp", "").replace(":", "").replace("-", "")
    return f"calico-tui-runbook-{p['old_cidr']}-to-{p['target_cidr']}-{stamp}.md".replace("/", "_")


class MigrationSession:
    """One cluster's migration as the screen drives it; `clock` stamps plans (frozen in snapshots)."""

    def __init__(self, kubeconfig: str | None, context: str | None, *, options: RunOptions | None = None,
                 sim_manual: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.options = options or RunOptions()
        self.sim_manual = sim_manual
        self.clock = clock
        self.snapshot: Snapshot | None = None
        self._conn = None
        self._asked: dict[Access, bool] = {}
        self._lock = threading.Lock()

    @property
    def conn(self):
        with self._lock:
            if self._conn is None:
                from tui.kube.connection import connect

                self._conn = connect(self.kubeconfig, self.context)
            return self._conn

    # -- reading -----------------------------------------------------------------------------------

    def load(self) -> Snapshot:
        """One read of everything the preflight looks at (the form's defaults come from it)."""
        self.snapshot = read_snapshot(self.conn, Rest(self.conn))
        return self.snapshot

    def pending(self) -> PendingMigration | None:
        """This cluster's latest unfinished migration, read without changing its journal."""
        uid = cluster_uid(Rest(self.conn))
        migration_id = latest_unfinished(uid)
        if migration_id is None:
            return None
        directory = journal_root() / uid / migration_id
        records, _, torn = read_records(directory / JOURNAL_FILE)
        journal = Journal(directory, records, torn)
        start = journal.first("migration-start")
        if start is None:
            return None
        return PendingMigration(migration_id, Plan.from_dict(start["plan"]), journal)

    def assess(self, request: MigrationRequest) -> engine.Preparation:
        """Parameters and preflight for the form's current values, against the loaded snapshot."""
        snapshot = self.snapshot or self.load()
        return engine.assess(snapshot, request, self._with_capabilities)

    def _with_capabilities(self, ctx: Context) -> Context:
        wanted = required_accesses(ctx)
        fresh = [a for a in wanted if _access(*a) not in self._asked]
        if fresh:
            self._asked.update(ask_capabilities(self.conn, fresh).allowed)
        return replace(ctx, caps=Capabilities(dict(self._asked)))

    def plan(self, request: MigrationRequest) -> Planned:
        """A fresh preflight and plan (server-side dry-runs when this identity may write)."""
        prep = engine.prepare(self.conn, request)
        self.snapshot = prep.snapshot
        if prep.params is None:
            return Planned(prep, None)
        return Planned(prep, engine.make_plan(prep, Rest(self.conn), plan_stamp(self.clock())))

    # -- running -----------------------------------------------------------------------------------

    def start(self, plan: Plan) -> Runner:
        """A new journal and the cluster lock for `plan` (engine.StartError when that cannot be)."""
        return engine.start(self.conn, plan, self.options, sim_manual=self.sim_manual)

    def resume(self, migration_id: str) -> Runner:
        return engine.resume(self.conn, migration_id, self.options, sim_manual=self.sim_manual or None)

    @staticmethod
    def release(runner: Runner) -> None:
        """Give the cluster lock back (when the screen closes; a crash leaves it to expire)."""
        if runner.lock is not None:
            runner.lock.release()

    @staticmethod
    def export(plan: Plan, directory: Path) -> Path:
        """Write the plan as the markdown runbook a change board reviews."""
        path = directory / runbook_name(plan)
        path.write_text(render_markdown(plan), encoding="utf-8")
        return path

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _access(verb: str, group: str, resource: str, namespace: str | None) -> Access:
    """The key ask_capabilities files an answer under (tui.migrate.gather)."""
    name, _, sub = resource.partition("/")
    return Access(verb, group, name, namespace or "", sub)
