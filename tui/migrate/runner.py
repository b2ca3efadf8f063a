"""The journaled asynchronous runner: executes a plan step by step, resumable after a crash.

One engine for the migration screen and `calico-tui migrate`:

- `Runner.subscribe(callback)` delivers `Event`s: structured log lines (time, level, step, message)
  and progress (done, total) of rolling steps; the headless command prints one line per event.
- `pause()`, `resume()` and `abort()` take effect between atomic actions, never inside one.
- `run(until=..., stop_before_manual=...)` runs the remaining steps, or up to one step, or up to
  the next manual step; `rollback(step_id)` undoes a completed step where that is possible.

Every atomic action is keyed in the journal (`action-start`, `backup` of each object before it is
mutated, `action-done`); a resumed run skips actions already done and re-runs an interrupted one,
which is written to find out from the live state whether it already happened. Writes re-read the
object first, re-derive the change from the live version and stop the step when it is not exactly
the previewed change (never clobber); a 409 re-reads and re-derives; transient errors (5xx, 429,
no connection) are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import copy
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable

from tui.migrate.diff import ABSENT, change_set
from tui.migrate.journal import Journal
from tui.migrate.lock import ClusterLock
from tui.migrate.params import MigrationParams
from tui.migrate.rest import ApiStatusError, Rest
from tui.migrate.steps import MANUAL, Change, ObjectRef, Plan, Step
from tui.migrate.transforms import apply_transform

DONE, FAILED, ABORTED, STOPPED = "done", "failed", "aborted", "stopped"


@dataclass(frozen=True)
class Event:
    time: datetime
    level: str  # debug, info, warning, error
    step: str | None
    message: str
    done: int | None = None  # progress of a rolling step
    total: int | None = None

    def line(self) -> str:
        stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.time.microsecond // 1000:03d}Z"
        progress = f" [{self.done}/{self.total}]" if self.total is not None else ""
        return f"{stamp} {self.level.upper():<7} {self.step or '-':<24}{progress} {self.message}"


@dataclass(frozen=True)
class RunOptions:
    poll_interval: float = 2.0  # seconds between reads while waiting on the cluster
    wait_timeout: float = 1800.0  # longest wait for one condition
    settle: float = 10.0  # a control-plane pod must stay healthy this long after a change
    retries: int = 8  # attempts for a transient error
    backoff: float = 0.5  # first retry delay, doubled each time (with jitter), capped at 30 s
    lease_renew: float = 20.0


class StepFailed(Exception):
    """The step cannot continue; the message says why and what was seen."""


class Aborted(Exception):
    pass


@dataclass
class Control:
    """Pause/abort requests, checked between atomic actions."""

    running: asyncio.Event = field(default_factory=asyncio.Event)
    aborted: bool = False

    def __post_init__(self):
        self.running.set()


class Runner:
    def __init__(self, rest: Rest, plan: Plan, journal: Journal, options: RunOptions | None = None,
                 host_actions=None, lock: ClusterLock | None = None):
        self.rest = rest
        self.plan = plan
        self.journal = journal
        self.options = options or RunOptions()
        self.host_actions = host_actions
        self.lock = lock
        self.params = MigrationParams.from_dict(plan.params)
        self.control = Control()
        self.listeners: list[Callable[[Event], None]] = []
        self._unheard: list[Event] = []  # logged before anyone listened (lock takeover, torn journal)
        self._done = journal.done_actions()

    # --- events ---------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """Events from now on, after those logged while nobody listened."""
        self.listeners.append(callback)
        unheard, self._unheard = self._unheard, []
        for event in unheard:
            callback(event)

    def log(self, level: str, step: str | None, message: str, done: int | None = None,
            total: int | None = None) -> None:
        event = Event(datetime.now(timezone.utc), level, step, message, done, total)
        if not self.listeners:
            self._unheard.append(event)
        for listener in list(self.listeners):
            listener(event)

    def progress(self, step: str, done: int, total: int, message: str) -> None:
        self.log("info", step, message, done, total)

    # --- control --------------------------------------------------------------------------

    def pause(self) -> None:
        self.control.running.clear()
        self.log("info", None, "pause requested: stopping after the current action")

    def resume(self) -> None:
        self.control.running.set()

    def abort(self) -> None:
        self.control.aborted = True
        self.control.running.set()
        self.log("warning", None, "abort requested: stopping after the current action")

    async def checkpoint(self) -> None:
        if not self.control.running.is_set():
            self.log("info", None, "paused")
            await self.control.running.wait()
            if not self.control.aborted:
                self.log("info", None, "resumed")
        if self.control.aborted:
            raise Aborted("aborted by the operator")

    # --- state ----------------------------------------------------------------------------

    def step_status(self) -> dict[str, str]:
        """`pending`, `started`, `done`, `failed` or `rolled-back` for every step of the plan."""
        known = self.journal.step_status()
        return {step.id: known.get(step.id, "pending") for step in self.plan.steps}

    def next_step(self) -> Step | None:
        status = self.step_status()
        return next((s for s in self.plan.steps if status[s.id] != "done"), None)

    # --- primitives used by the step executors ----------------------------------------------

    async def call(self, fn: Callable, *args, **kwargs):
        """A blocking API call in a thread, retried with backoff while the error is transient."""
        delay = self.options.backoff
        for attempt in range(1, self.options.retries + 1):
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except ApiStatusError as exc:
                if not exc.transient or attempt == self.options.retries:
                    raise
                wait = min(30.0, delay) * (0.5 + random.random())
                self.log("warning", None, f"{exc}; retrying in {wait:.1f}s (attempt {attempt})")
                await asyncio.sleep(wait)
                delay *= 2

    async def get(self, ref: ObjectRef) -> dict | None:
        try:
            return await self.call(self.rest.get, ref.resource, ref.namespace, ref.name)
        except ApiStatusError as exc:
            if exc.code == 404:
                return None
            raise

    async def delete_uid(self, res, namespace: str | None, name: str, uid: str) -> None:
        """Delete exactly this object (by uid). Not found counts as deleted: a retry after an
        attempt whose answer was lost finds the object gone."""
        try:
            await self.call(self.rest.delete, res, namespace, name, preconditions={"uid": uid})
        except ApiStatusError as exc:
            if exc.code != 404:
                raise

    def backup(self, step: str, action: str, obj: dict) -> None:
        self.journal.append("backup", step=step, action=action, ref=ObjectRef.of(obj).__dict__,
                            object=obj)

    def is_done(self, step: str, action: str) -> bool:
        return (step, action) in self._done

    async def action(self, step: str, key: str, work: Callable[[], Awaitable[dict | None]]) -> dict | None:
        """One atomic, journaled action; skipped when a previous run completed it."""
        if self.is_done(step, key):
            return (self.journal.action_result(step, key) or {}).get("result")
        await self.checkpoint()
        self.journal.append("action-start", step=step, action=key)
        result = await work()
        self.journal.append("action-done", step=step, action=key, result=result)
        self._done.add((step, key))
        return result

    async def wait_for(self, step: str, what: str, probe: Callable[[], Awaitable[tuple[bool, str]]],
                       settle: float = 0.0) -> str:
        """Poll `probe` until it holds, with the same detail for `settle` seconds when given (so a
        pod that is replaced or flaps does not count as settled); log what changes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.wait_timeout
        last, held_since = None, None
        while True:
            await self.checkpoint()
            ok, detail = await probe()
            if detail != last:
                self.log("info", step, f"{what}: {detail}")
                last, held_since = detail, None
            if ok:
                held_since = held_since if held_since is not None else loop.time()
                if loop.time() - held_since >= settle:
                    return detail
            else:
                held_since = None
            if loop.time() > deadline:
                raise StepFailed(f"timed out waiting for {what}: {detail}")
            await asyncio.sleep(self.options.poll_interval)

    async def apply_change(self, step: str, change: Change, key: str | None = None) -> dict | None:
        """Create, update or delete one object, never clobbering a change made since the plan."""
        return await self.action(step, key or change.key, lambda: self._write(step, key or change.key, change))

    async def _write(self, step: str, key: str, change: Change) -> dict | None:
        res, ref = change.ref.resource, change.ref
        for _ in range(5):
            live = await self.get(ref)
            try:
                if change.op == "create":
                    return await self._create(step, change, live)
                if change.op == "delete":
                    if live is None:
                        self.log("info", step, f"{ref} is already gone")
                        return {"deleted": False}
                    self.backup(step, key, live)
                    await self.call(self.rest.delete, res, ref.namespace, ref.name, dry_run=True)
                    await self.delete_uid(res, ref.namespace, ref.name, live["metadata"]["uid"])
                    self.log("info", step, f"deleted {ref}")
                    return {"deleted": True}
                return await self._update(step, key, change, live)
            except ApiStatusError as exc:
                if exc.code != 409:
                    raise StepFailed(f"{change.op} {ref}: {exc}") from exc
                self.log("warning", step, f"{ref} changed while writing (409): re-reading and re-checking")
        raise StepFailed(f"{ref} keeps changing under us; stopped")

    async def _create(self, step: str, change: Change, live: dict | None) -> dict:
        ref = change.ref
        if live is not None:
            # Fields the plan leaves out are the server's defaults (a create whose answer was lost
            # comes back with them); only a planned field with another value is someone else's.
            differs = {path: values for path, values in change_set(live.get("spec"), change.after.get("spec")).items()
                       if values[1] is not ABSENT}
            if differs:
                raise StepFailed(f"{ref} already exists and differs from the plan: {_describe(differs)}")
            self.log("info", step, f"{ref} already exists as planned")
            return {"created": False}
        await self.call(self.rest.create, ref.resource, ref.namespace, change.after, dry_run=True)
        await self.call(self.rest.create, ref.resource, ref.namespace, change.after)
        self.log("info", step, f"created {ref}")
        return {"created": True, "ref": ref.__dict__}

    async def _update(self, step: str, key: str, change: Change, live: dict | None) -> dict:
        ref = change.ref
        if live is None:
            raise StepFailed(f"{ref} no longer exists")
        desired = live
        for name, args in change.transforms:
            desired = apply_transform(name, desired, args)
        actual = change_set(live, desired)
        if not actual:
            self.log("info", step, f"{ref} already has the planned change")
            return {"updated": False}
        previewed = change_set(change.before, change.after)
        if actual != previewed:
            raise StepFailed(f"{ref} was changed since the plan was made, where this step writes: planned "
                             f"{_describe(previewed)}, would now write {_describe(actual)}; re-plan")
        self.backup(step, key, live)
        await self.call(self.rest.replace, ref.resource, ref.namespace, ref.name, desired, dry_run=True)
        await self.call(self.rest.replace, ref.resource, ref.namespace, ref.name, desired)
        self.log("info", step, f"updated {ref}: {_describe(actual)}")
        return {"updated": True}

    async def update_live(self, step: str, key: str, obj: dict, transforms: list[tuple[str, dict]]) -> dict | None:
        """A write decided at run time (cordon, restart of a workload found while rolling): the
        preview is the change the transforms make to the object as it is now."""
        ref = ObjectRef.of(obj)
        after = obj
        for name, args in transforms:
            after = apply_transform(name, after, args)
        return await self.apply_change(step, Change(ref, "update", obj, after, tuple(transforms)), key)

    # --- running --------------------------------------------------------------------------

    async def run(self, until: str | None = None, stop_before_manual: bool = False) -> str:
        """Run the remaining steps. Returns done, stopped (reached `until` or a manual step),
        failed or aborted; the journal records where it stopped."""
        from tui.migrate.executors import EXECUTORS

        if until is not None:
            self.plan.step(until)
        self.journal.append("run-start", until=until)
        renewer = asyncio.create_task(self._renew_lock()) if self.lock else None
        outcome = DONE
        try:
            started = False
            for step in self.plan.steps:
                if self.step_status()[step.id] == "done":
                    continue
                if stop_before_manual and step.kind == MANUAL and started:
                    outcome = STOPPED
                    self.log("info", step.id, "next step is manual: stopping here")
                    break
                started = True
                await self._run_step(step, EXECUTORS[step.id])
                if step.id == until:
                    outcome = STOPPED if self.next_step() else DONE
                    break
            if outcome == DONE and self.next_step() is None:
                self.journal.append("migration-done")
                self.log("info", None, "migration complete")
        except Aborted as exc:
            outcome = ABORTED
            self.log("warning", None, f"{exc}; state journaled in {self.journal.path}")
        except StepFailed as exc:
            outcome = FAILED
            self.log("error", None, f"stopped: {exc}; state journaled in {self.journal.path}")
        except BaseException:  # cancelled (the screen went away) or interrupted: never journal "done"
            outcome = ABORTED
            raise
        finally:
            if renewer:
                renewer.cancel()
            self.journal.append("run-end", outcome=outcome)
        return outcome

    async def _run_step(self, step: Step, executor) -> None:
        status = self.step_status()[step.id]
        self.journal.append("step-start", step=step.id)
        self.log("info", step.id, ("resuming: " if status == "started" else "") + step.title)
        try:
            await executor(self, step)
        except StepFailed as exc:
            self.journal.append("step-failed", step=step.id, error=str(exc))
            raise StepFailed(f"step {step.id}: {exc}") from exc
        except ApiStatusError as exc:
            self.journal.append("step-failed", step=step.id, error=str(exc))
            raise StepFailed(f"step {step.id}: {exc}") from exc
        except Aborted:
            raise
        except Exception as exc:  # a fault nobody foresaw stops the step cleanly, journaled
            error = f"unexpected {type(exc).__name__}: {exc}"
            self.journal.append("step-failed", step=step.id, error=error)
            raise StepFailed(f"step {step.id}: {error}") from exc
        self.journal.append("step-done", step=step.id)
        self.log("info", step.id, "done")

    async def _renew_lock(self) -> None:
        while True:
            await asyncio.sleep(self.options.lease_renew)
            try:
                await asyncio.to_thread(self.lock.renew)
            except Exception as exc:  # a lost lock must stop the run, whatever the cause
                self.log("error", None, f"cluster lock: {exc}")
                self.abort()
                return

    # --- rollback -------------------------------------------------------------------------

    async def rollback(self, step_id: str) -> str:
        """Undo a completed (or failed) api step from the journal: objects it created are deleted,
        objects it changed or deleted are put back as backed up. Rolling and manual steps cannot
        be undone this way (pods have moved; host files are the operator's)."""
        step = self.plan.step(step_id)
        if step.kind == MANUAL or step.rolling:
            raise StepFailed(f"{step_id} cannot be rolled back automatically: {step.rollback or 'no rollback'}")
        self.journal.append("rollback-start", step=step_id)
        for record in reversed(self.journal.of_type("action-done")):
            result = record.get("result") or {}
            if record.get("step") == step_id and result.get("created"):
                ref = ObjectRef(**result["ref"])
                await self.action(f"rollback:{step_id}", f"delete:{ref}",
                                  lambda ref=ref: self._delete_if_present(ref))
        restored = set()
        for record in reversed(self.journal.backups(step_id)):
            ref = ObjectRef(**record["ref"])
            if ref in restored:
                continue
            restored.add(ref)
            first = next(r for r in self.journal.backups(step_id) if ObjectRef(**r["ref"]) == ref)
            await self.action(f"rollback:{step_id}", f"restore:{ref}",
                              lambda ref=ref, obj=first["object"]: self._restore(ref, obj))
        self.journal.append("step-rolled-back", step=step_id)
        self.log("info", step_id, "rolled back")
        return DONE

    async def _delete_if_present(self, ref: ObjectRef) -> dict:
        if await self.get(ref) is None:
            return {"deleted": False}
        await self.call(self.rest.delete, ref.resource, ref.namespace, ref.name)
        self.log("info", None, f"rollback: deleted {ref}")
        return {"deleted": True}

    async def _restore(self, ref: ObjectRef, backup: dict) -> dict:
        live = await self.get(ref)
        body = copy.deepcopy(backup)
        body.pop("status", None)
        meta = body["metadata"]
        for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation",
                    "deletionTimestamp"):
            meta.pop(key, None)
        if live is None:
            await self.call(self.rest.create, ref.resource, ref.namespace, body)
        else:
            meta["resourceVersion"] = live["metadata"]["resourceVersion"]
            await self.call(self.rest.replace, ref.resource, ref.namespace, ref.name, body)
        self.log("info", None, f"rollback: restored {ref} from the journal")
        return {"restored": True}


def _describe(changes: dict) -> str:
    """One line for a change set; a named list item that appears or goes as a whole is one entry."""
    groups: dict[tuple, list] = {}
    for path, (old, new) in changes.items():
        cut = next((i + 1 for i, part in enumerate(path) if str(part).startswith("[")), len(path))
        groups.setdefault(tuple(path[:cut]), []).append((path, old, new))
    parts = []
    for head, items in sorted(groups.items(), key=lambda kv: [str(p) for p in kv[0]]):
        name = ".".join(str(p) for p in head if p != "<document>")
        if len(items) > 1 and all(old is ABSENT for _, old, _ in items):
            parts.append(f"{name}: added")
        elif len(items) > 1 and all(new is ABSENT for _, _, new in items):
            parts.append(f"{name}: removed")
        else:
            parts += [f"{'.'.join(str(p) for p in path if p != '<document>')}: {_short(old)} → {_short(new)}"
                      for path, old, new in sorted(items, key=lambda i: [str(p) for p in i[0]])]
    return "; ".join(parts)


def _short(value) -> str:
    if value is ABSENT:
        return "(unset)"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."

