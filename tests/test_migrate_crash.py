"""kill -9 at every step boundary and inside the rolling steps, then `--resume`: the same end state
as an uninterrupted run, and a backup in the journal of every object changed.

`calico-tui migrate` runs as a subprocess against the simulated cluster of this process; the
journal's crash hook (`CALICO_TUI_CRASH_AT`) SIGKILLs it right after a chosen durable record. One
killed run is resumed by the next, which is itself killed at the next point, so a single simulated
cluster goes through every crash point in order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import stop_simulator
from migrate_cluster import NEW, RUN_OPTIONS, Watch, end_state, expected_state, start_cluster
from tui.migrate.journal import CRASH_ENV, point_id, read_records

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["migrate", "--yes", "--sim-manual", *RUN_OPTIONS]
START = ["--target-cidr", NEW, "--allow-bare-pod-loss", "--roll", "rollout", "--node-strategy", "recreate-nodes"]
# Inside the rolling steps: right after a workload's restart was asked for, between a Node's backup
# and its deletion, and between asking for a Node's creation and knowing it happened.
INSIDE = ["action-done:roll-workloads:restart:Deployment shop/frontend",
          "backup:node-podcidrs:delete-node:node06",
          "action-start:node-podcidrs:create-node:node07"]


def run(sim, state: Path, args: list[str], crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_STATE_HOME=str(state), PYTHONPATH=str(ROOT))
    env.pop(CRASH_ENV, None)
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "tui", "--kubeconfig", str(sim.kubeconfig_path), *ARGS, *args],
                          env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)


def journal(state: Path) -> list[dict]:
    files = list(state.glob("calico-tui/journal/*/*/journal.jsonl"))
    assert len(files) == 1
    return read_records(files[0])[0]


def assert_every_change_backed_up(records: list[dict]) -> None:
    backed_up = {(r["step"], r["action"]) for r in records if r["type"] == "backup"}
    changed = [(r["step"], r["action"]) for r in records if r["type"] == "action-done"
               and any((r.get("result") or {}).get(k) for k in ("updated", "deleted", "evicted"))]
    assert changed and [c for c in changed if c not in backed_up] == []


@pytest.fixture
def clusters(tmp_path):
    started = []

    def start(name: str):
        directory = tmp_path / name
        directory.mkdir()
        sim = start_cluster(directory)
        started.append(sim)
        return sim, directory / "state"
    yield start
    for sim in started:
        stop_simulator(sim)


@pytest.mark.reliability
def test_killed_anywhere_resumes_to_the_same_end_state(clusters):
    reference, reference_state = clusters("reference")
    watch = Watch(reference)
    done = run(reference, reference_state, START)
    watch.stop(reference)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    expected = end_state(reference)
    assert expected == expected_state(expected, "recreate-nodes")
    assert watch.min_healthy >= 2 and watch.kcm_restarts == []
    records = journal(reference_state)
    assert_every_change_backed_up(records)

    points = [point_id(r) for r in records if r["type"] == "step-done"]
    recorded = [point_id(r) for r in records]
    assert all(p in recorded for p in INSIDE)
    chain = sorted(points[:-1] + INSIDE, key=recorded.index)  # the last step-done ends the run anyway
    chain.insert(0, point_id(next(r for r in records if r["type"] == "step-start")))

    cluster, state = clusters("crashed")
    for number, point in enumerate(chain):
        killed = run(cluster, state, START if number == 0 else ["--resume"], crash_at=point)
        assert killed.returncode == -9, f"not killed at {point}: {killed.stdout[-2000:]}{killed.stderr[-2000:]}"
        assert point_id(journal(state)[-1]) == point
    finished = run(cluster, state, ["--resume"])
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-2000:]
    assert end_state(cluster) == expected
    records = journal(state)
    assert_every_change_backed_up(records)
    assert len([r for r in records if r["type"] == "run-start"]) == len(chain) + 1
    # nothing done twice: every completed action of the killed runs was skipped on resume
    done_keys = [(r["step"], r["action"]) for r in records if r["type"] == "action-done"]
    assert len(done_keys) == len(set(done_keys))
