"""The node → podCIDR map for the `recreate-nodes` strategy (the operator notes' "plan the map").

Each node keeps its position in the range where it can (`node02` 192.168.3.0/24 becomes
172.21.3.0/24), so the map is easy to check by eye and stable across re-plans; nodes whose old
CIDR has no counterpart get the lowest free subnets, in name order.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Mapping

from tui.model.cidr import CidrError, Network, parse_cidr


def subnet_count(cluster: Network, mask: int) -> int:
    if mask < cluster.prefixlen:
        return 0
    return 2 ** (mask - cluster.prefixlen)


def _index_in(cluster: Network, subnet: Network) -> int | None:
    if subnet.version != cluster.version or not subnet.subnet_of(cluster):
        return None
    offset = int(subnet.network_address) - int(cluster.network_address)
    return offset >> (cluster.max_prefixlen - subnet.prefixlen)


def _subnet(cluster: Network, mask: int, index: int) -> Network:
    base = int(cluster.network_address) + (index << (cluster.max_prefixlen - mask))
    return ipaddress.ip_network((base, mask))


def plan_node_cidrs(node_cidrs: Mapping[str, Iterable[str]], old_cluster: Network | None,
                    new_cluster: Network, mask: int) -> dict[str, str]:
    """`{node: new podCIDR}` for every node, inside `new_cluster`, one `/mask` each.

    `node_cidrs` maps node name → its current podCIDRs (may be empty). Raises CidrError when the
    new range cannot hold one subnet per node.
    """
    capacity = subnet_count(new_cluster, mask)
    if capacity < len(node_cidrs):
        raise CidrError(f"{new_cluster} holds {capacity} /{mask} node subnets, "
                        f"{len(node_cidrs)} nodes need one each")
    wanted: dict[str, int | None] = {}
    for node in sorted(node_cidrs):
        wanted[node] = None
        for text in node_cidrs[node]:
            try:
                current = parse_cidr(text, strict=False)
            except CidrError:
                continue
            index = _index_in(old_cluster, current) if old_cluster is not None else None
            if index is not None and current.prefixlen == mask and index < capacity:
                wanted[node] = index
                break
    taken: set[int] = set()
    result: dict[str, str] = {}
    for node, index in wanted.items():
        if index is not None and index not in taken:
            taken.add(index)
            result[node] = str(_subnet(new_cluster, mask, index))
    free = (i for i in range(capacity) if i not in taken)
    for node in wanted:
        if node not in result:
            index = next(free)
            taken.add(index)
            result[node] = str(_subnet(new_cluster, mask, index))
    return dict(sorted(result.items()))
