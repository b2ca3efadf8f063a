"""IPAM and configuration findings, and their ordering."""

from __future__ import annotations

from model_builders import (
    configmap,
    ipamblock,
    ippool,
    kcm_pod,
    kube_proxy_conf,
    kube_system_raw,
    pod_owner,
    seed_raw,
    tunnel_owner,
)
from tui.model.cluster import build_cluster
from tui.model.findings import SEVERITIES, Finding, cluster_findings, config_findings, ipam_findings


def ids(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.id, f.subject) for f in findings}


def test_healthy_seed_has_no_ipam_or_config_findings() -> None:
    cluster = build_cluster({**seed_raw(), **kube_system_raw()})
    assert ipam_findings(cluster) == [] and config_findings(cluster) == []


def test_overlapping_pools_and_no_enabled_pool() -> None:
    raw = seed_raw()
    raw["ippools"].append(ippool("sloppy", "192.168.128.0/17", disabled=True))
    found = ids(ipam_findings(build_cluster(raw)))
    assert ("ipam.pool-overlap", "ippool/sloppy") in found
    for pool in raw["ippools"]:
        pool["spec"]["disabled"] = True
    assert ("ipam.no-enabled-pool", "") in ids(ipam_findings(build_cluster(raw)))


def test_orphans_released_blocks_and_stale_nodes() -> None:
    raw = seed_raw()
    raw["ipamblocks"] += [
        ipamblock("10.99.0.0/26", None, {3: pod_owner("legacy", "billing-0", "node05")}),
        ipamblock("192.168.77.0/26", None, {1: pod_owner("legacy", "billing-1", "node06")}),
        ipamblock("192.168.11.0/26", "node11", {1: tunnel_owner("node11")}),
    ]
    findings = {f.id: f for f in ipam_findings(build_cluster(raw))}
    assert findings["ipam.orphaned-blocks"].evidence == ("10.99.0.0/26: 1 in use, affinity none",)
    assert findings["ipam.blocks-without-affinity"].evidence == (
        "10.99.0.0/26: 1 in use", "192.168.77.0/26: 1 in use")
    assert findings["ipam.stale-node"].subject == "node/node11"
    assert "block 192.168.11.0/26" in findings["ipam.stale-node"].evidence


def test_tunnel_address_in_disabled_pool() -> None:
    raw = seed_raw()
    raw["ippools"][0]["spec"]["disabled"] = True
    found = ids(ipam_findings(build_cluster(raw)))
    assert {s for i, s in found if i == "ipam.tunnel-address-outside-enabled-pool"} == {
        f"node/node{n:02d}" for n in range(1, 11)}


def test_controller_manager_crash_loop_and_stale_kube_proxy() -> None:
    raw = {**seed_raw(), **kube_system_raw()}
    raw["pods"][1] = kcm_pod("node02", ["kube-controller-manager", "--cluster-cidr=172.21.0.0/16"],
                             restarts=12, waiting="CrashLoopBackOff")
    raw["configmaps"][0] = configmap("kube-proxy", {"config.conf": kube_proxy_conf("172.21.0.0/16")})
    findings = {f.id: f for f in config_findings(build_cluster(raw))}
    crash = findings["config.kube-controller-manager-crashloop"]
    assert crash.severity == "blocking" and crash.subject == "pod/kube-system/kube-controller-manager-node02"
    assert crash.evidence == ("--cluster-cidr=172.21.0.0/16",)
    assert len(findings["config.kube-proxy-stale"].evidence) == 10


def test_findings_are_ordered_by_severity() -> None:
    raw = seed_raw()
    raw["ippools"].append(ippool("sloppy", "192.168.128.0/17"))
    raw["ippools"].append(ippool("broken", "nope"))
    findings = cluster_findings(build_cluster(raw))
    ranks = [SEVERITIES.index(f.severity) for f in findings]
    assert ranks == sorted(ranks) and findings[0].id == "ipam.pool-overlap"
    assert ("object.invalid", "IPPool/broken") in ids(list(findings))


def test_unreadable_node_is_not_reported_as_deleted() -> None:
    raw = seed_raw()
    raw["nodes"][3]["metadata"]["annotations"]["projectcalico.org/ASNumber"] = "not-a-number"
    cluster = build_cluster(raw)
    assert [i.name for i in cluster.invalid] == ["node04"]
    found = ids(list(cluster_findings(cluster)))
    assert ("ipam.stale-node", "node/node04") not in found
    assert ("object.invalid", "Node/node04") in found
