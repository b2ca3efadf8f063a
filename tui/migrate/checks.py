"""Preflight: every known way this migration goes wrong, checked before anything is changed.

Each check is a pure function of the cluster picture, the detected facts, the identity's
capabilities, the parameters and the workloads, and returns findings with evidence (the objects
and values seen) and the fix. `preflight` runs them all. Severities: `blocking` stops `migrate`,
`warning` is something the plan handles or the operator should know, `info` is context.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from tui.kube.detect import API_SERVER, CALICO_IPAM, ETCDV3, HOST_LOCAL, OPERATOR, V1_CRDS, V3_CRDS, ClusterInfo
from tui.kube.rbac import Capabilities
from tui.migrate.nodecidrs import subnet_count
from tui.migrate.params import (DISABLE_ALLOCATION, DRAIN, KEEP, RECREATE_NODES, MigrationParams)
from tui.migrate.workloads import (Workloads, disruptions_allowed, name_of, namespace_of, pdbs_for,
                                   pin_refs, pinned_to, pod_key, pods_to_move, top_owner)
from tui.model.cidr import contains, overlaps
from tui.model.cluster import Cluster
from tui.model.findings import Finding
from tui.model.usage import allocations_in_pool

BLOCKING, WARNING, INFO = "blocking", "warning", "info"
LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")


@dataclass(frozen=True)
class Context:
    cluster: Cluster
    info: ClusterInfo
    caps: Capabilities | None
    params: MigrationParams
    workloads: Workloads


def finding(id_: str, severity: str, message: str, evidence, fix: str) -> Finding:
    return Finding(id=id_, severity=severity, message=message, evidence=tuple(evidence), fix=fix)


def operator_managed(ctx: Context) -> bool:
    return ctx.info.flavor == OPERATOR and ctx.cluster.installation is not None


def check_datastore(ctx: Context) -> list[Finding]:
    if ctx.info.datastore == ETCDV3:
        return [finding("datastore-etcd", BLOCKING, "Calico uses its own etcd (etcdv3 datastore)",
                        ctx.info.datastore_evidence,
                        "migrate with calicoctl against etcd; this tool changes the Kubernetes datastore only")]
    return []


def check_write_path(ctx: Context) -> list[Finding]:
    mode = ctx.info.calico_api
    if operator_managed(ctx):
        return [finding("write-path", INFO, "pools are changed through the operator's Installation",
                        ["Installation default", f"flavor {ctx.info.flavor}"],
                        "none: tigera-operator reconciles the IPPools from spec.calicoNetwork.ipPools")]
    if mode in (API_SERVER, V3_CRDS):
        return [finding("write-path", INFO, f"pools are written through projectcalico.org/v3 ({mode})",
                        [ctx.info.write_path], "none")]
    if mode == V1_CRDS:
        if ctx.params.allow_crd_writes:
            return [finding("write-path", WARNING,
                            "pools will be written as raw crd.projectcalico.org/v1 objects",
                            [ctx.info.write_path, "--allow-crd-writes given"],
                            "every default (blockSize, modes, nodeSelector, allowedUses) is filled in "
                            "explicitly; install the Calico API server to get Calico's own validation")]
        return [finding("write-path", BLOCKING, "no projectcalico.org/v3 API to write pools through",
                        [ctx.info.write_path],
                        "install the Calico API server, or pass --allow-crd-writes to write the v1 CRDs "
                        "with every default filled in")]
    return [finding("write-path", BLOCKING, "no Calico API is served", [ctx.info.data_location],
                    "check that Calico is installed with the Kubernetes datastore")]


def check_ipam(ctx: Context) -> list[Finding]:
    ipam = ctx.info.ipam
    if ipam == CALICO_IPAM:
        return []
    if ipam == HOST_LOCAL:
        severity = WARNING if ctx.params.node_strategy == RECREATE_NODES else BLOCKING
        return [finding("ipam-host-local", severity,
                        "host-local IPAM takes pod addresses from each Node's podCIDR, not from IP pools",
                        [f"IPAM type {ipam}"],
                        "pods only move when their node is re-created with a new podCIDR: use "
                        "--node-strategy recreate-nodes")]
    return [finding("ipam-unknown", WARNING, f"could not tell the IPAM type ({ipam})",
                    [f"IPAM type {ipam}"], "check /etc/cni/net.d/10-calico.conflist on a node")]


# (verb, group, resource, namespace) the runner uses, by what it does.
def required_accesses(ctx: Context) -> list[tuple[str, str, str, str | None]]:
    params = ctx.params
    wanted = [("get", "coordination.k8s.io", "leases", "kube-system"),
              ("create", "coordination.k8s.io", "leases", "kube-system"),
              ("update", "coordination.k8s.io", "leases", "kube-system"),
              ("delete", "coordination.k8s.io", "leases", "kube-system"),
              ("update", "", "configmaps", "kube-system")]
    if operator_managed(ctx):
        wanted.append(("update", "operator.tigera.io", "installations", None))
    else:
        group = "projectcalico.org" if ctx.info.calico_api in (API_SERVER, V3_CRDS) else "crd.projectcalico.org"
        wanted += [(verb, group, "ippools", None) for verb in ("create", "update", "delete")]
        if ctx.info.calico_api == V1_CRDS:
            wanted += [("delete", group, "ipamblocks", None), ("delete", group, "blockaffinities", None)]
        wanted.append(("update", "apps", "daemonsets", ctx.info.calico_namespace))
    wanted.append(("update", "apps", "daemonsets", "kube-system"))
    wanted += [("update", "apps", kind, None) for kind in ("deployments", "statefulsets", "daemonsets")]
    wanted += [("create", "", "pods/eviction", None), ("delete", "", "pods", None)]
    if params.roll == DRAIN or params.node_strategy == RECREATE_NODES:
        wanted.append(("update", "", "nodes", None))
    if params.node_strategy == RECREATE_NODES:
        wanted += [("delete", "", "nodes", None), ("create", "", "nodes", None)]
    if pinned_to(ctx.workloads.namespaces, set(params.old_refs)):
        wanted.append(("update", "", "namespaces", None))
    return list(dict.fromkeys(wanted))


def check_rbac(ctx: Context) -> list[Finding]:
    if ctx.caps is None:
        return [finding("rbac-unknown", WARNING, "could not ask the API server what this identity may do",
                        [], "run check again; the plan's writes may be refused")]
    missing = [(v, g, r, ns) for v, g, r, ns in required_accesses(ctx) if not ctx.caps.can(v, g, r, ns)]
    if not missing:
        return []
    evidence = [f"cannot {v} {r}{'.' + g if g else ''}{' in ' + ns if ns else ''}" for v, g, r, ns in missing]
    if ctx.caps.read_only:
        return [finding("rbac-read-only", BLOCKING, "read-only identity: check and plan only",
                        evidence[:5] + ([f"… and {len(evidence) - 5} more"] if len(evidence) > 5 else []),
                        "run migrate with an identity allowed to make these changes (e.g. cluster-admin)")]
    return [finding("rbac-missing", BLOCKING, "this identity lacks permissions the migration needs",
                    evidence, "grant these verbs, or run with an identity that has them")]


def check_overlaps(ctx: Context) -> list[Finding]:
    target, params, cluster = ctx.params.target, ctx.params, ctx.cluster
    out = []
    for pool in cluster.pools:
        if pool.cidr != target and overlaps(pool.cidr, target):
            out.append(finding("cidr-overlap-pool", BLOCKING, f"{target} overlaps pool {pool.name}",
                               [f"pool {pool.name} {pool.cidr}"], "choose a range no pool uses"))
    services = {str(n) for k in cluster.controller_managers for n in k.service_cluster_ip_ranges}
    if cluster.kubeadm:
        services |= {str(n) for n in cluster.kubeadm.service_subnets}
    for text in sorted(services):
        if overlaps(ipaddress.ip_network(text), target):
            out.append(finding("cidr-overlap-service", BLOCKING, f"{target} overlaps the Service range {text}",
                               [f"service CIDR {text}"], "choose a range outside the Service CIDR"))
    inside = [f"{n.name} {ip}" for n in cluster.nodes for ip in n.internal_ips if contains(target, ip)]
    if inside:
        out.append(finding("cidr-overlap-node", BLOCKING, f"node addresses lie inside {target}", inside,
                           "choose a range that does not contain the nodes' own network"))
    if overlaps(LINK_LOCAL, target):
        out.append(finding("cidr-link-local", BLOCKING, f"{target} overlaps link-local {LINK_LOCAL}",
                           [str(target)], "choose a range outside 169.254.0.0/16"))
    existing = cluster.pool(params.pool_name) if params.new_pool_exists else None
    if existing is not None:
        out.append(finding("new-pool-exists", INFO if existing.enabled else BLOCKING,
                           f"pool {existing.name} already has {target}; the plan adopts it",
                           [f"pool {existing.name} disabled={existing.disabled}"],
                           "none" if existing.enabled else f"enable pool {existing.name} first"))
    return out


def check_capacity(ctx: Context) -> list[Finding]:
    params, cluster = ctx.params, ctx.cluster
    out = []
    per_node = Counter(a.node for a in allocations_in_pool(cluster, params.old_pool, None) if a.node)
    block_ips = 2 ** (32 - params.block_size)
    needed = sum(math.ceil(count / block_ips) for count in per_node.values())
    available = 2 ** max(0, params.block_size - params.target.prefixlen)
    evidence = [f"{len(per_node)} nodes hold {sum(per_node.values())} addresses of {params.old_pool}",
                f"/{params.block_size} blocks of {block_ips} addresses: {needed} needed, {available} in {params.target}"]
    if needed > available:
        out.append(finding("capacity-blocks", BLOCKING, f"{params.target} is too small for the pods it must take",
                           evidence, "choose a larger range or a smaller block size"))
    else:
        out.append(finding("capacity-blocks", INFO, f"{params.target} has room for the pods it takes", evidence,
                           "none"))
    if params.node_strategy in (RECREATE_NODES, KEEP):
        mask, prefix = params.node_cidr_mask, params.target.prefixlen
        subnets = subnet_count(params.target, mask)
        evidence = [f"{len(cluster.nodes)} nodes", f"node mask /{mask}: {subnets} node subnets in {params.target}"]
        if mask < prefix or mask - prefix > 16:
            out.append(finding("capacity-node-cidrs", BLOCKING,
                               f"node CIDR mask /{mask} does not fit cluster CIDR {params.target}",
                               evidence, "kube-controller-manager needs a mask at most 16 bits longer than the "
                                         "cluster CIDR's prefix and no shorter than it"))
        elif subnets < len(cluster.nodes):
            out.append(finding("capacity-node-cidrs", BLOCKING,
                               "kube-controller-manager could not give every node a podCIDR", evidence,
                               "choose a larger range or a longer --node-cidr-mask"))
    return out


def check_pins(ctx: Context) -> list[Finding]:
    refs = set(ctx.params.old_refs)
    out = []
    cni = ctx.cluster.cni
    if cni is not None and refs & set(cni.ipv4_pools):
        out.append(finding("cni-pool-pin", WARNING, "the CNI config pins new pods to the old pool",
                           [f"calico-config cni_network_config ipv4_pools {list(cni.ipv4_pools)}"],
                           "the plan's cni-pins step names the new pool instead, before the old one is disabled "
                           "(or pods fail with 'the given pool … does not exist, or is not enabled')"))
    namespaces = pinned_to(ctx.workloads.namespaces, refs)
    if namespaces:
        out.append(finding("namespace-pool-pin", WARNING, "namespaces pin their pods to the old pool",
                           [f"namespace {name_of(n)} ipv4pools {pin_refs(n)}" for n in namespaces],
                           "the plan's cni-pins step rewrites the annotation before the old pool is disabled"))
    templates = [w for kind in (ctx.workloads.deployments, ctx.workloads.statefulsets, ctx.workloads.daemonsets)
                 for w in pinned_to(kind, refs, template=True)]
    if templates:
        out.append(finding("template-pool-pin", WARNING, "workload pod templates pin the old pool",
                           [f"{w.get('kind')} {namespace_of(w)}/{name_of(w)}" for w in templates],
                           "the roll step rewrites the annotation in the template as it restarts them"))
    return out


def kcm_crash_line(node: str, node_cidr: str, cluster_cidr: str) -> str:
    """kube-controller-manager's fatal line when a node's podCIDR is outside its cluster CIDR."""
    return (f"failed to mark cidr[{node_cidr}] at idx [0] as occupied for node: {node}: "
            f"cidr {node_cidr} is out the range of cluster cidr {cluster_cidr}")


def _outside(cluster: Cluster, cluster_cidr) -> list[tuple[str, str]]:
    """Nodes whose podCIDR kube-controller-manager would refuse to occupy (neither inside the
    cluster CIDR nor containing it)."""
    bad = []
    for node in cluster.nodes:
        for cidr in node.pod_cidrs[:1]:
            if cidr.version == cluster_cidr.version and not (
                    contains(cluster_cidr, cidr) or contains(cidr, cluster_cidr)):
                bad.append((node.name, str(cidr)))
    return bad


def check_kcm(ctx: Context) -> list[Finding]:
    params, cluster = ctx.params, ctx.cluster
    out = []
    if not cluster.controller_managers:
        out.append(finding("kcm-not-found", WARNING, "no kube-controller-manager mirror pod found",
                           ["pods -n kube-system -l component=kube-controller-manager"],
                           "the plan's kube-controller-manager step assumes kubeadm static pods"))
    for kcm in cluster.controller_managers:
        node = kcm.pod.node or kcm.pod.name
        if kcm.pod.crash_looping or kcm.pod.phase not in ("Running", None):
            out.append(finding("kcm-not-running", BLOCKING, f"kube-controller-manager on {node} is not running",
                               [f"pod {kcm.pod.name} phase {kcm.pod.phase} {kcm.pod.waiting_reason or ''} "
                                f"restarts {kcm.pod.restart_count}", f"flags {kcm.flags.get('cluster-cidr')}"],
                               "fix kube-controller-manager first (restore its manifest's --cluster-cidr)"))
        if kcm.allocate_node_cidrs:
            for cidr in kcm.cluster_cidrs[:1]:
                bad = _outside(cluster, cidr)
                if bad:
                    out.append(finding(
                        "kcm-cluster-cidr-now", BLOCKING,
                        f"kube-controller-manager on {node} runs with --cluster-cidr={cidr}, which excludes "
                        f"node podCIDRs: its next restart crash-loops",
                        [kcm_crash_line(n, c, str(cidr)) for n, c in bad[:3]],
                        "restore the manifest's --cluster-cidr, or re-create those nodes first"))
    if params.node_strategy == KEEP:
        bad = _outside(cluster, params.target)
        if bad:
            name, cidr = bad[0]
            kcm_nodes = ", ".join(k.pod.node or k.pod.name for k in cluster.controller_managers) or "the control plane"
            out.append(finding(
                "kcm-cluster-cidr", BLOCKING,
                f"kube-controller-manager would crash-loop on {kcm_nodes}: --cluster-cidr={params.target} "
                f"excludes node {name}'s podCIDR {cidr}",
                [f"F controllermanager.go: error starting controllers: {kcm_crash_line(name, cidr, str(params.target))}"]
                + [f"node {n} podCIDR {c}" for n, c in bad[1:6]],
                "don't change kube-controller-manager before the nodes: use --node-strategy recreate-nodes "
                "(nodes first, then the flag) or disable-allocation (--allocate-node-cidrs=false)"))
        masks = {k.node_cidr_mask_size_ipv4 for k in cluster.controller_managers}
        if masks and params.node_cidr_mask not in masks:
            out.append(finding("kcm-node-mask", BLOCKING, "the node CIDR mask cannot change while nodes keep theirs",
                               [f"current mask {sorted(masks)}", f"requested /{params.node_cidr_mask}"],
                               "keep the mask, or re-create the nodes (--node-strategy recreate-nodes)"))
    elif params.node_strategy == DISABLE_ALLOCATION:
        severity = INFO if ctx.info.ipam == CALICO_IPAM else BLOCKING
        out.append(finding("kcm-allocate-node-cidrs", severity,
                           "kube-controller-manager stops allocating node podCIDRs (--allocate-node-cidrs=false)",
                           [f"IPAM {ctx.info.ipam}"],
                           "none: calico-ipam ignores node podCIDRs" if severity == INFO else
                           "host-local IPAM needs node podCIDRs: use --node-strategy recreate-nodes"))
    return out


def check_kube_proxy(ctx: Context) -> list[Finding]:
    cluster, target = ctx.cluster, ctx.params.target
    if cluster.kube_proxy is None:
        return [finding("kube-proxy-config", INFO, "no kube-proxy ConfigMap (kube-proxy replaced or not kubeadm)",
                        ["configmap kube-system/kube-proxy not found"], "none")]
    cidrs = cluster.kube_proxy.cluster_cidrs
    out = []
    if not any(contains(c, target) for c in cidrs):
        out.append(finding("kube-proxy-cluster-cidr", WARNING,
                           f"kube-proxy clusterCIDR does not cover {target}: Service traffic from new pods "
                           f"would be SNATed to the node address",
                           [f"kube-proxy config.conf clusterCIDR {','.join(map(str, cidrs)) or '(unset)'}"],
                           "the plan's kube-proxy step sets it and restarts kube-proxy before pods move"))
    stale = [p.pod.name for p in cluster.kube_proxy_pods if p.stale]
    if stale:
        out.append(finding("kube-proxy-stale", INFO, "kube-proxy pods run an older config than the ConfigMap",
                           stale, "the plan restarts kube-proxy"))
    return out


def check_calico_node_env(ctx: Context) -> list[Finding]:
    node = ctx.cluster.calico_node
    value = node.env.get("CALICO_IPV4POOL_CIDR") if node else None
    if not value or operator_managed(ctx):
        return []
    try:
        old = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return []
    if overlaps(old, ctx.params.old):
        return [finding("calico-node-pool-env", WARNING,
                        "calico-node's CALICO_IPV4POOL_CIDR names the old range: if no IPv4 pool exists when "
                        "calico-node starts, the old default pool comes back",
                        [f"daemonset {node.namespace}/calico-node CALICO_IPV4POOL_CIDR={value}"],
                        "the plan's last step sets it to the new range")]
    return []


def check_readable(ctx: Context) -> list[Finding]:
    """Workload objects the migration cannot read: it cannot tell whether they hold old addresses
    or what guards them, so it does not guess."""
    if not ctx.workloads.invalid:
        return []
    return [finding("workload-invalid", BLOCKING, "objects the migration must account for cannot be read",
                    [f"{kind} {name}: {why}" for kind, name, why in ctx.workloads.invalid],
                    "repair or delete them (kubectl edit / kubectl delete), then check again")]


def check_bare_pods(ctx: Context) -> list[Finding]:
    bare = [p for p in pods_to_move(ctx.workloads, ctx.params.old) if top_owner(p, ctx.workloads) is None]
    if not bare:
        return []
    evidence = [f"pod {pod_key(p)} on {(p.get('spec') or {}).get('nodeName')}" for p in bare]
    if ctx.params.allow_bare_pod_loss:
        return [finding("bare-pods", WARNING, "pods without a controller will be deleted for good", evidence,
                        "recreate them yourself afterwards if they are still needed")]
    return [finding("bare-pods", BLOCKING, "pods without a controller hold old-pool addresses: moving them "
                                           "deletes them forever", evidence,
                    "recreate them under a Deployment, delete them, or pass --allow-bare-pod-loss")]


def check_pdbs(ctx: Context) -> list[Finding]:
    moving = pods_to_move(ctx.workloads, ctx.params.old)
    if ctx.params.node_strategy == RECREATE_NODES:
        moving = [p for p in ctx.workloads.pods if not (p.get("spec") or {}).get("hostNetwork")]
    seen, out = set(), []
    for pod in moving:
        for pdb in pdbs_for(pod, ctx.workloads):
            key = (namespace_of(pdb), name_of(pdb))
            if key in seen:
                continue
            seen.add(key)
            allowed, healthy, desired, expected = disruptions_allowed(pdb, ctx.workloads)
            evidence = [f"pdb {key[0]}/{key[1]}: {healthy} healthy, {desired} must stay healthy, "
                        f"{allowed} disruptions allowed"]
            if desired >= expected:
                out.append(finding("pdb-blocks-evictions", BLOCKING, "a PodDisruptionBudget never allows an eviction",
                                   evidence, "relax the budget (or scale the workload up) for the migration"))
            elif allowed == 0:
                out.append(finding("pdb-no-disruption-now", WARNING,
                                   "a PodDisruptionBudget allows no eviction right now", evidence,
                                   "evictions wait until its pods are healthy again"))
    return out


def check_health(ctx: Context) -> list[Finding]:
    cluster, out = ctx.cluster, []
    not_ready = [n.name for n in cluster.nodes if not n.ready]
    if not_ready:
        out.append(finding("nodes-not-ready", WARNING, "nodes are not Ready", not_ready,
                           "pods cannot move onto them; fix them or expect the roll to wait"))
    calico = [f"{p.name} on {p.node}: {p.phase} {p.waiting_reason or ''}".strip()
              for p in cluster.calico_node_pods if not p.ready]
    if calico:
        out.append(finding("calico-node-not-ready", WARNING, "calico-node is not Ready on some nodes", calico,
                           "new pods there get no network until calico-node is Ready"))
    sessions = [f"{s.node} → {peer.peer_ip} ({peer.type}) {peer.state or 'unknown'}"
                for s in cluster.node_statuses for peer in s.peers if peer.state != "Established"]
    if sessions:
        out.append(finding("bgp-not-established", WARNING, "BGP sessions are not Established", sessions,
                           "routes to pods on those nodes may be missing; fix BGP before moving pods"))
    return out


def check_encapsulation(ctx: Context) -> list[Finding]:
    old = ctx.cluster.pool(ctx.params.old_pool)
    params = ctx.params
    if old is None or (old.ipip_mode, old.vxlan_mode) == (params.ipip_mode, params.vxlan_mode):
        return []
    return [finding("encapsulation-mismatch", BLOCKING,
                    "the new pool's encapsulation differs from the old pool's: calico-node would remove the "
                    "nodes' tunnel addresses when the old pool is disabled",
                    [f"pool {old.name} ipipMode {old.ipip_mode} vxlanMode {old.vxlan_mode}",
                     f"new pool ipipMode {params.ipip_mode} vxlanMode {params.vxlan_mode}"],
                    "keep the old pool's encapsulation for the migration; change it afterwards")]


CHECKS: tuple[Callable[[Context], list[Finding]], ...] = (
    check_datastore, check_write_path, check_ipam, check_rbac, check_overlaps, check_capacity, check_pins,
    check_kcm, check_kube_proxy, check_calico_node_env, check_readable, check_bare_pods, check_pdbs,
    check_health, check_encapsulation)


def preflight(ctx: Context) -> list[Finding]:
    findings = [f for check in CHECKS for f in check(ctx)]
    order = {BLOCKING: 0, WARNING: 1, INFO: 2}
    return sorted(findings, key=lambda f: order.get(f.severity, 3))


def blocking(findings) -> list[Finding]:
    return [f for f in findings if f.severity == BLOCKING]
