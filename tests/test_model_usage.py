"""Pool and node usage against calicoctl's rules and against brute-force recomputation from raw objects."""

from __future__ import annotations

import ipaddress
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from model_builders import (
    blockaffinity,
    ipamblock,
    ippool,
    node,
    pod_owner,
    seed_raw,
    tunnel_owner,
)
from tui.model.cluster import build_cluster
from tui.model.usage import ORPHANED, allocations_in_pool, node_usage, pool_for_address, pool_usage


def test_seed_pool_usage() -> None:
    usage = pool_usage(build_cluster(seed_raw()))
    assert [u.name for u in usage] == ["default-ipv4-ippool", "new-pool"]
    default, new = usage
    assert (default.total, default.in_use, len(default.blocks)) == (65536, 25, 10)
    assert (new.total, new.in_use, new.blocks) == (65536, 0, ())
    assert default.free == 65511


def test_block_goes_to_first_overlapping_pool_by_name() -> None:
    """calicoctl lists pools by name and stops at the first overlap, even a partial one."""
    raw = {
        "ippools": [ippool("zz-wide", "10.0.0.0/16"), ippool("aa-narrow", "10.0.1.0/30")],
        "ipamblocks": [ipamblock("10.0.1.0/29", "n1", {0: pod_owner("a", "p", "n1")}),
                       ipamblock("10.0.2.0/29", "n1", {0: pod_owner("a", "q", "n1"), 1: pod_owner("a", "r", "n1")})],
    }
    narrow, wide = pool_usage(build_cluster(raw))
    assert narrow.name == "aa-narrow" and [str(b.cidr) for b in narrow.blocks] == ["10.0.1.0/29"]
    assert (narrow.total, narrow.in_use) == (4, 1)
    assert [str(b.cidr) for b in wide.blocks] == ["10.0.2.0/29"] and wide.in_use == 2


def test_orphaned_group_and_pods_still_in_pool() -> None:
    raw = seed_raw()
    raw["ipamblocks"].append(ipamblock("10.99.0.0/26", None, {3: pod_owner("legacy", "billing-0", "node05")}))
    raw["ipamblocks"].append(ipamblock("fd00:99::/122", "node05", {4: pod_owner("legacy", "billing-1", "node05")}))
    cluster = build_cluster(raw)
    orphaned = pool_usage(cluster)[-1]
    assert orphaned.name == ORPHANED and orphaned.pool is None and orphaned.cidr is None
    assert [str(b.cidr) for b in orphaned.blocks] == ["10.99.0.0/26", "fd00:99::/122"]
    assert (orphaned.in_use, orphaned.total) == (2, 128)
    pods = allocations_in_pool(cluster, "default-ipv4-ippool")
    assert len(pods) == 15 and all(a.kind == "pod" for a in pods)
    assert len(allocations_in_pool(cluster, "default-ipv4-ippool", kind=None)) == 25
    assert allocations_in_pool(cluster, "new-pool") == ()


def test_tombstones_are_gone() -> None:
    raw = seed_raw()
    raw["ipamblocks"].append(ipamblock("192.168.200.0/26", "node01", {0: pod_owner("a", "p", "node01")}, deleted=True))
    raw["blockaffinities"].append(blockaffinity("node01", "192.168.200.0/26", deleted="true"))
    cluster = build_cluster(raw)
    assert "192.168.200.0/26" not in {str(b.cidr) for b in cluster.blocks}
    assert "192.168.200.0/26" not in {str(a.cidr) for a in cluster.affinities}
    assert pool_usage(cluster)[0].in_use == 25


def test_node_usage_borrowed_tunnels_and_ghosts() -> None:
    raw = seed_raw()
    # node04 borrows an address from node05's block; node11 was deleted but still holds a block.
    raw["ipamblocks"][4]["spec"]["attributes"].append({"handle_id": "h", "secondary": pod_owner("a", "b", "node04")})
    raw["ipamblocks"][4]["spec"]["allocations"][40] = len(raw["ipamblocks"][4]["spec"]["attributes"]) - 1
    raw["ipamblocks"][4]["spec"]["unallocated"].remove(40)
    raw["ipamblocks"].append(ipamblock("192.168.11.0/26", "node11", {1: tunnel_owner("node11")}))
    raw["nodes"][2]["metadata"]["annotations"]["projectcalico.org/IPv4IPIPTunnelAddr"] = "172.21.3.1"
    raw["ippools"][1]["spec"]["disabled"] = True
    usage = {u.name: u for u in node_usage(build_cluster(raw))}
    assert list(usage)[-1] == "node11" and usage["node11"].node is None
    assert [str(a.ip) for a in usage["node04"].borrowed] == ["192.168.5.40"]
    assert usage["node04"].allocations_by_pool == {"default-ipv4-ippool": 2}
    assert usage["node05"].in_use == 2
    assert usage["node01"].block_pools == {"192-168-1-0-26": "default-ipv4-ippool"}
    tunnel = usage["node03"].tunnels[0]
    assert tunnel.kind == "ipip" and tunnel.pool.name == "new-pool" and not tunnel.in_enabled_pool
    assert usage["node01"].tunnels[0].in_enabled_pool


def test_pool_for_address() -> None:
    cluster = build_cluster(seed_raw())
    assert pool_for_address(cluster, ipaddress.ip_address("172.21.9.9")).name == "new-pool"
    assert pool_for_address(cluster, ipaddress.ip_address("10.0.0.1")) is None


# --- randomized clusters vs brute force -----------------------------------------------------------

NODE_NAMES = ["n1", "n2", "n3", "gone"]


@st.composite
def raw_ipam(draw) -> dict:
    """Pools (possibly overlapping, in random order) and blocks inside and outside them."""
    pools = []
    for name in draw(st.lists(st.sampled_from(["p-a", "p-b", "p-c", "p-d"]), unique=True, min_size=1, max_size=4)):
        prefix = draw(st.integers(22, 26))
        base = draw(st.integers(0, 4)) * 1024
        network = ipaddress.ip_network((ipaddress.ip_address("10.0.0.0") + base, prefix), strict=False)
        pools.append(ippool(name, str(network), blockSize=prefix + 2, disabled=draw(st.booleans())))
    blocks = {}
    for _ in range(draw(st.integers(0, 8))):
        size = draw(st.integers(27, 30))
        start = draw(st.integers(0, (5 * 1024 - 1) >> (32 - size))) << (32 - size)  # mostly inside the pools
        cidr = ipaddress.ip_network((int(ipaddress.ip_address("10.0.0.0")) + start, size))
        capacity = cidr.num_addresses
        owners = {}
        for ordinal in draw(st.lists(st.integers(0, capacity - 1), unique=True, max_size=capacity)):
            who = draw(st.sampled_from(NODE_NAMES))
            owners[ordinal] = tunnel_owner(who) if draw(st.booleans()) else pod_owner("ns", f"pod-{ordinal}", who)
        affinity = draw(st.sampled_from(NODE_NAMES + [None]))
        blocks[str(cidr)] = ipamblock(str(cidr), affinity, owners)
    raw = {"ippools": pools, "ipamblocks": list(blocks.values()),
           "nodes": [node(n, None) for n in NODE_NAMES if n != "gone"]}
    rng = random.Random(draw(st.integers()))
    for items in raw.values():
        rng.shuffle(items)
    return raw


def brute_pool_of(raw: dict, block: dict) -> str | None:
    """Naively: the alphabetically first pool that contains any address of the block."""
    block_ips = list(ipaddress.ip_network(block["spec"]["cidr"]))
    for pool in sorted(raw["ippools"], key=lambda p: p["metadata"]["name"]):
        pool_net = ipaddress.ip_network(pool["spec"]["cidr"])
        if any(ip in pool_net for ip in block_ips):
            return pool["metadata"]["name"]
    return None


def brute_in_use(block: dict) -> int:
    return sum(1 for ordinal in range(len(block["spec"]["allocations"]))
               if ordinal not in block["spec"]["unallocated"])


@settings(max_examples=60, deadline=None)
@given(raw_ipam())
def test_pool_usage_equals_brute_force(raw: dict) -> None:
    usage = {u.name: u for u in pool_usage(build_cluster(raw))}
    expected_names = sorted(p["metadata"]["name"] for p in raw["ippools"])
    orphans = [b for b in raw["ipamblocks"] if brute_pool_of(raw, b) is None]
    assert list(usage) == expected_names + ([ORPHANED] if orphans else [])
    for pool in raw["ippools"]:
        name = pool["metadata"]["name"]
        mine = [b for b in raw["ipamblocks"] if brute_pool_of(raw, b) == name]
        assert usage[name].total == len(list(ipaddress.ip_network(pool["spec"]["cidr"])))
        assert usage[name].in_use == sum(brute_in_use(b) for b in mine)
        assert sorted(b.name for b in usage[name].blocks) == sorted(b["metadata"]["name"] for b in mine)
    if orphans:
        assert usage[ORPHANED].in_use == sum(brute_in_use(b) for b in orphans)


@settings(max_examples=60, deadline=None)
@given(raw_ipam())
def test_node_usage_equals_brute_force(raw: dict) -> None:
    cluster = build_cluster(raw)
    usage = {u.name: u for u in node_usage(cluster)}
    for name in NODE_NAMES:
        affine = [b for b in raw["ipamblocks"] if b["spec"].get("affinity") == f"host:{name}"]
        held: dict[str | None, int] = {}
        borrowed = 0
        for block in raw["ipamblocks"]:
            for ordinal, index in enumerate(block["spec"]["allocations"]):
                if index is not None and block["spec"]["attributes"][index]["secondary"]["node"] == name:
                    pool = brute_pool_of(raw, block)
                    held[pool] = held.get(pool, 0) + 1
                    borrowed += block["spec"].get("affinity") != f"host:{name}"
        if not affine and not held and name == "gone":
            assert name not in usage
            continue
        assert sorted(b.name for b in usage[name].blocks) == sorted(b["metadata"]["name"] for b in affine)
        assert usage[name].allocations_by_pool == held
        assert len(usage[name].borrowed) == borrowed
        assert (usage[name].node is None) == (name == "gone")


@settings(max_examples=40, deadline=None)
@given(raw_ipam())
def test_pods_in_pool_equal_brute_force(raw: dict) -> None:
    cluster = build_cluster(raw)
    for pool in raw["ippools"]:
        name = pool["metadata"]["name"]
        expected = set()
        for block in raw["ipamblocks"]:
            if brute_pool_of(raw, block) != name:
                continue
            network = ipaddress.ip_network(block["spec"]["cidr"])
            for ordinal, index in enumerate(block["spec"]["allocations"]):
                if index is not None and "pod" in block["spec"]["attributes"][index]["secondary"]:
                    expected.add(str(network[ordinal]))
        assert {str(a.ip) for a in allocations_in_pool(cluster, name)} == expected
