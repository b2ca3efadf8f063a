"""The migration runner under API faults, injected as steps start: it retries, never applies an
action twice, keeps its journal consistent, backs up what it changes, audits every write, and ends
in the same state as an undisturbed run. (Dropped watches and forced 410s do not apply: the runner
lists and reads, it never watches.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from reliability.support import (TARGET_CIDR, audit_problems, backup_gaps, boot, digest, digest_difference,
                                 finish, journal_problems, mutations, read_audit, trial)
from tui.kube.connection import connect
from tui.migrate import engine
from tui.migrate.params import MigrationRequest
from tui.migrate.rest import Rest
from tui.migrate.runner import DONE, RunOptions

OPTIONS = RunOptions(poll_interval=0.05, wait_timeout=120, settle=0.2, retries=8, backoff=0.05)


def fail(count: int, code: int, after_apply: bool = False) -> Callable:
    """The next `count` requests fail (what a previous step left unused is dropped first)."""
    def inject(sim):
        sim.control("POST", "faults/clear", {})
        sim.control("POST", "faults/fail", {"count": count, "code": code, "afterApply": after_apply})
    return inject


def for_a_while(start: str, body: dict, stop: str, seconds: float) -> Callable:
    def inject(sim):
        sim.control("POST", start, body)
        threading.Timer(seconds, lambda: sim.control("POST", stop, {})).start()
    return inject


FAULTS = {  # name: (inject, at every n-th step start); the slow ones less often, to keep the suite short
    "burst of 500 (4 requests)": (fail(4, 500), 1),
    "burst of 429 (4 requests)": (fail(4, 429), 1),
    "lost responses (2 writes applied, answered 503)": (fail(2, 503, after_apply=True), 1),
    "latency 1.5 s for 2 s": (for_a_while("faults/latency", {"seconds": 1.5}, "faults/clear", 2.0), 4),
    "server pause 2 s": (for_a_while("faults/pause", {}, "faults/resume", 2.0), 4),
    "server restart, state kept (1.5 s down)": (lambda sim: threading.Thread(target=sim.restart, args=(1.5,)).start(),
                                                3),
}


def migrate_in_process(sim, state, inject: Callable[[], None], every: int):
    """Plan and run the migration with the engine the CLI uses; `inject()` as every `every`-th step
    starts (the first included)."""
    conn = connect(str(sim.kubeconfig_path), None)
    try:
        prep = engine.prepare(conn, MigrationRequest(target_cidr=TARGET_CIDR))
        plan = engine.make_plan(prep, Rest(conn))
        runner = engine.start(conn, plan, OPTIONS, sim_manual=True, root=state / "calico-tui" / "journal")
        events = []
        runner.subscribe(events.append)
        chosen = {s.title: s.id for s in plan.steps[::every]}
        runner.subscribe(lambda e: inject() if e.step is not None and chosen.get(e.message) == e.step else None)
        outcome = asyncio.run(runner.run())
        sim.control("POST", "faults/clear", {})  # what is left of a burst is not the migration's
        runner.lock.release()
        return outcome, events, runner.journal
    finally:
        conn.close()


@pytest.mark.parametrize("fault", FAULTS)
def test_migration_under_fault(fault, reference, tmp_path):
    sim = boot(tmp_path)
    try:
        inject, every = FAULTS[fault]
        injected = []
        with trial("API faults: migration", fault) as t:
            outcome, events, journal = migrate_in_process(sim, tmp_path, lambda: (injected.append(1), inject(sim)),
                                                          every)
            log = [e.message for e in events]
            assert outcome == DONE, "\n".join(log[-12:])
            t.metric("faults injected", len(injected))
            t.metric("retries", sum("retrying" in m for m in log))
            t.metric("writes applied with their answer lost", sum("applied" in r for r in sim.server.requests))
            assert digest_difference(reference.digest, digest(sim)) == []
            assert journal_problems(journal.path) == []
            writes = mutations(sim)
            assert backup_gaps(journal.records, writes) == []
            assert audit_problems(read_audit(tmp_path / "calico-tui" / "audit.jsonl"), writes) == []
    finally:
        sim.control("POST", "faults/clear", {})
        finish(sim)
