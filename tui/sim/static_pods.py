"""kubeadm's control-plane static pods: manifests (host state) and the mirror pods the API shows.

A static pod's manifest lives in /etc/kubernetes/manifests on its node and can only be changed there;
the kubelet publishes a read-only *mirror pod* named `<pod>-<node>`. The simulator keeps manifests in
the host state (tui.sim.hosts) and derives mirror pods with the same functions, both when a cluster
is generated and when the kubelet controller reconciles.
"""

from __future__ import annotations

import copy
import hashlib
import json

import yaml

from tui.sim.clock import rfc3339
from tui.sim.pod_objects import MIRROR_ANNOTATION

KCM = "kube-controller-manager"
COMPONENT_PORTS = {"kube-apiserver": 6443, KCM: 10257, "kube-scheduler": 10259, "etcd": 2381}
CONFIG_HASH = "kubernetes.io/config.hash"


def cluster_configuration(kubeadm_config: dict) -> dict:
    """The parsed `ClusterConfiguration` of the kubeadm-config ConfigMap."""
    return yaml.safe_load((kubeadm_config.get("data") or {}).get("ClusterConfiguration") or "") or {}


def _extra_args(section: dict) -> dict[str, str]:
    """kubeadm extraArgs: a map in v1beta3, a list of {name, value} in v1beta4."""
    args = (section or {}).get("extraArgs") or {}
    if isinstance(args, list):
        return {a["name"]: str(a["value"]) for a in args}
    return {k: str(v) for k, v in args.items()}


def _command(binary: str, flags: dict[str, str]) -> list[str]:
    return [binary] + [f"--{k}={v}" for k, v in sorted(flags.items())]


def kubeadm_manifests(config: dict, node_ip: str) -> dict[str, dict]:
    """The static pod manifests `kubeadm init/join --control-plane` writes for a ClusterConfiguration."""
    version = config.get("kubernetesVersion", "v1.32.4")
    repo = config.get("imageRepository", "registry.k8s.io")
    net = config.get("networking") or {}
    services = net.get("serviceSubnet", "10.96.0.0/12")
    kcm = {
        "authentication-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "authorization-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "bind-address": "127.0.0.1", "client-ca-file": "/etc/kubernetes/pki/ca.crt",
        "cluster-name": config.get("clusterName", "kubernetes"),
        "cluster-signing-cert-file": "/etc/kubernetes/pki/ca.crt",
        "cluster-signing-key-file": "/etc/kubernetes/pki/ca.key",
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": "/etc/kubernetes/controller-manager.conf", "leader-elect": "true",
        "requestheader-client-ca-file": "/etc/kubernetes/pki/front-proxy-ca.crt",
        "root-ca-file": "/etc/kubernetes/pki/ca.crt",
        "service-account-private-key-file": "/etc/kubernetes/pki/sa.key",
        "service-cluster-ip-range": services, "use-service-account-credentials": "true",
    }
    if net.get("podSubnet"):
        kcm.update({"allocate-node-cidrs": "true", "cluster-cidr": net["podSubnet"]})
    kcm.update(_extra_args(config.get("controllerManager")))
    apiserver = {
        "advertise-address": node_ip, "allow-privileged": "true", "authorization-mode": "Node,RBAC",
        "client-ca-file": "/etc/kubernetes/pki/ca.crt", "enable-admission-plugins": "NodeRestriction",
        "etcd-servers": "https://127.0.0.1:2379", "secure-port": "6443",
        "service-account-issuer": "https://kubernetes.default.svc.cluster.local",
        "service-cluster-ip-range": services, "tls-cert-file": "/etc/kubernetes/pki/apiserver.crt",
        "tls-private-key-file": "/etc/kubernetes/pki/apiserver.key",
    }
    apiserver.update(_extra_args(config.get("apiServer")))
    scheduler = {"authentication-kubeconfig": "/etc/kubernetes/scheduler.conf",
                 "authorization-kubeconfig": "/etc/kubernetes/scheduler.conf",
                 "bind-address": "127.0.0.1", "kubeconfig": "/etc/kubernetes/scheduler.conf",
                 "leader-elect": "true"}
    scheduler.update(_extra_args(config.get("scheduler")))
    etcd = {"advertise-client-urls": f"https://{node_ip}:2379", "data-dir": "/var/lib/etcd",
            "listen-client-urls": f"https://127.0.0.1:2379,https://{node_ip}:2379",
            "listen-metrics-urls": "http://127.0.0.1:2381", "snapshot-count": "10000"}
    images = {"etcd": f"{repo}/etcd:3.5.16-0"}
    commands = {"etcd": _command("etcd", etcd), "kube-apiserver": _command("kube-apiserver", apiserver),
                KCM: _command(KCM, kcm), "kube-scheduler": _command("kube-scheduler", scheduler)}
    annotations = {
        "etcd": {"kubeadm.kubernetes.io/etcd.advertise-client-urls": f"https://{node_ip}:2379"},
        "kube-apiserver": {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint":
                           f"{node_ip}:6443"},
    }
    manifests = {}
    for name, command in commands.items():
        manifest = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"labels": {"component": name, "tier": "control-plane"},
                         "name": name, "namespace": "kube-system"},
            "spec": {
                "containers": [{"command": command, "image": images.get(name, f"{repo}/{name}:{version}"),
                                "imagePullPolicy": "IfNotPresent", "name": name,
                                "resources": {"requests": {"cpu": "100m" if name == "etcd" else "200m"}}}],
                "hostNetwork": True, "priority": 2000001000, "priorityClassName": "system-node-critical",
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            },
            "status": {},
        }
        if name in annotations:
            manifest["metadata"]["annotations"] = annotations[name]
        manifests[name] = manifest
    return manifests


def manifest_hash(manifest: dict) -> str:
    """The kubelet's `kubernetes.io/config.hash` of a static pod (changes with every manifest edit)."""
    return hashlib.md5(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def mirror_pod(manifest: dict, node: str, node_uid: str, now: float) -> dict:
    """The mirror pod the kubelet creates for a static pod manifest on `node`."""
    meta = manifest.get("metadata") or {}
    digest = manifest_hash(manifest)
    annotations = dict(meta.get("annotations") or {})
    annotations.update({CONFIG_HASH: digest, MIRROR_ANNOTATION: digest,
                        "kubernetes.io/config.seen": rfc3339(now).replace("Z", ".000000000Z"),
                        "kubernetes.io/config.source": "file"})
    spec = copy.deepcopy(manifest.get("spec") or {})
    spec["nodeName"] = node
    spec["tolerations"] = [{"effect": "NoExecute", "operator": "Exists"}]
    spec["enableServiceLinks"] = True
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"{meta.get('name')}-{node}", "namespace": meta.get("namespace", "kube-system"),
            "labels": dict(meta.get("labels") or {}), "annotations": annotations,
            "ownerReferences": [{"apiVersion": "v1", "controller": True, "kind": "Node",
                                 "name": node, "uid": node_uid}],
        },
        "spec": spec,
    }
