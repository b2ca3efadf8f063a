"""calico-node, BGP status, kube-proxy and tigera-operator in the simulated cluster."""

from cluster_fixtures import cluster, host_action, in_cidr, operator_cluster, settle  # noqa: F401 (fixtures)
from tui.sim.controllers.kube_proxy import CLUSTER_CIDR_ANNOTATION, CONFIG_HASH_ANNOTATION

RR = {"10.10.0.11", "10.10.0.12"}
TUNNEL = "projectcalico.org/IPv4IPIPTunnelAddr"


def peers(clients, node):
    status = clients.custom.get_cluster_custom_object("crd.projectcalico.org", "v1", "caliconodestatuses", node)
    return {p["peerIP"]: p for p in status["status"]["bgp"]["peersV4"]}, status["status"]


def test_node_status_shows_the_route_reflector_topology(cluster):
    sim, clients = cluster
    worker, status = peers(clients, "node04")
    assert set(worker) == RR
    assert all(p["type"] == "NodePeer" and p["state"] == "Established" for p in worker.values())
    assert status["bgp"]["numberEstablishedV4"] == 2 and status["bgp"]["numberNotEstablishedV4"] == 0
    assert status["agent"]["birdV4"]["state"] == "Ready" and status["agent"]["birdV4"]["routerID"] == "10.10.1.14"
    reflector, _ = peers(clients, "node01")
    nodes = {n.metadata.annotations["projectcalico.org/IPv4Address"].split("/")[0]
             for n in clients.core.list_node().items}
    assert set(reflector) == nodes - {"10.10.0.11"}  # a reflector peers with every other node
    assert all(p["state"] == "Established" for p in reflector.values())
    routes = status["routes"]["routesV4"]
    assert routes and all(r["learnedFrom"]["peerIP"] in RR for r in routes)


def test_sessions_go_down_when_a_route_reflector_goes_not_ready(cluster):
    sim, clients = cluster
    host_action(sim, "node02", "stop-kubelet")
    sim.controllers.advance(60)  # node-monitor grace period, then the BGP hold time
    worker, status = peers(clients, "node04")
    assert worker["10.10.0.12"]["state"] != "Established" and worker["10.10.0.11"]["state"] == "Established"
    assert status["bgp"]["numberNotEstablishedV4"] == 1
    reflector, _ = peers(clients, "node01")
    assert reflector["10.10.0.12"]["state"] != "Established"
    host_action(sim, "node02", "start-kubelet")
    sim.controllers.advance(30)
    assert all(p["state"] == "Established" for p in peers(clients, "node04")[0].values())


def test_topology_change_reaches_the_status_after_a_delay(cluster):
    sim, clients = cluster
    clients.custom.patch_cluster_custom_object("crd.projectcalico.org", "v1", "bgpconfigurations", "default",
                                               {"spec": {"nodeToNodeMeshEnabled": True}})
    sim.controllers.step()
    worker, _ = peers(clients, "node04")
    mesh = {ip: p for ip, p in worker.items() if p["type"] == "NodeMesh"}
    assert len(mesh) == 7  # every other node without a cluster ID
    assert all(p["state"] != "Established" for p in mesh.values())
    sim.controllers.advance(10)
    worker, status = peers(clients, "node04")
    assert all(p["state"] == "Established" for p in worker.values()) and status["bgp"]["numberEstablishedV4"] == 9
    clients.custom.delete_cluster_custom_object("crd.projectcalico.org", "v1", "bgppeers", "peer-with-route-reflectors")
    sim.controllers.advance(10)
    assert set(peers(clients, "node04")[0]).isdisjoint(RR)


def test_default_pool_comes_back_when_calico_node_restarts_without_any_pool(cluster):
    sim, clients = cluster
    for pool in clients.calico("ippools"):
        clients.custom.delete_cluster_custom_object("projectcalico.org", "v3", "ippools", pool["metadata"]["name"])
    settle(sim)
    assert clients.calico("ippools") == []
    host_action(sim, "node05", "restart-calico-node")
    settle(sim)
    pools = clients.calico("ippools")
    assert [p["metadata"]["name"] for p in pools] == ["default-ipv4-ippool"]
    spec = pools[0]["spec"]
    assert (spec["cidr"], spec["ipipMode"], spec["natOutgoing"], spec["blockSize"]) == (
        "192.168.0.0/16", "CrossSubnet", True, 26)


def test_changing_the_env_later_does_not_touch_an_existing_pool(cluster):
    sim, clients = cluster
    clients.apps.patch_namespaced_daemon_set("calico-node", "kube-system", {"spec": {"template": {"spec": {
        "containers": [{"name": "calico-node", "env": [{"name": "CALICO_IPV4POOL_CIDR", "value": "172.21.0.0/16"}]}]}}}})
    settle(sim)
    assert [p["spec"]["cidr"] for p in clients.calico("ippools")] == ["192.168.0.0/16"]
    pods = clients.pods("kube-system", "k8s-app=calico-node")
    assert len(pods) == 10 and all(p.status.phase == "Running" for p in pods)


def test_tunnel_addresses_vanish_without_an_ipip_pool(cluster):
    sim, clients = cluster
    clients.custom.create_cluster_custom_object("projectcalico.org", "v3", "ippools", {
        "apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "plain"},
        "spec": {"cidr": "172.21.0.0/16", "ipipMode": "Never"}})
    clients.custom.patch_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool",
                                               {"spec": {"disabled": True}})
    settle(sim)
    for node in clients.core.list_node().items:
        assert TUNNEL not in node.metadata.annotations
    handles = {h["spec"]["handleID"] for h in clients.calico("ipamhandles")}
    assert not any(h.startswith("ipip-tunnel-addr-") for h in handles)


def test_kube_proxy_reads_its_config_only_when_a_pod_starts(cluster):
    sim, clients = cluster
    before = clients.pods("kube-system", "k8s-app=kube-proxy")
    assert {p.metadata.annotations[CLUSTER_CIDR_ANNOTATION] for p in before} == {"192.168.0.0/16"}
    old_hash = before[0].metadata.annotations[CONFIG_HASH_ANNOTATION]
    cm = clients.core.read_namespaced_config_map("kube-proxy", "kube-system")
    text = cm.data["config.conf"].replace("clusterCIDR: 192.168.0.0/16", "clusterCIDR: 192.168.0.0/16,172.21.0.0/16")
    clients.core.patch_namespaced_config_map("kube-proxy", "kube-system", {"data": {"config.conf": text}})
    settle(sim)
    assert {p.metadata.annotations[CONFIG_HASH_ANNOTATION] for p in clients.pods("kube-system", "k8s-app=kube-proxy")} \
        == {old_hash}  # stale until restarted
    clients.apps.patch_namespaced_daemon_set("kube-proxy", "kube-system", {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}})
    settle(sim)
    after = [p for p in clients.pods("kube-system", "k8s-app=kube-proxy") if not p.metadata.deletion_timestamp]
    assert len(after) == 10
    assert {p.metadata.annotations[CLUSTER_CIDR_ANNOTATION] for p in after} == {"192.168.0.0/16,172.21.0.0/16"}
    assert old_hash not in {p.metadata.annotations[CONFIG_HASH_ANNOTATION] for p in after}
    log = clients.core.read_namespaced_pod_log(after[0].metadata.name, "kube-system")
    assert 'clusterCIDR="192.168.0.0/16,172.21.0.0/16"' in log


def test_cni_pin_in_calico_config_applies_after_calico_node_restarts(cluster):
    sim, clients = cluster
    cm = clients.core.read_namespaced_config_map("calico-config", "kube-system")
    pinned = cm.data["cni_network_config"].replace('"type": "calico-ipam"',
                                                   '"type": "calico-ipam", "ipv4_pools": ["new-pool"]')
    clients.custom.create_cluster_custom_object("projectcalico.org", "v3", "ippools", {
        "apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "new-pool"},
        "spec": {"cidr": "172.21.0.0/16", "ipipMode": "CrossSubnet"}})
    clients.core.patch_namespaced_config_map("calico-config", "kube-system", {"data": {"cni_network_config": pinned}})
    settle(sim)
    victim = clients.pods("shop", "app=cart")[0]
    clients.core.delete_namespaced_pod(victim.metadata.name, "shop")
    settle(sim)
    fresh = [p for p in clients.pods("shop", "app=cart") if p.metadata.name != victim.metadata.name]
    newest = max(fresh, key=lambda p: p.metadata.creation_timestamp)
    assert in_cidr(newest.status.pod_ip, "192.168.0.0/16")  # the node's CNI config is still the old one
    clients.apps.patch_namespaced_daemon_set("calico-node", "kube-system", {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}})
    settle(sim)
    clients.core.delete_namespaced_pod(newest.metadata.name, "shop")
    settle(sim)
    latest = max(clients.pods("shop", "app=cart"), key=lambda p: p.metadata.creation_timestamp)
    assert in_cidr(latest.status.pod_ip, "172.21.0.0/16")


def test_operator_reverts_a_direct_edit_of_a_managed_pool(operator_cluster):
    sim, clients = operator_cluster
    pool = clients.custom.get_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool")
    assert pool["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tigera-operator"
    assert pool["spec"]["ipipMode"] == "CrossSubnet"
    clients.custom.patch_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool",
                                               {"spec": {"disabled": True}})
    edited = clients.custom.get_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool")
    assert edited["spec"]["disabled"] is True
    settle(sim)
    reverted = clients.custom.get_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool")
    assert not reverted["spec"].get("disabled")
    clients.custom.delete_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool")
    settle(sim)
    assert [p["metadata"]["name"] for p in clients.calico("ippools")] == ["default-ipv4-ippool"]


def test_operator_disables_and_removes_pools_through_the_installation(operator_cluster):
    sim, clients = operator_cluster
    installation = clients.custom.get_cluster_custom_object("operator.tigera.io", "v1", "installations", "default")
    pools = installation["spec"]["calicoNetwork"]["ipPools"]
    pools[0]["disableNewAllocations"] = True
    pools.append({"name": "new-pool", "cidr": "172.21.0.0/16", "encapsulation": "IPIPCrossSubnet",
                  "natOutgoing": "Enabled", "nodeSelector": "all()"})
    clients.custom.patch_cluster_custom_object("operator.tigera.io", "v1", "installations", "default",
                                               {"spec": {"calicoNetwork": {"ipPools": pools}}})
    settle(sim)
    by_name = {p["metadata"]["name"]: p["spec"] for p in clients.calico("ippools")}
    assert by_name["default-ipv4-ippool"].get("disabled") is True and "new-pool" in by_name
    for node in clients.core.list_node().items:  # tunnels follow to the enabled IPIP pool
        assert in_cidr(node.metadata.annotations[TUNNEL], "172.21.0.0/16")
    clients.custom.patch_cluster_custom_object("operator.tigera.io", "v1", "installations", "default",
                                               {"spec": {"calicoNetwork": {"ipPools": pools[1:]}}})
    settle(sim)
    assert [p["metadata"]["name"] for p in clients.calico("ippools")] == ["new-pool"]
    assert [p.metadata.namespace for p in clients.pods(selector="k8s-app=calico-node")] == ["calico-system"] * 10
