"""The object edits a migration makes, as pure functions `obj -> new obj` registered by name.

A plan step stores the transform's name and arguments next to the before/after it previewed. At
apply time the runner re-reads the object and applies the same transform to the *live* version, so
a concurrent edit elsewhere in the object is kept, and it can tell whether the change it is about to
make is still exactly the previewed one (see runner). Each transform is idempotent: applied to its
own output it changes nothing, which is what makes a resumed run safe.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Callable

import yaml

PIN_ANNOTATION = "cni.projectcalico.org/ipv4pools"
RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
MIGRATION_ANNOTATION = "calico-tui.io/migration"
TRANSFORMS: dict[str, Callable[..., dict]] = {}


def transform(name: str):
    def register(fn):
        TRANSFORMS[name] = fn
        return fn
    return register


def apply_transform(name: str, obj: dict, args: dict) -> dict:
    return TRANSFORMS[name](copy.deepcopy(obj), **args)


def _edit_yaml_value(cm: dict, key: str, edit: Callable[[dict], None]) -> dict:
    doc = yaml.safe_load((cm.get("data") or {}).get(key) or "") or {}
    edit(doc)
    cm.setdefault("data", {})[key] = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    return cm


@transform("kube-proxy-cluster-cidr")
def kube_proxy_cluster_cidr(cm: dict, cidr: str) -> dict:
    """`clusterCIDR` in the kube-proxy ConfigMap's `config.conf` (KubeProxyConfiguration)."""
    def edit(doc):
        doc["clusterCIDR"] = cidr
    current = yaml.safe_load((cm.get("data") or {}).get("config.conf") or "") or {}
    return cm if current.get("clusterCIDR") == cidr else _edit_yaml_value(cm, "config.conf", edit)


@transform("kubeadm-pod-subnet")
def kubeadm_pod_subnet(cm: dict, cidr: str, allocate_node_cidrs: bool | None = None) -> dict:
    """`networking.podSubnet` in kubeadm's ClusterConfiguration, so `kubeadm upgrade` regenerates
    the control plane with the new range; with `allocate_node_cidrs=False` also the
    controllerManager extraArg, or the next upgrade turns node CIDR allocation back on."""
    def edit(doc):
        doc.setdefault("networking", {})["podSubnet"] = cidr
        if allocate_node_cidrs is None:
            return
        section = doc.setdefault("controllerManager", {})
        args = section.get("extraArgs")
        value = "true" if allocate_node_cidrs else "false"
        if isinstance(args, list) or (args is None and doc.get("apiVersion") == "kubeadm.k8s.io/v1beta4"):
            args = args or []  # kubeadm v1beta4: [{name, value}]
            rest = [a for a in args if a.get("name") != "allocate-node-cidrs"]
            section["extraArgs"] = rest + [{"name": "allocate-node-cidrs", "value": value}]
        else:
            section["extraArgs"] = {**(args or {}), "allocate-node-cidrs": value}
    return _edit_yaml_value(cm, "ClusterConfiguration", edit)


def _replace_refs(refs: list, old_refs: set[str], new_name: str, new_cidr: str) -> list:
    out = []
    for ref in refs:
        if ref in old_refs:
            ref = new_cidr if "/" in str(ref) else new_name
        if ref not in out:
            out.append(ref)
    return out


_POOLS_FIELD = re.compile(r'("ipv4_pools"\s*:\s*)(\[[^\]]*\])')


@transform("cni-pool-pins")
def cni_pool_pins(cm: dict, old_refs: list[str], new_name: str, new_cidr: str) -> dict:
    """Pool references in `calico-config` `cni_network_config`. The text keeps the manifest's
    unquoted `__PLACEHOLDERS__` (it is not valid JSON), so only the `ipv4_pools` list is rewritten."""
    data = cm.get("data") or {}
    text = data.get("cni_network_config") or ""

    def rewrite(match: re.Match) -> str:
        refs = json.loads(match.group(2))
        return match.group(1) + json.dumps(_replace_refs(refs, set(old_refs), new_name, new_cidr))
    data["cni_network_config"] = _POOLS_FIELD.sub(rewrite, text)
    return cm


@transform("annotation-pool-pins")
def annotation_pool_pins(obj: dict, old_refs: list[str], new_name: str, new_cidr: str,
                         template: bool = False) -> dict:
    """`cni.projectcalico.org/ipv4pools` on a Namespace (or a workload's pod template)."""
    meta = obj["spec"]["template"].setdefault("metadata", {}) if template else obj["metadata"]
    annotations = meta.get("annotations") or {}
    try:
        refs = json.loads(annotations.get(PIN_ANNOTATION) or "[]")
    except ValueError:
        return obj
    new = _replace_refs(refs, set(old_refs), new_name, new_cidr)
    if new != refs:
        meta.setdefault("annotations", {})[PIN_ANNOTATION] = json.dumps(new)
    return obj


@transform("calico-node-pool-env")
def calico_node_pool_env(ds: dict, cidr: str) -> dict:
    """`CALICO_IPV4POOL_CIDR` on the calico-node container: calico-node recreates the default pool
    from it whenever no IPv4 pool exists, so it must not name the old range."""
    for container in ds["spec"]["template"]["spec"].get("containers") or []:
        if container.get("name") != "calico-node":
            continue
        for var in container.get("env") or []:
            if var.get("name") == "CALICO_IPV4POOL_CIDR":
                var.pop("valueFrom", None)
                var["value"] = cidr
    return ds


@transform("pool-disabled")
def pool_disabled(pool: dict, disabled: bool = True) -> dict:
    pool.setdefault("spec", {})["disabled"] = disabled
    return pool


def installation_pool_entry(name: str, cidr: str, block_size: int, ipip_mode: str, vxlan_mode: str,
                            nat_outgoing: bool, node_selector: str) -> dict:
    """The Installation `spec.calicoNetwork.ipPools[]` form of an IPPool."""
    return {"name": name, "cidr": cidr, "blockSize": block_size,
            "encapsulation": encapsulation(ipip_mode, vxlan_mode),
            "natOutgoing": "Enabled" if nat_outgoing else "Disabled", "nodeSelector": node_selector}


def encapsulation(ipip_mode: str, vxlan_mode: str) -> str:
    if ipip_mode != "Never":
        return "IPIPCrossSubnet" if ipip_mode == "CrossSubnet" else "IPIP"
    if vxlan_mode != "Never":
        return "VXLANCrossSubnet" if vxlan_mode == "CrossSubnet" else "VXLAN"
    return "None"


def _installation_pools(inst: dict) -> list[dict]:
    return inst.setdefault("spec", {}).setdefault("calicoNetwork", {}).setdefault("ipPools", [])


@transform("installation-add-pool")
def installation_add_pool(inst: dict, entry: dict) -> dict:
    pools = _installation_pools(inst)
    if not any(p.get("name") == entry["name"] or p.get("cidr") == entry["cidr"] for p in pools):
        pools.append(entry)
    return inst


@transform("installation-disable-pool")
def installation_disable_pool(inst: dict, name: str, disabled: bool = True) -> dict:
    """The operator's way to stop allocations from a pool it manages (`disableNewAllocations`)."""
    for pool in _installation_pools(inst):
        if pool.get("name") == name:
            if disabled:
                pool["disableNewAllocations"] = True
            else:
                pool.pop("disableNewAllocations", None)
    return inst


@transform("installation-remove-pool")
def installation_remove_pool(inst: dict, name: str) -> dict:
    pools = _installation_pools(inst)
    pools[:] = [p for p in pools if p.get("name") != name]
    return inst


@transform("rollout-restart")
def rollout_restart(workload: dict, stamp: str) -> dict:
    """What `kubectl rollout restart` does: a pod-template annotation the controller rolls on.
    The stamp is the migration's, so a resumed run sees the restart already asked for."""
    template = workload["spec"]["template"].setdefault("metadata", {})
    template.setdefault("annotations", {})[RESTART_ANNOTATION] = stamp
    return workload


@transform("cordon")
def cordon(node: dict, unschedulable: bool = True) -> dict:
    spec = node.setdefault("spec", {})
    if unschedulable:
        spec["unschedulable"] = True
    else:
        spec.pop("unschedulable", None)
    return node


# Taints that controllers own; a re-created Node gets them back from them, not from us.
CONTROLLER_TAINTS = ("node.kubernetes.io/unschedulable", "node.kubernetes.io/not-ready",
                     "node.kubernetes.io/unreachable")


def recreated_node(node: dict, pod_cidr: str, marker: str) -> dict:
    """The Node object to create in place of `node` with a new podCIDR: labels, annotations and
    taints restored (re-registration would lose kubeadm's control-plane label and taint), created
    cordoned so nothing lands on it before its kubelet reports Ready."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    annotations = dict(meta.get("annotations") or {})
    annotations[MIGRATION_ANNOTATION] = marker
    new_spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr], "unschedulable": True}
    taints = [t for t in spec.get("taints") or [] if t.get("key") not in CONTROLLER_TAINTS]
    if taints:
        new_spec["taints"] = taints
    for key in ("providerID", "externalID"):
        if key in spec:
            new_spec[key] = spec[key]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": meta["name"], "labels": dict(meta.get("labels") or {}),
                         "annotations": annotations},
            "spec": new_spec}
