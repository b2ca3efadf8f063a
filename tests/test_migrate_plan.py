"""Parameters, preflight checks and the plan, from hand-built seed-cluster objects (no server)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from model_builders import installation_raw, kube_system_raw, seed_raw

from tui.kube.detect import cluster_info
from tui.kube.rbac import Access, Capabilities
from tui.migrate.checks import Context, blocking, preflight, required_accesses
from tui.migrate.gather import Snapshot
from tui.migrate.params import MigrationRequest, resolve_params
from tui.migrate.plan import build_plan
from tui.migrate.runbook import plan_document, render_markdown, render_yaml
from tui.migrate.steps import Plan
from tui.migrate.workloads import Workloads
from tui.model.cluster import build_cluster
from tui.sim.schema import crd_schema, validate

SHARED = Path(__file__).resolve().parents[2] / "shared"
TARGET = "172.21.0.0/16"
V1 = {"crd.projectcalico.org/v1": frozenset({"ippools", "ipamblocks", "blockaffinities", "bgpconfigurations",
                                            "bgppeers", "caliconodestatuses", "clusterinformations"})}
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
V3 = {**V1, "projectcalico.org/v3": frozenset({"ippools"})}


def owned_pod(ns, name, node, ip, owner_kind, owner_name, labels):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels,
                         "ownerReferences": ([{"kind": owner_kind, "name": owner_name, "controller": True,
                                               "apiVersion": "apps/v1", "uid": "x"}] if owner_kind else [])},
            "spec": {"nodeName": node, "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def workloads(pdb_min=2, bare=True):
    pods = [owned_pod("shop", f"frontend-abc-{i}", f"node0{4 + i}", f"192.168.{4 + i}.2", "ReplicaSet",
                      "frontend-abc", {"app": "frontend"}) for i in range(3)]
    pods += [owned_pod("shop", f"postgres-{i}", f"node0{5 + i}", f"192.168.{5 + i}.3", "StatefulSet",
                       "postgres", {"app": "postgres"}) for i in range(3)]
    pods.append(owned_pod("kube-system", "kube-proxy-x", "node04", "10.10.1.14", "DaemonSet", "kube-proxy",
                          {"k8s-app": "kube-proxy"}))
    pods[-1]["spec"]["hostNetwork"] = True
    if bare:
        pods.append(owned_pod("default", "debug-shell", "node06", "192.168.6.9", None, None, {"run": "x"}))
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "frontend", "namespace": "shop"},
                  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "frontend"}},
                           "template": {"metadata": {"labels": {"app": "frontend"}}, "spec": {}}}}
    statefulset = {"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": {"name": "postgres", "namespace": "shop"},
                   "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "postgres"}},
                            "template": {"metadata": {"labels": {"app": "postgres"}}, "spec": {}}}}
    replicaset = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": "frontend-abc", "namespace": "shop",
                               "ownerReferences": [{"kind": "Deployment", "name": "frontend", "controller": True}]}}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "postgres", "namespace": "shop"},
           "spec": {"minAvailable": pdb_min, "selector": {"matchLabels": {"app": "postgres"}}}}
    legacy = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "legacy", "annotations": {"cni.projectcalico.org/ipv4pools": '["default-ipv4-ippool"]'}}}
    return Workloads(pods=tuple(pods), replicasets=(replicaset,), deployments=(deployment,),
                     statefulsets=(statefulset,), pdbs=(pdb,), namespaces=(legacy,))


def raw_cluster(operator=False, ipv4_pools=None):
    raw = seed_raw()
    raw["ippools"] = [p for p in raw["ippools"] if p["metadata"]["name"] != "new-pool"]
    raw.update(kube_system_raw())
    for obj in raw["configmaps"] + raw["daemonsets"] + raw["pods"] + raw["nodes"]:
        obj.setdefault("apiVersion", "apps/v1" if obj in raw["daemonsets"] else "v1")
        obj.setdefault("kind", "DaemonSet" if obj in raw["daemonsets"] else
                       "ConfigMap" if obj in raw["configmaps"] else "Pod" if obj in raw["pods"] else "Node")
    for node in raw["nodes"][:3]:
        node["spec"]["taints"] = [CONTROL_PLANE_TAINT, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    if ipv4_pools is not None:
        cm = next(c for c in raw["configmaps"] if c["metadata"]["name"] == "calico-config")
        cm["data"]["cni_network_config"] = cm["data"]["cni_network_config"].replace(
            '"calico-ipam"', '"calico-ipam", "ipv4_pools": ' + json.dumps(ipv4_pools))
    if operator:
        raw["installations"] = [installation_raw()]
        raw["ippools"][0]["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "tigera-operator"}
    return raw


def snapshot(raw=None, work=None, served=V3, operator=False):
    raw = raw or raw_cluster(operator=operator)
    ds = {d["metadata"]["namespace"]: d for d in raw["daemonsets"] if d["metadata"]["name"] == "calico-node"}
    calico_config = next(c for c in raw["configmaps"] if c["metadata"]["name"] == "calico-config")
    installation = (raw.get("installations") or [None])[0]
    info = cluster_info(server="https://test:6443", context="test", version={"gitVersion": "v1.32.4"},
                        served=served, apiservice_present=None, cluster_information=raw["clusterinformations"][0],
                        daemonsets={} if operator else ds, calico_config=calico_config, installation=installation)
    pools = {}
    for pool in raw["ippools"]:
        v3 = copy.deepcopy(pool)
        if "projectcalico.org/v3" in served:
            v3["apiVersion"] = "projectcalico.org/v3"
        pools[pool["metadata"]["name"]] = v3
    return Snapshot(info=info, raw=raw, cluster=build_cluster(raw), workloads=work or workloads(),
                    pools=pools, installation=installation, cluster_uid="uid-kube-system")


def admin_caps(ctx):
    return Capabilities({Access(v, g, r.partition("/")[0], ns or "", r.partition("/")[2]): True
                         for v, g, r, ns in required_accesses(ctx)})


def prepare(snap, **request):
    params, findings = resolve_params(MigrationRequest(target_cidr=TARGET, **request), snap.cluster)
    ctx = Context(snap.cluster, snap.info, None, params, snap.workloads)
    ctx = replace(ctx, caps=admin_caps(ctx))
    return params, findings + preflight(ctx), ctx


def ids(findings, severity=None):
    return {f.id for f in findings if severity is None or f.severity == severity}


def test_parameters_default_to_the_old_pool_and_kcm():
    params, findings = resolve_params(MigrationRequest(target_cidr=TARGET), snapshot().cluster)
    assert (params.old_pool, params.old_cidr, params.pool_name) == (
        "default-ipv4-ippool", "192.168.0.0/16", "ipv4-ippool-172-21-0-0-16")
    assert (params.block_size, params.ipip_mode, params.vxlan_mode, params.nat_outgoing, params.node_selector,
            params.node_cidr_mask) == (26, "CrossSubnet", "Never", True, "all()", 24)
    assert not findings and not params.new_pool_exists


def test_bad_inputs_are_findings():
    cluster = snapshot().cluster
    assert resolve_params(MigrationRequest(target_cidr="172.21.0.1/16"), cluster)[1][0].id == "cidr-invalid"
    assert "did you mean 172.21.0.0/16" in resolve_params(MigrationRequest(target_cidr="172.21.0.1/16"),
                                                         cluster)[1][0].message
    _, findings = resolve_params(MigrationRequest(target_cidr=TARGET, block_size=12, node_selector="a ==",
                                                  from_pool="nope"), cluster)
    assert {"params-from-pool"} <= ids(findings)
    _, findings = resolve_params(MigrationRequest(target_cidr=TARGET, block_size=12, node_selector="a =="), cluster)
    assert {"params-block-size", "params-node-selector"} <= ids(findings, "blocking")


def test_seed_preflight_blocks_only_on_the_bare_pod():
    _, findings, _ = prepare(snapshot())
    assert ids(findings, "blocking") == {"bare-pods"}
    assert {"namespace-pool-pin", "kube-proxy-cluster-cidr", "calico-node-pool-env"} <= ids(findings, "warning")
    bare = next(f for f in findings if f.id == "bare-pods")
    assert bare.evidence == ("pod default/debug-shell on node06",)
    _, findings, _ = prepare(snapshot(), allow_bare_pod_loss=True)
    assert not blocking(findings)


def test_naive_order_is_refused_naming_kcm_the_node_and_both_cidrs():
    _, findings, _ = prepare(snapshot(), node_strategy="keep", allow_bare_pod_loss=True)
    kcm = next(f for f in findings if f.id == "kcm-cluster-cidr")
    assert kcm.severity == "blocking"
    text = kcm.message + " ".join(kcm.evidence)
    assert "kube-controller-manager" in text and "node01" in text
    assert "192.168.1.0/24" in text and "172.21.0.0/16" in text
    assert ("failed to mark cidr[192.168.1.0/24] at idx [0] as occupied for node: node01: "
            "cidr 192.168.1.0/24 is out the range of cluster cidr 172.21.0.0/16") in text


def test_kcm_already_edited_by_hand_is_blocking():
    raw = raw_cluster()
    for pod in raw["pods"]:
        if pod["metadata"]["name"] == "kube-controller-manager-node02":
            pod["spec"]["containers"][0]["command"] = [
                c.replace("192.168.0.0/16", TARGET) for c in pod["spec"]["containers"][0]["command"]]
            pod["status"]["containerStatuses"][0].update(restartCount=5, state={"waiting": {"reason": "CrashLoopBackOff"}})
    _, findings, _ = prepare(snapshot(raw), allow_bare_pod_loss=True)
    assert {"kcm-cluster-cidr-now", "kcm-not-running"} <= ids(findings, "blocking")


@pytest.mark.parametrize("target,finding", [("10.96.0.0/16", "cidr-overlap-service"),
                                            ("10.10.0.0/16", "cidr-overlap-node"),
                                            ("169.254.0.0/16", "cidr-link-local"),
                                            ("192.168.128.0/17", "cidr-overlap-pool")])
def test_overlaps(target, finding):
    snap = snapshot()
    params, _ = resolve_params(MigrationRequest(target_cidr=target, from_pool="default-ipv4-ippool"), snap.cluster)
    ctx = Context(snap.cluster, snap.info, None, params, snap.workloads)
    assert finding in ids(preflight(replace(ctx, caps=admin_caps(ctx))), "blocking")


def test_encapsulation_pdb_capacity_and_identity():
    _, findings, _ = prepare(snapshot(), vxlan_mode="Always", ipip_mode="Never", allow_bare_pod_loss=True)
    assert "encapsulation-mismatch" in ids(findings, "blocking")
    _, findings, _ = prepare(snapshot(work=workloads(pdb_min=3)), allow_bare_pod_loss=True)
    assert "pdb-blocks-evictions" in ids(findings, "blocking")
    params, findings = resolve_params(MigrationRequest(target_cidr="172.21.0.0/29", block_size=30),
                                      snapshot().cluster)
    snap = snapshot()
    ctx = Context(snap.cluster, snap.info, None, params, snap.workloads)
    assert {"capacity-blocks", "capacity-node-cidrs"} <= ids(preflight(replace(ctx, caps=admin_caps(ctx))),
                                                              "blocking")
    viewer = replace(ctx, caps=Capabilities({Access("get", "", "pods"): True}))
    assert "rbac-read-only" in ids(preflight(viewer), "blocking")


def test_v1_only_needs_allow_crd_writes_and_host_local_needs_recreate():
    snap = snapshot(served=V1)
    _, findings, _ = prepare(snap, allow_bare_pod_loss=True)
    assert "write-path" in ids(findings, "blocking")
    _, findings, _ = prepare(snap, allow_bare_pod_loss=True, allow_crd_writes=True)
    assert "write-path" in ids(findings, "warning")
    snap = replace(snap, info=replace(snap.info, ipam="host-local"))
    _, findings, _ = prepare(snap, allow_bare_pod_loss=True, allow_crd_writes=True, node_strategy="disable-allocation")
    assert "ipam-host-local" in ids(findings, "blocking")


def make_plan(snap=None, **request):
    snap = snap or snapshot()
    params, findings, _ = prepare(snap, allow_bare_pod_loss=True, **request)
    return build_plan(snap, params, findings, "2025-01-01T00:00:00Z")


def test_plan_order_and_contents_for_recreate_nodes():
    plan = make_plan()
    assert plan.ids == ("create-pool", "kube-proxy", "cni-pins", "disable-old-pool", "roll-workloads",
                        "kcm-pause-allocation", "node-podcidrs", "kube-controller-manager", "kubeadm-config", "verify-old-pool-empty",
                        "delete-old-pool", "calico-node-env")
    create = plan.step("create-pool").changes[0]
    assert create.op == "create" and create.after["apiVersion"] == "projectcalico.org/v3"
    assert create.after["spec"] == {"cidr": TARGET, "blockSize": 26, "ipipMode": "CrossSubnet", "vxlanMode": "Never",
                                    "natOutgoing": True, "nodeSelector": "all()", "disabled": False}
    proxy = plan.step("kube-proxy")
    assert "+clusterCIDR: 172.21.0.0/16" in proxy.changes[0].diff
    assert [c.ref.kind for c in proxy.changes] == ["ConfigMap", "DaemonSet"]
    pins = plan.step("cni-pins")
    assert [str(c.ref) for c in pins.changes] == ["Namespace legacy"]
    assert '["ipv4-ippool-172-21-0-0-16"]' in pins.changes[0].after["metadata"]["annotations"][
        "cni.projectcalico.org/ipv4pools"]
    roll = plan.step("roll-workloads")
    methods = {(i["kind"], i["name"]): i["method"] for i in roll.items}
    assert methods == {("Deployment", "frontend"): "restart", ("StatefulSet", "postgres"): "evict",
                       ("Pod", "debug-shell"): "delete"}
    nodes = plan.step("node-podcidrs")
    assert [i["node"] for i in nodes.items][:2] == ["node04", "node05"]  # workers before control planes
    assert {i["node"]: i["to"] for i in nodes.items}["node02"] == "172.21.2.0/24"
    recreate = next(c for c in nodes.changes if c.ref.name == "node02")
    assert recreate.after["spec"]["taints"] == [CONTROL_PLANE_TAINT]  # the cordon taint is the controller's
    assert recreate.after["spec"]["unschedulable"] is True
    assert recreate.after["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert "-  podCIDR: 192.168.2.0/24" in recreate.diff and "+  podCIDR: 172.21.2.0/24" in recreate.diff
    pause = plan.step("kcm-pause-allocation")
    assert [h.args for h in pause.hosts] == [{"allocate-node-cidrs": "false"}] * 3
    assert "-    - --allocate-node-cidrs=true\n" in pause.hosts[0].diff
    assert "+    - --allocate-node-cidrs=false\n" in pause.hosts[0].diff
    kcm = plan.step("kube-controller-manager")
    assert [h.node for h in kcm.hosts] == ["node01", "node02", "node03"]
    assert kcm.hosts[0].args == {"cluster-cidr": TARGET, "allocate-node-cidrs": "true"}
    # the diff starts from the manifest as the pause step left it
    assert "-    - --allocate-node-cidrs=false\n" in kcm.hosts[0].diff
    assert "-    - --cluster-cidr=192.168.0.0/16" in kcm.hosts[0].diff
    assert "+    - --cluster-cidr=172.21.0.0/16" in kcm.hosts[0].diff
    assert any("sed -i 's|- --cluster-cidr=192.168.0.0/16$|- --cluster-cidr=172.21.0.0/16|'" in c
               for c in kcm.hosts[0].commands)
    kubeadm = plan.step("kubeadm-config").changes[0]
    assert '-  podSubnet: 192.168.0.0/16' in kubeadm.diff and '+  podSubnet: 172.21.0.0/16' in kubeadm.diff
    delete = plan.step("delete-old-pool").changes[0]
    assert (delete.op, delete.ref.name) == ("delete", "default-ipv4-ippool")
    env = plan.step("calico-node-env").changes[0]
    assert "CALICO_IPV4POOL_CIDR" in env.diff and "172.21.0.0/16" in env.diff


def test_a_cni_config_pin_is_rewritten_and_calico_node_restarted():
    snap = snapshot(raw_cluster(ipv4_pools=["default-ipv4-ippool", "192.168.0.0/16"]))
    pins = make_plan(snap).step("cni-pins")
    assert [str(c.ref) for c in pins.changes] == ["ConfigMap kube-system/calico-config", "DaemonSet kube-system/calico-node",
                                                  "Namespace legacy"]
    text = pins.changes[0].after["data"]["cni_network_config"]
    assert '"ipv4_pools": ["ipv4-ippool-172-21-0-0-16", "172.21.0.0/16"]' in text and "__CNI_MTU__" in text
    assert "kubectl.kubernetes.io/restartedAt" in pins.changes[1].diff


def test_disable_allocation_and_drain_plans():
    plan = make_plan(node_strategy="disable-allocation", roll="drain")
    assert "node-podcidrs" not in plan.ids and "kcm-pause-allocation" not in plan.ids
    assert plan.step("kube-controller-manager").hosts[0].args["allocate-node-cidrs"] == "false"
    kubeadm = yaml.safe_load(plan.step("kubeadm-config").changes[0].after["data"]["ClusterConfiguration"])
    assert kubeadm["controllerManager"]["extraArgs"] == [{"name": "allocate-node-cidrs", "value": "false"}]
    assert kubeadm["networking"]["podSubnet"] == TARGET
    roll = plan.step("roll-workloads")
    assert [i["node"] for i in roll.items] == ["node04", "node05", "node06", "node07"]


def test_operator_plan_chains_installation_changes():
    plan = make_plan(snapshot(operator=True))
    create, disable, delete = (plan.step(s).changes[0] for s in ("create-pool", "disable-old-pool", "delete-old-pool"))
    assert {c.ref.kind for c in (create, disable, delete)} == {"Installation"}
    assert "+    - name: ipv4-ippool-172-21-0-0-16" in create.diff
    assert "disableNewAllocations" not in create.diff and "+      disableNewAllocations: true" in disable.diff
    assert disable.before == create.after and delete.before == disable.after
    assert len(delete.after["spec"]["calicoNetwork"]["ipPools"]) == 1
    assert "calico-node-env" not in plan.ids


def test_plan_round_trips_through_the_journal_form():
    plan = make_plan()
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan


def test_runbook_and_yaml_objects_validate_against_the_crds():
    plan = make_plan()
    text = render_markdown(plan)
    for heading in ("# Runbook: move pods from 192.168.0.0/16 to 172.21.0.0/16", "## Preflight", "## Steps",
                    "### 7. Re-create each Node", "**On node01** (edit-kcm)", "## Approval", "```diff"):
        assert heading in text
    document = yaml.safe_load(render_yaml(plan))
    assert document == plan_document(plan)
    crd = yaml.safe_load((SHARED / "calico-crds" / "crd.projectcalico.org_ippools.yaml").read_text())
    pools = [c["manifest"] for s in document["steps"] for c in s["changes"] if c["manifest"]["kind"] == "IPPool"]
    assert len(pools) == 3  # created, disabled, deleted
    for pool in pools:
        _, causes = validate(pool, crd_schema(crd, "v1"))
        assert causes == []


def test_raw_crd_pool_has_every_default_spelled_out():
    plan = make_plan(snapshot(served=V1), allow_crd_writes=True)
    pool = plan.step("create-pool").changes[0].after
    assert pool["apiVersion"] == "crd.projectcalico.org/v1"
    assert {"ipipMode", "vxlanMode", "blockSize", "nodeSelector", "allowedUses", "natOutgoing", "disabled",
            "disableBGPExport", "assignmentMode"} <= set(pool["spec"])
