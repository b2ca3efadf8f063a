"""Pods and what owns them: the part of the cluster a pool migration has to roll.

The data layer never watches pods cluster-wide; the migration reads them once per plan (and again
while rolling) together with their owners, PodDisruptionBudgets and namespaces. The helpers below
are pure: which pods hold an address in a range, who restarts a pod when it goes away, which
budgets guard it and whether a budget can ever allow an eviction (the disruption controller's
arithmetic, shared with the simulator in tui.model.disruption).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Iterable

from tui.migrate.rest import (DAEMONSETS, DEPLOYMENTS, NAMESPACES, PDBS, PODS, REPLICASETS,
                              STATEFULSETS, Rest)
from tui.migrate.transforms import PIN_ANNOTATION
from tui.model.cidr import Network
from tui.model.raw import (Malformed, lookup, object_name, objects, opt_bool, opt_int, opt_map, opt_str, read_meta,
                           str_map)
from tui.model.disruption import budget, expected_pods, selector_matches

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass(frozen=True)
class Workloads:
    pods: tuple[dict, ...] = ()
    replicasets: tuple[dict, ...] = ()
    deployments: tuple[dict, ...] = ()
    statefulsets: tuple[dict, ...] = ()
    daemonsets: tuple[dict, ...] = ()
    pdbs: tuple[dict, ...] = ()
    namespaces: tuple[dict, ...] = ()
    owners: dict = field(default_factory=dict, compare=False)
    invalid: tuple[tuple[str, str, str], ...] = ()  # (kind, namespace/name, why) left out as unreadable

    @classmethod
    def readable(cls, **collections: Iterable[dict]) -> "Workloads":
        """Only objects the helpers below can read; the others are listed in `invalid` (the API
        serves whatever etcd holds, and one broken pod must not crash a plan)."""
        kept, invalid = {}, []
        for name, items in collections.items():
            kept[name] = []
            for obj in items:
                problem = shape_problem(obj)
                if problem is None:
                    kept[name].append(obj)
                else:
                    invalid.append((str(obj.get("kind") or name), object_name(obj), problem))
        return cls(**{k: tuple(v) for k, v in kept.items()}, invalid=tuple(invalid))

    def owner(self, kind: str, namespace: str, name: str) -> dict | None:
        if not self.owners:
            for collection in (self.deployments, self.statefulsets, self.daemonsets, self.replicasets):
                for obj in collection:
                    self.owners[(obj.get("kind"), namespace_of(obj), name_of(obj))] = obj
        return self.owners.get((kind, namespace, name))


def read_workloads(rest: Rest) -> Workloads:
    return Workloads.readable(
        pods=rest.list(PODS), replicasets=rest.list(REPLICASETS), deployments=rest.list(DEPLOYMENTS),
        statefulsets=rest.list(STATEFULSETS), daemonsets=rest.list(DAEMONSETS), pdbs=rest.list(PDBS),
        namespaces=rest.list(NAMESPACES))


def shape_problem(obj: dict) -> str | None:
    """Why the helpers here cannot read `obj` (a field they use is of the wrong type), or None."""
    try:
        read_meta(obj)
        for ref in objects(obj, "metadata.ownerReferences"):
            for key in ("kind", "name", "uid"):
                opt_str(ref, key)
            opt_bool(ref, "controller")
        for read, paths in (
                (opt_map, ("spec", "status", "spec.template", "spec.template.metadata", "spec.selector")),
                (str_map, ("spec.template.metadata.labels", "spec.template.metadata.annotations",
                           "spec.selector.matchLabels")),
                (objects, ("spec.selector.matchExpressions", "status.podIPs")),
                (opt_str, ("spec.nodeName", "status.phase", "status.podIP")),
                (opt_bool, ("spec.hostNetwork",)),
                (opt_int, ("spec.replicas", "status.observedGeneration", "status.updatedReplicas",
                           "status.desiredNumberScheduled", "status.updatedNumberScheduled"))):
            for path in paths:
                read(obj, path)
        for path in ("spec.minAvailable", "spec.maxUnavailable"):  # PodDisruptionBudget: 2 or "50%"
            value = lookup(obj, path)
            if value is not None and not (type(value) is int or isinstance(value, str)
                                          and re.fullmatch(r"\d+%?", value)):
                raise Malformed(f"{path}: expected an integer or a percentage, got {value!r:.40}")
    except Malformed as exc:
        return str(exc)
    return None


def name_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def namespace_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace") or ""


def pod_key(pod: dict) -> str:
    return f"{namespace_of(pod)}/{name_of(pod)}"


def pod_ips(pod: dict) -> list[str]:
    status = pod.get("status") or {}
    ips = [e.get("ip") for e in status.get("podIPs") or [] if isinstance(e, dict) and e.get("ip")]
    if status.get("podIP") and status["podIP"] not in ips:
        ips.append(status["podIP"])
    return ips


def in_network(pod: dict, network: Network) -> bool:
    """A pod-network pod with an address inside `network` (host-network pods carry the node IP)."""
    if (pod.get("spec") or {}).get("hostNetwork"):
        return False
    for text in pod_ips(pod):
        try:
            if ipaddress.ip_address(text) in network:
                return True
        except ValueError:
            continue
    return False


def is_terminating(pod: dict) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp")) or \
        (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_mirror(pod: dict) -> bool:
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def controller_of(obj: dict) -> tuple[str, str] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("kind"), ref.get("name")
    return None


def top_owner(pod: dict, workloads: Workloads) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of what recreates the pod: ReplicaSets resolve to their Deployment.
    None for bare pods, which nothing recreates."""
    ref = controller_of(pod)
    if ref is None:
        return None
    kind, name = ref
    namespace = namespace_of(pod)
    if kind == "ReplicaSet":
        replicaset = workloads.owner("ReplicaSet", namespace, name)
        parent = controller_of(replicaset) if replicaset else None
        if parent and parent[0] == "Deployment":
            return "Deployment", namespace, parent[1]
    return kind, namespace, name


def pods_to_move(workloads: Workloads, old: Network) -> list[dict]:
    """Live, non-mirror pods holding an address of the old range, in a stable order."""
    pods = [p for p in workloads.pods
            if in_network(p, old) and not is_terminating(p) and not is_mirror(p)]
    return sorted(pods, key=pod_key)


def pdbs_for(pod: dict, workloads: Workloads) -> list[dict]:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return [b for b in workloads.pdbs if namespace_of(b) == namespace_of(pod)
            and selector_matches((b.get("spec") or {}).get("selector"), labels)]


def disruptions_allowed(pdb: dict, workloads: Workloads) -> tuple[int, int, int, int]:
    """(allowed disruptions, healthy pods, pods the budget wants healthy, pods expected), as the
    disruption controller computes them from the pods it selects."""
    selector = (pdb.get("spec") or {}).get("selector")
    pods = [p for p in workloads.pods if namespace_of(p) == namespace_of(pdb) and not is_terminating(p)
            and selector_matches(selector, (p.get("metadata") or {}).get("labels") or {})]
    expected = expected_pods(pods, lambda ref, ns: workloads.owner(ref.get("kind"), ns, ref.get("name")))
    status = budget(pdb, pods, expected)
    return (status["disruptionsAllowed"], status["currentHealthy"], status["desiredHealthy"],
            status["expectedPods"])


def pin_refs(obj: dict, template: bool = False) -> list[str]:
    """Pool references in a `cni.projectcalico.org/ipv4pools` annotation (namespace or template)."""
    meta = (((obj.get("spec") or {}).get("template") or {}).get("metadata") if template
            else obj.get("metadata")) or {}
    text = (meta.get("annotations") or {}).get(PIN_ANNOTATION)
    if not text:
        return []
    try:
        refs = json.loads(text)
    except ValueError:
        return []
    return [str(r) for r in refs] if isinstance(refs, list) else []


def pinned_to(objs: Iterable[dict], old_refs: set[str], template: bool = False) -> list[dict]:
    return [o for o in objs if old_refs & set(pin_refs(o, template))]
