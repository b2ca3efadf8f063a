"""Pure parts of the data layer: detection rules, capability lookups, backoff, relist diff,
change-set coalescing."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from tui.kube import detect as d
from tui.kube.cache import Subscription, combine_health
from tui.kube.rbac import Access, Capabilities, planned_accesses
from tui.kube.reflector import Health, Tuning, backoff_delay, diff
from tui.kube.resources import CALICO_V1, CALICO_V3, OPERATOR_V1, WatchSpec, watch_specs

CALICO = frozenset({"ippools", "ipamblocks", "blockaffinities", "bgpconfigurations", "bgppeers",
                    "caliconodestatuses", "clusterinformations", "felixconfigurations"})


def node_ds(env, namespace="kube-system", image="docker.io/calico/node:v3.32.1"):
    return {"metadata": {"name": "calico-node", "namespace": namespace},
            "spec": {"template": {"spec": {"containers": [
                {"name": "calico-node", "image": image, "env": env}]}}}}


MANIFEST_CNI = """{
  "name": "k8s-pod-network", "cniVersion": "0.3.1",
  "plugins": [
    {"type": "calico", "mtu": __CNI_MTU__, "datastore_type": "kubernetes",
     "ipam": {"type": "calico-ipam", "ipv4_pools": ["192.168.0.0/16"]},
     "kubernetes": {"kubeconfig": "__KUBECONFIG_FILEPATH__"}},
    {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}}
  ]
}"""


def test_api_mode_follows_libcalico_discovery_rule():
    assert d.api_mode({CALICO_V1: CALICO, CALICO_V3: CALICO}) == d.API_SERVER
    assert d.api_mode({CALICO_V3: CALICO}) == d.V3_CRDS
    assert d.api_mode({CALICO_V1: CALICO}) == d.V1_CRDS
    assert d.api_mode({CALICO_V1: CALICO}, apiservice_present=True) == d.API_SERVER
    assert d.api_mode({}) == d.NO_CALICO
    assert d.write_path(d.API_SERVER)[0] == CALICO_V3
    assert d.write_path(d.V1_CRDS)[0] is None  # never write raw v1


def test_datastore_prefers_calico_node_env_and_records_evidence():
    store, evidence = d.datastore({"DATASTORE_TYPE": "kubernetes"}, "typha,kdd,k8s", False, None)
    assert store == d.KUBERNETES and evidence[0] == "calico-node DATASTORE_TYPE=kubernetes"
    assert len(evidence) == 2
    # No DATASTORE_TYPE but ETCD_ENDPOINTS: etcdv3, as libcalico-go decides.
    assert d.datastore({"ETCD_ENDPOINTS": "https://10.0.0.1:2379"}, None, False, None)[0] == d.ETCDV3
    assert d.datastore({"CALICO_IPV4POOL_CIDR": "x"}, None, False, None)[0] == d.KUBERNETES
    assert d.datastore({}, "k8s,bgp", False, None)[0] == d.ETCDV3
    assert d.datastore({}, None, True, None)[0] == d.KUBERNETES
    assert d.datastore({"DATASTORE_TYPE": None}, None, False, None)[0] == d.UNKNOWN
    assert d.datastore({}, None, False, None) == (d.UNKNOWN, ())


def test_flavor_and_ipam():
    assert d.flavor(True, []) == (d.OPERATOR, None)
    assert d.flavor(False, ["calico-system"]) == (d.OPERATOR, "calico-system")
    assert d.flavor(False, ["kube-system"]) == (d.MANIFEST, "kube-system")
    assert d.flavor(False, []) == (d.UNKNOWN, None)
    operator = {"metadata": {"name": "default"}, "spec": {"cni": {"ipam": {"type": "HostLocal"}}}}
    assert info_for(installation=operator, daemonsets={}).ipam == d.HOST_LOCAL
    assert info_for(installation={"metadata": {"name": "default"}}, daemonsets={}).ipam == d.CALICO_IPAM
    host_local = json.dumps({"type": "calico", "ipam": {"type": "host-local", "subnet": "usePodCidr"}})
    assert info_for(calico_config={"metadata": {"name": "calico-config"},
                                   "data": {"cni_network_config": host_local}}).ipam == d.HOST_LOCAL
    broken = {"metadata": {"name": "calico-config"}, "data": {"cni_network_config": "{broken"}}
    assert info_for(calico_config=broken).ipam == d.UNKNOWN


def test_etcd_endpoints_from_the_configmap_decide_etcdv3():
    config = {"metadata": {"name": "calico-config", "namespace": "kube-system"},
              "data": {"etcd_endpoints": "https://10.0.0.1:2379"}}
    ds = node_ds([{"name": "ETCD_ENDPOINTS",
                   "valueFrom": {"configMapKeyRef": {"name": "calico-config", "key": "etcd_endpoints"}}}])
    info = info_for(daemonsets={"kube-system": ds}, calico_config=config, cluster_information=None)
    assert info.datastore == d.ETCDV3
    assert "https://10.0.0.1:2379" in info.data_location


def info_for(**overrides):
    args = dict(server="https://k", context="c", version={"gitVersion": "v1.32.0"},
                served={CALICO_V1: CALICO}, apiservice_present=False,
                cluster_information={"spec": {"clusterType": "k8s,bgp,kubeadm,kdd",
                                              "calicoVersion": "v3.32.1"}},
                daemonsets={"kube-system": node_ds([{"name": "DATASTORE_TYPE", "value": "kubernetes"}])},
                calico_config={"metadata": {"name": "calico-config", "namespace": "kube-system"},
                               "data": {"cni_network_config": MANIFEST_CNI}},
                installation=None)
    args.update(overrides)
    return d.cluster_info(**args)


def test_cluster_info_answers_where_the_data_is():
    info = info_for()
    assert (info.calico_api, info.datastore, info.flavor, info.ipam, info.calico_version) == (
        d.V1_CRDS, d.KUBERNETES, d.MANIFEST, d.CALICO_IPAM, "v3.32.1")
    # Without ClusterInformation the version comes from calico-node's image tag.
    assert info_for(cluster_information=None).calico_version == "v3.32.1"
    assert "crd.projectcalico.org/v1" in info.data_location
    assert "/registry/crd.projectcalico.org/" in info.data_location
    assert "no /calico/ keys" in info.data_location
    doc = info.to_dict()
    assert doc["kubernetesVersion"] == "v1.32.0" and doc["calicoApi"] == "v1-crds"
    assert "served" not in doc and json.dumps(doc)

    etcd = info_for(daemonsets={"kube-system": node_ds([
        {"name": "DATASTORE_TYPE", "value": "etcdv3"},
        {"name": "ETCD_ENDPOINTS", "value": "https://10.0.0.1:2379"}])}, cluster_information=None)
    assert etcd.datastore == d.ETCDV3
    assert "https://10.0.0.1:2379" in etcd.data_location
    assert "/calico/ipam/v2/" in etcd.data_location
    assert "monitors the Kubernetes datastore only" in etcd.data_location

    none = info_for(served={}, cluster_information=None, daemonsets={}, calico_config=None)
    assert none.calico_api == d.NO_CALICO and "No Calico API group" in none.data_location


def test_watch_specs_read_v1_storage_first_and_skip_unserved():
    specs = watch_specs({CALICO_V1: frozenset({"ippools"}), CALICO_V3: CALICO, OPERATOR_V1: frozenset()})
    by_key = {}
    for spec in specs:
        by_key.setdefault(spec.key, []).append(spec)
    assert by_key["ippools"][0].path == "/apis/crd.projectcalico.org/v1/ippools"
    assert by_key["ipamblocks"][0].path == "/apis/projectcalico.org/v3/ipamblocks"
    assert "installations" not in by_key
    assert len({s.name for s in specs}) == len(specs)
    # Pods are never watched cluster-wide.
    assert all(s.namespace and s.label_selector for s in by_key["pods"])
    assert {s.field_selector for s in by_key["configmaps"]} == {
        "metadata.name=kube-proxy", "metadata.name=kubeadm-config", "metadata.name=calico-config"}
    assert WatchSpec("x", "v1", "nodes").path == "/api/v1/nodes"


def test_capabilities_lookup_and_read_only():
    caps = Capabilities({
        Access("list", "", "nodes"): True,
        Access("patch", "", "configmaps", "kube-system"): False,
        Access("create", "", "pods", "", "eviction"): True,
        Access("get", "", "configmaps"): True,
    })
    assert caps.can("list", "", "nodes")
    assert not caps.can("patch", "", "configmaps", "kube-system")
    assert caps.can("create", "", "pods/eviction", "default")  # cluster-wide grant answers
    assert caps.can("get", "", "configmaps", "kube-system")
    assert not caps.can("delete", "", "nodes")  # never asked: no
    assert not caps.read_only
    viewer = Capabilities({Access("list", "", "nodes"): True, Access("delete", "", "nodes"): False})
    assert viewer.read_only
    assert viewer.denied_reads([WatchSpec("nodes", "v1", "nodes")]) == [WatchSpec("nodes", "v1", "nodes")]
    assert viewer.to_dict()["readOnly"] is True


def test_planned_accesses_cover_reads_and_writes():
    accesses = planned_accesses({CALICO_V1: CALICO, CALICO_V3: CALICO, OPERATOR_V1: frozenset({"installations"})})
    keys = {(a.verb, a.group, a.resource, a.namespace, a.subresource) for a in accesses}
    for spec in watch_specs({CALICO_V1: CALICO}):
        for verb in ("get", "list", "watch"):
            assert (verb, spec.group, spec.plural, spec.namespace or "", "") in keys
    assert ("create", "projectcalico.org", "ippools", "", "") in keys
    assert ("delete", "crd.projectcalico.org", "ippools", "", "") in keys
    assert ("create", "", "pods", "", "eviction") in keys
    assert ("patch", "operator.tigera.io", "installations", "", "") in keys
    assert len(accesses) == len(keys)


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    for failures in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (failures - 1))
        delays = [backoff_delay(failures, 0.5, 30.0, rng) for _ in range(50)]
        assert all(ceiling / 2 <= x <= ceiling for x in delays)
        assert len(set(delays)) > 1


def test_tuning_rejects_a_read_timeout_shorter_than_a_watch():
    with pytest.raises(ValueError):
        Tuning(watch_timeout=240, read_timeout=240)
    assert Tuning().read_timeout > Tuning().watch_timeout * 1.25


def obj(name, rv, ns=""):
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv}}


def test_relist_diff_keeps_unchanged_objects_and_reports_changes():
    old = {("", "a"): obj("a", "1"), ("", "b"): obj("b", "2")}
    same = [obj("a", "1"), obj("b", "2")]
    new, changed = diff(old, same)
    assert not changed and new[("", "a")] is old[("", "a")]
    new, changed = diff(old, [obj("a", "1")])           # b vanished
    assert changed and set(new) == {("", "a")}
    new, changed = diff(old, [obj("a", "1"), obj("b", "3")])  # b modified
    assert changed and new[("", "b")]["metadata"]["resourceVersion"] == "3"
    assert diff({}, [obj("a", "1", "ns")])[0] == {("ns", "a"): obj("a", "1", "ns")}


def test_combined_health_is_the_worst_part():
    good = Health(True, None, None, 100.0)
    bad = Health(False, 50.0, "cannot reach x: connection refused", 90.0)
    both = combine_health([good, bad])
    assert (both.synced, both.reconnecting_since, both.error, both.last_event_at) == (
        False, 50.0, bad.error, 100.0)
    assert combine_health([good]).synced
    assert not combine_health([]).synced
    assert good.last_event_age(now=103.0) == 3.0


class FakeCache:
    keys = ("ippools", "nodes")

    def __init__(self):
        self.version = 0

    def snapshot(self):
        return {"ippools": [self.version]}

    def health(self):
        return {}

    def _forget(self, subscription):
        pass


def test_subscription_coalesces_and_rate_limits():
    cache = FakeCache()
    received = []
    arrived = threading.Event()

    def callback(changes):
        received.append((time.monotonic(), changes))
        arrived.set()

    sub = Subscription(cache, callback, max_rate_hz=5)
    assert arrived.wait(2)  # the first delivery describes everything
    assert received[0][1].resources_changed == {"ippools", "nodes"}
    for i in range(200):     # a burst of events becomes one or two change sets
        cache.version = i
        sub.notify("nodes", True, False)
    time.sleep(0.6)
    later = received[1:]
    assert 1 <= len(later) <= 2
    assert later[-1][1].resources_changed == {"nodes"} and later[-1][1].raw["ippools"] == [199]
    assert later[0][0] - received[0][0] >= 0.19   # at most 5 per second
    count = len(received)
    time.sleep(0.4)
    assert len(received) == count   # nothing changed, nothing delivered
    sub.notify("ippools", False, True)
    time.sleep(0.3)
    assert received[-1][1].health_changed == {"ippools"} and not received[-1][1].resources_changed
    sub.cancel()
    assert sub.join(2)


def test_subscription_survives_a_failing_callback():
    calls = []

    def callback(changes):
        calls.append(changes)
        raise RuntimeError("consumer bug")

    sub = Subscription(FakeCache(), callback, max_rate_hz=50)
    time.sleep(0.1)
    sub.notify("nodes", True, False)
    time.sleep(0.2)
    sub.cancel()
    assert sub.join(2) and len(calls) == 2
    with pytest.raises(ValueError):
        Subscription(FakeCache(), callback, max_rate_hz=0)
