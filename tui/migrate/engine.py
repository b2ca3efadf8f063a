"""Entry points shared by the headless commands and the migration screen: read and check, plan
with server-side dry-runs, start or resume a journaled run.

    prep = prepare(conn, request)               # reads only: a viewer can do this
    plan = make_plan(prep, rest)                # dry-runs only when the identity may write
    runner = start(conn, plan, options, sim_manual=False)   # journal + lock; runner.run()
    runner = resume(conn, migration_id=None, options=...)   # continue from the journal
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from tui import audit
from tui.migrate.checks import Context, blocking, preflight
from tui.migrate.gather import Snapshot, cluster_uid, read_snapshot, with_capabilities
from tui.migrate.hosts import simulator_host_actions
from tui.migrate.journal import Journal, JournalError, latest_unfinished, new_migration_id
from tui.migrate.lock import ClusterLock, Holder, LockError
from tui.migrate.params import MigrationParams, MigrationRequest, resolve_params
from tui.migrate.plan import build_plan
from tui.migrate.rest import ApiStatusError, Rest
from tui.migrate.runner import RunOptions, Runner
from tui.migrate.steps import API, DryRun, Plan
from tui.model.findings import Finding

SKIPPED_DRY_RUN = "read-only identity: server-side dry-runs need write permission, so none were sent"


class StartError(Exception):
    """The migration cannot start (exit code 2): nothing was changed."""


@dataclass(frozen=True)
class Preparation:
    snapshot: Snapshot
    params: MigrationParams | None
    findings: tuple[Finding, ...]
    context: Context | None

    @property
    def blocking(self) -> list[Finding]:
        return blocking(self.findings)

    @property
    def can_write(self) -> bool:
        caps = self.context.caps if self.context else None
        return caps is not None and not caps.read_only


def prepare(conn, request: MigrationRequest) -> Preparation:
    rest = Rest(conn)
    return assess(read_snapshot(conn, rest), request, lambda ctx: with_capabilities(conn, ctx))


def assess(snapshot: Snapshot, request: MigrationRequest,
           capabilities: Callable[[Context], Context]) -> Preparation:
    """Parameters and preflight for `request` against one read of the cluster; `capabilities` adds
    the identity's permissions to the context (the migration screen re-validates on every keystroke
    from one read, asking only about permissions it has not asked about yet)."""
    params, findings = resolve_params(request, snapshot.cluster)
    if params is None:
        return Preparation(snapshot, None, tuple(findings), None)
    ctx = capabilities(Context(snapshot.cluster, snapshot.info, None, params, snapshot.workloads))
    return Preparation(snapshot, params, tuple(findings) + tuple(preflight(ctx)), ctx)


def dry_run(plan: Plan, rest: Rest) -> Plan:
    """Send every api step's write with `dryRun=All` and keep the server's verdict in the plan.
    Later steps are dry-run against today's cluster, so a rejection there may only mean an
    earlier step has not happened yet; the runner dry-runs each write again just before it."""
    steps = []
    for step in plan.steps:
        changes = []
        for change in step.changes:
            res, ref = change.ref.resource, change.ref
            try:
                if change.op == "create":
                    rest.create(res, ref.namespace, change.after, dry_run=True)
                elif change.op == "update":  # with the read's resourceVersion, as custom resources need
                    rest.replace(res, ref.namespace, ref.name, change.after, dry_run=True)
                else:  # delete, and the delete half of a Node's re-creation
                    rest.delete(res, ref.namespace, ref.name, dry_run=True)
                verdict = DryRun("accepted")
            except ApiStatusError as exc:
                verdict = DryRun("rejected", f"{exc.code} {exc.reason}: {exc.message}")
            changes.append(replace(change, dry_run=verdict))
        steps.append(replace(step, changes=tuple(changes)))
    return replace(plan, steps=tuple(steps))


def skip_dry_run(plan: Plan) -> Plan:
    steps = tuple(replace(s, changes=tuple(replace(c, dry_run=DryRun("skipped", "read-only identity"))
                                           for c in s.changes)) if s.kind == API else s for s in plan.steps)
    return replace(plan, steps=steps, notes=plan.notes + (SKIPPED_DRY_RUN,))


def make_plan(prep: Preparation, rest: Rest, stamp: str | None = None) -> Plan:
    stamp = stamp or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = build_plan(prep.snapshot, prep.params, list(prep.findings), stamp)
    return dry_run(plan, rest) if prep.can_write else skip_dry_run(plan)


def _host_actions(conn, sim_manual: bool):
    if not sim_manual:
        return None
    actions = simulator_host_actions(conn)
    if actions is None:
        raise StartError(f"--sim-manual only works against the calico-tui simulator; {conn.server} is not one")
    return actions


def start(conn, plan: Plan, options: RunOptions | None = None, sim_manual: bool = False,
          root=None) -> Runner:
    """Open a new journal for `plan`, take the cluster lock and return the runner."""
    rest = Rest(conn)
    uid = plan.cluster["uid"]
    host_actions = _host_actions(conn, sim_manual)  # refused before anything is written
    pending = latest_unfinished(uid, root)
    if pending is not None:
        raise StartError(f"migration {pending} of this cluster is unfinished: continue it with --resume")
    migration_id = new_migration_id()
    _audit(conn, migration_id, root)
    lock = ClusterLock(rest, Holder.me(migration_id))
    reason = _take_lock(lock)  # refused: nothing was written, in the cluster or here
    journal = Journal.create(uid, migration_id, root)
    _audit(conn, migration_id, root, journal)
    journal.append("migration-start", plan=plan.to_dict(), sim_manual=sim_manual)
    runner = Runner(rest, plan, journal, options, host_actions, lock)
    runner.log("info", None, f"cluster lock taken: {reason}")
    return runner


def resume(conn, migration_id: str | None = None, options: RunOptions | None = None,
           sim_manual: bool | None = None, root=None) -> Runner:
    """The runner for an unfinished migration of this cluster (the latest, or `migration_id`)."""
    rest = Rest(conn)
    uid = cluster_uid(rest)
    migration_id = migration_id or latest_unfinished(uid, root)
    if migration_id is None:
        raise StartError("no unfinished migration of this cluster to resume")
    try:
        journal = Journal.open(uid, migration_id, root)
    except JournalError as exc:
        raise StartError(str(exc)) from exc
    start_record = journal.first("migration-start")
    if start_record is None:
        raise StartError(f"journal {journal.path} has no plan")
    plan = Plan.from_dict(start_record["plan"])
    manual = start_record.get("sim_manual", False) if sim_manual is None else sim_manual
    host_actions = _host_actions(conn, manual)
    _audit(conn, journal.migration_id, root, journal)
    lock = ClusterLock(rest, Holder.me(journal.migration_id))
    reason = _take_lock(lock)
    runner = Runner(rest, plan, journal, options, host_actions, lock)
    runner.log("info", None, f"cluster lock taken: {reason}")
    if journal.torn:
        runner.log("warning", None, journal.torn)
    return runner


def _audit(conn, migration_id: str, root, journal: Journal | None = None) -> None:
    """From here on every mutation is in the audit log, with the migration (and, once there is a
    journal, the step and action)."""
    path = None if root is None else Path(root).parent / audit.AUDIT_FILE
    audit.attach(conn, lambda: {"migration": migration_id, **(journal.in_progress() if journal else {})}, path)


def _take_lock(lock: ClusterLock) -> str:
    try:
        return lock.acquire()
    except LockError as exc:
        raise StartError(str(exc)) from exc
