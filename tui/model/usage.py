"""IP usage: per pool exactly as `calicoctl ipam show` computes it, per node, tunnels, pods per pool.

calicoctl (libcalico-go `GetUtilization`) lists pools in API order, which is by name, and gives each
block to the FIRST pool whose CIDR overlaps it; a pool's total is its whole CIDR, its in-use count
the sum of its blocks' (capacity − unallocated). Blocks in no pool form the "orphaned allocation
blocks" group, which has block rows but no pool row. One deliberate difference: calicoctl's orphan
group is 0.0.0.0/0, which silently drops orphaned IPv6 blocks; here every orphaned block is shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from tui.model.calico import Allocation, IPAMBlock, IPPool
from tui.model.cidr import Address, Network, contains, overlaps
from tui.model.cluster import Cluster
from tui.model.node import Node

ORPHANED = "orphaned allocation blocks"


def block_pool(pools: tuple[IPPool, ...], block: IPAMBlock) -> IPPool | None:
    """The pool calicoctl counts the block under: the first (by name) whose CIDR overlaps it."""
    return next((pool for pool in pools if overlaps(pool.cidr, block.cidr)), None)


def pool_for_address(cluster: Cluster, address: Address) -> IPPool | None:
    """The first pool (by name) containing the address."""
    return next((pool for pool in cluster.pools if contains(pool.cidr, address)), None)


@dataclass(frozen=True)
class PoolUsage:
    name: str  # the pool's name, or ORPHANED
    pool: IPPool | None
    blocks: tuple[IPAMBlock, ...]
    total: int  # the pool's whole CIDR; for the orphan group, the capacity of its blocks
    in_use: int

    @property
    def cidr(self) -> Network | None:
        return None if self.pool is None else self.pool.cidr

    @property
    def free(self) -> int:
        return self.total - self.in_use


def blocks_by_pool(cluster: Cluster) -> dict[str | None, list[IPAMBlock]]:
    """Blocks grouped under the pool name calicoctl would show them in (None: orphaned)."""
    grouped: dict[str | None, list[IPAMBlock]] = {pool.name: [] for pool in cluster.pools}
    grouped[None] = []
    for block in cluster.blocks:
        pool = block_pool(cluster.pools, block)
        grouped[None if pool is None else pool.name].append(block)
    return grouped


def pool_usage(cluster: Cluster) -> tuple[PoolUsage, ...]:
    """Every pool in calicoctl's order, then the orphan group when any block is in no pool."""
    grouped = blocks_by_pool(cluster)
    usage = [
        PoolUsage(pool.name, pool, tuple(grouped[pool.name]), pool.size, sum(b.in_use for b in grouped[pool.name]))
        for pool in cluster.pools
    ]
    orphans = grouped[None]
    if orphans:
        usage.append(PoolUsage(ORPHANED, None, tuple(orphans), sum(b.capacity for b in orphans),
                               sum(b.in_use for b in orphans)))
    return tuple(usage)


@dataclass(frozen=True)
class TunnelAddress:
    node: str
    kind: str  # ipip, vxlan, vxlanV6, wireguard, wireguardV6
    address: Address
    pool: IPPool | None  # the pool containing it, None when in none

    @property
    def in_enabled_pool(self) -> bool:
        return self.pool is not None and self.pool.enabled


def tunnel_addresses(cluster: Cluster, node: Node) -> tuple[TunnelAddress, ...]:
    return tuple(
        TunnelAddress(node.name, kind, address, pool_for_address(cluster, address))
        for kind, address in sorted(node.tunnel_addresses.items())
    )


@dataclass(frozen=True)
class NodeUsage:
    name: str
    node: Node | None  # None: IPAM still references a node that no longer exists
    blocks: tuple[IPAMBlock, ...]  # blocks affine to the node
    block_pools: dict[str, str | None]  # block name -> pool name (None: orphaned)
    allocations_by_pool: dict[str | None, int]  # addresses held by the node, by the pool of their block
    borrowed: tuple[Allocation, ...]  # addresses held by the node in blocks affine to another node or none
    tunnels: tuple[TunnelAddress, ...]

    @property
    def in_use(self) -> int:
        return sum(self.allocations_by_pool.values())


def node_usage(cluster: Cluster) -> tuple[NodeUsage, ...]:
    """Per node: its blocks and the addresses it holds, by pool. Includes node names that only IPAM
    still mentions (blocks, affinities or allocations of deleted nodes), after the real nodes."""
    pool_of = {block.name: (p.name if (p := block_pool(cluster.pools, block)) else None) for block in cluster.blocks}
    blocks: dict[str, list[IPAMBlock]] = defaultdict(list)
    held: dict[str, Counter[str | None]] = defaultdict(Counter)
    borrowed: dict[str, list[Allocation]] = defaultdict(list)
    for block in cluster.blocks:
        owner = block.affinity_node
        if owner is not None:
            blocks[owner].append(block)
        pool = pool_of[block.name]
        for allocation in block.allocations:
            if allocation.node is None:
                continue
            held[allocation.node][pool] += 1
            if allocation.node != owner:
                borrowed[allocation.node].append(allocation)
    known = [node.name for node in cluster.nodes]
    ghosts = sorted((set(blocks) | set(held) | {a.node for a in cluster.affinities}) - set(known))
    out = []
    for name in known + ghosts:
        node = cluster.node(name)
        own = tuple(blocks.get(name, ()))
        out.append(NodeUsage(
            name=name,
            node=node,
            blocks=own,
            block_pools={block.name: pool_of[block.name] for block in own},
            allocations_by_pool=dict(held.get(name, {})),
            borrowed=tuple(borrowed.get(name, ())),
            tunnels=tunnel_addresses(cluster, node) if node else (),
        ))
    return tuple(out)


def allocations_in_pool(cluster: Cluster, pool_name: str, kind: str | None = "pod") -> tuple[Allocation, ...]:
    """Addresses of blocks counted under the pool, of one owner kind ("pod" by default; None: all).

    `allocations_in_pool(c, "default-ipv4-ippool")` lists the pods still to move off the old pool.
    """
    grouped = blocks_by_pool(cluster).get(pool_name, [])
    return tuple(a for block in grouped for a in block.allocations if kind is None or a.kind == kind)
