"""kill -9 of `calico-tui migrate` at journal write points, then `--resume`: the final state is the
uninterrupted run's, every object written has a backup, every write is audited once, and the
journal stays valid (a torn last line, as a kill in the middle of a write leaves, is dropped and
reported).

The write points are enumerated from an uninterrupted reference run of the small cluster: every
distinct `type:step:action` of its journal. Kills are chained: a run is killed at one point, its
`--resume` is killed at a later one, and so on, then a last `--resume` finishes; each chain starts
from a fresh cluster. Every point runs by default; `CALICO_TUI_RELIABILITY_CRASH_POINTS=sample` runs a
deterministic stratified sample instead (the first and last point of every record type, step and
kind of action), for a quicker run.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reliability.support import (MIGRATE, RESUME, audit_problems, backup_gaps, boot, digest, digest_difference,
                                 finish, journal_of, journal_problems, migrate, mutations, read_audit, trial)
from tui.migrate.journal import CRASH_ENV, point_id, read_records

POINTS_ENV = "CALICO_TUI_RELIABILITY_CRASH_POINTS"
ALL_POINTS = os.environ.get(POINTS_ENV, "all") == "all"
CHAINS = 4  # each on a fresh cluster; the points are shared out in turn
TORN_EVERY = 3  # every third kill also leaves a half-written record behind


def stratified(points: list[str]) -> list[str]:
    """The first and last point of every record type, step and kind of action (`evict`,
    `delete-node`, ...): every kind of boundary the runner crosses."""
    groups: dict[tuple, list[str]] = {}
    for point in points:
        kind, step, action = (point.split(":", 2) + ["", ""])[:3]
        groups.setdefault((kind, step, action.partition(":")[0]), []).append(point)
    chosen = {p for group in groups.values() for p in (group[0], group[-1])}
    return [p for p in points if p in chosen]


def selected(points: list[str]) -> list[str]:
    return points if ALL_POINTS else stratified(points)


def chain_of(points: list[str], index: int) -> list[str]:
    """Every CHAINS-th point: each chain spans the whole migration, and points that cannot both
    happen in one chain (after a kill at `migration-done` there is nothing left to resume, so no
    later `run-end`) land in different chains."""
    return points[index::CHAINS]


def test_write_points_are_enumerated(reference):
    with trial("Crashes", "write points enumerated from an uninterrupted run") as t:
        kinds = {p.split(":")[0] for p in reference.points}
        assert {"migration-start", "run-start", "step-start", "action-start", "backup", "action-done",
                "step-done", "migration-done", "run-end"} <= kinds
        t.metric("points", len(reference.points))
        t.metric("sampled", len(selected(reference.points)))


def tear(journal: Path) -> None:
    """What a kill in the middle of `write()` leaves: part of a record, no newline."""
    with open(journal, "ab") as out:
        out.write(b'{"seq":999999,"time":"2026-01-01T00:00:00.000+00:00","type":"action-st')


@pytest.mark.parametrize("chain", range(CHAINS))
def test_kill_and_resume(chain, reference, tmp_path):
    sim = boot(tmp_path)
    state, log = tmp_path / "state", tmp_path / "migrate.log"
    killed: list[str] = []
    tears = 0
    try:
        finished = False
        for index, point in enumerate(chain_of(selected(reference.points), chain)):
            code = migrate(sim, state, log, resume=index > 0, crash_at=point)
            if code == 0:  # the run took another path and finished without crossing this point
                with trial("Crashes", "write point not crossed by a chained run (it finished instead)") as t:
                    t.note(point)
                finished = True
                break
            with trial("Crashes", f"kill -9 right after a `{point.split(':')[0]}` record"):
                assert code == -9, f"exit {code} at {point}:\n" + log.read_text()[-2000:]
                records, _, torn = read_records(journal_of(state))
                assert torn is None and fnmatch.fnmatchcase(point_id(records[-1]), point)
                killed.append(point)
                if len(killed) % TORN_EVERY == 0 and not point.startswith(("migration-done", "run-end")):
                    tear(journal_of(state))  # (a finished journal is never resumed, so never read again)
                    tears += 1
        with trial("Crashes", "resume after the chain's kills finishes the migration"):
            if not finished:  # after a kill at `migration-done` or `run-end` there is nothing to resume
                code = migrate(sim, state, log, resume=True)
                assert code == 0 or (code == 2 and log.read_text().rstrip().endswith(
                    "no unfinished migration of this cluster to resume")), log.read_text()[-3000:]
            assert any(r["type"] == "migration-done" for r in read_records(journal_of(state))[0])
        output = log.read_text()
        with trial("Crashes", "torn last line dropped and reported"):
            assert output.count("ignored a torn last record") == tears, output[-3000:]
        journal = journal_of(state)
        records, _, _ = read_records(journal)
        with trial("Crashes", "final state identical to the uninterrupted run"):
            assert digest_difference(reference.digest, digest(sim)) == []
        with trial("Crashes", "journal valid after every kill"):
            assert journal_problems(journal) == []
        writes = mutations(sim)
        with trial("Crashes", "every mutated object has a backup"):
            assert backup_gaps(records, writes) == []
        with trial("Crashes", "every write audited, none repeated by a resumed action"):
            assert audit_problems(read_audit(state / "calico-tui" / "audit.jsonl"), writes) == []
    finally:
        finish(sim)


def test_the_installed_command_is_killed_and_resumed_the_same_way(reference, tmp_path):
    """The chains run the CLI entry point in forked processes; this runs the `calico-tui` script."""
    point = next(p for p in reference.points if p.startswith("action-done:roll-workloads:"))
    sim = boot(tmp_path)
    state = tmp_path / "state"
    env = {**os.environ, "XDG_STATE_HOME": str(state), CRASH_ENV: f"{point}:1"}
    command = [sys.executable, "-m", "tui", "migrate", "--kubeconfig", str(sim.kubeconfig_path)]
    try:
        with trial("Crashes", "kill -9 of the installed `calico-tui migrate` and resume"):
            first = subprocess.run(command + MIGRATE, env=env, capture_output=True, text=True, timeout=180)
            assert first.returncode == -9, first.stderr[-2000:]
            env.pop(CRASH_ENV)
            second = subprocess.run(command + RESUME, env=env, capture_output=True, text=True, timeout=180)
            assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
            assert "the run that held the lock" in second.stdout + second.stderr
            assert digest_difference(reference.digest, digest(sim)) == []
    finally:
        finish(sim)
