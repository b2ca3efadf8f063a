"""Typed objects read from raw API JSON: Calico defaults, v1/v3 quirks, node annotations, config objects."""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path

import pytest
import yaml

from model_builders import (
    CALICO_NODE_CONTAINER,
    CNI_NETWORK_CONFIG,
    KCM_COMMAND,
    blockaffinity,
    calico,
    caliconodestatus,
    configmap,
    daemonset,
    ipamblock,
    ippool,
    kcm_pod,
    kube_proxy_conf,
    kube_system_raw,
    node,
    pod,
    pod_owner,
    seed_raw,
    tunnel_owner,
)
from tui.model.calico import (
    parse_bgpconfiguration,
    parse_bgppeer,
    parse_blockaffinity,
    parse_caliconodestatus,
    parse_clusterinformation,
    parse_ipamblock,
    parse_ippool,
)
from tui.model.config import (
    config_hash,
    kube_proxy_pod,
    parse_calico_node,
    parse_cni_config,
    parse_controller_manager,
    parse_flags,
    parse_installation,
    parse_kube_proxy_config,
    parse_kubeadm_config,
    parse_pod,
)
from tui.model.node import parse_node
from tui.model.raw import Malformed
from tui.model.selector import ALL, LabelOp

CRDS = Path(__file__).resolve().parents[2] / "shared" / "calico-crds"


# --- shapes match the real CRDs -------------------------------------------------------------------


def _check_schema(value, schema, path: str) -> None:
    kind = schema.get("type")
    if value is None:
        return
    if kind == "object":
        assert isinstance(value, dict), path
        props = schema.get("properties")
        for key, item in value.items():
            if props is not None:
                assert key in props, f"{path}.{key} is not in the CRD schema"
                _check_schema(item, props[key], f"{path}.{key}")
    elif kind == "array":
        assert isinstance(value, list), path
        for index, item in enumerate(value):
            _check_schema(item, schema.get("items", {}), f"{path}[{index}]")
    elif kind:
        expected = {"string": str, "integer": int, "boolean": bool}[kind]
        assert isinstance(value, expected), f"{path}: {kind} expected"


@pytest.mark.skipif(not CRDS.is_dir(), reason="shared Calico CRDs not present")
@pytest.mark.parametrize("key", ["ippools", "ipamblocks", "blockaffinities", "bgpconfigurations", "bgppeers",
                                 "caliconodestatuses", "clusterinformations"])
def test_builders_match_the_v1_crds(key: str) -> None:
    """The hand-built objects these tests feed the model are valid against Calico v3.32.1's CRDs."""
    crd = yaml.safe_load((CRDS / f"crd.projectcalico.org_{key}.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for obj in seed_raw()[key]:
        assert obj["kind"] == crd["spec"]["names"]["kind"]
        for part in ("spec", "status"):
            if part in obj:
                _check_schema(obj[part], schema["properties"][part], f"{obj['metadata']['name']}.{part}")


# --- IPPool ---------------------------------------------------------------------------------------


def test_ippool_read_defaults_like_libcalico() -> None:
    pool = parse_ippool(ippool("raw-v1", "10.50.0.0/16"))
    assert pool.block_size == 26
    assert (pool.ipip_mode, pool.vxlan_mode) == ("Never", "Never")
    assert pool.node_selector == ALL
    assert pool.allowed_uses == ("Workload", "Tunnel")
    assert pool.assignment_mode == "Automatic"
    assert not pool.nat_outgoing and not pool.disabled and pool.enabled
    assert pool.size == 65536
    v6 = parse_ippool(ippool("v6", "fd00:10::/64", ipipMode="", vxlanMode=""))
    assert v6.block_size == 122 and v6.ipip_mode == "Never"


def test_ippool_seed_fields() -> None:
    pool = parse_ippool(seed_raw()["ippools"][0])
    assert pool.name == "default-ipv4-ippool"
    assert pool.cidr == ipaddress.ip_network("192.168.0.0/16")
    assert pool.ipip_mode == "CrossSubnet" and pool.nat_outgoing
    assert str(pool.node_selector) == "all()"


def test_ippool_operator_label_from_v1_metadata_annotation() -> None:
    """v1 CRs keep user labels in the projectcalico.org/metadata annotation, not in metadata.labels."""
    raw = ippool("default-ipv4-ippool", "192.168.0.0/16")
    raw["metadata"]["annotations"] = {"projectcalico.org/metadata": json.dumps(
        {"labels": {"app.kubernetes.io/managed-by": "tigera-operator"}, "creationTimestamp": None})}
    assert parse_ippool(raw).operator_managed
    assert not parse_ippool(ippool("mine", "10.0.0.0/16")).operator_managed


def test_ippool_disabled_deleting_and_v3_condition() -> None:
    assert not parse_ippool(ippool("p", "10.0.0.0/16", disabled=True)).enabled
    deleting = ippool("p", "10.0.0.0/16")
    deleting["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    assert parse_ippool(deleting).deleting and not parse_ippool(deleting).enabled
    v3 = ippool("p", "10.0.0.0/16")
    v3["apiVersion"] = "projectcalico.org/v3"
    v3["status"] = {"conditions": [{"type": "Allocatable", "status": "False", "reason": "CIDROverlap"}]}
    assert parse_ippool(v3).allocatable is False and not parse_ippool(v3).enabled


def test_ippool_host_bits_are_masked_as_calico_reads_them() -> None:
    assert parse_ippool(ippool("p", "10.1.2.3/16")).cidr == ipaddress.ip_network("10.1.0.0/16")


@pytest.mark.parametrize("spec, fragment", [
    ({"cidr": "10.0.0.0/33"}, "spec.cidr"),
    ({"cidr": "not-a-cidr"}, "spec.cidr"),
    ({}, "spec.cidr: required"),
    ({"cidr": "10.0.0.0/24", "blockSize": 33}, "spec.blockSize"),
    ({"cidr": "10.0.0.0/16", "ipipMode": "Sometimes"}, "spec.ipipMode"),
    ({"cidr": "10.0.0.0/16", "natOutgoing": "yes"}, "spec.natOutgoing: expected a boolean"),
    ({"cidr": "10.0.0.0/16", "nodeSelector": "zone = 'a'"}, "spec.nodeSelector"),
    ({"cidr": "10.0.0.0/16", "blockSize": True}, "spec.blockSize: expected an integer"),
])
def test_ippool_malformed(spec: dict, fragment: str) -> None:
    with pytest.raises(Malformed, match=fragment):
        parse_ippool(calico("IPPool", "bad", spec))


# --- IPAMBlock and BlockAffinity ------------------------------------------------------------------


def test_ipamblock_usage_and_owners() -> None:
    raw = ipamblock("192.168.4.0/26", "node04", {1: tunnel_owner("node04"), 5: pod_owner("shop", "cart-1", "node04")})
    block = parse_ipamblock(raw)
    assert block.capacity == 64 and block.in_use == 2 and block.free == 62
    assert block.affinity_node == "node04" and block.affinity_type == "host"
    tunnel, cart = block.allocations
    assert (tunnel.ordinal, str(tunnel.ip), tunnel.kind) == (1, "192.168.4.1", "ipipTunnelAddress")
    assert (str(cart.ip), cart.kind, cart.owner, cart.node) == ("192.168.4.5", "pod", "shop/cart-1", "node04")
    assert cart.handle.startswith("k8s-pod-network.")


def test_ipamblock_in_use_counts_unallocated_like_calico() -> None:
    """In-use is len(allocations) - len(unallocated) even if the two lists disagree."""
    raw = ipamblock("10.0.0.0/29", "n1", {0: pod_owner("a", "p", "n1")})
    raw["spec"]["unallocated"] = [3, 4, 5]
    assert parse_ipamblock(raw).in_use == 5


def test_ipamblock_shared_attribute_and_released_affinity() -> None:
    raw = ipamblock("10.0.0.0/30", None)
    raw["spec"]["attributes"] = [{"handle_id": "h", "secondary": {"namespace": "a", "pod": "multi", "node": "n1"}}]
    raw["spec"]["allocations"] = [0, 0, None, None]
    raw["spec"]["unallocated"] = [2, 3]
    block = parse_ipamblock(raw)
    assert block.affinity is None and block.affinity_node is None
    assert [a.owner for a in block.allocations] == ["a/multi", "a/multi"]


def test_ipamblock_virtual_affinity_has_no_node() -> None:
    block = parse_ipamblock(ipamblock("10.0.0.0/30", "lb", affinity="virtual"))
    assert block.affinity_type == "virtual" and block.affinity_node is None


@pytest.mark.parametrize("mutate, fragment", [
    (lambda s: s.update(allocations=[None] * 10), "needs 64 entries"),
    (lambda s: s.update(allocations=[7] + [None] * 63), "not an index into spec.attributes"),
    (lambda s: s.update(unallocated=[64]), "spec.unallocated"),
    (lambda s: s.update(unallocated=[1, 1]), "listed twice"),
    (lambda s: s.update(cidr="10.0.0.1/26"), "host bits"),
    (lambda s: s.update(attributes=[{"handle_id": "h", "secondary": {"node": 3}}]), "secondary: values must be strings"),
])
def test_ipamblock_malformed(mutate, fragment: str) -> None:
    raw = ipamblock("10.0.0.0/26", "n1")
    mutate(raw["spec"])
    with pytest.raises(Malformed, match=fragment):
        parse_ipamblock(raw)


def test_blockaffinity_deleted_is_a_string_in_v1_and_a_bool_in_v3() -> None:
    assert not parse_blockaffinity(blockaffinity("n1", "10.0.0.0/26")).deleted
    assert parse_blockaffinity(blockaffinity("n1", "10.0.0.0/26", deleted="true")).deleted
    v3 = blockaffinity("n1", "10.0.0.0/26")
    v3["spec"]["deleted"] = True
    assert parse_blockaffinity(v3).deleted
    v3["spec"]["deleted"] = "maybe"
    with pytest.raises(Malformed, match="spec.deleted"):
        parse_blockaffinity(v3)
    affinity = parse_blockaffinity(blockaffinity("n1", "10.0.0.0/26"))
    assert (affinity.node, affinity.type, affinity.state) == ("n1", "host", "confirmed")


# --- BGP ------------------------------------------------------------------------------------------


def test_bgpconfiguration_seed_and_defaults() -> None:
    config = parse_bgpconfiguration(seed_raw()["bgpconfigurations"][0])
    assert (config.as_number, config.node_to_node_mesh, config.present) == (63400, False, True)
    empty = parse_bgpconfiguration(calico("BGPConfiguration", "default", {}))
    assert (empty.as_number, empty.node_to_node_mesh, empty.listen_port) == (64512, True, 179)
    assert parse_bgpconfiguration(calico("BGPConfiguration", "node.node01", {"listenPort": 1790})).node_name == "node01"


def test_bgppeer_scopes_and_peer_address() -> None:
    seed = parse_bgppeer(seed_raw()["bgppeers"][0])
    assert seed.scope == "selector" and seed.node_selector == ALL
    assert seed.peer_selector == LabelOp("route-reflector", "==", "true") and seed.peer_ip is None
    tor = parse_bgppeer(calico("BGPPeer", "tor", {"peerIP": "10.10.0.1:1790", "asNumber": 65001}))
    assert tor.scope == "global" and str(tor.peer_ip) == "10.10.0.1" and tor.peer_port == 1790
    assert tor.as_number == 65001
    v6 = parse_bgppeer(calico("BGPPeer", "v6", {"node": "node01", "peerIP": "[fd00::1]:179", "asNumber": 65001,
                                                "password": {"secretKeyRef": {"name": "s", "key": "k"}}}))
    assert v6.scope == "node" and str(v6.peer_ip) == "fd00::1" and v6.peer_port == 179 and v6.has_password
    plain6 = parse_bgppeer(calico("BGPPeer", "v6b", {"peerIP": "fd00::2", "asNumber": "1.10"}))
    assert str(plain6.peer_ip) == "fd00::2" and plain6.peer_port is None and plain6.as_number == 65546


@pytest.mark.parametrize("spec, fragment", [
    ({}, "needs peerIP or peerSelector"),
    ({"peerIP": "10.0.0.300"}, "spec.peerIP"),
    ({"peerIP": "10.0.0.1:99999"}, "invalid port"),
    ({"peerSelector": "rr == "}, "spec.peerSelector"),
    ({"peerIP": "10.0.0.1", "asNumber": -1}, "not a BGP AS number"),
])
def test_bgppeer_malformed(spec: dict, fragment: str) -> None:
    with pytest.raises(Malformed, match=fragment):
        parse_bgppeer(calico("BGPPeer", "bad", spec))


def test_caliconodestatus_sessions() -> None:
    status = parse_caliconodestatus(caliconodestatus("node04", [("10.10.0.11", "NodePeer", "Established"),
                                                                ("10.10.0.12", "NodePeer", "Active")]))
    assert status.node == "node04" and status.reports_bgp and status.bird_v4_state == "Ready"
    assert [(str(p.peer_ip), p.established) for p in status.peers] == [("10.10.0.11", True), ("10.10.0.12", False)]
    pending = calico("CalicoNodeStatus", "n", {"node": "n", "classes": ["BGP"]})
    assert not parse_caliconodestatus(pending).reports_bgp


def test_clusterinformation() -> None:
    info = parse_clusterinformation(seed_raw()["clusterinformations"][0])
    assert info.kdd and info.calico_version == "v3.32.1" and "bgp" in info.cluster_type


# --- Node -----------------------------------------------------------------------------------------


def test_node_calico_annotations_roles_and_status() -> None:
    raw = node("node01", "10.10.0.11/24", {"node-role.kubernetes.io/control-plane": "", "route-reflector": "true"},
               {"projectcalico.org/RouteReflectorClusterID": "224.0.0.1", "projectcalico.org/ASNumber": "64600",
                "projectcalico.org/IPv4IPIPTunnelAddr": "192.168.1.1",
                "projectcalico.org/IPv4VXLANTunnelAddr": "192.168.1.2"},
               pod_cidr="192.168.1.0/24")
    raw["spec"]["unschedulable"] = True
    parsed = parse_node(raw)
    assert parsed.roles == ("control-plane",)
    assert parsed.route_reflector and parsed.rr_cluster_id == "224.0.0.1"
    assert str(parsed.bgp_ipv4) == "10.10.0.11/24" and parsed.as_number == 64600
    assert {k: str(v) for k, v in parsed.tunnel_addresses.items()} == {"ipip": "192.168.1.1", "vxlan": "192.168.1.2"}
    assert parsed.ready and parsed.unschedulable
    assert parsed.pod_cidrs == (ipaddress.ip_network("192.168.1.0/24"),)
    assert parsed.internal_ips == (ipaddress.ip_address("10.10.0.11"),)
    assert set(parsed.calico_annotations) == {
        "projectcalico.org/IPv4Address", "projectcalico.org/RouteReflectorClusterID", "projectcalico.org/ASNumber",
        "projectcalico.org/IPv4IPIPTunnelAddr", "projectcalico.org/IPv4VXLANTunnelAddr"}


def test_node_bgp_address_without_prefix_is_a_host_address() -> None:
    assert str(parse_node(node("n", "10.0.0.9")).bgp_ipv4) == "10.0.0.9/32"


def test_node_without_calico_and_not_ready() -> None:
    parsed = parse_node(node("fresh", None, ready=False))
    assert parsed.bgp_ipv4 is None and parsed.as_number is None and parsed.rr_cluster_id is None
    assert not parsed.ready and parsed.pod_cidrs == () and parsed.roles == ()
    legacy = node("old", None)
    legacy["spec"] = {"podCIDR": "10.244.3.0/24"}
    legacy["metadata"]["labels"]["kubernetes.io/role"] = "master"
    assert parse_node(legacy).pod_cidrs == (ipaddress.ip_network("10.244.3.0/24"),)
    assert parse_node(legacy).roles == ("master",)


@pytest.mark.parametrize("annotation, value", [
    ("projectcalico.org/IPv4Address", "10.0.0.1/40"),
    ("projectcalico.org/ASNumber", "sixty"),
    ("projectcalico.org/IPv4IPIPTunnelAddr", "192.168.1.300"),
])
def test_node_malformed_annotations(annotation: str, value: str) -> None:
    with pytest.raises(Malformed, match=annotation):
        parse_node(node("n", None, annotations={annotation: value}))


# --- kube-system configuration --------------------------------------------------------------------


def test_flags_both_forms_and_bare_booleans() -> None:
    flags = parse_flags(["kcm", "--cluster-cidr", "10.0.0.0/8", "--allocate-node-cidrs", "--x=1", "-v", "2",
                         "--leader-elect=false", "positional"])
    assert flags == {"cluster-cidr": "10.0.0.0/8", "allocate-node-cidrs": "true", "x": "1", "v": "2",
                     "leader-elect": "false"}


def test_controller_manager_from_mirror_pod() -> None:
    kcm = parse_controller_manager(kcm_pod("node01", KCM_COMMAND))
    assert kcm.cluster_cidrs == (ipaddress.ip_network("192.168.0.0/16"),)
    assert kcm.allocate_node_cidrs and kcm.node_cidr_mask_size_ipv4 == 24
    assert kcm.service_cluster_ip_ranges == (ipaddress.ip_network("10.96.0.0/12"),)
    assert kcm.pod.node == "node01" and not kcm.pod.crash_looping
    crashing = parse_controller_manager(kcm_pod(
        "node02", ["kube-controller-manager", "--cluster-cidr=172.21.0.0/16,fd00::/108",
                   "--node-cidr-mask-size-ipv4=25", "--allocate-node-cidrs=false"],
        restarts=7, waiting="CrashLoopBackOff"))
    assert crashing.pod.crash_looping and crashing.pod.restart_count == 7 and not crashing.pod.ready
    assert [str(c) for c in crashing.cluster_cidrs] == ["172.21.0.0/16", "fd00::/108"]
    assert crashing.node_cidr_mask_size_ipv4 == 25 and not crashing.allocate_node_cidrs
    with pytest.raises(Malformed, match="allocate-node-cidrs"):
        parse_controller_manager(kcm_pod("n", ["kcm", "--allocate-node-cidrs=maybe"]))
    with pytest.raises(Malformed, match="--cluster-cidr"):
        parse_controller_manager(kcm_pod("n", ["kcm", "--cluster-cidr=192.168.0.0"]))


def test_kube_proxy_staleness_by_annotation() -> None:
    raw = kube_system_raw()
    config = parse_kube_proxy_config(raw["configmaps"][0])
    assert config.cluster_cidrs == (ipaddress.ip_network("192.168.0.0/16"),) and config.mode == "iptables"
    current = raw["pods"][3]
    assert kube_proxy_pod(current, config).stale is False
    assert kube_proxy_pod(current, config).running_cluster_cidr == "192.168.0.0/16"
    edited = parse_kube_proxy_config(configmap("kube-proxy", {"config.conf": kube_proxy_conf("172.21.0.0/16")}))
    assert edited.config_hash == config_hash(kube_proxy_conf("172.21.0.0/16")) != config.config_hash
    assert kube_proxy_pod(current, edited).stale is True


def test_kube_proxy_staleness_by_start_time_on_real_clusters() -> None:
    config = parse_kube_proxy_config(configmap("kube-proxy", {"config.conf": kube_proxy_conf("10.0.0.0/8")},
                                               changed="2024-05-02T12:00:00Z"))
    assert config.meta.last_changed == "2024-05-02T12:00:00Z"

    def proxy(started: str | None) -> dict:
        raw = pod("kube-system", "kube-proxy-x", "n1", {"k8s-app": "kube-proxy"}, [{"name": "kube-proxy"}],
                  started=started or "")
        if started is None:
            raw["status"] = {}
        return raw

    assert kube_proxy_pod(proxy("2024-05-02T11:59:59Z"), config).stale is True
    assert kube_proxy_pod(proxy("2024-05-02T12:00:01Z"), config).stale is False
    assert kube_proxy_pod(proxy(None), config).stale is None
    assert kube_proxy_pod(proxy("2024-05-02T12:00:01Z"), None).stale is None


def test_kubeadm_config() -> None:
    kubeadm = parse_kubeadm_config(kube_system_raw()["configmaps"][1])
    assert kubeadm.pod_subnets == (ipaddress.ip_network("192.168.0.0/16"),)
    assert kubeadm.service_subnets == (ipaddress.ip_network("10.96.0.0/12"),)
    assert kubeadm.kubernetes_version == "v1.32.4"
    with pytest.raises(Malformed, match="not YAML"):
        parse_kubeadm_config(configmap("kubeadm-config", {"ClusterConfiguration": "networking: [unclosed"}))


def test_cni_config_with_manifest_placeholders_and_pinned_pools() -> None:
    cni = parse_cni_config(kube_system_raw()["configmaps"][2])
    assert (cni.ipam_type, cni.datastore_type, cni.network_name) == ("calico-ipam", "kubernetes", "k8s-pod-network")
    assert cni.ipv4_pools == () and cni.calico_backend == "bird" and cni.etcd_endpoints is None
    pinned = parse_cni_config(configmap("calico-config", {
        "cni_network_config": CNI_NETWORK_CONFIG % ', "ipv4_pools": ["default-ipv4-ippool", "10.0.0.0/16"]',
        "etcd_endpoints": "https://10.0.0.5:2379"}))
    assert pinned.ipv4_pools == ("default-ipv4-ippool", "10.0.0.0/16")
    assert pinned.etcd_endpoints == "https://10.0.0.5:2379"
    with pytest.raises(Malformed, match="not JSON"):
        parse_cni_config(configmap("calico-config", {"cni_network_config": "{"}))


def test_calico_node_env_resolves_configmap_refs() -> None:
    raw = kube_system_raw()
    data = {("kube-system", "calico-config"): raw["configmaps"][2]["data"]}
    calico_node = parse_calico_node(raw["daemonsets"][1], data)
    assert calico_node.env["CALICO_NETWORKING_BACKEND"] == "bird"
    assert calico_node.env["NODENAME"] is None
    assert calico_node.datastore_type == "kubernetes" and calico_node.version == "v3.32.1"
    assert calico_node.daemonset.rolled_out and calico_node.namespace == "kube-system"
    container = copy.deepcopy(CALICO_NODE_CONTAINER)
    container["env"] = [{"name": "ETCD_ENDPOINTS", "value": "https://10.0.0.5:2379"}]
    etcd = parse_calico_node(daemonset("kube-system", "calico-node", [container]), {})
    assert etcd.datastore_type == "etcdv3" and etcd.networking_backend == "bird"
    rolling = parse_calico_node(daemonset("kube-system", "calico-node", [container], updated=4), {})
    assert not rolling.daemonset.rolled_out


def test_installation_pools() -> None:
    raw = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
           "spec": {"calicoNetwork": {"bgp": "Enabled", "ipPools": [
               {"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "blockSize": 26,
                "encapsulation": "IPIPCrossSubnet", "natOutgoing": "Enabled", "nodeSelector": "all()"}]},
                    "cni": {"type": "Calico", "ipam": {"type": "Calico"}}},
           "status": {"variant": "Calico", "calicoVersion": "v3.32.1"}}
    installation = parse_installation(raw)
    assert installation.ipam_type == "Calico" and installation.bgp == "Enabled"
    assert installation.calico_version == "v3.32.1"
    pool = installation.ip_pools[0]
    assert (pool.name, pool.cidr, pool.encapsulation, pool.disable_new_allocations) == (
        "default-ipv4-ippool", "192.168.0.0/16", "IPIPCrossSubnet", False)


def test_pod_state_sums_restarts() -> None:
    raw = pod("kube-system", "p", "n1", {}, [{"name": "a"}, {"name": "b"}], restarts=2)
    raw["status"]["containerStatuses"].append({"name": "b", "restartCount": 3, "state": {}})
    assert parse_pod(raw).restart_count == 5
