"""Pure pieces of the migration engine: diffs, node CIDR map, journal, lock decisions."""

from __future__ import annotations

import ipaddress
import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from tui.migrate.diff import ABSENT, change_set, object_diff
from tui.migrate.journal import Journal, JournalError, latest_unfinished, point_id, read_records
from tui.migrate.lock import Holder, decide, lease_object, micro_time
from tui.migrate.nodecidrs import plan_node_cidrs
from tui.model.cidr import CidrError

KUBE_PROXY = {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "kube-proxy", "namespace": "kube-system", "resourceVersion": "7"},
    "data": {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                            "clusterCIDR: 192.168.0.0/16\nmode: iptables\n",
             "kubeconfig.conf": "apiVersion: v1\nkind: Config\n"},
}


def with_cluster_cidr(cm, cidr):
    out = json.loads(json.dumps(cm))
    out["data"]["config.conf"] = out["data"]["config.conf"].replace("192.168.0.0/16", cidr)
    return out


def test_configmap_diff_is_of_the_inner_document():
    after = with_cluster_cidr(KUBE_PROXY, "172.21.0.0/16")
    text = object_diff(KUBE_PROXY, after)
    assert 'data["config.conf"] (before)' in text
    assert "-clusterCIDR: 192.168.0.0/16\n" in text and "+clusterCIDR: 172.21.0.0/16\n" in text
    assert "kubeconfig.conf\"]" not in text  # unchanged documents are not shown
    assert "resourceVersion" not in text


def test_json_document_diff_and_create_delete():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "calico-config", "namespace": "kube-system"},
          "data": {"cni_network_config": json.dumps({"name": "k8s-pod-network", "ipam": {"type": "calico-ipam",
                                                     "ipv4_pools": ["default-ipv4-ippool"]}})}}
    after = json.loads(json.dumps(cm))
    after["data"]["cni_network_config"] = json.dumps({"name": "k8s-pod-network", "ipam": {
        "type": "calico-ipam", "ipv4_pools": ["new-pool"]}})
    text = object_diff(cm, after)
    assert '-      "default-ipv4-ippool"' in text and '+      "new-pool"' in text
    created = object_diff(None, {"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
                                 "metadata": {"name": "p"}, "spec": {"cidr": "172.21.0.0/16"}})
    assert "+  cidr: 172.21.0.0/16" in created and "\n-" not in created
    assert object_diff(KUBE_PROXY, KUBE_PROXY) == ""


def test_change_set_sees_inner_fields_and_ignores_noise():
    after = with_cluster_cidr(KUBE_PROXY, "172.21.0.0/16")
    changes = change_set(KUBE_PROXY, after)
    assert changes == {("data", "config.conf", "<document>", "clusterCIDR"): ("192.168.0.0/16", "172.21.0.0/16")}
    bumped = json.loads(json.dumps(KUBE_PROXY))
    bumped["metadata"]["resourceVersion"] = "99"
    bumped["status"] = {"x": 1}
    assert change_set(KUBE_PROXY, bumped) == {}
    added = change_set({"metadata": {"name": "a"}}, {"metadata": {"name": "a", "labels": {"k": "v"}}})
    assert added == {("metadata", "labels", "k"): (ABSENT, "v")}


def test_node_cidr_map_keeps_positions_and_fills_gaps():
    old = ipaddress.ip_network("192.168.0.0/16")
    new = ipaddress.ip_network("172.21.0.0/16")
    plan = plan_node_cidrs({"node02": ["192.168.3.0/24"], "node01": ["192.168.1.0/24"],
                            "node03": [], "node04": ["10.9.0.0/24"]}, old, new, 24)
    assert plan == {"node01": "172.21.1.0/24", "node02": "172.21.3.0/24",
                    "node03": "172.21.0.0/24", "node04": "172.21.2.0/24"}
    assert len(set(plan.values())) == 4


def test_node_cidr_map_with_a_different_mask_and_capacity():
    old = ipaddress.ip_network("192.168.0.0/16")
    plan = plan_node_cidrs({"a": ["192.168.1.0/24"], "b": ["192.168.2.0/24"]}, old,
                           ipaddress.ip_network("10.244.0.0/16"), 25)
    assert plan == {"a": "10.244.0.0/25", "b": "10.244.0.128/25"}
    with pytest.raises(CidrError, match="holds 2 /25 node subnets, 3 nodes"):
        plan_node_cidrs({"a": [], "b": [], "c": []}, old, ipaddress.ip_network("10.0.0.0/24"), 25)


def test_journal_files_are_private_and_records_durable(tmp_path):
    journal = Journal.create("uid-1", "m1", root=tmp_path)
    journal.append("migration-start", params={"target": "172.21.0.0/16"})
    journal.append("action-done", step="create-pool", action="create:IPPool/new")
    assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
    for directory in (tmp_path / "uid-1", journal.directory):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    reopened = Journal.open("uid-1", "m1", root=tmp_path)
    assert [r["seq"] for r in reopened.records] == [1, 2]
    assert reopened.done_actions() == {("create-pool", "create:IPPool/new")}
    assert point_id(reopened.records[1]) == "action-done:create-pool:create:IPPool/new"
    assert latest_unfinished("uid-1", root=tmp_path) == "m1"
    reopened.append("migration-done")
    assert latest_unfinished("uid-1", root=tmp_path) is None
    with pytest.raises(JournalError):
        Journal.create("uid-1", "m1", root=tmp_path)
    with pytest.raises(JournalError):
        Journal.create("../escape", "m2", root=tmp_path)


def test_torn_last_line_is_dropped_reported_and_truncated(tmp_path):
    journal = Journal.create("uid", "m", root=tmp_path)
    journal.append("step-start", step="a")
    with open(journal.path, "ab") as fh:
        fh.write(b'{"seq":2,"type":"step-do')
    reopened = Journal.open("uid", "m", root=tmp_path)
    assert len(reopened.records) == 1 and "torn last record" in reopened.torn
    reopened.append("step-done", step="a")
    records, _, torn = read_records(reopened.path)
    assert torn is None and [r["type"] for r in records] == ["step-start", "step-done"]


def test_corruption_before_the_end_is_an_error(tmp_path):
    journal = Journal.create("uid", "m", root=tmp_path)
    journal.append("step-start", step="a")
    with open(journal.path, "ab") as fh:
        fh.write(b"garbage\n")
    journal.append("step-done", step="a")
    with pytest.raises(JournalError, match="corrupt record"):
        Journal.open("uid", "m", root=tmp_path)


def test_crash_hook_kills_the_process_after_the_named_write(tmp_path):
    code = ("from tui.migrate.journal import Journal\n"
            f"j = Journal.create('uid', 'm', root=__import__('pathlib').Path({str(tmp_path)!r}))\n"
            "for i in range(3):\n"
            "    j.append('action-done', step='roll', action='x')\n"
            "j.append('migration-done')\n")
    env = dict(os.environ, CALICO_TUI_CRASH_AT="action-done:roll:x:2")
    proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=60)
    assert proc.returncode == -9
    records, _, _ = read_records(tmp_path / "uid" / "m" / "journal.jsonl")
    assert [r["type"] for r in records] == ["action-done", "action-done"]


def lease(identity, renewed, duration=60):
    return {"metadata": {"name": "calico-tui-migration", "namespace": "kube-system", "resourceVersion": "5"},
            "spec": {"holderIdentity": identity, "leaseDurationSeconds": duration,
                     "renewTime": micro_time(renewed), "leaseTransitions": 2}}


def test_lock_decisions():
    now = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
    me = Holder("host-a", 100, "m1")
    assert decide(None, me, now)[0] == "create"
    assert decide(lease(me.identity, now), me, now)[0] == "renew"
    other = Holder("host-b", 7, "m0").identity
    verdict, reason = decide(lease(other, now - timedelta(seconds=10)), me, now)
    assert verdict == "refuse" and "host-b" in reason and "expires in 50s" in reason
    assert decide(lease(other, now - timedelta(seconds=61)), me, now)[0] == "take"
    assert decide(lease("", now), me, now)[0] == "take"
    # A killed run of the same migration on this host: take over at once, but only if it is gone.
    dead = Holder("host-a", 99, "m1").identity
    assert decide(lease(dead, now), me, now, alive=lambda pid: False)[0] == "take"
    assert decide(lease(dead, now), me, now, alive=lambda pid: True)[0] == "refuse"
    assert decide(lease(Holder("host-a", 99, "m2").identity, now), me, now, alive=lambda pid: False)[0] == "refuse"


def test_lease_object_counts_transitions_and_keeps_rv():
    now = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
    me = Holder("h", 1, "m")
    taken = lease_object(me, now, lease("someone-else", now))
    assert taken["spec"]["leaseTransitions"] == 3 and taken["metadata"]["resourceVersion"] == "5"
    assert taken["spec"]["holderIdentity"] == "calico-tui/h/1/m"
    assert taken["spec"]["renewTime"] == "2025-01-01T12:00:00.000000Z"
    renewed = lease_object(me, now, lease(me.identity, now))
    assert renewed["spec"]["leaseTransitions"] == 2
    assert lease_object(me, now, None)["spec"]["leaseTransitions"] == 0


def test_change_set_keys_named_lists_by_name():
    ds = {"spec": {"containers": [{"name": "calico-node", "env": [{"name": "A", "value": "1"},
                                                                  {"name": "CALICO_IPV4POOL_CIDR", "value": "x"}]}]}}
    after = json.loads(json.dumps(ds))
    after["spec"]["containers"][0]["env"][1]["value"] = "y"
    assert change_set(ds, after) == {
        ("spec", "containers", "[calico-node]", "env", "[CALICO_IPV4POOL_CIDR]", "value"): ("x", "y")}
