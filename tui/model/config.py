"""The Kubernetes-side configuration a pod-CIDR migration must keep consistent (kubernetes.md §1.1).

kube-controller-manager flags (from its mirror pod), kube-proxy's `clusterCIDR` and whether each
kube-proxy pod still runs an older config, kubeadm's `podSubnet`, Calico's CNI config and
calico-node environment, and the tigera-operator Installation. Each is read from the objects the
cache watches (docs/ARCHITECTURE.md, "Objects every layer agrees on").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from tui.model.cidr import Network, parse_cidr_list
from tui.model.raw import (
    Malformed,
    Meta,
    RawObject,
    checked,
    lookup,
    objects,
    opt_bool,
    opt_int,
    opt_map,
    opt_str,
    parse_time,
    read_meta,
    str_list,
    str_map,
)

# The simulator's kube-proxy pods record the config they started with, as real kube-proxy cannot
# be asked. A real cluster has neither annotation; the model then compares start times instead.
KUBE_PROXY_CONFIG_HASH_ANNOTATION = "calico-tui.sim/kube-proxy-config-hash"
KUBE_PROXY_CLUSTER_CIDR_ANNOTATION = "calico-tui.sim/kube-proxy-cluster-cidr"


def config_hash(text: str) -> str:
    """Fingerprint of a kube-proxy `config.conf`; the simulator stamps pods with the same value."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cidrs(path: str, text: str | None) -> tuple[Network, ...]:
    """A comma-separated CIDR list as the Kubernetes components read it (host bits are masked)."""
    return () if not text else checked(path, lambda t: parse_cidr_list(t, strict=False), text)


# --- pods and daemonsets --------------------------------------------------------------------------


@dataclass(frozen=True)
class PodState:
    meta: Meta
    node: str | None
    phase: str | None
    ready: bool
    restart_count: int
    waiting_reason: str | None  # e.g. CrashLoopBackOff, ContainerCreating
    start_time: str | None  # pod start (status.startTime)
    container_started_at: str | None  # when the first container's current process started

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def crash_looping(self) -> bool:
        return self.waiting_reason == "CrashLoopBackOff"


def parse_pod(obj: RawObject) -> PodState:
    meta = read_meta(obj)
    statuses = objects(obj, "status.containerStatuses")
    restarts = 0
    for status in statuses:
        restarts += opt_int(status, "restartCount", 0)
    waiting = next((reason for s in statuses if (reason := opt_str(s, "state.waiting.reason"))), None)
    ready = any(opt_str(c, "type") == "Ready" and opt_str(c, "status") == "True"
                for c in objects(obj, "status.conditions"))
    return PodState(
        meta=meta,
        node=opt_str(obj, "spec.nodeName"),
        phase=opt_str(obj, "status.phase"),
        ready=ready,
        restart_count=restarts,
        waiting_reason=waiting,
        start_time=opt_str(obj, "status.startTime"),
        container_started_at=opt_str(statuses[0], "state.running.startedAt") if statuses else None,
    )


@dataclass(frozen=True)
class DaemonSetState:
    meta: Meta
    desired: int
    current: int
    ready: int
    updated: int
    available: int
    generation: int | None
    observed_generation: int | None

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def rolled_out(self) -> bool:
        """What `kubectl rollout status` waits for: the controller saw the spec and every pod is new and ready."""
        observed = self.generation is None or (self.observed_generation or 0) >= self.generation
        return observed and self.updated == self.desired and self.available == self.desired


def parse_daemonset(obj: RawObject) -> DaemonSetState:
    return DaemonSetState(
        meta=read_meta(obj),
        desired=opt_int(obj, "status.desiredNumberScheduled", 0),
        current=opt_int(obj, "status.currentNumberScheduled", 0),
        ready=opt_int(obj, "status.numberReady", 0),
        updated=opt_int(obj, "status.updatedNumberScheduled", 0),
        available=opt_int(obj, "status.numberAvailable", 0),
        generation=opt_int(obj, "metadata.generation"),
        observed_generation=opt_int(obj, "status.observedGeneration"),
    )


# --- kube-controller-manager ----------------------------------------------------------------------

_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_flags(argv: list[str]) -> dict[str, str]:
    """`--flag=value`, `--flag value` and bare boolean `--flag` (value "true"); later flags win."""
    flags: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            continue
        name, equals, value = arg.lstrip("-").partition("=")
        if not equals:
            if index < len(argv) and not argv[index].startswith("-"):
                value = argv[index]
                index += 1
            else:
                value = "true"
        flags[name] = value
    return flags


def _go_bool(flags: dict[str, str], name: str, default: bool) -> bool:
    value = flags.get(name)
    if value is None:
        return default
    if value in _GO_TRUE or value in _GO_FALSE:
        return value in _GO_TRUE
    raise Malformed(f"--{name}: {value!r} is not a boolean")


@dataclass(frozen=True)
class ControllerManager:
    """One control-plane node's kube-controller-manager, read from its mirror pod."""

    pod: PodState
    flags: dict[str, str]
    cluster_cidrs: tuple[Network, ...]
    allocate_node_cidrs: bool
    node_cidr_mask_size_ipv4: int
    service_cluster_ip_ranges: tuple[Network, ...]


def parse_controller_manager(obj: RawObject) -> ControllerManager:
    pod = parse_pod(obj)
    containers = objects(obj, "spec.containers")
    if not containers:
        raise Malformed("spec.containers: kube-controller-manager pod has no container")
    flags = parse_flags(list(str_list(containers[0], "command")) + list(str_list(containers[0], "args")))
    mask_text = flags.get("node-cidr-mask-size-ipv4") or flags.get("node-cidr-mask-size") or "24"
    if not mask_text.isdigit():
        raise Malformed(f"--node-cidr-mask-size: {mask_text!r} is not a number")
    return ControllerManager(
        pod=pod,
        flags=flags,
        cluster_cidrs=_cidrs("--cluster-cidr", flags.get("cluster-cidr")),
        allocate_node_cidrs=_go_bool(flags, "allocate-node-cidrs", False),
        node_cidr_mask_size_ipv4=int(mask_text),
        service_cluster_ip_ranges=_cidrs("--service-cluster-ip-range", flags.get("service-cluster-ip-range")),
    )


# --- kube-proxy -----------------------------------------------------------------------------------


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is present


def _yaml_document(path: str, text: str | None) -> Mapping[str, Any]:
    if not text:
        return {}
    try:
        document = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        raise Malformed(f"{path}: not YAML ({str(error).splitlines()[0]})") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise Malformed(f"{path}: expected a YAML mapping")
    return document


@dataclass(frozen=True)
class KubeProxyConfig:
    """ConfigMap kube-system/kube-proxy. Pods only pick it up when they restart."""

    meta: Meta
    cluster_cidrs: tuple[Network, ...]
    mode: str | None
    config_hash: str


def parse_kube_proxy_config(obj: RawObject) -> KubeProxyConfig:
    meta = read_meta(obj)
    text = str_map(obj, "data").get("config.conf", "")
    document = _yaml_document("data.config.conf", text)
    return KubeProxyConfig(
        meta=meta,
        cluster_cidrs=_cidrs("data.config.conf clusterCIDR", opt_str(document, "clusterCIDR")),
        mode=opt_str(document, "mode"),
        config_hash=config_hash(text),
    )


@dataclass(frozen=True)
class KubeProxyPod:
    pod: PodState
    running_config_hash: str | None  # from the simulator's annotation; None on real clusters
    running_cluster_cidr: str | None
    stale: bool | None  # runs an older config than the ConfigMap's; None when it cannot be told


def kube_proxy_pod(pod_obj: RawObject, config: KubeProxyConfig | None) -> KubeProxyPod:
    """Whether a kube-proxy pod runs the current ConfigMap.

    Exact when the pod carries the config-hash annotation; otherwise the pod is stale when its
    container started before the ConfigMap last changed (newest managedFields time), and unknown
    when either time is missing.
    """
    pod = parse_pod(pod_obj)
    running_hash = pod.meta.annotations.get(KUBE_PROXY_CONFIG_HASH_ANNOTATION)
    stale: bool | None = None
    if config is not None:
        if running_hash:
            stale = running_hash != config.config_hash
        else:
            started = parse_time(pod.container_started_at or pod.start_time)
            changed = parse_time(config.meta.last_changed)
            if started and changed:
                stale = started < changed
    return KubeProxyPod(
        pod=pod,
        running_config_hash=running_hash,
        running_cluster_cidr=pod.meta.annotations.get(KUBE_PROXY_CLUSTER_CIDR_ANNOTATION),
        stale=stale,
    )


# --- kubeadm --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KubeadmConfig:
    """ConfigMap kube-system/kubeadm-config: read by kubeadm only (upgrade, join), not by running components."""

    meta: Meta
    pod_subnets: tuple[Network, ...]
    service_subnets: tuple[Network, ...]
    kubernetes_version: str | None


def parse_kubeadm_config(obj: RawObject) -> KubeadmConfig:
    document = _yaml_document("data.ClusterConfiguration", str_map(obj, "data").get("ClusterConfiguration"))
    return KubeadmConfig(
        meta=read_meta(obj),
        pod_subnets=_cidrs("networking.podSubnet", opt_str(document, "networking.podSubnet")),
        service_subnets=_cidrs("networking.serviceSubnet", opt_str(document, "networking.serviceSubnet")),
        kubernetes_version=opt_str(document, "kubernetesVersion"),
    )


# --- Calico CNI config (manifest installs) --------------------------------------------------------

# The manifest's template has unquoted placeholders (`"mtu": __CNI_MTU__`) that install-cni fills in.
_PLACEHOLDER = re.compile(r'(?<!")\b__[A-Z0-9_]+__\b(?!")')


@dataclass(frozen=True)
class CniConfig:
    """ConfigMap calico-config: `cni_network_config` becomes /etc/cni/net.d/10-calico.conflist."""

    meta: Meta
    network_name: str | None
    ipam_type: str | None  # calico-ipam or host-local
    ipv4_pools: tuple[str, ...]  # pool names or CIDRs pinned in the CNI config
    ipv6_pools: tuple[str, ...]
    datastore_type: str | None
    calico_backend: str | None  # bird, vxlan or none
    etcd_endpoints: str | None


def parse_cni_config(obj: RawObject) -> CniConfig:
    data = str_map(obj, "data")
    text = data.get("cni_network_config", "")
    try:
        document = json.loads(_PLACEHOLDER.sub("null", text)) if text else {}
    except ValueError as error:
        raise Malformed(f"data.cni_network_config: not JSON ({error})") from None
    if not isinstance(document, Mapping):
        raise Malformed("data.cni_network_config: expected a JSON object")
    plugins = objects(document, "plugins") or [document]
    calico = next((p for p in plugins if opt_str(p, "type") == "calico"), {})
    return CniConfig(
        meta=read_meta(obj),
        network_name=opt_str(document, "name"),
        ipam_type=opt_str(calico, "ipam.type"),
        ipv4_pools=str_list(calico, "ipam.ipv4_pools"),
        ipv6_pools=str_list(calico, "ipam.ipv6_pools"),
        datastore_type=opt_str(calico, "datastore_type"),
        calico_backend=data.get("calico_backend") or None,
        etcd_endpoints=data.get("etcd_endpoints") or opt_str(calico, "etcd_endpoints"),
    )


# --- calico-node ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalicoNodeConfig:
    """The calico-node DaemonSet's container environment, with ConfigMap references resolved."""

    daemonset: DaemonSetState
    image: str | None
    env: dict[str, str | None]  # None: set from a source that is not readable here (fieldRef, secret)

    @property
    def namespace(self) -> str | None:
        return self.daemonset.meta.namespace

    @property
    def version(self) -> str | None:
        if not self.image or ":" not in self.image.rsplit("/", 1)[-1]:
            return None
        return self.image.rsplit(":", 1)[1].split("@")[0]

    @property
    def datastore_type(self) -> str:
        """DATASTORE_TYPE, else libcalico-go's rule: etcdv3 when ETCD_ENDPOINTS is set, else kubernetes."""
        if self.env.get("DATASTORE_TYPE"):
            return self.env["DATASTORE_TYPE"]
        return "etcdv3" if self.env.get("ETCD_ENDPOINTS") else "kubernetes"

    @property
    def networking_backend(self) -> str:
        return self.env.get("CALICO_NETWORKING_BACKEND") or "bird"


def parse_calico_node(obj: RawObject, configmaps: Mapping[tuple[str | None, str], Mapping[str, str]]) -> CalicoNodeConfig:
    """`configmaps` maps (namespace, name) to data, to resolve `valueFrom.configMapKeyRef`."""
    daemonset = parse_daemonset(obj)
    containers = objects(obj, "spec.template.spec.containers")
    container = next((c for c in containers if opt_str(c, "name") == "calico-node"), containers[0] if containers else {})
    env: dict[str, str | None] = {}
    for index, entry in enumerate(objects(container, "env")):
        name = opt_str(entry, "name")
        if not name:
            raise Malformed(f"env[{index}]: no name")
        ref = opt_map(entry, "valueFrom.configMapKeyRef")
        if ref:
            data = configmaps.get((daemonset.meta.namespace, opt_str(ref, "name", "")), {})
            env[name] = data.get(opt_str(ref, "key", ""))
        elif lookup(entry, "valueFrom") is not None:
            env[name] = None
        else:
            env[name] = opt_str(entry, "value", "")
    return CalicoNodeConfig(daemonset=daemonset, image=opt_str(container, "image"), env=env)


# --- tigera-operator Installation -----------------------------------------------------------------


@dataclass(frozen=True)
class InstallationPool:
    """An entry of Installation `spec.calicoNetwork.ipPools`: the operator owns the matching IPPool."""

    name: str | None
    cidr: str
    block_size: int | None
    encapsulation: str | None  # IPIP, IPIPCrossSubnet, VXLAN, VXLANCrossSubnet, None
    nat_outgoing: str | None  # Enabled / Disabled
    node_selector: str | None
    disable_new_allocations: bool


@dataclass(frozen=True)
class Installation:
    meta: Meta
    ip_pools: tuple[InstallationPool, ...]
    ipam_type: str | None  # Calico or HostLocal
    cni_type: str | None
    bgp: str | None  # Enabled / Disabled
    variant: str | None
    calico_version: str | None


def parse_installation(obj: RawObject) -> Installation:
    pools = tuple(
        InstallationPool(
            name=opt_str(entry, "name"),
            cidr=opt_str(entry, "cidr", ""),
            block_size=opt_int(entry, "blockSize"),
            encapsulation=opt_str(entry, "encapsulation"),
            nat_outgoing=opt_str(entry, "natOutgoing"),
            node_selector=opt_str(entry, "nodeSelector"),
            disable_new_allocations=opt_bool(entry, "disableNewAllocations", False),
        )
        for entry in objects(obj, "spec.calicoNetwork.ipPools")
    )
    return Installation(
        meta=read_meta(obj),
        ip_pools=pools,
        ipam_type=opt_str(obj, "spec.cni.ipam.type"),
        cni_type=opt_str(obj, "spec.cni.type"),
        bgp=opt_str(obj, "spec.calicoNetwork.bgp"),
        variant=opt_str(obj, "status.variant") or opt_str(obj, "spec.variant"),
        calico_version=opt_str(obj, "status.calicoVersion"),
    )
