"""The runner's write discipline against the simulated API server: never clobber, re-read on
conflict, retry transient errors, journal backups, roll back, resume, pause/abort, the Lease lock."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from tui.kube.connection import connect
from tui.migrate.engine import StartError, start
from tui.migrate.hosts import simulator_host_actions
from tui.migrate.journal import Journal
from tui.migrate.lock import ClusterLock, Holder, LockError
from tui.migrate.params import MigrationParams
from tui.migrate.rest import CONFIGMAPS, LEASES, ApiStatusError, Rest
from tui.migrate.runner import ABORTED, DONE, FAILED, RunOptions, Runner
from tui.migrate.steps import API, Change, ObjectRef, Plan, Step
from tui.migrate.transforms import apply_transform

CONF = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: 192.168.0.0/16\nmode: iptables\n"
PARAMS = MigrationParams(
    target_cidr="172.21.0.0/16", pool_name="new", old_pool="default-ipv4-ippool", old_cidr="192.168.0.0/16",
    block_size=26, ipip_mode="Always", vxlan_mode="Never", nat_outgoing=True, node_selector="all()",
    node_cidr_mask=24, roll="rollout", node_strategy="disable-allocation", allow_crd_writes=False,
    allow_bare_pod_loss=False, new_pool_exists=False)
FAST = RunOptions(poll_interval=0.02, wait_timeout=5, settle=0, retries=4, backoff=0.01)


@pytest.fixture
def rest(sim):
    conn = connect(str(sim.kubeconfig_path), None)
    rest = Rest(conn)
    rest.create(CONFIGMAPS, "kube-system", {"apiVersion": "v1", "kind": "ConfigMap",
                                            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                                            "data": {"config.conf": CONF}})
    yield rest
    conn.close()


def configmap_plan(rest) -> Plan:
    live = rest.get(CONFIGMAPS, "kube-system", "kube-proxy")
    transforms = (("kube-proxy-cluster-cidr", {"cidr": "172.21.0.0/16"}),)
    after = apply_transform(transforms[0][0], live, transforms[0][1])
    step = Step("kubeadm-config", "change kube-proxy", API, "why", "if skipped",
                changes=(Change(ObjectRef.of(live), "update", live, after, transforms),))
    return Plan(params=PARAMS.to_dict(), cluster={"uid": "u", "stamp": "s"}, steps=(step,))


def runner_for(rest, plan, tmp_path, events=None) -> Runner:
    journal = Journal.create("uid", "m1", root=tmp_path / "journal")
    runner = Runner(rest, plan, journal, FAST)
    if events is not None:
        runner.subscribe(events.append)
    return runner


def cluster_cidr(rest) -> str:
    return yaml.safe_load(rest.get(CONFIGMAPS, "kube-system", "kube-proxy")["data"]["config.conf"])["clusterCIDR"]


def edit_conf(rest, **fields):
    cm = rest.get(CONFIGMAPS, "kube-system", "kube-proxy")
    doc = yaml.safe_load(cm["data"]["config.conf"])
    doc.update(fields)
    cm["data"]["config.conf"] = yaml.safe_dump(doc)
    rest.replace(CONFIGMAPS, "kube-system", "kube-proxy", cm)


async def test_applies_the_previewed_change_and_journals_a_backup(rest, tmp_path):
    runner = runner_for(rest, configmap_plan(rest), tmp_path)
    assert await runner.run() == DONE
    assert cluster_cidr(rest) == "172.21.0.0/16"
    backups = runner.journal.backups("kubeadm-config")
    assert len(backups) == 1 and "192.168.0.0/16" in backups[0]["object"]["data"]["config.conf"]
    assert runner.journal.finished


async def test_keeps_a_concurrent_edit_elsewhere(rest, tmp_path):
    plan = configmap_plan(rest)
    edit_conf(rest, mode="ipvs")
    assert await runner_for(rest, plan, tmp_path).run() == DONE
    doc = yaml.safe_load(rest.get(CONFIGMAPS, "kube-system", "kube-proxy")["data"]["config.conf"])
    assert (doc["clusterCIDR"], doc["mode"]) == ("172.21.0.0/16", "ipvs")


async def test_never_clobbers_a_concurrent_edit_of_the_same_field(rest, tmp_path):
    plan = configmap_plan(rest)
    edit_conf(rest, clusterCIDR="10.50.0.0/16")
    events = []
    runner = runner_for(rest, plan, tmp_path, events)
    assert await runner.run() == FAILED
    assert cluster_cidr(rest) == "10.50.0.0/16"
    assert any("changed since the plan" in e.message and "10.50.0.0/16" in e.message for e in events)
    assert runner.step_status()["kubeadm-config"] == "failed"
    assert not runner.journal.backups()


async def test_already_applied_change_is_not_written_again(rest, tmp_path):
    plan = configmap_plan(rest)
    edit_conf(rest, clusterCIDR="172.21.0.0/16")
    before = rest.get(CONFIGMAPS, "kube-system", "kube-proxy")["metadata"]["resourceVersion"]
    assert await runner_for(rest, plan, tmp_path).run() == DONE
    assert rest.get(CONFIGMAPS, "kube-system", "kube-proxy")["metadata"]["resourceVersion"] == before


async def test_conflict_re_reads_and_transient_errors_are_retried(rest, sim, tmp_path):
    plan = configmap_plan(rest)
    events = []
    runner = runner_for(rest, plan, tmp_path, events)
    original_replace = rest.replace
    raced = []

    def racing_replace(res, ns, name, body, dry_run=False):
        if not dry_run and not raced:  # someone else writes between our read and our write: 409
            raced.append(True)
            edit_conf(rest, mode="ipvs")
        return original_replace(res, ns, name, body, dry_run=dry_run)
    rest.replace = racing_replace
    sim.server.faults.fail(2, 503, "/api/v1/namespaces/kube-system/configmaps")
    assert await runner.run() == DONE
    assert cluster_cidr(rest) == "172.21.0.0/16"
    messages = " ".join(e.message for e in events)
    assert "retrying" in messages and "changed while writing (409)" in messages


async def test_resume_skips_done_actions_and_rollback_restores(rest, tmp_path):
    plan = configmap_plan(rest)
    runner = runner_for(rest, plan, tmp_path)
    assert await runner.run() == DONE
    edit_conf(rest, mode="ipvs")
    again = Runner(rest, plan, Journal.open("uid", "m1", root=tmp_path / "journal"), FAST)
    assert again.next_step() is None
    assert await again.rollback("kubeadm-config") == DONE
    assert cluster_cidr(rest) == "192.168.0.0/16"
    assert again.step_status()["kubeadm-config"] == "rolled-back"


async def test_abort_stops_between_actions(rest, tmp_path):
    runner = runner_for(rest, configmap_plan(rest), tmp_path)
    runner.abort()
    assert await runner.run() == ABORTED
    assert cluster_cidr(rest) == "192.168.0.0/16"
    assert runner.journal.of_type("run-end")[-1]["outcome"] == "aborted"


async def test_pause_waits_until_resumed(rest, tmp_path):
    runner = runner_for(rest, configmap_plan(rest), tmp_path)
    runner.pause()
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(0.2)
    assert not task.done() and cluster_cidr(rest) == "192.168.0.0/16"
    runner.resume()
    assert await asyncio.wait_for(task, 10) == DONE


def test_cluster_lock(rest):
    first = ClusterLock(rest, Holder("host-a", 1, "m1"))
    first.acquire()
    other = ClusterLock(rest, Holder("host-b", 2, "m2"))
    with pytest.raises(LockError, match="host-a/1/m1"):
        other.acquire()
    first.renew()
    first.release()
    with pytest.raises(ApiStatusError):
        rest.get(LEASES, "kube-system", "calico-tui-migration")
    other.acquire()
    lease = rest.get(LEASES, "kube-system", "calico-tui-migration")
    assert lease["spec"]["holderIdentity"] == "calico-tui/host-b/2/m2"
    with pytest.raises(LockError, match="lost the cluster lock"):
        first.renew()


def test_sim_manual_is_refused_where_there_is_no_simulator_host(rest, tmp_path):
    assert simulator_host_actions(rest.conn) is None  # an API server without the simulator's hosts
    with pytest.raises(StartError, match="--sim-manual only works against the calico-tui simulator"):
        start(rest.conn, configmap_plan(rest), sim_manual=True, root=tmp_path)
    assert not (tmp_path / "u").exists()  # refused before any journal or lock
    with pytest.raises(ApiStatusError):
        rest.get(LEASES, "kube-system", "calico-tui-migration")


def test_rest_reports_status_fields(rest):
    with pytest.raises(ApiStatusError) as info:
        rest.get(CONFIGMAPS, "kube-system", "missing")
    assert (info.value.code, info.value.reason) == (404, "NotFound")
    assert json.dumps(info.value.status)
