"""kube-controller-manager's workload controllers: ReplicaSet, Deployment, StatefulSet, DaemonSet,
and the disruption controller that publishes PodDisruptionBudget status.

They keep the desired number of pods (deleted or evicted pods are replaced with new names, uids and
addresses), roll pods when the template changes (`kubectl rollout restart` changes an annotation)
within maxSurge/maxUnavailable or one ordinal at a time, and stop while no kube-controller-manager
runs, as on a real cluster.
"""

from __future__ import annotations

import json

from tui.sim.clock import rfc3339
from tui.sim.controllers.base import (BY_NAMESPACE, BY_OWNER, DAEMONSETS, DEPLOYMENTS, NODES, PDBS, PODS,
                                      REPLICASETS, STATEFULSETS, Controller, controlled_by, controller_uid,
                                      key_of)
from tui.sim.controllers.scheduler import affinity_matches, untolerated
from tui.model.disruption import budget, expected_pods, scaled, selector_matches
from tui.sim.kinds import pod_spec_defaults
from tui.sim.naming import revision_hash, template_hash
from tui.sim.pod_objects import (DAEMONSET_HOSTNETWORK_TOLERATION, DAEMONSET_TOLERATIONS, is_ready, is_terminal,
                                 pod_from_template)

POD, RS, DEPLOY = key_of(PODS), key_of(REPLICASETS), key_of(DEPLOYMENTS)
STS, DS, PDB, NODE = key_of(STATEFULSETS), key_of(DAEMONSETS), key_of(PDBS), key_of(NODES)
_OWNER_KEYS = {("v1", "Node"): NODE, ("apps/v1", "ReplicaSet"): RS, ("apps/v1", "Deployment"): DEPLOY,
               ("apps/v1", "StatefulSet"): STS, ("apps/v1", "DaemonSet"): DS}
_UNKNOWN_OWNER = {"metadata": {"finalizers": []}}
HASH_LABELS = ("pod-template-hash", "controller-revision-hash", "pod-template-generation")
REVISION = "deployment.kubernetes.io/revision"


def active(pod: dict) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and not is_terminal(pod)


def template_key(template: dict) -> str:
    """A template compared the way controllers compare them: defaults applied, hash labels ignored."""
    cached = _TEMPLATE_KEYS.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1]
    if len(_TEMPLATE_KEYS) > 50_000:
        _TEMPLATE_KEYS.clear()
    key = _template_key(template)
    _TEMPLATE_KEYS[id(template)] = (template, key)  # holds the template: its id stays unique
    return key


_TEMPLATE_KEYS: dict[int, tuple[dict, str]] = {}


def _template_key(template: dict) -> str:
    meta = dict(template.get("metadata") or {})
    meta["labels"] = {k: v for k, v in (meta.get("labels") or {}).items() if k not in HASH_LABELS}
    spec = json.loads(json.dumps(template.get("spec") or {}))
    pod_spec_defaults(spec, admission=False)
    return json.dumps({"metadata": meta, "spec": spec}, sort_keys=True)


def owner_ref(obj: dict) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"]}


def owned_pod(owner: dict, name: str, extra_labels: dict, generate_name: str | None = None,
              spec_changes: dict | None = None) -> dict:
    """The pod a workload controller submits for `owner` (a ReplicaSet, StatefulSet or DaemonSet)."""
    template = owner["spec"]["template"]
    if spec_changes:
        template = {**template, "spec": {**template.get("spec", {}), **spec_changes}}
    return pod_from_template(template, name, owner["metadata"]["namespace"], owner_ref(owner), generate_name,
                             extra_labels)


def daemon_tolerations(ds: dict) -> list[dict]:
    """The pod template's tolerations plus those the DaemonSet controller adds to every pod."""
    spec = ds["spec"]["template"].get("spec") or {}
    tolerations = list(spec.get("tolerations") or [])
    extra = DAEMONSET_TOLERATIONS + ([DAEMONSET_HOSTNETWORK_TOLERATION] if spec.get("hostNetwork") else [])
    present = {(t.get("key"), t.get("effect")) for t in tolerations}
    return tolerations + [dict(t) for t in extra if (t["key"], t["effect"]) not in present]


def node_affinity(node: str) -> dict:
    """Required node affinity on the node's name: how DaemonSet pods are pinned."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}


def daemon_pod(ds: dict, node: str, name: str, revision: str) -> dict:
    """The DaemonSet controller's pod for one node."""
    affinity = node_affinity(node)
    labels = {"controller-revision-hash": revision, "pod-template-generation": str(ds["metadata"].get("generation", 1))}
    return owned_pod(ds, name, labels, generate_name=f"{ds['metadata']['name']}-",
                     spec_changes={"affinity": affinity, "tolerations": daemon_tolerations(ds), "nodeName": node})


def new_replicaset(d: dict, revision: int, replicas: int) -> dict:
    """The ReplicaSet a Deployment creates for its current template (`<name>-<pod-template-hash>`)."""
    template = json.loads(json.dumps(d["spec"]["template"]))
    digest = template_hash(template)
    template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = digest
    selector = json.loads(json.dumps(d["spec"]["selector"]))
    selector.setdefault("matchLabels", {})["pod-template-hash"] = digest
    desired = str(d["spec"].get("replicas", 1))
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{d['metadata']['name']}-{digest}", "namespace": d["metadata"]["namespace"],
                     "labels": dict(template["metadata"]["labels"]),
                     "annotations": {"deployment.kubernetes.io/desired-replicas": desired,
                                     "deployment.kubernetes.io/max-replicas": desired, REVISION: str(revision)},
                     "ownerReferences": [{**owner_ref(d), "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    }


def _nonzero(status: dict, keep: tuple[str, ...]) -> dict:
    """Drop zero counters, as Go's omitempty does, except those serialised always."""
    return {k: v for k, v in status.items() if v or k in keep}


def replicaset_status(rs: dict, pods: list[dict]) -> dict:
    pods = [p for p in pods if active(p)]
    ready = sum(1 for p in pods if is_ready(p))
    return _nonzero({"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                     "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)},
                    ("replicas", "observedGeneration"))


def deployment_status(d: dict, rss: list[tuple[dict, list[dict]]], now: float) -> dict:
    """A Deployment's status from its ReplicaSets and their pods; condition times carry over."""
    replicas = int(d["spec"].get("replicas", 1))
    wanted = template_key(d["spec"]["template"])
    current = [(rs, pods) for rs, pods in rss if template_key(rs["spec"]["template"]) == wanted]
    pods = [p for _, ps in rss for p in ps if active(p)]
    updated = [p for _, ps in current for p in ps if active(p)]
    ready = sum(1 for p in pods if is_ready(p))
    rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    min_available = replicas - scaled(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    new_name = current[0][0]["metadata"]["name"] if current else ""
    stamp = rfc3339(now)
    complete = len(updated) == replicas == len(pods) and ready == replicas
    old = {c["type"]: c for c in (d.get("status") or {}).get("conditions") or []}

    def condition(kind, status, reason, message):
        prev = old.get(kind) or {}
        same = prev.get("status") == status
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastUpdateTime": prev.get("lastUpdateTime", stamp) if same and prev.get("reason") == reason
                else stamp,
                "lastTransitionTime": prev.get("lastTransitionTime", stamp) if same else stamp}

    available_ok = ready >= min_available
    conditions = [
        condition("Available", "True" if available_ok else "False",
                  "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
                  "Deployment has minimum availability." if available_ok
                  else "Deployment does not have minimum availability."),
        condition("Progressing", "True", "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                  f'ReplicaSet "{new_name}" has successfully progressed.' if complete
                  else f'ReplicaSet "{new_name}" is progressing.'),
    ]
    return _nonzero({"observedGeneration": d["metadata"].get("generation", 1), "replicas": len(pods),
                     "updatedReplicas": len(updated), "readyReplicas": ready, "availableReplicas": ready,
                     "unavailableReplicas": max(0, replicas - ready), "conditions": conditions},
                    ("observedGeneration", "replicas", "conditions"))


def daemonset_status(ds: dict, pods: list[dict], eligible: set[str], revision: str) -> dict:
    pods = [p for p in pods if active(p)]
    on = {p["spec"].get("nodeName") for p in pods}
    ready = sum(1 for p in pods if is_ready(p) and p["spec"].get("nodeName") in eligible)
    updated = sum(1 for p in pods if p["metadata"].get("labels", {}).get("controller-revision-hash") == revision)
    return _nonzero({"currentNumberScheduled": len(on & eligible), "desiredNumberScheduled": len(eligible),
                     "numberMisscheduled": len(on - eligible), "numberReady": ready,
                     "observedGeneration": ds["metadata"].get("generation", 1), "updatedNumberScheduled": updated,
                     "numberAvailable": ready, "numberUnavailable": len(eligible) - ready},
                    ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady",
                     "observedGeneration"))


def _key(obj: dict) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _deletion_rank(pod: dict):
    """Which pods a ReplicaSet removes first: unscheduled, pending, not ready, then the newest."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get((pod.get("status") or {}).get("phase"), 0)
    return (bool(pod["spec"].get("nodeName")), phase_rank, is_ready(pod),
            [-ord(c) for c in pod["metadata"].get("creationTimestamp", "")])


class WorkloadController(Controller):
    kcm = True
    own: tuple = ()  # the workload key
    gvr: tuple = ()

    def initial_keys(self):
        return [_key(o) for o in self.cache.list(self.own)]

    def on_change(self, event, key, obj, old):
        if key == self.own:
            yield _key(obj)
        elif key == POD:
            yield from self._owners_of(obj, self.own)

    def _owners_of(self, obj: dict, kind_key) -> list[tuple[str, str]]:
        out = []
        for uid in controller_uid(obj):
            ref = next(r for r in obj["metadata"]["ownerReferences"] if r["uid"] == uid)
            owner = self.cache.get(kind_key, obj["metadata"].get("namespace"), ref["name"])
            if owner is not None and owner["metadata"]["uid"] == uid:
                out.append(_key(owner))
        return out

    def pods_of(self, obj: dict) -> list[dict]:
        return controlled_by(self.cache, POD, obj["metadata"]["uid"])

    def unique_name(self, namespace: str, prefix: str) -> str:
        while True:
            name = f"{prefix}{self.ctx.namer.suffix()}"
            if self.cache.get(POD, namespace, name) is None:
                return name

    def create_pod(self, pod: dict) -> None:
        self.ctx.api.create(self.ctx.res(PODS), pod["metadata"]["namespace"], pod)

    def delete_pod(self, pod: dict) -> None:
        self.ctx.api.delete(self.ctx.res(PODS), pod["metadata"]["namespace"], pod["metadata"]["name"])


def owner_of(cache, ref: dict, namespace: str) -> dict | None:
    """The live owner an ownerReference points at; None when it is gone (unknown kinds count as live)."""
    owner_key = _OWNER_KEYS.get((ref.get("apiVersion"), ref.get("kind")))
    if owner_key is None:
        return _UNKNOWN_OWNER
    owner = cache.get(owner_key, None if owner_key == NODE else namespace, ref.get("name", ""))
    return owner if owner is not None and owner["metadata"].get("uid") == ref.get("uid") else None


def _placement(node: dict) -> tuple:
    """What decides whether a DaemonSet runs on a node."""
    meta = node.get("metadata") or {}
    return meta.get("labels"), (node.get("spec") or {}).get("taints"), meta.get("deletionTimestamp")


class Revisions:
    """Template -> revision name per workload, learnt from the pods on first sight, so a workload
    loaded from a snapshot keeps its pods until its template really changes."""

    def __init__(self) -> None:
        self._known: dict[str, dict[str, str]] = {}

    def revision(self, obj: dict, pods: list[dict], fresh: str) -> str:
        known = self._known.setdefault(obj["metadata"]["uid"], {})
        key = template_key(obj["spec"]["template"])
        if key not in known:
            status_rev = (obj.get("status") or {}).get("updateRevision")
            labels = [p["metadata"].get("labels", {}).get("controller-revision-hash") for p in pods]
            if not known and (status_rev or any(labels)):
                known[key] = status_rev or max(set(labels) - {None}, key=labels.count)
            else:
                known[key] = fresh
        return known[key]


class ReplicaSetController(WorkloadController):
    name = "replicaset-controller"
    own, gvr = RS, REPLICASETS

    def sync(self, key) -> None:
        rs = self.cache.get(RS, *key)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        pods = [p for p in self.pods_of(rs) if active(p)]
        want = int(rs["spec"].get("replicas", 1))
        prefix = f"{rs['metadata']['name']}-"
        for _ in range(want - len(pods)):
            self.create_pod(owned_pod(rs, self.unique_name(key[0], prefix), {}, generate_name=prefix))
        if len(pods) > want:
            for pod in sorted(pods, key=_deletion_rank)[:len(pods) - want]:
                self.delete_pod(pod)
        rs = self.cache.get(RS, *key)
        self.set_status(REPLICASETS, rs, replicaset_status(rs, self.pods_of(rs)))


class DeploymentController(WorkloadController):
    name = "deployment-controller"
    own, gvr = DEPLOY, DEPLOYMENTS

    def on_change(self, event, key, obj, old):
        if key == DEPLOY:
            yield _key(obj)
        elif key == RS:
            yield from self._owners_of(obj, DEPLOY)
        elif key == POD:
            for rs_key in self._owners_of(obj, RS):
                rs = self.cache.get(RS, *rs_key)
                yield from self._owners_of(rs, DEPLOY)

    def sync(self, key) -> None:
        d = self.cache.get(DEPLOY, *key)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        spec = d["spec"]
        replicas = int(spec.get("replicas", 1))
        rss = controlled_by(self.cache, RS, d["metadata"]["uid"])
        wanted = template_key(spec["template"])
        new = next((r for r in rss if template_key(r["spec"]["template"]) == wanted), None)
        olds = [r for r in rss if r is not new]
        if new is None:
            new = self._create_rs(d, olds, 0 if any(r["spec"].get("replicas") for r in olds) else replicas)
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            self._recreate(new, olds, replicas)
        else:
            self._rolling(d, new, olds, replicas)
        self._cleanup(d)
        self._status(key)

    def _create_rs(self, d: dict, olds: list[dict], replicas: int) -> dict:
        revision = 1 + max((int(r["metadata"].get("annotations", {}).get(REVISION, "0")) for r in olds), default=0)
        rs = new_replicaset(d, revision, replicas)
        self.ctx.events.emit(d, "ScalingReplicaSet", f"Scaled up replica set {rs['metadata']['name']} from 0 to "
                             f"{replicas}", component="deployment-controller")
        return self.ctx.api.create(self.ctx.res(REPLICASETS), rs["metadata"]["namespace"], rs)

    def _scale(self, d: dict | None, rs: dict, replicas: int) -> None:
        current = int(rs["spec"].get("replicas", 0))
        if current == replicas:
            return
        meta = rs["metadata"]
        self.ctx.api.patch(self.ctx.res(REPLICASETS), meta["namespace"], meta["name"],
                           {"spec": {"replicas": replicas}}, "application/merge-patch+json")
        if d is not None:
            verb = "up" if replicas > current else "down"
            self.ctx.events.emit(d, "ScalingReplicaSet",
                                 f"Scaled {verb} replica set {meta['name']} from {current} to {replicas}",
                                 component="deployment-controller")

    def _available(self, rs: dict) -> int:
        """Ready pods of a ReplicaSet, never more than it is scaled to (surplus pods are on their way out)."""
        ready = sum(1 for p in self.pods_of(rs) if active(p) and is_ready(p))
        return min(ready, int(rs["spec"].get("replicas", 0)))

    def _rolling(self, d: dict, new: dict, olds: list[dict], replicas: int) -> None:
        rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        surge = scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)
        unavailable = scaled(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        olds = [r for r in olds if int(r["spec"].get("replicas", 0)) > 0]
        if not olds:
            self._scale(d, new, replicas)
            return
        total = sum(int(r["spec"].get("replicas", 0)) for r in olds + [new])
        new_replicas = int(new["spec"].get("replicas", 0))
        if new_replicas < replicas and total < replicas + surge:
            grown = min(replicas, new_replicas + replicas + surge - total)
            self._scale(d, new, grown)
            new_replicas, total = grown, total + grown - new_replicas
        min_available = replicas - unavailable
        new_unavailable = new_replicas - self._available(new)
        budget_left = total - min_available - new_unavailable
        # unhealthy old replicas go first, then old available ones while enough stay available
        for rs in olds:
            if budget_left <= 0:
                break
            unhealthy = int(rs["spec"]["replicas"]) - self._available(rs)
            cut = min(unhealthy, budget_left)
            if cut > 0:
                self._scale(d, rs, int(rs["spec"]["replicas"]) - cut)
                budget_left -= cut
        olds = [self.cache.get(RS, *_key(r)) for r in olds]
        available = self._available(new) + sum(self._available(r) for r in olds)
        spare = available - min_available
        for rs in sorted(olds, key=lambda r: r["metadata"].get("creationTimestamp", "")):
            if spare <= 0:
                break
            cut = min(int(rs["spec"].get("replicas", 0)), spare)
            if cut > 0:
                self._scale(d, rs, int(rs["spec"]["replicas"]) - cut)
                spare -= cut

    def _recreate(self, new: dict, olds: list[dict], replicas: int) -> None:
        for rs in olds:
            self._scale(None, rs, 0)
        if any(self.pods_of(rs) for rs in olds):
            return  # wait until every old pod is gone
        self._scale(None, new, replicas)

    def _cleanup(self, d: dict) -> None:
        limit = int(d["spec"].get("revisionHistoryLimit", 10))
        rss = controlled_by(self.cache, RS, d["metadata"]["uid"])
        spent = [r for r in rss if not r["spec"].get("replicas") and not self.pods_of(r)
                 and template_key(r["spec"]["template"]) != template_key(d["spec"]["template"])]
        spent.sort(key=lambda r: int(r["metadata"].get("annotations", {}).get(REVISION, "0")))
        for rs in spent[:max(0, len(spent) - limit)]:
            self.ctx.api.delete(self.ctx.res(REPLICASETS), rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _status(self, key) -> None:
        d = self.cache.get(DEPLOY, *key)
        rss = controlled_by(self.cache, RS, d["metadata"]["uid"])
        self.set_status(DEPLOYMENTS, d, deployment_status(d, [(r, self.pods_of(r)) for r in rss], self.ctx.now()))


class StatefulSetController(WorkloadController):
    name = "statefulset-controller"
    own, gvr = STS, STATEFULSETS

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.revisions = Revisions()

    def sync(self, key) -> None:
        sts = self.cache.get(STS, *key)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        namespace, name = key
        spec = sts["spec"]
        replicas = int(spec.get("replicas", 1))
        owned = self.pods_of(sts)
        revision = self.revisions.revision(sts, owned, f"{name}-{revision_hash(spec['template'])}")
        by_ordinal = {}
        for pod in owned:
            suffix = pod["metadata"]["name"][len(name) + 1:]
            if suffix.isdigit():
                by_ordinal[int(suffix)] = pod
        parallel = spec.get("podManagementPolicy") == "Parallel"
        for ordinal in range(replicas):
            pod = by_ordinal.get(ordinal)
            if pod is None:
                self._create(sts, ordinal, revision)
                if not parallel:
                    break  # OrderedReady: one pod at a time, each Running and Ready before the next
            elif not parallel and not (active(pod) and is_ready(pod)):
                break
        else:
            self._scale_down_or_roll(sts, by_ordinal, replicas, revision, parallel)
        self._status(key, revision)

    def _create(self, sts: dict, ordinal: int, revision: str) -> None:
        name = f"{sts['metadata']['name']}-{ordinal}"
        labels = {"controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": name,
                  "apps.kubernetes.io/pod-index": str(ordinal)}
        changes = {"hostname": name}
        if sts["spec"].get("serviceName"):
            changes["subdomain"] = sts["spec"]["serviceName"]
        self.create_pod(owned_pod(sts, name, labels, spec_changes=changes))

    def _scale_down_or_roll(self, sts, by_ordinal, replicas, revision, parallel) -> None:
        extra = sorted((o for o in by_ordinal if o >= replicas), reverse=True)
        for ordinal in extra:
            if active(by_ordinal[ordinal]):
                self.delete_pod(by_ordinal[ordinal])
            if not parallel:
                return
        if extra:
            return
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
        if not all(active(p) and is_ready(p) for p in by_ordinal.values()):
            return
        for ordinal in sorted(by_ordinal, reverse=True):
            pod = by_ordinal[ordinal]
            if ordinal >= partition and pod["metadata"].get("labels", {}).get("controller-revision-hash") != revision:
                self.delete_pod(pod)
                return

    def _status(self, key, revision: str) -> None:
        sts = self.cache.get(STS, *key)
        pods = [p for p in self.pods_of(sts) if active(p)]
        updated = sum(1 for p in pods if p["metadata"].get("labels", {}).get("controller-revision-hash") == revision)
        ready = sum(1 for p in pods if is_ready(p))
        replicas = int(sts["spec"].get("replicas", 1))
        old = sts.get("status") or {}
        current = revision if updated == len(pods) == replicas else old.get("currentRevision", revision)
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods),
                  "readyReplicas": ready, "currentReplicas": len(pods) - (0 if current == revision else updated),
                  "updatedReplicas": updated, "currentRevision": current, "updateRevision": revision,
                  "collisionCount": 0, "availableReplicas": ready}
        self.set_status(STATEFULSETS, sts, _nonzero(status, ("observedGeneration", "replicas", "collisionCount",
                                                             "availableReplicas")))


class DaemonSetController(WorkloadController):
    name = "daemonset-controller"
    own, gvr = DS, DAEMONSETS

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.revisions = Revisions()

    def on_change(self, event, key, obj, old):
        if key == NODE:
            if event != "MODIFIED" or _placement(obj) != _placement(old or {}):
                yield from self.initial_keys()
        else:
            yield from super().on_change(event, key, obj, old)

    def should_run(self, ds: dict, node: dict, tolerations: list[dict]) -> bool:
        if node["metadata"].get("deletionTimestamp"):
            return False
        probe = {"spec": {**(ds["spec"]["template"].get("spec") or {}), "tolerations": tolerations}}
        return affinity_matches(probe, node) and untolerated(probe, node) is None

    def sync(self, key) -> None:
        ds = self.cache.get(DS, *key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        owned = self.pods_of(ds)
        revision = self.revisions.revision(ds, owned, revision_hash(ds["spec"]["template"]))
        tolerations = daemon_tolerations(ds)
        by_node: dict[str, list[dict]] = {}
        for pod in owned:
            if active(pod):
                by_node.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
        nodes = self.cache.list(NODE)
        eligible = {n["metadata"]["name"] for n in nodes if self.should_run(ds, n, tolerations)}
        for node in sorted(eligible):
            pods = by_node.get(node, [])
            if not pods:
                self.create_pod(daemon_pod(ds, node, self.unique_name(ds["metadata"]["namespace"],
                                                                      f"{ds['metadata']['name']}-"), revision))
            for extra in pods[1:]:
                self.delete_pod(extra)
        for node, pods in by_node.items():
            if node not in eligible:
                for pod in pods:
                    self.delete_pod(pod)
        self._roll(ds, eligible, revision)
        self._status(key, eligible, revision)

    def _roll(self, ds: dict, eligible: set[str], revision: str) -> None:
        strategy = ds["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        max_unavailable = scaled((strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(eligible),
                                 round_up=True) or 1
        pods = {}
        for pod in self.pods_of(ds):
            if active(pod):
                pods.setdefault(pod["spec"].get("nodeName"), pod)
        unavailable = sum(1 for n in eligible if n not in pods or not is_ready(pods[n]))
        old = [pods[n] for n in sorted(pods) if n in eligible
               and pods[n]["metadata"].get("labels", {}).get("controller-revision-hash") != revision]
        old.sort(key=is_ready)  # not-ready old pods first: replacing them costs no availability
        for pod in old:
            if is_ready(pod) and unavailable >= max_unavailable:
                break
            self.delete_pod(pod)
            if is_ready(pod):
                unavailable += 1

    def _status(self, key, eligible: set[str], revision: str) -> None:
        ds = self.cache.get(DS, *key)
        self.set_status(DAEMONSETS, ds, daemonset_status(ds, self.pods_of(ds), eligible, revision))


class DisruptionController(Controller):
    """Publishes PodDisruptionBudget status from the pods it selects."""

    name = "disruption-controller"
    kcm = True

    def initial_keys(self):
        return [_key(p) for p in self.cache.list(PDB)]

    def on_change(self, event, key, obj, old):
        if key == PDB:
            yield _key(obj)
        elif key == POD:
            labels = obj["metadata"].get("labels") or {}
            for pdb in self.cache.list(PDB, obj["metadata"].get("namespace") or ""):
                if selector_matches(pdb["spec"].get("selector"), labels):
                    yield _key(pdb)

    def sync(self, key) -> None:
        pdb = self.cache.get(PDB, *key)
        if pdb is None:
            return
        selector = pdb["spec"].get("selector")
        pods = [p for p in self.cache.by_index(POD, BY_NAMESPACE, key[0])
                if selector_matches(selector, p["metadata"].get("labels"))]
        figures = budget(pdb, pods, expected_pods(pods, lambda ref, ns: owner_of(self.cache, ref, ns)))
        allowed = figures["disruptionsAllowed"] > 0
        now = rfc3339(self.ctx.now())
        prev = next((c for c in (pdb.get("status") or {}).get("conditions") or []
                     if c.get("type") == "DisruptionAllowed"), {})
        status_text = "True" if allowed else "False"
        condition = {"type": "DisruptionAllowed", "status": status_text,
                     "reason": "SufficientPods" if allowed else "InsufficientPods", "message": "",
                     "observedGeneration": pdb["metadata"].get("generation", 1),
                     "lastTransitionTime": prev.get("lastTransitionTime", now) if prev.get("status") == status_text
                     else now}
        status = {**figures, "observedGeneration": pdb["metadata"].get("generation", 1), "conditions": [condition]}
        self.set_status(PDBS, pdb, status)


class GarbageCollector(Controller):
    """Deletes dependents whose owners are gone (background), and carries out foreground and orphan
    deletion of owners that carry the `foregroundDeletion` / `orphan` finalizer."""

    name = "garbage-collector"
    kcm = True
    DEPENDENTS = (POD, RS)

    def initial_keys(self):
        """The start-up scan: dependents with an owner that is gone."""
        for key in self.DEPENDENTS:
            for obj in self.cache.list(key):
                namespace = obj["metadata"].get("namespace", "")
                if any(self._lookup(r, namespace) is None for r in obj["metadata"].get("ownerReferences") or []):
                    yield ("dependent", key, *_key(obj))

    def on_change(self, event, key, obj, old):
        uid = obj["metadata"].get("uid")
        if event == "DELETED" or set(obj["metadata"].get("finalizers") or []) & {"foregroundDeletion", "orphan"}:
            for dep_key in self.DEPENDENTS:
                for dep in self.cache.by_index(dep_key, BY_OWNER, uid):
                    yield ("dependent", dep_key, *_key(dep))
            if event != "DELETED":
                yield ("owner", key, *_key(obj))
        if key in self.DEPENDENTS and obj["metadata"].get("ownerReferences"):
            if event == "ADDED":
                yield ("dependent", key, *_key(obj))
            elif event == "DELETED":  # a foreground-deleted owner may now be finished
                for ref in obj["metadata"]["ownerReferences"]:
                    owner_key = _OWNER_KEYS.get((ref.get("apiVersion"), ref.get("kind")))
                    if owner_key:
                        namespace = "" if owner_key == NODE else obj["metadata"].get("namespace", "")
                        yield ("owner", owner_key, namespace, ref.get("name", ""))

    def _lookup(self, ref: dict, namespace: str) -> dict | None:
        return owner_of(self.cache, ref, namespace)

    def sync(self, key) -> None:
        kind, obj_key, namespace, name = key
        gvr = {POD: PODS, RS: REPLICASETS, DEPLOY: DEPLOYMENTS, STS: STATEFULSETS, DS: DAEMONSETS,
               NODE: NODES}.get(obj_key)
        obj = self.cache.get(obj_key, namespace, name)
        if obj is None or gvr is None:
            return
        api, res = self.ctx.api, self.ctx.res(gvr)
        if kind == "owner":
            self._finish_owner(obj, gvr)
            return
        refs = obj["metadata"].get("ownerReferences") or []
        owners = [(r, self._lookup(r, namespace)) for r in refs]
        if obj["metadata"].get("deletionTimestamp"):
            return
        orphaning = [r for r, o in owners if o and "orphan" in (o["metadata"].get("finalizers") or [])]
        if orphaning:
            keep = [r for r in refs if r not in orphaning]
            api.patch(res, namespace or None, name, {"metadata": {"ownerReferences": keep or None}},
                      "application/merge-patch+json")
            return
        if all(o is None or "foregroundDeletion" in (o["metadata"].get("finalizers") or []) for _, o in owners):
            api.delete(res, namespace or None, name, propagation_policy="Background")

    def _finish_owner(self, owner: dict, gvr) -> None:
        finalizers = owner["metadata"].get("finalizers") or []
        uid = owner["metadata"]["uid"]
        left = any(self.cache.by_index(k, BY_OWNER, uid) for k in self.DEPENDENTS)
        if not owner["metadata"].get("deletionTimestamp") or left:
            return
        keep = [f for f in finalizers if f not in ("foregroundDeletion", "orphan")]
        meta = owner["metadata"]
        self.ctx.api.patch(self.ctx.res(gvr), meta.get("namespace"), meta["name"],
                           {"metadata": {"finalizers": keep or None}}, "application/merge-patch+json")
