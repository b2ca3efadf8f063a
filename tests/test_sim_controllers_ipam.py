"""Calico IPAM in the simulated cluster, driven through the real client: replacements get addresses
from enabled pools, a pool migration moves new pods and tunnel addresses, pins fail like Calico."""

import ipaddress

from cluster_fixtures import cluster, in_cidr, live, settle  # noqa: F401 (fixture)
from tui.sim.controllers import ipam_blocks as ib

OLD, NEW = "192.168.0.0/16", "172.21.0.0/16"
TUNNEL = "projectcalico.org/IPv4IPIPTunnelAddr"


def create_new_pool(clients, cidr=NEW, ipip="CrossSubnet"):
    clients.custom.create_cluster_custom_object("projectcalico.org", "v3", "ippools", {
        "apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "new-pool"},
        "spec": {"cidr": cidr, "ipipMode": ipip, "natOutgoing": True, "nodeSelector": "all()"}})


def disable_old_pool(clients):
    clients.custom.patch_cluster_custom_object("projectcalico.org", "v3", "ippools", "default-ipv4-ippool",
                                               {"spec": {"disabled": True}})


def check_ipam_consistent(clients):
    """Every allocated ordinal belongs to exactly one running pod or tunnel, and vice versa."""
    blocks = clients.calico("ipamblocks")
    owners = {}
    for block in blocks:
        for ordinal, handle, attrs in ib.owners(block["spec"]):
            ip = ib.ordinal_ip(block["spec"]["cidr"], ordinal)
            assert ip not in owners
            owners[ip] = (handle, attrs)
    expected = {}
    for pod in clients.pods():
        if pod.spec.host_network or not pod.status.pod_ip:
            continue
        container = pod.metadata.annotations["cni.projectcalico.org/containerID"]
        expected[pod.status.pod_ip] = (f"k8s-pod-network.{container}", pod.metadata.name)
    for node in clients.core.list_node().items:
        tunnel = (node.metadata.annotations or {}).get(TUNNEL)
        if tunnel:
            expected[tunnel] = (f"ipip-tunnel-addr-{node.metadata.name}", None)
    assert set(owners) == set(expected)
    for ip, (handle, pod) in expected.items():
        assert owners[ip][0] == handle
        if pod:
            assert owners[ip][1]["pod"] == pod
    handles = {h["spec"]["handleID"]: h["spec"]["block"] for h in clients.calico("ipamhandles")}
    assert set(handles) == {h for h, _ in owners.values()}


def test_deleted_deployment_pods_are_replaced_with_new_addresses(cluster):
    sim, clients = cluster
    before = {p.metadata.name: p for p in clients.pods("shop", "app=frontend")}
    victims = sorted(before)[:2]
    for name in victims:
        clients.core.delete_namespaced_pod(name, "shop")
    terminating = {p.metadata.name for p in clients.pods("shop", "app=frontend") if p.metadata.deletion_timestamp}
    assert terminating == set(victims)  # graceful deletion waits for the kubelet
    settle(sim)
    after = live(clients.pods("shop", "app=frontend"))
    assert len(after) == 6 and all(p.status.phase == "Running" for p in after)
    new = [p for p in after if p.metadata.name not in before]
    assert len(new) == 2
    for pod in new:
        assert in_cidr(pod.status.pod_ip, OLD)
        assert pod.metadata.uid not in {p.metadata.uid for p in before.values()}
        assert pod.metadata.annotations["cni.projectcalico.org/podIP"] == f"{pod.status.pod_ip}/32"
    check_ipam_consistent(clients)


def test_pool_migration_moves_new_pods_and_tunnels_and_keeps_old_pods(cluster):
    sim, clients = cluster
    untouched = {p.metadata.name: p.status.pod_ip for p in clients.pods("shop", "app=cart")}
    create_new_pool(clients)
    disable_old_pool(clients)
    settle(sim)
    for node in clients.core.list_node().items:
        assert in_cidr(node.metadata.annotations[TUNNEL], NEW), node.metadata.name
    for pod in clients.pods("shop", "app=frontend"):
        clients.core.delete_namespaced_pod(pod.metadata.name, "shop")
    settle(sim)
    frontend = live(clients.pods("shop", "app=frontend"))
    assert len(frontend) == 6
    assert all(in_cidr(p.status.pod_ip, NEW) and p.status.phase == "Running" for p in frontend)
    assert {p.metadata.name: p.status.pod_ip for p in clients.pods("shop", "app=cart")} == untouched
    # emptying node01's old block (its tunnel moved already): the block stays, affine to node01
    for pod in clients.core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node01").items:
        if not pod.spec.host_network:
            clients.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
    settle(sim)
    old_blocks = [b for b in clients.calico("ipamblocks") if in_cidr(b["spec"]["cidr"].split("/")[0], OLD)]
    assert old_blocks and all(b["spec"]["affinity"].startswith("host:") for b in old_blocks)
    empty = [b for b in old_blocks if ib.in_use(b["spec"]) == 0]
    assert [b["spec"]["affinity"] for b in empty] == ["host:node01"]
    check_ipam_consistent(clients)


def test_block_usage_follows_calicoctl_ipam_show(cluster):
    """Per pool: IPs in use = sum over its blocks of (block size - free ordinals), brute-forced
    against the addresses the pods and tunnels actually hold."""
    sim, clients = cluster
    create_new_pool(clients)
    disable_old_pool(clients)
    settle(sim)
    for pod in clients.pods("shop", "app=catalog"):
        clients.core.delete_namespaced_pod(pod.metadata.name, "shop")
    settle(sim)
    pools = {p["spec"]["cidr"]: p for p in clients.calico("ippools")}
    blocks = clients.calico("ipamblocks")
    held = [p.status.pod_ip for p in clients.pods() if p.status.pod_ip and not p.spec.host_network]
    held += [n.metadata.annotations[TUNNEL] for n in clients.core.list_node().items]
    for cidr in pools:
        net = ipaddress.ip_network(cidr)
        mine = [b for b in blocks if ipaddress.ip_network(b["spec"]["cidr"]).subnet_of(net)]
        in_use = sum(len(b["spec"]["allocations"]) - len(b["spec"]["unallocated"]) for b in mine)
        assert in_use == sum(1 for ip in held if ipaddress.ip_address(ip) in net), cidr
        for block in mine:
            capacity = 2 ** (32 - ipaddress.ip_network(block["spec"]["cidr"]).prefixlen)
            assert len(block["spec"]["allocations"]) == capacity
            assert sorted(block["spec"]["unallocated"]) == [
                o for o, a in enumerate(block["spec"]["allocations"]) if a is None]
    assert sum(ipaddress.ip_network(c).num_addresses for c in pools) == 2 ** 16 + 2 ** 16


def test_pinned_namespace_fails_like_calico_when_its_pool_is_disabled(cluster):
    sim, clients = cluster
    create_new_pool(clients)
    disable_old_pool(clients)
    settle(sim)
    victim = clients.pods("legacy", "app=billing")[0].metadata.name
    clients.core.delete_namespaced_pod(victim, "legacy")
    settle(sim, seconds=60)
    pending = [p for p in live(clients.pods("legacy", "app=billing")) if p.status.phase != "Running"]
    assert len(pending) == 1
    pod = pending[0]
    assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    assert not pod.status.pod_ip
    events = [e for e in clients.events("legacy", pod.metadata.name) if e.reason == "FailedCreatePodSandBox"]
    assert events and events[0].type == "Warning"
    assert "the given pool (192.168.0.0/16) does not exist, or is not enabled" in events[0].message
    assert len(events) > 1  # the kubelet keeps retrying, each time with a new sandbox
    # lifting the pin (pod annotation beats namespace annotation) lets the next pod start
    clients.core.patch_namespace("legacy", {"metadata": {"annotations": {
        "cni.projectcalico.org/ipv4pools": '["new-pool"]'}}})
    settle(sim, seconds=30)
    pod = clients.core.read_namespaced_pod(pod.metadata.name, "legacy")
    assert pod.status.phase == "Running" and in_cidr(pod.status.pod_ip, NEW)
