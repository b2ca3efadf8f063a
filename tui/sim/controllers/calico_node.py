"""calico-node on every node: its start-up sequence and its tunnel address allocator.

Start-up (each time a calico-node container starts): publish the node's BGP address annotation and
`NetworkUnavailable=False`, create the cluster defaults, create `default-ipv4-ippool` from
`CALICO_IPV4POOL_CIDR` **only if no IPv4 pool exists at all** (the real pitfall), and let install-cni
write the CNI config from the `calico-config` ConfigMap as it is at that moment.

Tunnel addresses (continuously, libcalico-go allocateip): a node's IPIP/VXLAN tunnel address must lie
in an enabled pool that selects the node, allows tunnels and has that encapsulation; otherwise it is
released and re-allocated in such a pool, or removed when there is none.
"""

from __future__ import annotations

import ipaddress

from tui.sim.controllers import ipam_blocks as ib
from tui.sim.controllers.base import (BY_NODE, CNI_INSTALLED, CONFIGMAPS, INSTALLATIONS, IPAMHANDLES, IPPOOLS,
                                      IPPOOLS_V3, NODES, PODS, Controller, key_of)
from tui.sim.controllers.cluster_info import ensure_cluster_objects
from tui.sim.controllers.ipam import Ipam, IpamError, parse_cni_config, pool_spec
from tui.sim.node_objects import node_conditions
from tui.sim.static_pods import cluster_configuration

POD, NODE, POOL = key_of(PODS), key_of(NODES), key_of(IPPOOLS)
IPV4_ADDRESS = "projectcalico.org/IPv4Address"
TUNNELS = (  # pool mode field, node annotation, IPAM attribute type
    ("ipipMode", "projectcalico.org/IPv4IPIPTunnelAddr", ib.IPIP_TUNNEL),
    ("vxlanMode", "projectcalico.org/IPv4VXLANTunnelAddr", ib.VXLAN_TUNNEL),
)
VXLAN_MAC = "projectcalico.org/VXLANTunnelMACAddr"
DEFAULT_POOL = "default-ipv4-ippool"
CALICO_IS_UP = ("False", "CalicoIsUp", "Calico is running on this node")
OPERATOR_CNI = {"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [
    {"type": "calico", "datastore_type": "kubernetes", "mtu": 0, "nodename_file_optional": False,
     "log_level": "Info", "log_file_path": "/var/log/calico/cni/cni.log",
     "ipam": {"type": "calico-ipam", "assign_ipv4": "true", "assign_ipv6": "false"},
     "container_settings": {"allow_ip_forwarding": False}, "policy": {"type": "k8s"},
     "kubernetes": {"k8s_api_root": "https://10.96.0.1:443", "kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}},
    {"type": "bandwidth", "capabilities": {"bandwidth": True}},
    {"type": "portmap", "snat": True, "capabilities": {"portMappings": True}}]}


def is_calico_node(pod: dict) -> bool:
    return (pod["metadata"].get("labels") or {}).get("k8s-app") == "calico-node"


def resolve_env(container: dict, pod: dict, configmap) -> dict[str, str]:
    """A container's environment as the kubelet resolves it (values, ConfigMap keys, pod fields)."""
    env = {}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
            continue
        source = var.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            data = (configmap(pod["metadata"]["namespace"], ref.get("name")) or {}).get("data") or {}
            if ref.get("key") in data:
                env[var["name"]] = data[ref["key"]]
        elif "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath")
            value = {"spec.nodeName": pod["spec"].get("nodeName"), "metadata.name": pod["metadata"]["name"],
                     "metadata.namespace": pod["metadata"]["namespace"]}.get(path)
            if value is not None:
                env[var["name"]] = value
    return env


def default_pool(env: dict[str, str], pod_subnet: str | None) -> dict | None:
    """The pool calico-node creates when there is no IPv4 pool (None when told not to)."""
    cidr = env.get("CALICO_IPV4POOL_CIDR") or pod_subnet or "192.168.0.0/16"
    if env.get("NO_DEFAULT_POOLS", "").lower() == "true" or cidr.lower() == "none":
        return None
    modes = {"": "Never", "off": "Never", "never": "Never", "always": "Always", "crosssubnet": "CrossSubnet",
             "cross-subnet": "CrossSubnet"}
    spec = {
        "cidr": str(ipaddress.ip_network(cidr, strict=False)),
        "blockSize": int(env.get("CALICO_IPV4POOL_BLOCK_SIZE") or 26),
        "ipipMode": modes.get(env.get("CALICO_IPV4POOL_IPIP", "").lower(), "Never"),
        "vxlanMode": modes.get(env.get("CALICO_IPV4POOL_VXLAN", "").lower(), "Never"),
        "natOutgoing": env.get("CALICO_IPV4POOL_NAT_OUTGOING", "true").lower() == "true",
        "nodeSelector": env.get("CALICO_IPV4POOL_NODE_SELECTOR") or "all()",
    }
    return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": DEFAULT_POOL}, "spec": spec}


def vxlan_mac(node: str) -> str:
    digest = ib.hostname_hash(node).encode()
    return "66:" + ":".join(f"{b:02x}" for b in digest[:5])


class CalicoNode(Controller):
    name = "calico-node"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._started: dict[str, tuple[str, int]] = {}  # node -> (calico-node pod uid, host restarts)

    def _pod(self, node: str) -> dict | None:
        return next((p for p in self.cache.by_index(POD, BY_NODE, node) if is_calico_node(p)
                     and (p.get("status") or {}).get("phase") == "Running"
                     and not p["metadata"].get("deletionTimestamp")), None)

    def initial_keys(self):
        for node in self.cache.list(NODE):
            yield ("startup", node["metadata"]["name"])

    def on_change(self, event, key, obj, old):
        if key == POD and is_calico_node(obj) and obj["spec"].get("nodeName"):
            yield ("startup", obj["spec"]["nodeName"])
        elif key == POOL:
            for node in self._started:
                yield ("tunnel", node)
        elif key == NODE and event != "DELETED":
            yield ("tunnel", obj["metadata"]["name"])
        elif key == key_of(IPAMHANDLES) and event == "DELETED":
            node = next((n for n in self._started if obj["spec"].get("handleID") in
                         (ib.tunnel_handle_id(n, t) for _, _, t in TUNNELS)), None)
            if node:
                yield ("tunnel", node)

    def on_host(self, node, action):
        if action != CNI_INSTALLED:
            yield ("startup", node)

    def sync(self, key) -> None:
        kind, node = key
        if kind == "startup":
            self._startup(node)
        elif node in self._started:
            self._tunnels(node)

    # --- start-up ------------------------------------------------------------------------------
    def _startup(self, node: str) -> None:
        pod, host = self._pod(node), self.ctx.hosts.get(node)
        if pod is None or host is None or not host.kubelet_running:
            if pod is None:
                self._started.pop(node, None)
            return
        instance = (pod["metadata"]["uid"], host.calico_node_restarts)
        if self._started.get(node) == instance:
            return
        api = self.ctx.api
        container = next((c for c in pod["spec"]["containers"] if c["name"] == "calico-node"),
                         pod["spec"]["containers"][0])
        env = resolve_env(container, pod, self._configmap)
        node_obj = self.cache.get(NODE, None, node)
        if node_obj is None:
            return
        if (node_obj["metadata"].get("annotations") or {}).get(IPV4_ADDRESS) != host.address:
            api.patch(self.ctx.res(NODES), None, node, {"metadata": {"annotations": {IPV4_ADDRESS: host.address}}},
                      "application/strategic-merge-patch+json")
        self._network_available(node)
        version = container.get("image", ":v3.32.1").rsplit(":", 1)[-1]
        ensure_cluster_objects(self.ctx, env, version)
        self._default_pool(env)
        first_install = host.cni_config is None
        host.cni_config = self._cni_config(pod)
        self._started[node] = instance
        if first_install:
            self.ctx.hosts.notify(node, CNI_INSTALLED)
        self.enqueue(("tunnel", node))

    def _configmap(self, namespace: str, name: str) -> dict | None:
        return self.cache.get(key_of(CONFIGMAPS), namespace, name)

    def _network_available(self, node: str) -> None:
        node_obj = self.cache.get(NODE, None, node)
        status = node_obj.get("status") or {}
        current = next((c for c in status.get("conditions") or [] if c.get("type") == "NetworkUnavailable"), None)
        if current and (current.get("status"), current.get("reason")) == CALICO_IS_UP[:2]:
            return
        others = [c for c in status.get("conditions") or [] if c.get("type") != "NetworkUnavailable"]
        conds = node_conditions(self.ctx.now(), True, status.get("conditions"), CALICO_IS_UP)[:1] + others
        self.set_status(NODES, node_obj, {**status, "conditions": conds})

    def _default_pool(self, env: dict[str, str]) -> None:
        if any(ib.network(pool_spec(p).get("cidr", "0.0.0.0/0")).version == 4
               for p in self.cache.list(POOL)):
            return
        kubeadm = self._configmap("kube-system", "kubeadm-config")
        subnet = (cluster_configuration(kubeadm).get("networking") or {}).get("podSubnet") if kubeadm else None
        pool = default_pool(env, subnet)
        if pool is None:
            return
        if self.ctx.has(IPPOOLS_V3):
            self.ctx.api.create(self.ctx.res(IPPOOLS_V3), None, pool)
        else:
            pool = {**pool, "apiVersion": "crd.projectcalico.org/v1", "spec": pool_spec(pool)}
            self.ctx.api.create(self.ctx.res(IPPOOLS), None, pool)

    def _cni_config(self, pod: dict) -> dict:
        """What install-cni writes to /etc/cni/net.d/10-calico.conflist on this start."""
        install = next((c for c in pod["spec"].get("initContainers") or [] if c["name"] == "install-cni"), None)
        env = resolve_env(install, pod, self._configmap) if install else {}
        if env.get("CNI_NETWORK_CONFIG"):
            return parse_cni_config(env["CNI_NETWORK_CONFIG"])
        if self.cache.get(key_of(INSTALLATIONS), None, "default") is not None:
            return OPERATOR_CNI
        cm = self._configmap("kube-system", "calico-config")
        return parse_cni_config(((cm or {}).get("data") or {}).get("cni_network_config"))

    # --- tunnel addresses ----------------------------------------------------------------------
    def _tunnels(self, node: str) -> None:
        node_obj = self.cache.get(NODE, None, node)
        if node_obj is None or self._pod(node) is None:
            return
        ipam = Ipam(self.ctx)
        annotations = node_obj["metadata"].get("annotations") or {}
        changes: dict[str, str | None] = {}
        for mode_key, annotation, tunnel_type in TUNNELS:
            handle = ib.tunnel_handle_id(node, tunnel_type)
            pools = ipam.tunnel_pools(node, mode_key)
            current = annotations.get(annotation)
            held = ipam.handle_ips(handle)
            if not pools:
                if held:
                    ipam.release(handle)
                if current:
                    changes[annotation] = None
                    if tunnel_type == ib.VXLAN_TUNNEL:
                        changes[VXLAN_MAC] = None
                continue
            nets = [ib.network(pool_spec(p)["cidr"]) for p in pools]
            if current and current in held and any(ipaddress.ip_address(current) in n for n in nets):
                continue
            if held:
                ipam.release(handle)
            try:
                ip = ipam.assign(handle, ib.tunnel_attributes(node, tunnel_type), node, pools)
            except IpamError:
                self.after(self.ctx.timings.sandbox_retry or 1.0, ("tunnel", node))
                continue
            changes[annotation] = ip
            if tunnel_type == ib.VXLAN_TUNNEL:
                changes[VXLAN_MAC] = vxlan_mac(node)
        if changes:
            self.ctx.api.patch(self.ctx.res(NODES), None, node, {"metadata": {"annotations": changes}},
                               "application/merge-patch+json")
