"""What each plan step does when it runs, as a sequence of journaled atomic actions and waits.

Each executor works from the live cluster, not from the plan's snapshot: pods to move are listed
again, a node is drained of what is on it now, and every wait polls fresh reads. The plan's
changes are applied through `Runner.apply_change`, which refuses to clobber anything the operator
did not preview.
"""

from __future__ import annotations

import ipaddress

from tui.migrate.rest import (CONFIGMAPS, DAEMONSETS, NAMESPACES, NODES, PODS, ApiStatusError, Resource)
from tui.migrate.runner import Runner, StepFailed
from tui.migrate.steps import Change, ObjectRef, Step
from tui.migrate.transforms import recreated_node
from tui.migrate.rest import BLOCKAFFINITIES_V1, IPAMBLOCKS_V1, IPPOOLS_V1, PDBS, REPLICASETS
from tui.migrate.workloads import (Workloads, in_network, is_mirror, is_terminating, name_of, namespace_of,
                                   pdbs_for, pin_refs, pod_key, top_owner)
from tui.model.calico import parse_ipamblock
from tui.model.cidr import overlaps, parse_cidr
from tui.model.config import kube_proxy_pod, parse_controller_manager, parse_kube_proxy_config
from tui.model.node import parse_node
from tui.model.disruption import pod_healthy, selector_matches

OWNER_API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1"}


def _resource(plan_cluster: dict, plural: str, kind: str) -> Resource:
    group, version = (plan_cluster.get("readGroup") or "crd.projectcalico.org/v1").split("/")
    return Resource(group, version, plural, kind, False)


async def apply_all(r: Runner, step: Step) -> None:
    for change in step.changes:
        await r.apply_change(step.id, change)


# --- pools ------------------------------------------------------------------------------------

async def _pool(r: Runner, name: str) -> dict | None:
    res = _resource(r.plan.cluster, "ippools", "IPPool")
    try:
        return await r.call(r.rest.get, res, None, name)
    except ApiStatusError as exc:
        if exc.code == 404:
            return None
        raise


async def run_create_pool(r: Runner, step: Step) -> None:
    await apply_all(r, step)
    params = r.params

    async def ready():
        pool = await _pool(r, params.pool_name)
        if pool is None:
            return False, f"pool {params.pool_name} not there yet"
        spec = pool.get("spec") or {}
        if spec.get("disabled"):
            return False, f"pool {params.pool_name} exists but is disabled"
        return True, f"pool {params.pool_name} {spec.get('cidr')} is enabled"
    await r.wait_for(step.id, "new pool", ready)


async def run_disable_old_pool(r: Runner, step: Step) -> None:
    await apply_all(r, step)
    params = r.params
    old = params.old

    async def disabled():
        pool = await _pool(r, params.old_pool)
        if pool is not None and not (pool.get("spec") or {}).get("disabled") \
                and (pool.get("spec") or {}).get("nodeSelector") != "!all()":
            return False, f"pool {params.old_pool} still enabled"
        nodes = await r.call(r.rest.list, NODES)
        left = [f"{name_of(n)} {addr}" for n in nodes for addr in parse_node(n).tunnel_addresses.values()
                if addr in old]
        if left:
            return False, f"{len(left)} tunnel addresses still in {old}: {', '.join(left[:3])}"
        return True, f"pool {params.old_pool} disabled, no tunnel address left in {old}"
    await r.wait_for(step.id, "old pool", disabled)


# --- kube-proxy ---------------------------------------------------------------------------------

async def run_kube_proxy(r: Runner, step: Step) -> None:
    await apply_all(r, step)

    async def current():
        cm = await r.call(r.rest.get, CONFIGMAPS, "kube-system", "kube-proxy")
        config = parse_kube_proxy_config(cm)
        pods = await r.call(r.rest.list, PODS, "kube-system", "k8s-app=kube-proxy")
        live = [p for p in pods if not is_terminating(p)]
        states = [kube_proxy_pod(p, config) for p in live]
        fresh = [s for s in states if s.stale is False and s.pod.ready]
        ds = await r.call(r.rest.get, DAEMONSETS, "kube-system", "kube-proxy")
        desired = (ds.get("status") or {}).get("desiredNumberScheduled", len(live))
        r.progress(step.id, len(fresh), desired, "kube-proxy pods running the new config")
        return len(fresh) >= desired and len(fresh) == len(states), \
            f"{len(fresh)}/{desired} kube-proxy pods run the new config"
    await r.wait_for(step.id, "kube-proxy restart", current)


# --- pins and plain api steps -------------------------------------------------------------------

async def run_cni_pins(r: Runner, step: Step) -> None:
    await apply_all(r, step)
    for change in step.changes:
        if change.ref.kind == "DaemonSet":
            await r.wait_for(step.id, "calico-node restart", lambda ref=change.ref: _settled(r, ref))
    refs = set(r.params.old_refs)
    namespaces = await r.call(r.rest.list, NAMESPACES)
    left = [name_of(n) for n in namespaces if refs & set(pin_refs(n))]
    if left:
        raise StepFailed(f"namespaces still pin the old pool: {', '.join(left)}")


async def run_kubeadm(r: Runner, step: Step) -> None:
    await apply_all(r, step)


async def run_calico_node_env(r: Runner, step: Step) -> None:
    await apply_all(r, step)
    ref = step.changes[0].ref
    await r.wait_for(step.id, "calico-node rollout", lambda: _settled(r, ref))


# --- rolling workloads ---------------------------------------------------------------------------

async def _workloads(r: Runner) -> Workloads:
    pods, replicasets = await r.call(r.rest.list, PODS), await r.call(r.rest.list, REPLICASETS)
    return Workloads.readable(pods=pods, replicasets=replicasets, pdbs=await r.call(r.rest.list, PDBS))


def _old_pods(workloads: Workloads, old) -> list[dict]:
    return sorted((p for p in workloads.pods
                   if in_network(p, old) and not is_terminating(p) and not is_mirror(p)), key=pod_key)


async def _settled(r: Runner, ref: ObjectRef, require_new: bool = True) -> tuple[bool, str]:
    """A workload has caught up with its spec: every pod it wants exists and is ready, and (with
    `require_new`, after a restart) every pod is of the new template and none holds an old address."""
    obj = await r.get(ref)
    if obj is None:
        return True, f"{ref} is gone"
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    if generation is not None and (status.get("observedGeneration") or 0) < generation:
        return False, f"{ref}: controller has not seen the change yet"
    if ref.kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        updated = status.get("updatedNumberScheduled", 0)
    else:
        desired = spec.get("replicas", 1)
        updated = status.get("updatedReplicas", desired)
    pods = await r.call(r.rest.list, PODS, ref.namespace)
    selector = spec.get("selector")
    mine = [p for p in pods if selector_matches(selector, (p.get("metadata") or {}).get("labels") or {})]
    ready = [p for p in mine if pod_healthy(p)]
    terminating = [p for p in mine if is_terminating(p)]
    old = [p for p in mine if in_network(p, r.params.old)] if require_new else []
    detail = f"{ref}: {len(ready)}/{desired} ready, {updated} updated"
    if old:
        detail += f", {len(old)} still on old addresses"
    ok = len(ready) >= desired and not terminating and (not require_new or (updated >= desired and not old))
    return ok, detail


async def _evict(r: Runner, step: str, pod: dict) -> None:
    """Evict one pod through the Eviction API (a PodDisruptionBudget can refuse: wait and retry)
    and wait until it is gone and its owner is whole again."""
    ns, name, uid = namespace_of(pod), name_of(pod), pod["metadata"].get("uid", "")
    key = f"evict:{ns}/{name}@{uid[:8]}"

    async def evict():
        r.backup(step, key, pod)

        async def attempt():
            try:
                await r.call(r.rest.evict, ns, name)
                return True, f"evicted {ns}/{name}"
            except ApiStatusError as exc:
                if exc.code == 404:
                    return True, f"{ns}/{name} already gone"
                if exc.code == 429:
                    return False, f"eviction of {ns}/{name} refused for now: {exc.message}"
                raise
        await r.wait_for(step, "eviction", attempt)
        return {"evicted": True}
    await r.action(step, key, evict)
    await r.wait_for(step, "pod gone", lambda: _gone(r, pod))


async def _gone(r: Runner, pod: dict) -> tuple[bool, str]:
    live = await r.get(ObjectRef("v1", "Pod", name_of(pod), namespace_of(pod)))
    if live is None or live["metadata"].get("uid") != pod["metadata"].get("uid"):
        return True, f"{pod_key(pod)} replaced"
    return False, f"{pod_key(pod)} terminating"


async def _delete_pod(r: Runner, step: str, pod: dict, why: str) -> None:
    ns, name, uid = namespace_of(pod), name_of(pod), pod["metadata"].get("uid", "")
    key = f"delete:{ns}/{name}@{uid[:8]}"

    async def delete():
        r.backup(step, key, pod)
        try:
            await r.call(r.rest.delete, PODS, ns, name, preconditions={"uid": uid})
        except ApiStatusError as exc:
            if exc.code not in (404, 409):
                raise
        r.log("info", step, f"deleted pod {ns}/{name} ({why})")
        return {"deleted": True}
    await r.action(step, key, delete)
    await r.wait_for(step, "pod gone", lambda: _gone(r, pod))


def _owner_ref(owner: tuple[str, str, str]) -> ObjectRef:
    kind, ns, name = owner
    return ObjectRef(OWNER_API.get(kind, "v1"), kind, name, ns)


def _planned_change(step: Step, ref: ObjectRef) -> Change | None:
    return next((c for c in step.changes if c.ref == ref), None)


async def _move_pod(r: Runner, step: Step, pod: dict, workloads: Workloads) -> None:
    owner = top_owner(pod, workloads)
    if owner is None:
        if not r.params.allow_bare_pod_loss:
            raise StepFailed(f"pod {pod_key(pod)} has no controller; moving it deletes it for good "
                             "(--allow-bare-pod-loss)")
        await _delete_pod(r, step.id, pod, "no controller: not coming back, as allowed")
        return
    if owner[0] == "DaemonSet":
        await _delete_pod(r, step.id, pod, "its DaemonSet recreates it on the same node")
        await r.wait_for(step.id, "daemonset pod", lambda: _settled(r, _owner_ref(owner), require_new=False))
        return
    await _evict(r, step.id, pod)
    if owner[0] in OWNER_API:
        await r.wait_for(step.id, "replacement", lambda: _settled(r, _owner_ref(owner), require_new=False))


async def _restart_owner(r: Runner, step: Step, owner: tuple[str, str, str]) -> None:
    ref = _owner_ref(owner)
    change = _planned_change(step, ref)
    stamp = r.plan.cluster["stamp"]
    if change is not None:
        await r.apply_change(step.id, change, f"restart:{ref}")
    else:
        live = await r.get(ref)
        if live is None:
            return
        await r.update_live(step.id, f"restart:{ref}", live, [("rollout-restart", {"stamp": stamp})])
    await r.wait_for(step.id, "rollout", lambda: _settled(r, ref))


def _restartable(owner, pods: list[dict], workloads: Workloads) -> bool:
    """Rolled by its own controller (a rollout restart) rather than by evictions: workloads a
    PodDisruptionBudget guards are evicted pod by pod, because a rollout ignores budgets."""
    if owner is None or owner[0] not in ("Deployment", "StatefulSet", "DaemonSet"):
        return False
    return owner[0] == "DaemonSet" or not any(pdbs_for(p, workloads) for p in pods)


async def run_roll(r: Runner, step: Step) -> None:
    """Until no pod holds an old address: rollout restarts (or drains), then evictions for what is
    left (pods of owners already restarted, pods that appeared meanwhile)."""
    for change in step.changes:  # pool pins in templates go first, or restarts would fail
        if not any(name == "rollout-restart" for name, _ in change.transforms):
            await r.apply_change(step.id, change)
    if r.params.roll == "drain":
        await _drain_all(r, step)
    for attempt in range(3):
        workloads = await _workloads(r)
        pods = _old_pods(workloads, r.params.old)
        if not pods:
            r.progress(step.id, 1, 1, f"no pod left in {r.params.old}")
            return
        owners = []
        for pod in pods:
            owner = top_owner(pod, workloads)
            if owner not in owners:
                owners.append(owner)
        total = len(owners)
        for done, owner in enumerate(owners):
            r.progress(step.id, done, total, f"moving {owner[0] if owner else 'pod'} "
                                             f"{'/'.join(owner[1:]) if owner else ''}".strip())
            mine = [p for p in pods if top_owner(p, workloads) == owner]
            if r.params.roll != "drain" and _restartable(owner, mine, workloads) and attempt == 0:
                await _restart_owner(r, step, owner)  # waits for the rollout, also when resumed
                continue
            for pod in mine:
                await _move_pod(r, step, pod, workloads)
        r.progress(step.id, total, total, "pass complete")
    left = _old_pods(await _workloads(r), r.params.old)
    if left:
        raise StepFailed(f"{len(left)} pods still have old addresses: {', '.join(map(pod_key, left[:5]))}")


async def _drain_all(r: Runner, step: Step) -> None:
    nodes = [i["node"] for i in step.items if i.get("node")]
    workloads = await _workloads(r)
    for pod in _old_pods(workloads, r.params.old):
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node not in nodes:
            nodes.append(node)
    for done, node in enumerate(nodes):
        r.progress(step.id, done, len(nodes), f"draining {node}")
        await _drain_node(r, step, node, only_old=True)
        await _cordon(r, step.id, node, False)
    r.progress(step.id, len(nodes), len(nodes), "every node drained")


async def _cordon(r: Runner, step: str, node: str, on: bool) -> None:
    live = await r.get(ObjectRef("v1", "Node", node))
    if live is None:
        raise StepFailed(f"node {node} does not exist")
    await r.update_live(step, f"{'cordon' if on else 'uncordon'}:{node}", live, [("cordon", {"unschedulable": on})])


async def _drain_node(r: Runner, step: Step, node: str, only_old: bool) -> None:
    """Cordon, then move the node's pods away (only those with old addresses when `only_old`)."""
    await _cordon(r, step.id, node, True)
    workloads = await _workloads(r)
    pods = [p for p in workloads.pods if (p.get("spec") or {}).get("nodeName") == node
            and not is_terminating(p) and not is_mirror(p)]
    for pod in sorted(pods, key=pod_key):
        if only_old and not in_network(pod, r.params.old):
            continue
        owner = top_owner(pod, workloads)
        if not only_old and (owner and owner[0] == "DaemonSet" or (pod.get("spec") or {}).get("hostNetwork")):
            continue  # deleted with the Node and recreated on it; nothing to keep safe
        await _move_pod(r, step, pod, workloads)


# --- node podCIDRs --------------------------------------------------------------------------------

async def run_node_podcidrs(r: Runner, step: Step) -> None:
    total = len(step.items)
    for done, item in enumerate(step.items):
        node = item["node"]
        r.progress(step.id, done, total, f"re-creating node {node} with podCIDR {item['to']}")
        await _recreate_node(r, step, item)
    r.progress(step.id, total, total, "every node has its new podCIDR")


async def _recreate_node(r: Runner, step: Step, item: dict) -> None:
    node, target = item["node"], item["to"]
    ref = ObjectRef("v1", "Node", node)
    if not r.is_done(step.id, f"create-node:{node}"):
        if not r.is_done(step.id, f"delete-node:{node}"):
            await _drain_node(r, step, node, only_old=False)

        async def delete():
            current = await r.get(ref)
            if current is None:
                return {"deleted": False}
            r.backup(step.id, f"delete-node:{node}", current)
            await r.delete_uid(NODES, None, node, current["metadata"]["uid"])
            r.log("info", step.id, f"deleted Node {node} (podCIDR {(current.get('spec') or {}).get('podCIDR')})")
            return {"deleted": True}
        await r.action(step.id, f"delete-node:{node}", delete)
        await r.wait_for(step.id, "node deleted", lambda: _node_gone_or_new(r, node, target))

        async def create():
            saved = next((b["object"] for b in reversed(r.journal.backups(step.id))
                          if b.get("action") == f"delete-node:{node}"), None)
            if saved is None:
                raise StepFailed(f"no backup of Node {node} in the journal")
            body = recreated_node(saved, target, r.plan.cluster["stamp"])
            try:
                await r.call(r.rest.create, NODES, None, body)
            except ApiStatusError as exc:
                if exc.code != 409:
                    raise
                current = await r.get(ref)
                if (current.get("spec") or {}).get("podCIDR") != target:
                    raise StepFailed(f"Node {node} came back with podCIDR "
                                     f"{(current.get('spec') or {}).get('podCIDR')} before it was re-created")
            r.log("info", step.id, f"created Node {node} with podCIDR {target}, labels and taints restored")
            return {"created": True}
        await r.action(step.id, f"create-node:{node}", create)
    task = next(t for t in step.hosts if t.node == node)
    await _host_task(r, step, task)
    await r.wait_for(step.id, "node ready", lambda: _node_ready(r, node, target))
    live = await r.get(ref)
    await r.update_live(step.id, f"uncordon:{node}", live, [("cordon", {"unschedulable": False})])


async def _node_gone_or_new(r: Runner, node: str, target: str) -> tuple[bool, str]:
    live = await r.get(ObjectRef("v1", "Node", node))
    if live is None:
        return True, f"node {node} deleted"
    if live["metadata"].get("deletionTimestamp"):
        return False, f"node {node} being deleted"
    return (live.get("spec") or {}).get("podCIDR") == target, f"node {node} present"


async def _node_ready(r: Runner, node: str, target: str) -> tuple[bool, str]:
    live = await r.get(ObjectRef("v1", "Node", node))
    if live is None:
        return False, f"node {node} not registered"
    parsed = parse_node(live)
    cidrs = ",".join(map(str, parsed.pod_cidrs)) or "(none)"
    if cidrs != target:
        raise StepFailed(f"node {node} has podCIDR {cidrs}, planned {target}")
    if not parsed.ready:
        return False, f"node {node} registered with podCIDR {cidrs}, not Ready yet"
    pods = await r.call(r.rest.list, PODS, None, "k8s-app=calico-node", f"spec.nodeName={node}")
    if pods and not any(pod_healthy(p) for p in pods):
        return False, f"node {node} Ready, calico-node starting"
    return True, f"node {node} Ready with podCIDR {cidrs}"


# --- manual host steps --------------------------------------------------------------------------

async def _host_task(r: Runner, step: Step, task) -> None:
    async def perform():
        if r.host_actions is None:
            r.log("warning", step.id, f"manual action on {task.node}: run these, then the runner continues "
                                      f"once it sees: {task.verify}")
            for command in task.commands:
                r.log("warning", step.id, f"  {command}")
            return {"performed": "by the operator"}
        await r.call(r.host_actions.perform, task)
        r.log("info", step.id, f"host action {task.action} on {task.node} (simulator)")
        return {"performed": "simulator"}
    await r.action(step.id, f"host:{task.action}:{task.node}", perform)


async def run_kcm(r: Runner, step: Step) -> None:
    total = len(step.hosts)
    for done, task in enumerate(step.hosts):
        r.progress(step.id, done, total, f"kube-controller-manager on {task.node}")
        await _host_task(r, step, task)
        await r.wait_for(step.id, f"kube-controller-manager on {task.node}", lambda t=task: _kcm_ok(r, t),
                         settle=r.options.settle)
    r.progress(step.id, total, total, "kube-controller-manager updated on every control-plane node")


async def _kcm_ok(r: Runner, task) -> tuple[bool, str]:
    name = f"kube-controller-manager-{task.node}"
    pod = await r.get(ObjectRef("v1", "Pod", name, "kube-system"))
    if pod is None:
        return False, f"{name} not there (kubelet restarting it)"
    kcm = parse_controller_manager(pod)
    wrong = {k: kcm.flags.get(k) for k, v in task.args.items() if kcm.flags.get(k) != v}
    if wrong:
        return False, f"{name} still runs with " + " ".join(f"--{k}={v}" for k, v in wrong.items())
    if kcm.pod.crash_looping or kcm.pod.restart_count > 0:
        log = await r.call(r.rest.text, f"/api/v1/namespaces/kube-system/pods/{name}/log")
        lines = [line for line in log.splitlines() if line.strip()]
        if lines and lines[-1].startswith("F"):  # klog's fatal severity: the process exited
            raise StepFailed(f"{name} is crash-looping ({kcm.pod.restart_count} restarts): {lines[-1]}")
        return False, f"{name} restarting ({kcm.pod.waiting_reason or 'waiting'})"
    if kcm.pod.phase != "Running" or not kcm.pod.ready:
        return False, f"{name} {kcm.pod.phase or 'Pending'}, not ready yet"
    return True, f"{name} (uid {pod['metadata'].get('uid', '')[:8]}) Running and Ready with the new flags"


# --- verification and deletion --------------------------------------------------------------------

async def _old_range_usage(r: Runner) -> tuple[int, int, int, int]:
    """(addresses allocated, blocks, pods, tunnel addresses) in the old range."""
    old = r.params.old
    blocks = [parse_ipamblock(b) for b in await r.call(r.rest.list, _resource(r.plan.cluster, "ipamblocks", "IPAMBlock"))]
    mine = [b for b in blocks if not b.deleted and overlaps(b.cidr, old)]
    allocated = sum(len(b.allocations) for b in mine)
    pods = _old_pods(await _workloads(r), old)
    nodes = await r.call(r.rest.list, NODES)
    tunnels = sum(1 for n in nodes for addr in parse_node(n).tunnel_addresses.values()
                  if isinstance(addr, ipaddress.IPv4Address) and addr in old)
    return allocated, len(mine), len(pods), tunnels


async def run_verify(r: Runner, step: Step) -> None:
    async def empty():
        allocated, blocks, pods, tunnels = await _old_range_usage(r)
        detail = (f"{allocated} addresses allocated in {blocks} blocks, {pods} pods, "
                  f"{tunnels} tunnel addresses in {r.params.old}")
        return allocated == 0 and pods == 0 and tunnels == 0, detail
    await r.wait_for(step.id, "old range", empty)


async def _release_old_blocks(r: Runner, step: Step) -> None:
    """After a raw v1 pool delete, what the Calico API server would have done (calico.md §5):
    the pool's empty blocks and their affinities go, each backed up first."""
    old = r.params.old
    blocks = await r.call(r.rest.list, IPAMBLOCKS_V1)
    affinities = await r.call(r.rest.list, BLOCKAFFINITIES_V1)
    doomed = [(IPAMBLOCKS_V1, b) for b in blocks
              if overlaps(parse_ipamblock(b).cidr, old) and parse_ipamblock(b).in_use == 0]
    doomed += [(BLOCKAFFINITIES_V1, a) for a in affinities if overlaps(parse_cidr(a["spec"]["cidr"]), old)]
    for res, obj in doomed:
        key = f"delete:{res.kind} {name_of(obj)}"

        async def delete(res=res, obj=obj, key=key):
            r.backup(step.id, key, obj)
            await r.delete_uid(res, None, name_of(obj), obj["metadata"]["uid"])
            return {"deleted": True}
        await r.action(step.id, key, delete)


async def run_delete_old_pool(r: Runner, step: Step) -> None:
    await apply_all(r, step)
    if any(c.op == "delete" and c.ref.api_version == IPPOOLS_V1.api_version for c in step.changes):
        await _release_old_blocks(r, step)

    async def gone():
        pool = await _pool(r, r.params.old_pool)
        _, blocks, _, _ = await _old_range_usage(r)
        if pool is not None:
            return False, f"pool {r.params.old_pool} still there"
        return blocks == 0, f"pool {r.params.old_pool} deleted, {blocks} blocks left in {r.params.old}"
    await r.wait_for(step.id, "old pool", gone)


EXECUTORS = {
    "create-pool": run_create_pool,
    "kube-proxy": run_kube_proxy,
    "cni-pins": run_cni_pins,
    "disable-old-pool": run_disable_old_pool,
    "roll-workloads": run_roll,
    "node-podcidrs": run_node_podcidrs,
    "kcm-pause-allocation": run_kcm,
    "kube-controller-manager": run_kcm,
    "kubeadm-config": run_kubeadm,
    "verify-old-pool-empty": run_verify,
    "delete-old-pool": run_delete_old_pool,
    "calico-node-env": run_calico_node_env,
}
