"""Acceptance of the migration engine against the simulated cluster, through the real client and
the real commands: every roll × node strategy, the operator install, the naive order, a viewer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from migrate_cluster import NEW, OLD, RUN_OPTIONS, Watch, cli, end_state, expected_state, start_cluster
from conftest import stop_simulator
from tui.sim.schema import crd_schema, validate
from tui.sim.simulator import VIEWER_CONTEXT

SHARED = Path(__file__).resolve().parents[2] / "shared"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sim = start_cluster(tmp_path)
    yield sim
    stop_simulator(sim)


@pytest.fixture
def operator_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sim = start_cluster(tmp_path, "operator")
    yield sim
    stop_simulator(sim)


def migrate(sim, roll, node_strategy, *extra):
    return cli(sim, "migrate", "--target-cidr", NEW, "--yes", "--sim-manual", "--allow-bare-pod-loss",
               "--roll", roll, "--node-strategy", node_strategy, *RUN_OPTIONS, *extra)


@pytest.mark.parametrize("roll,node_strategy", [("rollout", "disable-allocation"), ("drain", "recreate-nodes"),
                                                ("drain", "disable-allocation")])
def test_each_strategy_migrates_the_seed_cluster(cluster, roll, node_strategy, capsys):
    """(rollout, recreate-nodes) is the uninterrupted run of test_migrate_crash."""
    watch = Watch(cluster)
    assert migrate(cluster, roll, node_strategy) == 0, capsys.readouterr().out[-3000:]
    watch.stop(cluster)
    state = end_state(cluster)
    assert state == expected_state(state, node_strategy)
    assert watch.min_healthy >= 2, "the postgres PodDisruptionBudget (minAvailable 2) was violated"
    assert watch.kcm_restarts == []
    assert "migration complete" in capsys.readouterr().out


def test_operator_cluster_migrates_through_the_installation(operator_cluster, capsys):
    sim = operator_cluster
    sim.server.requests.clear()
    assert migrate(sim, "rollout", "disable-allocation") == 0, capsys.readouterr().out[-3000:]
    state = end_state(sim)
    assert state == expected_state(state, "disable-allocation", manifest=False)
    pool_writes = [r for r in sim.server.requests if r["method"] in WRITES and "ippools" in r["path"]]
    assert pool_writes == []
    installation_writes = [r for r in sim.server.requests if r["method"] == "PUT" and "installations" in r["path"]
                           and "dryRun" not in r["query"]]
    assert len(installation_writes) == 3  # add the new pool, disable the old, remove it
    installation = sim.call(lambda: sim.api.get(sim.api.resource("operator.tigera.io", "v1", "installations"),
                                                None, "default"))
    assert [p["cidr"] for p in installation["spec"]["calicoNetwork"]["ipPools"]] == [NEW]


def test_without_the_calico_api_server_pools_are_raw_crds_only_when_allowed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sim = start_cluster(tmp_path, calico_api_server=False)
    try:
        assert cli(sim, "check", "--target-cidr", NEW, "--allow-bare-pod-loss") == 1
        assert "write-path: no projectcalico.org/v3 API" in capsys.readouterr().out
        assert migrate(sim, "rollout", "disable-allocation", "--allow-crd-writes") == 0, capsys.readouterr().out[-3000:]
        state = end_state(sim)
        assert state == expected_state(state, "disable-allocation")
        created = [r for r in sim.server.requests if r["method"] == "POST" and r["path"].endswith("/ippools")
                   and "dryRun" not in r["query"]]
        assert [r["path"] for r in created] == ["/apis/crd.projectcalico.org/v1/ippools"]
        pool = sim.call(lambda: sim.api.get(sim.api.resource("crd.projectcalico.org", "v1", "ippools"), None,
                                            "ipv4-ippool-172-21-0-0-16"))
        assert {"ipipMode", "vxlanMode", "blockSize", "nodeSelector", "allowedUses"} <= set(pool["spec"])
    finally:
        stop_simulator(sim)


def test_the_naive_order_is_refused(cluster, capsys):
    assert cli(cluster, "check", "--target-cidr", NEW, "--node-strategy", "keep", "--allow-bare-pod-loss") == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "kcm-cluster-cidr:" in l)
    assert "kube-controller-manager" in line and "node01" in line and "172.21.0.0/16" in line
    assert "failed to mark cidr[192.168.1.0/24] at idx [0] as occupied for node: node01: cidr 192.168.1.0/24 " \
           "is out the range of cluster cidr 172.21.0.0/16" in out
    sim_before = end_state(cluster)
    assert migrate(cluster, "rollout", "keep") == 2
    assert end_state(cluster) == sim_before


def test_bare_pods_block_without_the_flag(cluster, capsys):
    assert cli(cluster, "migrate", "--target-cidr", NEW, "--yes", *RUN_OPTIONS) == 2
    assert "bare-pods" in capsys.readouterr().err
    assert end_state(cluster)["bare pod"] is True


def test_a_viewer_gets_check_and_plan_and_never_writes(cluster, capsys):
    cluster.server.requests.clear()
    assert cli(cluster, "check", "--target-cidr", NEW, "--format", "json", context=VIEWER_CONTEXT) == 1
    report = json.loads(capsys.readouterr().out)
    assert "rbac-read-only" in {f["id"] for f in report["findings"] if f["severity"] == "blocking"}
    assert cli(cluster, "plan", "--target-cidr", NEW, "--allow-bare-pod-loss", context=VIEWER_CONTEXT) == 1
    runbook = capsys.readouterr().out
    assert "server-side dry-runs need write permission" in runbook and "server dry-run: skipped" in runbook
    assert cli(cluster, "migrate", "--target-cidr", NEW, "--yes", "--allow-bare-pod-loss",
               context=VIEWER_CONTEXT) == 2
    viewer = [r for r in cluster.server.requests if r["identity"] == "viewer"]
    assert viewer, "the viewer's requests are in the log"
    writes = [r for r in viewer if r["method"] in WRITES and not r["path"].endswith("selfsubjectaccessreviews")]
    assert writes == []


def test_plan_yaml_objects_validate_against_the_crds(cluster, capsys):
    assert cli(cluster, "plan", "--target-cidr", NEW, "--allow-bare-pod-loss", "--format", "yaml") == 0
    document = yaml.safe_load(capsys.readouterr().out)
    schemas = {}
    for path in (SHARED / "calico-crds").glob("crd.projectcalico.org_*.yaml"):
        crd = yaml.safe_load(path.read_text())
        schemas[crd["spec"]["names"]["kind"]] = crd_schema(crd, "v1")
    manifests = [c["manifest"] for s in document["steps"] for c in s["changes"] if c["manifest"]["kind"] in schemas]
    assert {m["kind"] for m in manifests} == {"IPPool"} and len(manifests) == 3
    for manifest in manifests:
        assert validate(manifest, schemas[manifest["kind"]])[1] == []
    dry_runs = {c["object"]: c["dryRun"] for s in document["steps"] for c in s["changes"]}
    assert dry_runs[f"IPPool ipv4-ippool-172-21-0-0-16"] == "accepted"
    assert [s["id"] for s in document["steps"]][0] == "create-pool"
    assert OLD in document["steps"][3]["title"]


def test_until_a_step_then_roll_back_from_the_journal(cluster, capsys):
    assert migrate(cluster, "rollout", "disable-allocation", "--until", "disable-old-pool") == 0
    out = capsys.readouterr().out
    assert "disable-old-pool         done" in out and "roll-workloads" not in out
    state = end_state(cluster)
    assert state["pools"] == [("default-ipv4-ippool", OLD, True), ("ipv4-ippool-172-21-0-0-16", NEW, False)]
    assert state["kube-proxy runs with"] == [NEW]
    for step in ("disable-old-pool", "kube-proxy"):
        assert cli(cluster, "migrate", "--yes", "--rollback", step, *RUN_OPTIONS) == 0
    state = end_state(cluster)
    assert state["pools"] == [("default-ipv4-ippool", OLD, False), ("ipv4-ippool-172-21-0-0-16", NEW, False)]
    kube_proxy = cluster.call(lambda: cluster.api.get(cluster.api.resource("", "v1", "configmaps"),
                                                      "kube-system", "kube-proxy"))
    assert "clusterCIDR: 192.168.0.0/16" in kube_proxy["data"]["config.conf"]
    assert "rolled back" in capsys.readouterr().out
