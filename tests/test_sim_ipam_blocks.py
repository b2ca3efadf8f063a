"""Calico IPAM block arithmetic (pure), checked against libcalico-go's rules by brute force."""

import ipaddress
import random

from hypothesis import given, settings, strategies as st

from tui.sim.controllers import ipam_blocks as ib


def test_names_follow_libcalico():
    assert ib.cidr_to_name("192.168.1.0/26") == "192-168-1-0-26"
    assert ib.cidr_to_name("fd00:1::40/122") == "fd00-1--40-122"
    assert ib.affinity_name("worker-1", "192.168.1.0/26") == "worker-1-192-168-1-0-26"
    long = ib.affinity_name("n" * 300, "10.0.0.0/26")
    assert len(long) < 253 and long.endswith("10-0-0-0-26")
    assert ib.handle_name("k8s-pod-network.ABCdef") == "k8s-pod-network.abcdef"
    assert ib.tunnel_handle_id("node01") == "ipip-tunnel-addr-node01"
    assert len(ib.hostname_hash("node01")) == 52 and "=" not in ib.hostname_hash("node01")


def test_new_objects_have_the_real_shapes_and_types():
    block = ib.new_block("10.0.0.64/26", "node01", 1_700_000_000.0, 7)
    spec = block["spec"]
    assert block["metadata"]["name"] == "10-0-0-64-26"
    assert spec["affinity"] == "host:node01" and spec["affinityClaimTime"] == "2023-11-14T22:13:20Z"
    assert spec["allocations"] == [None] * 64 and spec["unallocated"] == list(range(64))
    assert spec["deleted"] is False and spec["strictAffinity"] is False
    aff = ib.new_affinity("node01", "10.0.0.64/26")
    assert aff["spec"] == {"cidr": "10.0.0.64/26", "deleted": "false", "node": "node01",
                           "state": "confirmed", "type": "host"}
    assert aff["metadata"]["labels"]["projectcalico.org/ip-version"] == "4"
    handle = ib.new_handle("k8s-pod-network.ABC", {"10.0.0.64/26": 1})
    assert handle["metadata"]["name"] == "k8s-pod-network.abc"
    assert handle["spec"] == {"handleID": "k8s-pod-network.ABC", "block": {"10.0.0.64/26": 1}, "deleted": False}


def test_allocation_takes_the_queue_head_and_release_appends():
    spec = ib.new_block("10.0.0.0/30", "n", 0.0, 1)["spec"]
    spec, a = ib.allocate(spec, "h1", {"pod": "a"})
    spec, b = ib.allocate(spec, "h2", {"pod": "b"})
    assert (a, b) == (0, 1)
    spec, released = ib.release_handle(spec, "h1")
    assert released == [0] and spec["unallocated"] == [2, 3, 0]
    assert spec["attributes"] == [{"handle_id": "h2", "secondary": {"pod": "b"}}]
    assert spec["allocations"] == [None, 0, None, None]
    spec, c = ib.allocate(spec, "h3", {})
    assert c == 2


def test_block_full_raises():
    spec = ib.new_block("10.0.0.0/31", "n", 0.0, 1)["spec"]
    spec, _ = ib.allocate(spec, "a", {})
    spec, _ = ib.allocate(spec, "b", {})
    try:
        ib.allocate(spec, "c", {})
    except ib.BlockFull:
        pass
    else:
        raise AssertionError("allocating from a full block must fail")


def test_block_walk_covers_the_pool_once_from_a_node_seeded_start():
    cidrs = list(ib.block_cidrs("10.0.0.0/24", 26, "node01"))
    assert sorted(cidrs, key=lambda c: ipaddress.ip_network(c)) == [
        "10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/26", "10.0.0.192/26"]
    starts = {next(ib.block_cidrs("192.168.0.0/16", 26, f"node{i:02d}")) for i in range(20)}
    assert len(starts) > 10  # scattered over the pool, not packed from its base
    taken = set(cidrs[:3])
    assert ib.first_free_block("10.0.0.0/24", 26, "node01", taken) == cidrs[3]
    assert ib.first_free_block("10.0.0.0/24", 26, "node01", set(cidrs)) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=120))
def test_in_use_matches_a_brute_force_count(ops):
    """calicoctl's in-use = capacity - len(unallocated) equals the ordinals that have an owner."""
    spec = ib.new_block("10.1.0.0/27", "n", 0.0, 1)["spec"]
    live: dict[str, int] = {}
    for n, (alloc, pick) in enumerate(ops):
        if alloc and spec["unallocated"]:
            spec, ordinal = ib.allocate(spec, f"h{n}", {"pod": f"p{n}"})
            live[f"h{n}"] = ordinal
        elif live:
            handle = sorted(live)[pick % len(live)]
            spec, released = ib.release_handle(spec, handle)
            assert released == [live.pop(handle)]
        owners = {o: h for o, h, _ in ib.owners(spec)}
        assert owners == {o: h for h, o in live.items()}
        assert ib.in_use(spec) == len(live) == sum(a is not None for a in spec["allocations"])
        assert sorted(spec["unallocated"]) == [o for o in range(32) if o not in owners]
        assert all(a is None or 0 <= a < len(spec["attributes"]) for a in spec["allocations"])


def test_ordinal_ip_roundtrip():
    rng = random.Random(3)
    for _ in range(50):
        o = rng.randrange(64)
        ip = ib.ordinal_ip("192.168.5.64/26", o)
        assert ib.ip_ordinal("192.168.5.64/26", ip) == o
    assert ib.ip_ordinal("192.168.5.64/26", "192.168.5.1") is None


def test_calico_timestamp_is_go_time_string():
    assert ib.calico_timestamp(1_700_000_000.5) == "2023-11-14 22:13:20.500000000 +0000 UTC"
