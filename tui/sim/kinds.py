"""Type-specific rules of the built-in kinds and of custom resources: defaulting, validation,
immutability, graceful deletion. Only what clients can observe is modelled (see docs/SIMULATOR.md).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from tui.sim import errors, schema
from tui.model.disruption import selector_matches
from tui.sim.errors import field_error
from tui.sim.resources import ResourceType
from tui.sim.strategy import Strategy
from tui.sim.validation import name_causes

if TYPE_CHECKING:
    from tui.sim.api import Api

SERVICE_CIDR = "10.96.0.0/12"
NODE_PORTS = range(30000, 32768)
POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
    "previously negative)")
PODCIDR_FORBIDDEN = 'node updates may not change podCIDR except from "" to valid'
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def _raise_if(res: ResourceType, obj: dict, causes: list[dict]) -> None:
    if causes:
        raise errors.invalid(res, _name(obj), causes)


def _immutable(field: str, value) -> dict:
    return field_error("Invalid", field, "field is immutable", value)


# --- pods -------------------------------------------------------------------------------------
def _image_pull_policy(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in tail or tail.endswith(":latest") else "IfNotPresent"


def pod_spec_defaults(spec: dict, admission: bool) -> None:
    """Defaults the API fills into a pod spec; `admission` adds what admission plugins add to pods."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            container.setdefault("imagePullPolicy", _image_pull_policy(container.get("image") or ""))
            container.setdefault("resources", {})
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            for port in container.get("ports") or []:
                port.setdefault("protocol", "TCP")
    if admission:
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        tolerations = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == key and t.get("effect") in ("NoExecute", None) for t in tolerations):
                tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": 300})


def qos_class(spec: dict) -> str:
    containers = spec.get("containers") or []
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(k) and (r.get("requests") or r.get("limits") or {}).get(k) == r["limits"][k]
        for r in resources for k in ("cpu", "memory"))
    return "Guaranteed" if guaranteed else "Burstable"


def container_causes(spec: dict, prefix: str) -> list[dict]:
    causes = []
    if not spec.get("containers"):
        causes.append(field_error("Required", f"{prefix}.containers", ""))
    seen = set()
    for key in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(key) or []):
            name = container.get("name") or ""
            causes += name_causes(name, f"{prefix}.{key}[{i}].name", "label")
            if name in seen:
                causes.append(field_error("Duplicate", f"{prefix}.{key}[{i}].name", "", name))
            seen.add(name)
            if not container.get("image"):
                causes.append(field_error("Required", f"{prefix}.{key}[{i}].image", ""))
    return causes


def _mutable_pod_spec(spec: dict) -> dict:
    """A pod spec with the fields updates may change blanked out, to compare the rest."""
    out = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations",
                                                      "terminationGracePeriodSeconds", "schedulingGates")}
    for key in ("containers", "initContainers"):
        if key in out:
            out[key] = [{k: v for k, v in c.items() if k != "image"} for c in out[key]]
    return out


class PodStrategy(Strategy):
    def prepare_create(self, api, res, obj, dry_run=False):
        spec = obj.setdefault("spec", {})
        _raise_if(res, obj, container_causes(spec, "spec"))
        pod_spec_defaults(spec, admission=True)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}

    def prepare_update(self, api, res, new, old, dry_run=False):
        pod_spec_defaults(new.setdefault("spec", {}), admission=True)
        if _mutable_pod_spec(new["spec"]) != _mutable_pod_spec(old.get("spec") or {}):
            raise errors.invalid(res, _name(new), [field_error("Forbidden", "spec", POD_UPDATE_FORBIDDEN)])

    def grace_period(self, obj, requested):
        if not (obj.get("spec") or {}).get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        return (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)


# --- nodes ------------------------------------------------------------------------------------
def _cidrs_of(spec: dict) -> list[str]:
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


def _effective_cidrs(new: dict, old: dict) -> list[str]:
    """The podCIDRs a write asks for: podCIDRs if it changed them, else podCIDR if it changed that."""
    if (new.get("podCIDRs") or []) != (old.get("podCIDRs") or []):
        return list(new.get("podCIDRs") or [])
    if (new.get("podCIDR") or "") != (old.get("podCIDR") or ""):
        return [new["podCIDR"]] + _cidrs_of(old)[1:] if new.get("podCIDR") else []
    return _cidrs_of(old)


def pod_cidr_causes(cidrs: list[str]) -> list[dict]:
    causes, families = [], set()
    for i, text in enumerate(cidrs):
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            causes.append(field_error("Invalid", f"spec.podCIDRs[{i}]", "must be a valid CIDR value, "
                                      "(e.g. 10.9.8.0/24 or 2001:db8::/64)", text))
            continue
        if net.version in families:
            causes.append(field_error("Invalid", "spec.podCIDRs", "may specify no more than one CIDR for "
                                      "each IP family", ", ".join(cidrs)))
        families.add(net.version)
    return causes


def sync_unschedulable_taint(node: dict, now: str) -> None:
    spec = node.setdefault("spec", {})
    taints = [t for t in spec.get("taints") or [] if t.get("key") != UNSCHEDULABLE_TAINT]
    if spec.get("unschedulable"):
        existing = next((t for t in spec.get("taints") or [] if t.get("key") == UNSCHEDULABLE_TAINT), None)
        taints.append(existing or {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": now})
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)


class NodeStrategy(Strategy):
    @staticmethod
    def _set_cidrs(spec: dict, cidrs: list[str]) -> None:
        if cidrs:
            spec["podCIDR"], spec["podCIDRs"] = cidrs[0], cidrs
        else:
            spec.pop("podCIDR", None)
            spec.pop("podCIDRs", None)

    def prepare_create(self, api, res, obj, dry_run=False):
        spec = obj.setdefault("spec", {})
        cidrs = _cidrs_of(spec)
        _raise_if(res, obj, pod_cidr_causes(cidrs))
        self._set_cidrs(spec, cidrs)
        sync_unschedulable_taint(obj, api.clock.timestamp())

    def prepare_update(self, api, res, new, old, dry_run=False):
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        cidrs, old_cidrs = _effective_cidrs(spec, old_spec), _cidrs_of(old_spec)
        if old_cidrs and cidrs != old_cidrs:
            raise errors.invalid(res, _name(new), [field_error("Forbidden", "spec.podCIDRs", PODCIDR_FORBIDDEN)])
        _raise_if(res, new, pod_cidr_causes(cidrs))
        self._set_cidrs(spec, cidrs)
        sync_unschedulable_taint(new, api.clock.timestamp())


# --- namespaces -------------------------------------------------------------------------------
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class NamespaceStrategy(Strategy):
    def prepare_create(self, api, res, obj, dry_run=False):
        _raise_if(res, obj, name_causes(_name(obj), "metadata.name", "label"))
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})[NAMESPACE_NAME_LABEL] = _name(obj)

    def prepare_update(self, api, res, new, old, dry_run=False):
        new["metadata"].setdefault("labels", {})[NAMESPACE_NAME_LABEL] = _name(new)

    def before_delete(self, api, res, obj, dry_run):
        if _name(obj) in PROTECTED_NAMESPACES:
            raise errors.forbidden_message(res, _name(obj), "this namespace may not be deleted")

    def mark_deleting(self, obj):
        obj.setdefault("status", {})["phase"] = "Terminating"

    def deletion_blocked(self, obj):
        return bool((obj.get("spec") or {}).get("finalizers"))


# --- services ---------------------------------------------------------------------------------
class ServiceStrategy(Strategy):
    def _allocate_ip(self, api: Api) -> str:
        network = ipaddress.ip_network(api.service_cidr)
        used = {ip for svc in api.store.list(("", "services"))
                for ip in (svc.get("spec") or {}).get("clusterIPs") or []}
        for host in network.hosts():
            if str(host) not in used:
                return str(host)
        raise errors.internal(f"failed to allocate a serviceIP: range is full ({api.service_cidr})")

    def _allocate_node_port(self, api: Api, taken: set[int]) -> int:
        used = taken | {p.get("nodePort") for svc in api.store.list(("", "services"))
                        for p in (svc.get("spec") or {}).get("ports") or []}
        return next(p for p in NODE_PORTS if p not in used)

    def prepare_create(self, api, res, obj, dry_run=False):
        _raise_if(res, obj, name_causes(_name(obj), "metadata.name", "dns1035"))
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            if not spec.get("clusterIP"):
                spec["clusterIP"] = self._allocate_ip(api)
            spec["clusterIPs"] = [spec["clusterIP"]]
        taken: set[int] = set()
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                port["nodePort"] = self._allocate_node_port(api, taken)
                taken.add(port["nodePort"])
        obj["status"] = {"loadBalancer": {}}

    def prepare_update(self, api, res, new, old, dry_run=False):
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        if old_spec.get("clusterIP") and spec.get("clusterIP", old_spec["clusterIP"]) != old_spec["clusterIP"]:
            raise errors.invalid(res, _name(new), [field_error("Invalid", "spec.clusterIPs[0]",
                                                               "may not change once set", spec.get("clusterIP"))])
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in old_spec:
                spec.setdefault(key, old_spec[key])


# --- workloads --------------------------------------------------------------------------------
WORKLOAD_DEFAULTS = {
    "deployments": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%",
                                                                            "maxUnavailable": "25%"}}},
    "replicasets": {"replicas": 1},
    "statefulsets": {"replicas": 1, "revisionHistoryLimit": 10, "podManagementPolicy": "OrderedReady",
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                     "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}},
    "daemonsets": {"revisionHistoryLimit": 10,
                   "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1,
                                                                                 "maxSurge": 0}}},
}


WORKLOAD_STATUS = {
    "replicasets": {"replicas": 0},
    "statefulsets": {"replicas": 0, "availableReplicas": 0},
    "daemonsets": {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                   "numberReady": 0},
}


class WorkloadStrategy(Strategy):
    """Deployments, ReplicaSets, StatefulSets, DaemonSets: selector rules, template defaults."""

    def _validate(self, res: ResourceType, obj: dict) -> None:
        spec = obj.setdefault("spec", {})
        for key, value in WORKLOAD_DEFAULTS.get(res.plural, {}).items():
            spec.setdefault(key, value)
        selector = spec.get("selector")
        template = spec.get("template") or {}
        causes = []
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(field_error("Required", "spec.selector", ""))
        labels = (template.get("metadata") or {}).get("labels") or {}
        if selector and not selector_matches(selector, labels):
            causes.append(field_error("Invalid", "spec.template.metadata.labels",
                                      "`selector` does not match template `labels`", labels))
        causes += container_causes(template.get("spec") or {}, "spec.template.spec")
        _raise_if(res, obj, causes)
        pod_spec_defaults(template.setdefault("spec", {}), admission=False)

    def prepare_create(self, api, res, obj, dry_run=False):
        self._validate(res, obj)
        # Go serialises these status counters even when zero (no omitempty), so a new object has them.
        obj["status"] = dict(WORKLOAD_STATUS.get(res.plural, {}))

    def prepare_update(self, api, res, new, old, dry_run=False):
        self._validate(res, new)
        old_selector = (old.get("spec") or {}).get("selector")
        if new["spec"].get("selector") != old_selector:
            raise errors.invalid(res, _name(new), [_immutable("spec.selector", new["spec"].get("selector"))])


class PodDisruptionBudgetStrategy(Strategy):
    def prepare_create(self, api, res, obj, dry_run=False):
        spec = obj.setdefault("spec", {})
        if "minAvailable" in spec and "maxUnavailable" in spec:
            raise errors.invalid(res, _name(obj), [field_error(
                "Invalid", "spec", "minAvailable and maxUnavailable cannot be both set", None)])
        obj["status"] = {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}

    def prepare_update(self, api, res, new, old, dry_run=False):
        spec = new.get("spec") or {}
        if "minAvailable" in spec and "maxUnavailable" in spec:
            raise errors.invalid(res, _name(new), [field_error(
                "Invalid", "spec", "minAvailable and maxUnavailable cannot be both set", None)])


# --- CustomResourceDefinitions ----------------------------------------------------------------
class CustomResourceDefinitionStrategy(Strategy):
    def _validate(self, res: ResourceType, obj: dict) -> None:
        spec = obj.setdefault("spec", {})
        names = spec.setdefault("names", {})
        causes = []
        if names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        if _name(obj) != f"{names.get('plural')}.{spec.get('group')}":
            causes.append(field_error("Invalid", "metadata.name", 'must be spec.names.plural+"."+spec.group',
                                      _name(obj)))
        if spec.get("scope") not in ("Cluster", "Namespaced"):
            causes.append(field_error("NotSupported", "spec.scope", '"Cluster", "Namespaced"', spec.get("scope")))
        versions = spec.get("versions") or []
        if not versions:
            causes.append(field_error("Invalid", "spec.versions", "must have exactly one version marked as "
                                      "storage version", None))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(field_error("Invalid", "spec.versions", "must have exactly one version marked as "
                                      "storage version", None))
        spec.setdefault("conversion", {"strategy": "None"})
        _raise_if(res, obj, causes)

    def _status(self, api: Api, obj: dict, stored_versions: list[str]) -> None:
        storage = next(v["name"] for v in obj["spec"]["versions"] if v.get("storage"))
        now = api.clock.timestamp()
        conditions = [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted"},
        ]
        obj["status"] = {"acceptedNames": dict(obj["spec"]["names"]), "conditions": conditions,
                         "storedVersions": stored_versions + ([storage] if storage not in stored_versions else [])}

    def prepare_create(self, api, res, obj, dry_run=False):
        self._validate(res, obj)
        self._status(api, obj, [])

    def prepare_update(self, api, res, new, old, dry_run=False):
        self._validate(res, new)
        causes = [_immutable(f"spec.{field}", new["spec"].get(field))
                  for field in ("group", "scope") if new["spec"].get(field) != old["spec"].get(field)]
        if new["spec"]["names"].get("plural") != old["spec"]["names"].get("plural"):
            causes.append(_immutable("spec.names.plural", new["spec"]["names"].get("plural")))
        _raise_if(res, new, causes)
        self._status(api, new, list((old.get("status") or {}).get("storedVersions") or []))


# --- custom resources -------------------------------------------------------------------------
class CustomResourceStrategy(Strategy):
    """Objects served from a CRD: structural pruning, defaulting and validation by its schema."""

    def from_storage(self, api, res, obj):
        obj = super().from_storage(api, res, obj)
        if res.schema:
            schema.apply_defaults(obj, res.schema)
        return obj

    def _validate(self, res: ResourceType, obj: dict) -> None:
        if not res.schema:
            return
        checked, causes = schema.validate(obj, res.schema)
        _raise_if(res, obj, causes)
        obj.clear()
        obj.update(checked)

    def prepare_create(self, api, res, obj, dry_run=False):
        if res.has_status:
            obj.pop("status", None)
        self._validate(res, obj)

    def prepare_update(self, api, res, new, old, dry_run=False):
        self._validate(res, new)


BUILTIN_STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "pods"): PodStrategy(),
    ("", "nodes"): NodeStrategy(),
    ("", "namespaces"): NamespaceStrategy(),
    ("", "services"): ServiceStrategy(),
    **{("apps", plural): WorkloadStrategy() for plural in WORKLOAD_DEFAULTS},
    ("policy", "poddisruptionbudgets"): PodDisruptionBudgetStrategy(),
    ("apiextensions.k8s.io", "customresourcedefinitions"): CustomResourceDefinitionStrategy(),
}
