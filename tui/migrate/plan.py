"""Build the migration plan: ordered steps with before/after objects, host tasks and explanations.

Order (kubernetes.md §1.6, calico.md §5, adapted to the strategies):

1. create-pool: the new pool, while the old one still serves
2. kube-proxy: clusterCIDR covers the new pool, kube-proxy restarted
3. cni-pins: CNI config and namespace annotations name the new pool
4. disable-old-pool: no new addresses from the old pool; tunnel addresses re-home
5. roll-workloads: every pod with an old address replaced (rollout restarts or node drains)
6. kcm-pause-allocation: (recreate-nodes) node CIDR allocation off while podCIDRs are mixed
7. node-podcidrs: (recreate-nodes) each Node re-created with its planned podCIDR
8. kube-controller-manager: the manifest on every control-plane node (manual, per host)
9. kubeadm-config: podSubnet, so `kubeadm upgrade` does not undo 2 and 8
10. verify-old-pool-empty: no pod, block allocation or tunnel address left in the old range
11. delete-old-pool
12. calico-node-env: CALICO_IPV4POOL_CIDR, so a pool-less restart cannot bring the old range back

Objects that several steps change (the operator's Installation) are projected from step to step,
so every diff shows exactly that step's change.
"""

from __future__ import annotations

import difflib
from typing import Callable

import yaml

from tui.kube.detect import OPERATOR
from tui.migrate.diff import to_yaml
from tui.migrate.gather import Snapshot
from tui.migrate.nodecidrs import plan_node_cidrs
from tui.migrate.params import DISABLE_ALLOCATION, DRAIN, KEEP, RECREATE_NODES, MigrationParams
from tui.migrate.rest import IPPOOLS_V1, IPPOOLS_V3
from tui.migrate.steps import API, MANUAL, VERIFY, Change, HostTask, ObjectRef, Plan, Step
from tui.migrate.transforms import apply_transform, installation_pool_entry, recreated_node
from tui.migrate.workloads import (name_of, namespace_of, pdbs_for, pinned_to, pod_key, pods_to_move,
                                   top_owner)
from tui.model.findings import Finding
from tui.model.static_pods import manifest_from_mirror, set_flags

KCM_MANIFEST = "/etc/kubernetes/manifests/kube-controller-manager.yaml"
KUBE_SYSTEM = "kube-system"


class Projection:
    """The objects as they will be when a step runs: each change is derived from the previous one."""

    def __init__(self):
        self.objects: dict[ObjectRef, dict | None] = {}

    def change(self, obj: dict, transforms: list[tuple[str, dict]]) -> Change | None:
        ref = ObjectRef.of(obj)
        before = self.objects.get(ref, obj)
        after = before
        for name, args in transforms:
            after = apply_transform(name, after, args)
        self.objects[ref] = after
        if after == before:
            return None
        return Change(ref, "update", before, after, tuple(transforms))


def _configmap(snap: Snapshot, name: str) -> dict | None:
    return next((c for c in snap.raw.get("configmaps") or []
                 if c["metadata"]["name"] == name and c["metadata"].get("namespace") == KUBE_SYSTEM), None)


def _daemonset(snap: Snapshot, name: str, namespace: str | None) -> dict | None:
    return next((d for d in snap.raw.get("daemonsets") or []
                 if d["metadata"]["name"] == name and d["metadata"].get("namespace") == namespace), None)


def writes_through_installation(snap: Snapshot) -> bool:
    return snap.info.flavor == OPERATOR and snap.installation is not None


def new_pool_object(params: MigrationParams, raw_crd: bool) -> dict:
    """The IPPool to create; as a raw v1 CR with every default Calico would fill in spelled out
    (calico.md §6.3: a v1 pool without modes was read as VXLAN by calico-node ≥3.23)."""
    spec = {"cidr": params.target_cidr, "blockSize": params.block_size, "ipipMode": params.ipip_mode,
            "vxlanMode": params.vxlan_mode, "natOutgoing": params.nat_outgoing,
            "nodeSelector": params.node_selector, "disabled": False}
    res = IPPOOLS_V1 if raw_crd else IPPOOLS_V3
    if raw_crd:
        spec.update(allowedUses=["Workload", "Tunnel"], disableBGPExport=False, assignmentMode="Automatic")
    return {"apiVersion": res.api_version, "kind": "IPPool", "metadata": {"name": params.pool_name},
            "spec": spec}


def step_create_pool(snap: Snapshot, params: MigrationParams, proj: Projection) -> Step:
    changes: list[Change] = []
    if params.new_pool_exists:
        pass
    elif writes_through_installation(snap):
        entry = installation_pool_entry(params.pool_name, params.target_cidr, params.block_size,
                                        params.ipip_mode, params.vxlan_mode, params.nat_outgoing,
                                        params.node_selector)
        changes.append(proj.change(snap.installation, [("installation-add-pool", {"entry": entry})]))
    else:
        body = new_pool_object(params, snap.pool_resource is IPPOOLS_V1)
        changes.append(Change(ObjectRef.of(body), "create", None, body))
    return Step(
        id="create-pool", title=f"Create the new IP pool {params.pool_name} ({params.target_cidr})", kind=API,
        why="Pods need a pool to get new addresses from before the old one stops handing them out; "
            "Calico's own guide creates and checks the new pool first.",
        if_skipped="Disabling the old pool would leave no enabled pool: new pods would fail to start.",
        changes=tuple(changes),
        preconditions=(f"no pool overlaps {params.target_cidr}", f"pool {params.old_pool} is enabled"),
        verify=f"pool {params.pool_name} exists with cidr {params.target_cidr} and is enabled",
        rollback=f"delete pool {params.pool_name} while no address is allocated from it")


def step_kube_proxy(snap: Snapshot, params: MigrationParams, proj: Projection, stamp: str) -> Step | None:
    cm = _configmap(snap, "kube-proxy")
    ds = _daemonset(snap, "kube-proxy", KUBE_SYSTEM)
    if cm is None:
        return None
    changes = [proj.change(cm, [("kube-proxy-cluster-cidr", {"cidr": params.target_cidr})])]
    if changes[0] is None and not any(p.stale for p in snap.cluster.kube_proxy_pods):
        return None
    if ds is not None:
        changes.append(proj.change(ds, [("rollout-restart", {"stamp": stamp})]))
    return Step(
        id="kube-proxy", title=f"Point kube-proxy's clusterCIDR at {params.target_cidr} and restart it", kind=API,
        why="kube-proxy treats traffic from outside clusterCIDR as external and masquerades it: pods in the "
            "new pool would reach Services with the node's address and NetworkPolicy would see the wrong "
            "source. kube-proxy reads the ConfigMap only at start, hence the restart. Until the roll, pods "
            "still on old addresses are the ones masqueraded (one CIDR per family is allowed).",
        if_skipped="Service traffic from every migrated pod is SNATed to its node IP.",
        changes=tuple(c for c in changes if c is not None),
        preconditions=("kube-proxy DaemonSet healthy",),
        verify=f"every kube-proxy pod was started with clusterCIDR {params.target_cidr}",
        rollback="restore the ConfigMap from the journal's backup and restart kube-proxy")


def step_cni_pins(snap: Snapshot, params: MigrationParams, proj: Projection, stamp: str) -> Step | None:
    args = {"old_refs": params.old_refs, "new_name": params.pool_name, "new_cidr": params.target_cidr}
    changes = []
    cm = _configmap(snap, "calico-config")
    if cm is not None and snap.cluster.cni and set(params.old_refs) & set(snap.cluster.cni.ipv4_pools):
        changes.append(proj.change(cm, [("cni-pool-pins", args)]))
        node = snap.cluster.calico_node
        ds = _daemonset(snap, "calico-node", node.namespace) if node else None
        if ds is not None:  # install-cni writes the conflist from the ConfigMap only when calico-node starts
            changes.append(proj.change(ds, [("rollout-restart", {"stamp": stamp})]))
    for ns in pinned_to(snap.workloads.namespaces, set(params.old_refs)):
        changes.append(proj.change(ns, [("annotation-pool-pins", args)]))
    changes = [c for c in changes if c is not None]
    if not changes:
        return None
    return Step(
        id="cni-pins", title="Re-point pool pins (CNI config, namespace annotations) to the new pool", kind=API,
        why="A pod whose CNI config or namespace names a pool explicitly only gets addresses from that pool; "
            "once it is disabled Calico refuses with 'the given pool … does not exist, or is not enabled'. "
            "calico-node's install-cni writes the CNI config file from calico-config only when it starts, "
            "so a changed calico-config is followed by a calico-node restart.",
        if_skipped="Pods in the pinned namespaces (or every pod, for the CNI config) fail to start after "
                   "the old pool is disabled.",
        changes=tuple(changes),
        verify="no CNI config or namespace annotation names the old pool",
        rollback="restore the ConfigMap and annotations from the journal's backups")


def step_disable_old_pool(snap: Snapshot, params: MigrationParams, proj: Projection) -> Step:
    if writes_through_installation(snap):
        change = proj.change(snap.installation, [("installation-disable-pool", {"name": params.old_pool})])
    else:
        change = proj.change(snap.pools[params.old_pool], [("pool-disabled", {"disabled": True})])
    return Step(
        id="disable-old-pool", title=f"Disable the old pool {params.old_pool} ({params.old_cidr})", kind=API,
        why="Disabling stops new allocations only: running pods keep their addresses and routes, and every "
            "pod started from now on gets an address from the new pool. calico-node moves the nodes' "
            "tunnel addresses to the new pool.",
        if_skipped="Restarted pods may land in the old pool again and the roll never finishes.",
        changes=tuple(c for c in [change] if c is not None),
        preconditions=(f"pool {params.pool_name} is enabled",),
        verify=f"pool {params.old_pool} is disabled and every node's tunnel address lies in {params.target_cidr}",
        rollback=f"re-enable pool {params.old_pool}")


def roll_items(snap: Snapshot, params: MigrationParams) -> list[dict]:
    """What the roll moves: per owner (rollout) or per node (drain)."""
    pods = pods_to_move(snap.workloads, params.old)
    if params.roll == DRAIN:
        by_node: dict[str, list[str]] = {}
        for pod in pods:
            by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod_key(pod))
        return [{"node": node, "pods": keys} for node, keys in sorted(by_node.items())]
    owners: dict[tuple, dict] = {}
    for pod in pods:
        owner = top_owner(pod, snap.workloads)
        if owner is None:
            owner, method = ("Pod", namespace_of(pod), name_of(pod)), "delete"
        elif owner[0] not in ("Deployment", "StatefulSet", "DaemonSet"):
            method = "evict"  # Jobs and other controllers: they recreate what is evicted
        elif owner[0] != "DaemonSet" and pdbs_for(pod, snap.workloads):
            method = "evict"
        else:
            method = "restart"
        item = owners.setdefault(owner, {"kind": owner[0], "namespace": owner[1], "name": owner[2],
                                         "method": method, "pods": []})
        item["pods"].append(name_of(pod))
    return sorted(owners.values(), key=lambda o: (o["method"] == "delete", o["kind"], o["namespace"], o["name"]))


def step_roll(snap: Snapshot, params: MigrationParams, proj: Projection, stamp: str) -> Step:
    items = roll_items(snap, params)
    refs = set(params.old_refs)
    pin_args = {"old_refs": params.old_refs, "new_name": params.pool_name, "new_cidr": params.target_cidr,
                "template": True}
    changes = []
    collections = {"Deployment": snap.workloads.deployments, "StatefulSet": snap.workloads.statefulsets,
                   "DaemonSet": snap.workloads.daemonsets}
    restart = {(i.get("kind"), i.get("namespace"), i.get("name")) for i in items if i.get("method") == "restart"}
    for kind, objs in collections.items():
        for obj in objs:
            key = (kind, namespace_of(obj), name_of(obj))
            transforms = []
            if pinned_to([obj], refs, template=True):
                transforms.append(("annotation-pool-pins", pin_args))
            if key in restart:
                transforms.append(("rollout-restart", {"stamp": stamp}))
            if transforms:
                changes.append(proj.change(obj, transforms))
    if params.roll == DRAIN:
        title = "Drain node by node so every pod with an old address is replaced"
        how = ("Each node is cordoned, its pods with old addresses are evicted (PodDisruptionBudgets are "
               "honoured: a refused eviction is retried), the replacements start on other nodes with new "
               "addresses, DaemonSet pods on the node are deleted and come back with new addresses, then "
               "the node is uncordoned.")
    else:
        title = "Restart every workload that still has pods with old addresses"
        how = ("Each owner is rolled in turn: Deployments, StatefulSets and DaemonSets by a rollout restart "
               "(their own maxUnavailable/maxSurge apply); workloads guarded by a PodDisruptionBudget by "
               "evicting their old pods one at a time, so the budget is never broken.")
    bare = [i for i in items if i.get("method") == "delete"]
    if bare:
        how += (" Pods without a controller are deleted (--allow-bare-pod-loss): nothing recreates them.")
    return Step(
        id="roll-workloads", title=title, kind=API,
        why="Disabling the pool does not move running pods: only a pod that is replaced gets a new "
            "address. " + how,
        if_skipped="Pods keep old addresses; the old pool can never be deleted.",
        changes=tuple(c for c in changes if c is not None), items=tuple(items),
        preconditions=(f"pool {params.old_pool} is disabled", f"pool {params.pool_name} is enabled"),
        verify=f"no pod holds an address in {params.old_cidr}",
        rollback=None)


def step_node_podcidrs(snap: Snapshot, params: MigrationParams, stamp: str) -> Step | None:
    if params.node_strategy != RECREATE_NODES:
        return None
    nodes = {n["metadata"]["name"]: n for n in snap.raw.get("nodes") or []}
    current = {name: (n.get("spec") or {}).get("podCIDRs") or
               ([n["spec"]["podCIDR"]] if (n.get("spec") or {}).get("podCIDR") else []) for name, n in nodes.items()}
    mapping = plan_node_cidrs(current, params.old, params.target, params.node_cidr_mask)
    control = {n.name for n in snap.cluster.nodes if "control-plane" in n.roles or "master" in n.roles}
    order = sorted(nodes, key=lambda n: (n in control, n))
    items, changes, hosts = [], [], []
    for name in order:
        if current[name][:1] == [mapping[name]]:
            continue
        node = nodes[name]
        items.append({"node": name, "from": ",".join(current[name]) or "(none)", "to": mapping[name],
                      "control_plane": name in control})
        changes.append(Change(ObjectRef.of(node), "recreate", node,
                              recreated_node(node, mapping[name], stamp)))
        hosts.append(HostTask(
            node=name, action="restart-kubelet", args={},
            commands=(f"ssh {name} sudo systemctl restart kubelet",),
            verify=f"node {name} is registered again, Ready, with podCIDR {mapping[name]}"))
    return Step(
        id="node-podcidrs", title="Re-create each Node with its new podCIDR (planned map)", kind=MANUAL,
        why="A Node's podCIDR cannot be changed (422: 'node updates may not change podCIDR except from \"\" "
            "to valid'); the Node must be deleted and created again. Each node is cordoned and drained, "
            "saved, deleted and re-created with its planned podCIDR and its labels, annotations and taints "
            "(kubeadm's control-plane label and taint would otherwise be lost), then its kubelet is "
            "restarted so it re-attaches, and it is uncordoned once Ready. This must happen before "
            "kube-controller-manager gets the new --cluster-cidr, or it crash-loops on the old podCIDRs.",
        if_skipped="kube-controller-manager crash-loops at its next start: 'failed to mark cidr[…] as "
                   "occupied … is out the range of cluster cidr …', taking every controller down with it.",
        changes=tuple(changes), hosts=tuple(hosts), items=tuple(items),
        preconditions=("no pod has an old address", "PodDisruptionBudgets allow each node's drain"),
        verify="every Node is Ready with its planned podCIDR",
        rollback=None)


def _manifest_diff(node: str, before: dict, after: dict) -> str:
    label = f"{node}:{KCM_MANIFEST}"
    return "".join(difflib.unified_diff(to_yaml(before).splitlines(keepends=True),
                                        to_yaml(after).splitlines(keepends=True),
                                        fromfile=f"{label} (before)", tofile=f"{label} (after)"))


def _flag_commands(node: str, before: list[str], after: list[str]) -> tuple[str, ...]:
    old = {a.split("=", 1)[0]: a for a in before if a.startswith("--")}
    commands = [f"ssh {node} sudo cp {KCM_MANIFEST} /etc/kubernetes/kube-controller-manager.yaml.bak"]
    for arg in after:
        name = arg.split("=", 1)[0]
        if arg.startswith("--") and old.get(name) != arg:
            if name in old:
                commands.append(f"ssh {node} sudo sed -i 's|- {old[name]}$|- {arg}|' {KCM_MANIFEST}")
            else:
                commands.append(f"ssh {node} sudo sed -i 's|^\\( *\\)- kube-controller-manager$|&\\n\\1- {arg}|' "
                                f"{KCM_MANIFEST}")
    commands.append(f"kubectl -n kube-system get pod kube-controller-manager-{node} "
                    "-o jsonpath='{.spec.containers[0].command}'")
    return tuple(commands)


def _kcm_pods(snap: Snapshot) -> list[dict]:
    pods = [p for p in snap.raw.get("pods") or []
            if ((p.get("metadata") or {}).get("labels") or {}).get("component") == "kube-controller-manager"]
    return sorted(pods, key=lambda p: p["spec"].get("nodeName", ""))


def _kcm_hosts(snap: Snapshot, flags: dict[str, str], earlier: dict[str, str]) -> tuple[HostTask, ...]:
    """Per control-plane node: the manifest edit setting `flags`, after an earlier step set `earlier`."""
    hosts = []
    for pod in _kcm_pods(snap):
        node = pod["spec"].get("nodeName", "")
        before = manifest_from_mirror(pod)
        before.pop("status", None)
        container = before["spec"]["containers"][0]
        container["command"] = set_flags(container.get("command") or [], earlier)
        after = yaml.safe_load(yaml.safe_dump(before))
        after["spec"]["containers"][0]["command"] = set_flags(container["command"], flags)
        hosts.append(HostTask(
            node=node, action="edit-kcm", args=dict(flags), file=KCM_MANIFEST,
            diff=_manifest_diff(node, before, after),
            commands=_flag_commands(node, container["command"], after["spec"]["containers"][0]["command"]),
            verify=f"mirror pod kube-controller-manager-{node} runs with "
                   + " ".join(f"--{k}={v}" for k, v in flags.items()) + ", Running and Ready, no crash restarts"))
    return tuple(hosts)


PAUSE_FLAGS = {"allocate-node-cidrs": "false"}
MANIFEST_NOTE = (" The manifest is a file on each control-plane host (the API only shows the read-only "
                 "mirror pod), so this is done on the hosts, one at a time; the kubelet restarts the pod.")


def step_kcm_pause(snap: Snapshot, params: MigrationParams) -> Step | None:
    """Before node podCIDRs change (recreate-nodes): stop node CIDR allocation, so that a
    kube-controller-manager restart while nodes carry a mix of old and new podCIDRs is harmless."""
    if params.node_strategy != RECREATE_NODES or not _kcm_pods(snap):
        return None
    return Step(
        id="kcm-pause-allocation", title="Pause node CIDR allocation in kube-controller-manager", kind=MANUAL,
        why="While nodes are re-created, some carry old and some new podCIDRs; no single --cluster-cidr "
            "contains both, so a kube-controller-manager that restarts in that window (leader change, "
            "upgrade, OOM) would crash-loop on 'failed to mark cidr … as occupied' and take every "
            "controller down, the outage in the operator notes. With --allocate-node-cidrs=false the node "
            "IPAM controller does not run; the re-created nodes get their podCIDRs from the plan." + MANIFEST_NOTE,
        if_skipped="Any kube-controller-manager restart during the node step crash-loops.",
        hosts=_kcm_hosts(snap, PAUSE_FLAGS, {}),
        verify="each mirror pod runs with --allocate-node-cidrs=false and stays Running and Ready",
        rollback="put back the saved manifest (/etc/kubernetes/kube-controller-manager.yaml.bak) on each host")


def step_kcm(snap: Snapshot, params: MigrationParams) -> Step | None:
    if not _kcm_pods(snap):
        return None
    allocate = params.node_strategy != DISABLE_ALLOCATION
    masks = {k.node_cidr_mask_size_ipv4 for k in snap.cluster.controller_managers}
    flags = {"cluster-cidr": params.target_cidr, "allocate-node-cidrs": "true" if allocate else "false"}
    if allocate and params.node_cidr_mask not in masks:
        flags["node-cidr-mask-size"] = str(params.node_cidr_mask)
    why = {RECREATE_NODES: "Every node now has a podCIDR inside the new range, so kube-controller-manager can "
                           f"start with --cluster-cidr={params.target_cidr} and allocate node CIDRs again.",
           DISABLE_ALLOCATION: "With --allocate-node-cidrs=false the node IPAM controller does not start at "
                               "all, so the old node podCIDRs cannot crash it; calico-ipam never used them.",
           KEEP: f"{params.target_cidr} contains every existing node podCIDR, so the allocator accepts them."}
    earlier = PAUSE_FLAGS if params.node_strategy == RECREATE_NODES else {}
    return Step(
        id="kube-controller-manager",
        title="Change kube-controller-manager's flags on every control-plane node", kind=MANUAL,
        why=why[params.node_strategy] + MANIFEST_NOTE,
        if_skipped="kube-controller-manager keeps the old cluster CIDR: kubeadm, the nodes and the "
                   "controller disagree, and new nodes get podCIDRs from the old range.",
        hosts=_kcm_hosts(snap, flags, earlier),
        preconditions=("every node podCIDR is inside the new cluster CIDR" if allocate else
                       "calico-ipam is the IPAM",),
        verify="each mirror pod shows the new flags and stays Running and Ready",
        rollback="put back the saved manifest (/etc/kubernetes/kube-controller-manager.yaml.bak) on each host")


def step_kubeadm(snap: Snapshot, params: MigrationParams, proj: Projection) -> Step | None:
    cm = _configmap(snap, "kubeadm-config")
    if cm is None:
        return None
    args = {"cidr": params.target_cidr}
    if params.node_strategy == DISABLE_ALLOCATION:
        args["allocate_node_cidrs"] = False
    change = proj.change(cm, [("kubeadm-pod-subnet", args)])
    return Step(
        id="kubeadm-config", title=f"Record podSubnet {params.target_cidr} in kubeadm-config", kind=API,
        why="kubeadm regenerates kube-controller-manager and kube-proxy settings from this ConfigMap on "
            "`kubeadm upgrade` and uses it on `kubeadm join`; nothing running reads it.",
        if_skipped="The next kubeadm upgrade silently puts the old CIDR back into the control plane.",
        changes=tuple(c for c in [change] if c is not None),
        verify=f"ClusterConfiguration networking.podSubnet is {params.target_cidr}",
        rollback="restore the ConfigMap from the journal's backup")


def step_verify(params: MigrationParams) -> Step:
    return Step(
        id="verify-old-pool-empty", title=f"Verify nothing is left in {params.old_cidr}", kind=VERIFY,
        why="Deleting a pool that still has addresses in use breaks those pods' routing and NAT.",
        if_skipped="Pods still on old addresses lose connectivity when the pool goes.",
        verify=f"no IPAM allocation, pod address or node tunnel address in {params.old_cidr}")


def step_delete_old_pool(snap: Snapshot, params: MigrationParams, proj: Projection) -> Step:
    if writes_through_installation(snap):
        change = proj.change(snap.installation, [("installation-remove-pool", {"name": params.old_pool})])
        how = "Removed from the Installation; tigera-operator deletes it through the v3 API."
    else:
        pool = proj.objects.get(ObjectRef.of(snap.pools[params.old_pool]), snap.pools[params.old_pool])
        change = Change(ObjectRef.of(pool), "delete", pool, None)
        how = ("Deleted through projectcalico.org/v3, which releases the pool's block affinities and removes "
               "its empty blocks." if snap.pool_resource is IPPOOLS_V3 else
               "Deleted as a raw v1 CR; its empty blocks and their affinities are removed explicitly.")
    return Step(
        id="delete-old-pool", title=f"Delete the old pool {params.old_pool}", kind=API,
        why="While a disabled pool exists Felix keeps NAT rules and BIRD keeps exporting its routes. " + how,
        if_skipped="The old range stays reserved and routed; nothing breaks, but the migration is unfinished.",
        changes=tuple(c for c in [change] if c is not None),
        preconditions=("verify-old-pool-empty passed",),
        verify=f"pool {params.old_pool} and every block in {params.old_cidr} are gone",
        rollback=f"re-create pool {params.old_pool} (disabled) from the journal's backup")


def step_calico_node_env(snap: Snapshot, params: MigrationParams, proj: Projection, stamp: str) -> Step | None:
    node = snap.cluster.calico_node
    if writes_through_installation(snap) or node is None or "CALICO_IPV4POOL_CIDR" not in node.env:
        return None
    ds = _daemonset(snap, "calico-node", node.namespace)
    change = proj.change(ds, [("calico-node-pool-env", {"cidr": params.target_cidr})])
    if change is None:
        return None
    return Step(
        id="calico-node-env", title=f"Set calico-node's CALICO_IPV4POOL_CIDR to {params.target_cidr}", kind=API,
        why="calico-node creates a default pool from this variable whenever it starts and finds no IPv4 pool. "
            "The DaemonSet rolls its pods one at a time when the template changes.",
        if_skipped="If all pools are ever deleted, the old range comes back as default-ipv4-ippool.",
        changes=(change,),
        verify="the calico-node DaemonSet has rolled out with the new value",
        rollback="restore the DaemonSet's env from the journal's backup")


def build_plan(snap: Snapshot, params: MigrationParams, findings: list[Finding], stamp: str,
               notes: tuple[str, ...] = ()) -> Plan:
    """The ordered plan. `stamp` (the plan's creation time) marks the restarts it asks for, so a
    resumed run recognises them."""
    proj = Projection()
    builders: list[Callable[[], Step | None]] = [
        lambda: step_create_pool(snap, params, proj),
        lambda: step_kube_proxy(snap, params, proj, stamp),
        lambda: step_cni_pins(snap, params, proj, stamp),
        lambda: step_disable_old_pool(snap, params, proj),
        lambda: step_roll(snap, params, proj, stamp),
        lambda: step_kcm_pause(snap, params),
        lambda: step_node_podcidrs(snap, params, stamp),
        lambda: step_kcm(snap, params),
        lambda: step_kubeadm(snap, params, proj),
        lambda: step_verify(params),
        lambda: step_delete_old_pool(snap, params, proj),
        lambda: step_calico_node_env(snap, params, proj, stamp),
    ]
    steps = tuple(step for build in builders if (step := build()) is not None)
    cluster = {"uid": snap.cluster_uid, "server": snap.info.server, "context": snap.info.context,
               "kubernetesVersion": snap.info.kubernetes_version, "calicoVersion": snap.info.calico_version,
               "flavor": snap.info.flavor, "calicoApi": snap.info.calico_api, "ipam": snap.info.ipam,
               "readGroup": snap.info.calico_read_group,
               "writePath": ("Installation default (tigera-operator)" if writes_through_installation(snap)
                             else snap.pool_resource.api_version),
               "stamp": stamp}
    return Plan(params=params.to_dict(), cluster=cluster, steps=steps,
                findings=tuple(_finding_dict(f) for f in findings), notes=notes)


def _finding_dict(f: Finding) -> dict:
    return {"id": f.id, "severity": f.severity, "message": f.message, "evidence": list(f.evidence),
            "fix": f.fix, "subject": f.subject}

