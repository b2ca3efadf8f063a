"""kube-proxy: reads the `kube-proxy` ConfigMap only when its pod starts.

Each kube-proxy pod is annotated, when it starts running, with the hash of the configuration it
loaded and the clusterCIDR in it, so a pod still running with an old configuration is observable
(the annotation names are the contract with tui.model).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import yaml

from tui.sim.controllers.base import CONFIGMAPS, PODS, Controller, key_of, klog

POD, CONFIGMAP = key_of(PODS), key_of(CONFIGMAPS)
CONFIG_HASH_ANNOTATION = "calico-tui.sim/kube-proxy-config-hash"
CLUSTER_CIDR_ANNOTATION = "calico-tui.sim/kube-proxy-cluster-cidr"


def config_facts(configmap: dict | None) -> tuple[str, str]:
    """(hash of `config.conf`, its clusterCIDR) of the kube-proxy ConfigMap."""
    return _facts(((configmap or {}).get("data") or {}).get("config.conf", ""))


@lru_cache(maxsize=8)
def _facts(text: str) -> tuple[str, str]:
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        config = {}
    cidr = config.get("clusterCIDR") if isinstance(config, dict) else ""
    return hashlib.sha256(text.encode()).hexdigest()[:16], str(cidr or "")


def is_kube_proxy(pod: dict) -> bool:
    return (pod["metadata"].get("labels") or {}).get("k8s-app") == "kube-proxy"


class KubeProxy(Controller):
    name = "kube-proxy"

    def initial_keys(self):
        for pod in self.cache.list(POD):
            if is_kube_proxy(pod):
                yield pod["metadata"]["namespace"], pod["metadata"]["name"]

    def on_change(self, event, key, obj, old):
        if key == POD and event != "DELETED" and is_kube_proxy(obj):
            yield obj["metadata"]["namespace"], obj["metadata"]["name"]

    def sync(self, key) -> None:
        pod = self.cache.get(POD, *key)
        if pod is None or (pod.get("status") or {}).get("phase") != "Running":
            return
        annotations = pod["metadata"].get("annotations") or {}
        if CONFIG_HASH_ANNOTATION in annotations:
            return
        digest, cidr = config_facts(self.cache.get(CONFIGMAP, key[0], "kube-proxy"))
        self.ctx.api.patch(self.ctx.res(PODS), key[0], key[1], {"metadata": {"annotations": {
            CONFIG_HASH_ANNOTATION: digest, CLUSTER_CIDR_ANNOTATION: cidr}}},
            "application/strategic-merge-patch+json")
        now = self.ctx.now()
        lines = [klog("I", now, "server_linux.go:66", '"Using iptables proxy"'),
                 klog("I", now, "server.go:677", f'"Successfully retrieved node IP(s)" IPs=["{pod["status"].get("hostIP", "")}"]'),
                 klog("I", now, "server_linux.go:170", f'"Using detect-local-mode" detectLocalMode="ClusterCIDR" '
                                                        f'clusterCIDR="{cidr}"')]
        self.ctx.api.append_log(key[0], key[1], "\n".join(lines))
