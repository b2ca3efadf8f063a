"""Calico IPAM arithmetic over raw `crd.projectcalico.org/v1` objects, as libcalico-go writes them.

Pure functions: they take and return plain dicts so the IPAM controller (through the Api) and the
scenario generators (in memory, for bulk start-up) produce byte-identical blocks, affinities and
handles. Allocation follows libcalico-go: free ordinals are a queue (`unallocated`), new allocations
take its head, released ordinals go to its tail, unused attribute entries are compacted away.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from functools import lru_cache

from tui.sim.clock import rfc3339

CALICO_V1 = "crd.projectcalico.org/v1"
POD_NETWORK = "k8s-pod-network"
IPIP_TUNNEL = "ipipTunnelAddress"
VXLAN_TUNNEL = "vxlanTunnelAddress"
TUNNEL_HANDLE_PREFIX = {IPIP_TUNNEL: "ipip-tunnel-addr-", VXLAN_TUNNEL: "vxlan-tunnel-addr-"}
MAX_NAME = 253


class BlockFull(Exception):
    """The block has no free ordinal left."""


def cidr_to_name(cidr: str) -> str:
    """libcalico-go `names.CIDRToName`: `192.168.1.0/26` -> `192-168-1-0-26`."""
    return cidr.replace(".", "-").replace(":", "-").replace("/", "-")


def affinity_name(node: str, cidr: str) -> str:
    """BlockAffinity CR name `<node>-<cidrname>`, hashed like libcalico-go when too long."""
    name = f"{node}-{cidr_to_name(cidr)}"
    if len(name) < MAX_NAME:
        return name
    digest = hashlib.sha256((node + cidr_to_name(cidr)).encode()).hexdigest()[:11]
    keep = MAX_NAME - len(cidr_to_name(cidr)) - len(digest) - 3
    return f"{node[:keep]}-{digest}-{cidr_to_name(cidr)}"


def hostname_hash(node: str) -> str:
    """Label value `projectcalico.org/hostname-hash`: unpadded base32 of SHA3-256 of the node name."""
    return base64.b32encode(hashlib.sha3_256(node.encode()).digest()).decode().rstrip("=")


def pod_handle_id(container_id: str, network: str = POD_NETWORK) -> str:
    """The CNI plugin's handle for a pod sandbox: `<network name>.<containerID>`."""
    return f"{network}.{container_id}"


def tunnel_handle_id(node: str, tunnel_type: str = IPIP_TUNNEL) -> str:
    """calico-node's handle for a node's tunnel address, e.g. `ipip-tunnel-addr-node01`."""
    return TUNNEL_HANDLE_PREFIX[tunnel_type] + node


def handle_name(handle_id: str) -> str:
    """IPAMHandle CR names are the lower-cased handle ID."""
    return handle_id.lower()


@lru_cache(maxsize=4096)
def calico_timestamp(seconds: float) -> str:
    """Go `time.Time.String()` of a UTC time, the format of `secondary.timestamp`."""
    when = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond * 1000:09d} +0000 UTC"


@lru_cache(maxsize=65536)
def network(cidr: str):
    """A parsed CIDR (cached: the same few thousand block CIDRs are parsed over and over)."""
    return ipaddress.ip_network(cidr)


def block_size_of(cidr: str) -> int:
    """Number of addresses in a block (its capacity)."""
    return network(cidr).num_addresses


def in_use(spec: dict) -> int:
    """calicoctl's rule: capacity minus the free ordinals."""
    return len(spec["allocations"]) - len(spec["unallocated"])


def ordinal_ip(cidr: str, ordinal: int) -> str:
    net = network(cidr)
    if net.version == 4:  # formatted by hand: this runs for every address of a 5,000-node cluster
        value = int(net.network_address) + ordinal
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return str(net.network_address + ordinal)


def ip_ordinal(cidr: str, ip: str) -> int | None:
    """The ordinal of `ip` in the block, or None when the block does not contain it."""
    net = network(cidr)
    addr = ipaddress.ip_address(ip)
    if addr.version != net.version or addr not in net:
        return None
    return int(addr) - int(net.network_address)


def node_of(block_spec: dict) -> str | None:
    """The host a block is affine to, or None (released or virtual affinity)."""
    affinity = block_spec.get("affinity") or ""
    return affinity[len("host:"):] if affinity.startswith("host:") else None


def block_cidrs(pool_cidr: str, block_prefix: int, node: str) -> Iterator[str]:
    """Every block CIDR of a pool, starting at a node-seeded offset and wrapping around.

    libcalico-go walks a pool's blocks from a hostname-seeded random start, which is why real clusters
    show blocks scattered over the pool rather than packed from its base.
    """
    pool = ipaddress.ip_network(pool_cidr)
    count = 1 << (block_prefix - pool.prefixlen)
    step = 1 << (pool.max_prefixlen - block_prefix)
    start = int.from_bytes(hashlib.sha256(node.encode()).digest()[:8], "big") % count
    base = int(pool.network_address)
    cls = type(pool.network_address)
    for i in range(count):
        yield f"{cls(base + ((start + i) % count) * step)}/{block_prefix}"


def first_free_block(pool_cidr: str, block_prefix: int, node: str, taken: set[str]) -> str | None:
    """The block a node would claim next in a pool, or None when every block is taken."""
    return next((c for c in block_cidrs(pool_cidr, block_prefix, node) if c not in taken), None)


def new_block(cidr: str, node: str | None, now: float, sequence: int) -> dict:
    """A fresh, empty IPAMBlock CR claimed by `node` (None for an unaffine block)."""
    capacity = block_size_of(cidr)
    spec = {
        "cidr": cidr,
        "affinity": f"host:{node}" if node else None,
        "allocations": [None] * capacity,
        "unallocated": list(range(capacity)),
        "attributes": [],
        "deleted": False,
        "sequenceNumber": sequence,
        "sequenceNumberForAllocation": {},
        "strictAffinity": False,
    }
    if node:
        spec["affinityClaimTime"] = rfc3339(now)
    return {"apiVersion": CALICO_V1, "kind": "IPAMBlock",
            "metadata": {"name": cidr_to_name(cidr)}, "spec": spec}


def new_affinity(node: str, cidr: str) -> dict:
    """A confirmed host BlockAffinity CR (v1: `deleted` is the string "false")."""
    version = str(ipaddress.ip_network(cidr).version)
    return {
        "apiVersion": CALICO_V1, "kind": "BlockAffinity",
        "metadata": {
            "name": affinity_name(node, cidr),
            "labels": {
                "projectcalico.org/affinity-type": "host",
                "projectcalico.org/hostname-hash": hostname_hash(node),
                "projectcalico.org/ip-version": version,
            },
        },
        "spec": {"cidr": cidr, "deleted": "false", "node": node, "state": "confirmed", "type": "host"},
    }


def new_handle(handle_id: str, blocks: dict[str, int]) -> dict:
    """An IPAMHandle CR counting the handle's IPs per block CIDR."""
    return {"apiVersion": CALICO_V1, "kind": "IPAMHandle",
            "metadata": {"name": handle_name(handle_id)},
            "spec": {"handleID": handle_id, "block": dict(blocks), "deleted": False}}


def pod_attributes(namespace: str, pod: str, node: str, now: float) -> dict:
    """`secondary` attributes the CNI plugin records for a pod IP."""
    return {"namespace": namespace, "node": node, "pod": pod, "timestamp": calico_timestamp(now)}


def tunnel_attributes(node: str, tunnel_type: str = IPIP_TUNNEL) -> dict:
    return {"node": node, "type": tunnel_type}


def allocate(spec: dict, handle_id: str, secondary: dict, in_place: bool = False) -> tuple[dict, int]:
    """Assign the head of the free queue to `handle_id`; returns (new spec, ordinal).
    `in_place` changes `spec` itself (for generators that own their blocks)."""
    if not spec["unallocated"]:
        raise BlockFull(spec["cidr"])
    new = spec if in_place else _copy_spec(spec)
    ordinal = new["unallocated"].pop(0)
    new["attributes"].append({"handle_id": handle_id, "secondary": dict(secondary)})
    new["allocations"][ordinal] = len(new["attributes"]) - 1
    new["sequenceNumberForAllocation"][str(ordinal)] = new["sequenceNumber"]
    new["sequenceNumber"] += 1
    return new, ordinal


def release_handle(spec: dict, handle_id: str) -> tuple[dict, list[int]]:
    """Free every ordinal held by `handle_id`; returns (new spec, released ordinals)."""
    held = {i for i, attr in enumerate(spec["attributes"]) if attr.get("handle_id") == handle_id}
    ordinals = [o for o, a in enumerate(spec["allocations"]) if a is not None and a in held]
    return release_ordinals(spec, ordinals), ordinals


def release_ordinals(spec: dict, ordinals: Iterable[int]) -> dict:
    """Free `ordinals` (appended to the free queue) and drop attribute entries no longer referenced."""
    ordinals = [o for o in ordinals if spec["allocations"][o] is not None]
    if not ordinals:
        return spec
    new = _copy_spec(spec)
    for o in ordinals:
        new["allocations"][o] = None
        new["unallocated"].append(o)
        new["sequenceNumberForAllocation"].pop(str(o), None)
    used = sorted({a for a in new["allocations"] if a is not None})
    renumber = {old: i for i, old in enumerate(used)}
    new["attributes"] = [new["attributes"][old] for old in used]
    new["allocations"] = [None if a is None else renumber[a] for a in new["allocations"]]
    new["sequenceNumber"] += 1
    return new


def owners(spec: dict) -> Iterator[tuple[int, str, dict]]:
    """(ordinal, handle_id, secondary) for every allocated ordinal of a block."""
    attrs = spec["attributes"]
    for ordinal, index in enumerate(spec["allocations"]):
        if index is not None:
            attr = attrs[index]
            yield ordinal, attr.get("handle_id", ""), attr.get("secondary") or {}


def _copy_spec(spec: dict) -> dict:
    new = dict(spec)
    new["allocations"] = list(spec["allocations"])
    new["unallocated"] = list(spec["unallocated"])
    new["attributes"] = list(spec["attributes"])  # entries are never changed in place
    new["sequenceNumberForAllocation"] = dict(spec.get("sequenceNumberForAllocation") or {})
    return new
