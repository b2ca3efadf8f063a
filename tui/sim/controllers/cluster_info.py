"""The cluster-wide Calico objects calico-node creates when it starts: ClusterInformation `default`,
FelixConfiguration `default` and IPAMConfig `default`."""

from __future__ import annotations

from tui.sim.controllers.base import (CLUSTERINFORMATIONS, CONFIGMAPS, FELIXCONFIGURATIONS, IPAMCONFIGS, key_of)

CALICO_V1 = "crd.projectcalico.org/v1"


def cluster_type(env: dict[str, str], kubeadm: bool) -> str:
    """`CLUSTER_TYPE` plus what calico-node detects: `kdd` for the Kubernetes datastore, `kubeadm`."""
    types = [t for t in (env.get("CLUSTER_TYPE") or "k8s").split(",") if t]
    if env.get("DATASTORE_TYPE", "kubernetes") == "kubernetes" and "kdd" not in types:
        types.append("kdd")
    if kubeadm and "kubeadm" not in types:
        types.append("kubeadm")
    return ",".join(types)


def cluster_information(version: str, guid: str, types: str) -> dict:
    return {"apiVersion": CALICO_V1, "kind": "ClusterInformation", "metadata": {"name": "default"},
            "spec": {"calicoVersion": version, "clusterGUID": guid, "clusterType": types, "datastoreReady": True}}


def felix_configuration() -> dict:
    return {"apiVersion": CALICO_V1, "kind": "FelixConfiguration", "metadata": {"name": "default"},
            "spec": {"bpfLogLevel": "", "floatingIPs": "Disabled", "logSeverityScreen": "Info",
                     "reportingInterval": "0s"}}


def ipam_configuration() -> dict:
    return {"apiVersion": CALICO_V1, "kind": "IPAMConfig", "metadata": {"name": "default"},
            "spec": {"autoAllocateBlocks": True, "strictAffinity": False, "maxBlocksPerHost": 0}}


def ensure_cluster_objects(ctx, env: dict[str, str], version: str) -> None:
    """Create the defaults that are missing and keep ClusterInformation's version and type current."""
    api, cache = ctx.api, ctx.cache
    kubeadm = cache.get(key_of(CONFIGMAPS), "kube-system", "kubeadm-config") is not None
    info = cache.get(key_of(CLUSTERINFORMATIONS), None, "default")
    types = cluster_type(env, kubeadm)
    if info is None:
        api.create(ctx.res(CLUSTERINFORMATIONS), None, cluster_information(version, ctx.namer.hex(32), types))
    elif (info["spec"].get("calicoVersion"), info["spec"].get("clusterType")) != (version, types):
        api.update(ctx.res(CLUSTERINFORMATIONS), None, "default",
                   {**info, "spec": {**info["spec"], "calicoVersion": version, "clusterType": types}})
    if cache.get(key_of(FELIXCONFIGURATIONS), None, "default") is None:
        api.create(ctx.res(FELIXCONFIGURATIONS), None, felix_configuration())
    if cache.get(key_of(IPAMCONFIGS), None, "default") is None:
        api.create(ctx.res(IPAMCONFIGS), None, ipam_configuration())
