"""Concurrent change: another client edits what the plan previewed; a second `migrate` while one runs;
a lock left behind by a killed run."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from reliability.support import MIGRATE, TARGET_CIDR, boot, calico_tui, finish, journal_of, migrate, trial
from tui.kube.connection import connect
from tui.migrate import engine
from tui.migrate.lock import LEASE_NAME, LEASE_NAMESPACE, LEASE_SECONDS, micro_time
from tui.migrate.params import MigrationRequest
from tui.migrate.rest import CONFIGMAPS, LEASES, NAMESPACES, Rest
from tui.migrate.runner import DONE, FAILED, STOPPED, RunOptions

OPTIONS = RunOptions(poll_interval=0.05, wait_timeout=60, settle=0.2, retries=4, backoff=0.05)
PIN = "cni.projectcalico.org/ipv4pools"


@pytest.fixture
def cluster(tmp_path):
    sim = boot(tmp_path)
    conn = connect(str(sim.kubeconfig_path), None)
    yield sim, conn, Rest(conn)
    conn.close()
    finish(sim)


def planned_runner(conn, tmp_path):
    """The plan as the operator previewed it, and a runner ready to apply it."""
    prep = engine.prepare(conn, MigrationRequest(target_cidr=TARGET_CIDR))
    plan = engine.make_plan(prep, Rest(conn))
    return engine.start(conn, plan, OPTIONS, sim_manual=True, root=tmp_path / "state" / "calico-tui" / "journal")


def kube_proxy_conf(rest) -> dict:
    return yaml.safe_load(rest.get(CONFIGMAPS, "kube-system", "kube-proxy")["data"]["config.conf"])


def edit_kube_proxy(rest, **fields) -> None:
    cm = rest.get(CONFIGMAPS, "kube-system", "kube-proxy")
    conf = yaml.safe_load(cm["data"]["config.conf"])
    conf.update(fields)
    cm["data"]["config.conf"] = yaml.safe_dump(conf)
    rest.replace(CONFIGMAPS, "kube-system", "kube-proxy", cm)


def unpin(rest) -> None:
    ns = rest.get(NAMESPACES, None, "legacy")
    del ns["metadata"]["annotations"][PIN]
    rest.replace(NAMESPACES, None, "legacy", ns)


EDITS = {
    # name: (the other client's edit, run until, expected outcome, what must hold afterwards)
    "same field the step writes (kube-proxy clusterCIDR)": (
        lambda rest: edit_kube_proxy(rest, clusterCIDR="10.50.0.0/16"), "kube-proxy", FAILED,
        lambda rest, journal: kube_proxy_conf(rest)["clusterCIDR"] == "10.50.0.0/16"
        and not journal.backups("kube-proxy") and journal.step_status()["kube-proxy"] == "failed"),
    "another field of the same object (kube-proxy mode)": (
        lambda rest: edit_kube_proxy(rest, mode="ipvs"), "kube-proxy", DONE,
        lambda rest, journal: kube_proxy_conf(rest)["mode"] == "ipvs"
        and kube_proxy_conf(rest)["clusterCIDR"] == TARGET_CIDR),
    "the change made by hand already (namespace pin removed)": (
        unpin, "cni-pins", DONE,
        lambda rest, journal: PIN not in (rest.get(NAMESPACES, None, "legacy")["metadata"].get("annotations") or {})
        and not journal.backups("cni-pins")),
}


@pytest.mark.parametrize("edit", EDITS)
def test_edit_between_preview_and_apply(edit, cluster, tmp_path):
    sim, conn, rest = cluster
    change, until, expected, holds = EDITS[edit]
    with trial("Concurrent change", f"edit between preview and apply: {edit}") as t:
        runner = planned_runner(conn, tmp_path)
        events = []
        runner.subscribe(events.append)
        change(rest)
        outcome = asyncio.run(runner.run(until=until))
        runner.lock.release()
        assert (DONE if outcome == STOPPED else outcome) == expected, [e.message for e in events][-5:]
        assert holds(rest, runner.journal)
        if expected == FAILED:
            t.note(next(e.message for e in events if "changed since the plan" in e.message)[:240])


def test_second_migrate_while_one_runs_is_refused(cluster, tmp_path):
    sim, conn, rest = cluster
    runner = planned_runner(conn, tmp_path)
    runner.pause()  # holds the lock, renewing it, between two actions
    thread = threading.Thread(target=lambda: asyncio.run(runner.run()), name="first migration")
    thread.start()
    try:
        for who, state, args in (("another machine", tmp_path / "other", MIGRATE),
                                 ("the same machine, --resume", tmp_path / "state", ["--resume", "--yes"])):
            with trial("Concurrent change", f"second migrate while one runs ({who})") as t:
                log = tmp_path / f"{state.name}.log"
                code = calico_tui(["migrate", "--kubeconfig", str(sim.kubeconfig_path), *args],
                                  {"XDG_STATE_HOME": str(state)}, log)
                output = log.read_text()
                assert code == 2, output
                assert f"holds the cluster lock {LEASE_NAMESPACE}/{LEASE_NAME}" in output
                assert runner.lock.holder.identity in output and "held for" in output and "expires in" in output
                t.note(output.strip().splitlines()[-1][:200])
    finally:
        runner.abort()
        thread.join(30)
        runner.lock.release()


def age_lease(rest, seconds: float) -> None:
    """What `seconds` without renewal do to the Lease (the clock cannot be moved for the client)."""
    lease = rest.get(LEASES, LEASE_NAMESPACE, LEASE_NAME)
    past = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    lease["spec"].update(renewTime=micro_time(past), acquireTime=micro_time(past))
    rest.replace(LEASES, LEASE_NAMESPACE, LEASE_NAME, lease)


def test_lock_of_a_killed_run_is_taken_over_only_after_it_expires(cluster, tmp_path):
    sim, conn, rest = cluster
    first, other = tmp_path / "first", tmp_path / "other"
    assert migrate(sim, first, tmp_path / "first.log", resume=False, crash_at="step-done:create-pool") == -9
    holder = rest.get(LEASES, LEASE_NAMESPACE, LEASE_NAME)["spec"]["holderIdentity"]
    command = ["migrate", "--kubeconfig", str(sim.kubeconfig_path), *MIGRATE, "--until", "kube-proxy"]
    with trial("Concurrent change", "lock of a killed run, before it expires: refused"):
        age_lease(rest, LEASE_SECONDS - 20)
        assert calico_tui(command, {"XDG_STATE_HOME": str(other)}, tmp_path / "early.log") == 2
        output = (tmp_path / "early.log").read_text()
        held = int(re.search(r"held for (\d+)s", output).group(1))
        assert holder in output and LEASE_SECONDS - 20 <= held <= LEASE_SECONDS - 10 and "expires in" in output
        assert journal_of(other) is None  # a refused start leaves nothing behind
    with trial("Concurrent change", "lock of a killed run, after it expired: taken over, and said so") as t:
        age_lease(rest, LEASE_SECONDS + 5)
        assert calico_tui(command, {"XDG_STATE_HOME": str(other)}, tmp_path / "late.log") == 0
        output = (tmp_path / "late.log").read_text()
        line = next(line for line in output.splitlines() if "cluster lock taken" in line)
        assert holder in line and "expired" in line
        t.note(line.split("cluster lock taken: ")[1][:200])
