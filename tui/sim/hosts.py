"""Host state: what lives on the simulated machines and not in the API.

A real cluster has state the API cannot show or change: whether a node's kubelet process runs, the
static pod manifests in /etc/kubernetes/manifests, the machine's address. Migrations depend on it
(kube-controller-manager's flags can only be edited on the host), so the simulator keeps it here and
changes it only through host actions, which notify the controllers.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from tui.model.static_pods import get_flag, set_flags
from tui.sim.static_pods import KCM, manifest_hash

KUBELET_RUNNING = "running"
KUBELET_STOPPED = "stopped"


@dataclass
class Host:
    name: str
    address: str  # the machine's IPv4 address with its subnet, e.g. 10.10.0.11/24
    kubelet: str = KUBELET_RUNNING
    control_plane: bool = False
    static_pods: dict[str, dict] = field(default_factory=dict)  # manifest file name -> Pod manifest
    static_hashes: dict[str, str] = field(default_factory=dict)  # config.hash kept from a snapshot
    node_labels: dict[str, str] = field(default_factory=dict)  # kubelet --node-labels
    machine: dict = field(default_factory=dict)  # nodeInfo/capacity overrides
    calico_node_restarts: int = 0  # bumped by restart-calico-node
    cni_config: dict | None = None  # /etc/cni/net.d/10-calico.conflist as calico-node's install-cni wrote it
    kubelet_starts: int = 1  # bumped by every kubelet (re)start

    @property
    def ip(self) -> str:
        return _ip(self.address)

    @property
    def kubelet_running(self) -> bool:
        return self.kubelet == KUBELET_RUNNING

    def static_hash(self, name: str) -> str:
        return self.static_hashes.get(name) or manifest_hash(self.static_pods[name])

    def kcm_command(self) -> list[str] | None:
        manifest = self.static_pods.get(KCM)
        return manifest["spec"]["containers"][0]["command"] if manifest else None

    def kcm_flag(self, name: str) -> str | None:
        command = self.kcm_command()
        return get_flag(command, name) if command else None

    def to_dict(self) -> dict:
        """The scenario-file form (see docs/SIMULATOR.md, "Scenario files")."""
        out = {"address": self.address, "kubelet": self.kubelet}
        if self.control_plane:
            out["controlPlane"] = True
        if self.static_pods:
            out["staticPods"] = copy.deepcopy(self.static_pods)
        if self.node_labels:
            out["nodeLabels"] = dict(self.node_labels)
        if self.machine:
            out["machine"] = dict(self.machine)
        if self.cni_config is not None:
            out["cniConfig"] = copy.deepcopy(self.cni_config)
        return out

    @classmethod
    def from_dict(cls, name: str, data: dict) -> "Host":
        return cls(name=name, address=data["address"], kubelet=data.get("kubelet", KUBELET_RUNNING),
                   control_plane=bool(data.get("controlPlane", False)),
                   static_pods=copy.deepcopy(data.get("staticPods") or {}),
                   node_labels=dict(data.get("nodeLabels") or {}), machine=dict(data.get("machine") or {}),
                   cni_config=copy.deepcopy(data.get("cniConfig")))


@lru_cache(maxsize=None)
def _ip(address: str) -> str:
    return str(ipaddress.ip_interface(address).ip)


class HostError(ValueError):
    """A host action that cannot be carried out (unknown node, not a control-plane node...)."""


class Hosts:
    """All simulated machines by node name, and the host actions a person would run on them."""

    def __init__(self, hosts: dict[str, Host] | None = None) -> None:
        self._hosts: dict[str, Host] = dict(hosts or {})
        self._listeners: list[Callable[[str, str], None]] = []

    def __contains__(self, name: str) -> bool:
        return name in self._hosts

    def __getitem__(self, name: str) -> Host:
        return self._hosts[name]

    def get(self, name: str) -> Host | None:
        return self._hosts.get(name)

    def __iter__(self):
        return iter(sorted(self._hosts))

    def values(self) -> list[Host]:
        return [self._hosts[n] for n in sorted(self._hosts)]

    def on_change(self, callback: Callable[[str, str], None]) -> None:
        """`callback(node, action)` after every host action."""
        self._listeners.append(callback)

    def notify(self, name: str, what: str) -> None:
        """Tell the controllers that something on the host changed (e.g. `cni-installed`)."""
        self._notify(name, what)

    def _notify(self, name: str, action: str) -> None:
        for listener in list(self._listeners):
            listener(name, action)

    def require(self, name: str) -> Host:
        host = self._hosts.get(name)
        if host is None:
            raise HostError(f"no host named {name!r}")
        return host

    # --- host actions -------------------------------------------------------------------------
    def edit_kcm(self, name: str, cluster_cidr: str | None = None, allocate_node_cidrs: str | None = None,
                 node_cidr_mask_size: str | None = None) -> list[str]:
        """Edit /etc/kubernetes/manifests/kube-controller-manager.yaml; the kubelet restarts the pod."""
        host = self.require(name)
        if KCM not in host.static_pods:
            raise HostError(f"{name} has no kube-controller-manager manifest (not a control-plane node)")
        flags = {"cluster-cidr": cluster_cidr, "allocate-node-cidrs": allocate_node_cidrs,
                 "node-cidr-mask-size": node_cidr_mask_size}
        flags = {k: v for k, v in flags.items() if v is not None}
        if allocate_node_cidrs is not None and allocate_node_cidrs not in ("true", "false"):
            raise HostError("--allocate-node-cidrs must be true or false")
        if cluster_cidr is not None:
            try:
                ipaddress.ip_network(cluster_cidr, strict=False)
            except ValueError:
                raise HostError(f"--cluster-cidr {cluster_cidr!r} is not a CIDR") from None
        if node_cidr_mask_size is not None and not node_cidr_mask_size.isdigit():
            raise HostError("--node-cidr-mask-size must be a number")
        manifest = copy.deepcopy(host.static_pods[KCM])
        container = manifest["spec"]["containers"][0]
        container["command"] = set_flags(container["command"], flags)
        host.static_pods[KCM] = manifest
        host.static_hashes.pop(KCM, None)
        self._notify(name, "edit-kcm")
        return container["command"]

    def restart_kubelet(self, name: str) -> None:
        """`systemctl restart kubelet`: re-registers the Node if its object was deleted."""
        host = self.require(name)
        host.kubelet = KUBELET_RUNNING
        host.kubelet_starts += 1
        self._notify(name, "restart-kubelet")

    def stop_kubelet(self, name: str) -> None:
        self.require(name).kubelet = KUBELET_STOPPED
        self._notify(name, "stop-kubelet")

    def start_kubelet(self, name: str) -> None:
        host = self.require(name)
        if host.kubelet != KUBELET_RUNNING:
            host.kubelet = KUBELET_RUNNING
            host.kubelet_starts += 1
        self._notify(name, "start-kubelet")

    def restart_calico_node(self, name: str) -> None:
        """Kill the calico-node container; it restarts and runs its start-up sequence again."""
        self.require(name).calico_node_restarts += 1
        self._notify(name, "restart-calico-node")
