"""Scenario files: the built-in clusters, the file format (what `snapshot` writes), the generator."""

import collections
import ipaddress
import time

import pytest
import yaml

from cluster_fixtures import finish, start_scenario
from tui.sim.controllers import ipam_blocks as ib
from tui.sim.scenario import ScenarioError, builtin_scenarios, load_scenario, scenario_document
from tui.sim.simulator import Simulator
from tui.model.static_pods import get_flag

SNAPSHOT_KINDS = ("namespaces", "nodes", "pods", "configmaps", "deployments", "replicasets", "statefulsets",
                  "daemonsets", "poddisruptionbudgets", "ippools", "ipamblocks", "blockaffinities", "ipamhandles",
                  "bgpconfigurations", "bgppeers", "caliconodestatuses", "clusterinformations",
                  "felixconfigurations", "ipamconfigs", "installations")
GROUPS = {"deployments": "apps", "replicasets": "apps", "statefulsets": "apps", "daemonsets": "apps",
          "poddisruptionbudgets": "policy", "installations": "operator.tigera.io"}


def objects_of(sim, kinds=SNAPSHOT_KINDS) -> list[dict]:
    out = []
    for plural in kinds:
        group = GROUPS.get(plural, "" if plural in ("namespaces", "nodes", "pods", "configmaps")
                           else "crd.projectcalico.org")
        items, _ = sim.api.list(sim.api.type(plural, group))
        out += items
    return out


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    sim = start_scenario(tmp_path_factory.mktemp("seed"))
    yield sim
    finish(sim)


def by_kind(sim, plural, group=""):
    return sim.api.list(sim.api.type(plural, group))[0]


def test_builtin_scenarios_are_listed_with_descriptions():
    names = builtin_scenarios()
    assert set(names) == {"seed", "operator", "large"} and all(names.values())


def test_seed_is_the_cluster_the_issue_describes(seed):
    nodes = {n["metadata"]["name"]: n for n in by_kind(seed, "nodes")}
    assert sorted(nodes) == [f"node{i:02d}" for i in range(1, 11)]
    control_plane = sorted(n for n, o in nodes.items() if "node-role.kubernetes.io/control-plane" in o["metadata"]["labels"])
    assert control_plane == ["node01", "node02", "node03"]
    for name, node in nodes.items():
        number = int(name[4:])
        assert node["spec"]["podCIDRs"] == [f"192.168.{number}.0/24"]
        taints = {t["key"] for t in node["spec"].get("taints") or []}
        assert ("node-role.kubernetes.io/control-plane" in taints) == (name in control_plane)
        reflector = number <= 2
        assert (node["metadata"]["labels"].get("route-reflector") == "true") == reflector
        assert (node["metadata"]["annotations"].get("projectcalico.org/RouteReflectorClusterID") == "224.0.0.1") \
            == reflector
    pools = by_kind(seed, "ippools", "crd.projectcalico.org")
    assert [(p["metadata"]["name"], p["spec"]["cidr"], p["spec"]["blockSize"], p["spec"]["ipipMode"],
             p["spec"]["natOutgoing"]) for p in pools] == [
        ("default-ipv4-ippool", "192.168.0.0/16", 26, "CrossSubnet", True)]
    bgp = by_kind(seed, "bgpconfigurations", "crd.projectcalico.org")[0]["spec"]
    assert (bgp["asNumber"], bgp["nodeToNodeMeshEnabled"]) == (63400, False)
    peer = by_kind(seed, "bgppeers", "crd.projectcalico.org")[0]["spec"]
    assert peer == {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'"}
    configmaps = {c["metadata"]["name"]: c["data"] for c in by_kind(seed, "configmaps")}
    assert "clusterCIDR: 192.168.0.0/16" in configmaps["kube-proxy"]["config.conf"]
    kubeadm = yaml.safe_load(configmaps["kubeadm-config"]["ClusterConfiguration"])["networking"]
    assert (kubeadm["podSubnet"], kubeadm["serviceSubnet"]) == ("192.168.0.0/16", "10.96.0.0/12")
    assert '"type": "calico-ipam"' in configmaps["calico-config"]["cni_network_config"]
    pods = by_kind(seed, "pods")
    assert 55 <= len(pods) <= 70 and all(p["status"]["phase"] == "Running" for p in pods)
    kcm = [p for p in pods if p["metadata"]["labels"].get("component") == "kube-controller-manager"]
    assert len(kcm) == 3
    for pod in kcm:
        command = pod["spec"]["containers"][0]["command"]
        assert (get_flag(command, "cluster-cidr"), get_flag(command, "allocate-node-cidrs"),
                get_flag(command, "node-cidr-mask-size")) == ("192.168.0.0/16", "true", "24")
    calico = next(d for d in by_kind(seed, "daemonsets", "apps") if d["metadata"]["name"] == "calico-node")
    env = {e["name"]: e.get("value") for e in calico["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATASTORE_TYPE"] == "kubernetes" and env["CALICO_IPV4POOL_CIDR"] == "192.168.0.0/16"
    assert env["CALICO_IPV4POOL_IPIP"] == "CrossSubnet"
    owners = collections.Counter(((p["metadata"].get("ownerReferences") or [{}])[0]).get("kind") for p in pods)
    assert owners["StatefulSet"] == 3 and owners[None] == 1 and owners["Node"] == 12
    assert by_kind(seed, "poddisruptionbudgets", "policy")[0]["spec"]["minAvailable"] == 2
    legacy = next(n for n in by_kind(seed, "namespaces") if n["metadata"]["name"] == "legacy")
    assert legacy["metadata"]["annotations"]["cni.projectcalico.org/ipv4pools"] == '["default-ipv4-ippool"]'
    statuses = by_kind(seed, "caliconodestatuses", "crd.projectcalico.org")
    assert len(statuses) == 3 and all(s["status"]["bgp"]["numberEstablishedV4"] >= 2 for s in statuses)
    info = by_kind(seed, "clusterinformations", "crd.projectcalico.org")[0]["spec"]
    assert "kdd" in info["clusterType"].split(",") and info["calicoVersion"] == "v3.32.1"


def test_a_snapshot_reloads_as_the_same_cluster(seed, tmp_path):
    """What `calico-tui snapshot` writes (literal objects, no host state) loads without anything
    being restarted, re-addressed or re-created."""
    objects = objects_of(seed)
    path = tmp_path / "snapshot.yaml"
    path.write_text(yaml.safe_dump(scenario_document("copy-of-seed", objects), sort_keys=False))
    copy = Simulator.from_scenario(path=path)
    try:
        def fingerprint(sim):
            pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): (p["metadata"]["uid"], p["status"].get("podIP"))
                    for p in by_kind(sim, "pods")}
            blocks = {b["spec"]["cidr"]: (b["spec"]["affinity"], ib.in_use(b["spec"]))
                      for b in by_kind(sim, "ipamblocks", "crd.projectcalico.org")}
            return pods, blocks
        assert fingerprint(copy) == fingerprint(seed)
        assert not copy.controllers.errors
        host = copy.hosts["node01"]
        assert host.control_plane and host.address == "10.10.0.11/24" and host.kcm_flag("cluster-cidr") == "192.168.0.0/16"
    finally:
        copy.stop()


def test_seeded_scenarios_are_deterministic():
    first, second = (Simulator.from_scenario("seed") for _ in range(2))
    names = [sorted((p["metadata"]["name"], p["status"].get("podIP")) for p in by_kind(s, "pods")) for s in (first, second)]
    assert names[0] == names[1]


def test_scenario_file_errors_are_clear(tmp_path):
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        load_scenario("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ConfigMap\n")
    with pytest.raises(ScenarioError, match="not a scenario file"):
        load_scenario(path=bad)
    bad.write_text("kind: Scenario\nhosts:\n  n1: {kubelet: running}\n")
    with pytest.raises(ScenarioError, match="needs an address"):
        load_scenario(path=bad)
    with pytest.raises(ScenarioError, match="between 1 and 5000"):
        load_scenario("large", params={"nodes": 6000})


def test_includes_take_parameters(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "calico-tui/v1alpha1", "kind": "Scenario", "name": "mine",
        "include": [{"file": str(tmp_path / "part"), "params": {"cidr": "10.1.0.0/16"}}]}))
    (tmp_path / "part.yaml").write_text(yaml.safe_dump({
        "kind": "Scenario", "params": {"cidr": "10.0.0.0/16", "size": 26},
        "objects": [{"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": "p"},
                     "spec": {"cidr": "${cidr}", "blockSize": "${size}"}}]}))
    scenario = load_scenario(path=path)
    assert scenario.objects[0]["spec"] == {"cidr": "10.1.0.0/16", "blockSize": 26}


def test_large_scenario_at_1000_nodes(capsys):
    started = time.perf_counter()
    sim = Simulator.from_scenario("large", params={"nodes": 1000})
    loaded = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nlarge scenario, 1000 nodes: ready in {loaded:.1f} s")
    assert not sim.controllers.errors
    nodes = sim.store.list(("", "nodes"))
    pods = sim.store.list(("", "pods"))
    assert len(nodes) == 1000 and 25 <= len(pods) / len(nodes) <= 32
    assert all(p["status"]["phase"] == "Running" for p in pods)
    blocks = sim.store.list(("crd.projectcalico.org", "ipamblocks"))
    per_node = collections.Counter(ib.node_of(b["spec"]) for b in blocks)
    assert len(per_node) == 1000 and max(per_node.values()) >= 2  # some nodes spilled into a second block
    assert any(ib.in_use(b["spec"]) == 0 for b in blocks)  # empty blocks stay affine
    assert any(b["spec"]["unallocated"] != sorted(b["spec"]["unallocated"]) for b in blocks)  # churned
    held = {p["status"]["podIP"] for p in pods if not p["spec"].get("hostNetwork")}
    held |= {n["metadata"]["annotations"]["projectcalico.org/IPv4IPIPTunnelAddr"] for n in nodes}
    allocated = {ib.ordinal_ip(b["spec"]["cidr"], o) for b in blocks for o, _, _ in ib.owners(b["spec"])}
    assert held == allocated
    pool = ipaddress.ip_network("10.64.0.0/11")
    assert all(ipaddress.ip_address(ip) in pool for ip in held)
    handles = sim.store.list(("crd.projectcalico.org", "ipamhandles"))
    assert len(handles) == len(held)
