"""IP usage: per pool exactly as `calicoctl ipam show` computes it, per node, tunnels, pods per pool.

calicoctl (libcalico-go `GetUtilization`) lists pools in API order, which is by name, and gives each
block to the FIRST pool whose CIDR overlaps it; a pool's total is its whole CIDR, its in-use count
the sum of its blocks' (capacity − unallocated). Blocks in no pool form the "orphaned allocation
blocks" group, which has block rows but no pool row. One deliberate difference: calicoctl's orphan
group is 0.0.0.0/0, which silently drops orphaned IPv6 blocks; here every orphaned block is shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tui.model.calico import Allocation, IPAMBlock, IPPool
from tui.model.cidr import Address, Network, contains, overlaps
from tui.model.cluster import Cluster, ParseMemo
from tui.model.identity import few_changed
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


def pool_usage(cluster: Cluster, memo: ParseMemo | None = None) -> tuple[PoolUsage, ...]:
    """Every pool in calicoctl's order, then the orphan group when any block is in no pool.

    With the live view's `memo`, blocks modified in place update only their pool's figures."""
    usages = _PoolUsages(cluster.pools) if memo is None else memo.derived(_PoolUsages, cluster.pools)
    return usages.update(cluster.blocks)


def _replaced(old: tuple[IPAMBlock, ...] | None, new: tuple[IPAMBlock, ...]
              ) -> list[tuple[int, IPAMBlock, IPAMBlock]] | None:
    """(position, before, after) of the blocks `new` modified in place of `old`; None when `new`
    is not `old` with a few blocks modified (blocks came or went, or many changed)."""
    positions = None if old is None else few_changed(old, new)
    if positions is None or any(old[i].name != new[i].name for i in positions):
        return None
    return [(i, old[i], new[i]) for i in positions]


class _PoolUsages:
    """Per-pool sums over the blocks, kept for one set of pools."""

    def __init__(self, pools: tuple[IPPool, ...]) -> None:
        self.pools = {pool.name: pool for pool in pools}
        self.pool_of = _block_pools(pools)
        self.blocks: tuple[IPAMBlock, ...] | None = None
        self.result: tuple[PoolUsage, ...] = ()

    def update(self, blocks: tuple[IPAMBlock, ...]) -> tuple[PoolUsage, ...]:
        if blocks is not self.blocks:
            changed = _replaced(self.blocks, blocks)
            if changed is None:
                self._rebuild(blocks)
            else:
                touched = set()
                for position, before, after in changed:
                    pool = self.pool_of(after)  # a block's pool goes by its name, which did not change
                    self.members[pool][self.slot[position]] = after
                    self.in_use[pool] += after.in_use - before.in_use
                    touched.add(pool)
                self.result = tuple(self._usage(name) if (name := u.pool.name if u.pool else None) in touched
                                    else u for u in self.result)
            self.blocks = blocks
        return self.result

    def _rebuild(self, blocks: tuple[IPAMBlock, ...]) -> None:
        self.members: dict[str | None, list[IPAMBlock]] = {name: [] for name in self.pools}
        self.members[None] = []
        self.slot: list[int] = []  # per block position: its index among its pool's blocks
        for block in blocks:
            members = self.members[self.pool_of(block)]
            self.slot.append(len(members))
            members.append(block)
        self.in_use = {name: sum(b.in_use for b in members) for name, members in self.members.items()}
        self.result = tuple(self._usage(name) for name in [*self.pools, *([None] if self.members[None] else [])])

    def _usage(self, name: str | None) -> PoolUsage:
        members = tuple(self.members[name])
        if name is None:
            return PoolUsage(ORPHANED, None, members, sum(b.capacity for b in members), self.in_use[None])
        pool = self.pools[name]
        return PoolUsage(pool.name, pool, members, pool.size, self.in_use[name])


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

    @cached_property
    def tunnels_outside_enabled_pools(self) -> tuple[TunnelAddress, ...]:
        """Computed once per NodeUsage; the live view keeps the object of an unchanged node."""
        return tuple(t for t in self.tunnels if not t.in_enabled_pool)


def node_usage(cluster: Cluster, memo: ParseMemo | None = None) -> tuple[NodeUsage, ...]:
    """Per node: its blocks and the addresses it holds, by pool. Includes node names that only IPAM
    still mentions (blocks, affinities or allocations of deleted nodes), after the real nodes.

    With the live view's `memo`, the result is updated from the previous build's: when only some
    blocks changed, only the nodes those blocks concern get a new NodeUsage, and every other node
    keeps its object, so whatever was derived from it (a table row) is reused too."""
    if memo is None:
        return _NodeUsages(cluster.nodes, cluster.pools, cluster.affinities).update(cluster)
    index = memo.derived(_NodeUsages, cluster.nodes, cluster.pools, cluster.affinities)
    return index.update(cluster)


class _NodeUsages:
    """Per-node sums over the blocks, kept for one set of nodes, pools and affinities."""

    def __init__(self, nodes: tuple[Node, ...], pools: tuple[IPPool, ...], affinities) -> None:
        self.pools = pools
        self.known = [node.name for node in nodes]
        self.nodes = {node.name: node for node in nodes}
        self.affine_nodes = {a.node for a in affinities}
        self.pool_of = _block_pools(pools)
        self.pool_rank = {pool.name: rank for rank, pool in enumerate(pools)}
        self.tunnels = _node_tunnels(pools)
        self.blocks: tuple[IPAMBlock, ...] | None = None
        self.result: tuple[NodeUsage, ...] = ()

    def update(self, cluster: Cluster) -> tuple[NodeUsage, ...]:
        if cluster.blocks is not self.blocks and not self._patch(cluster.blocks):
            self._rebuild(cluster.blocks)
        self.blocks = cluster.blocks
        return self.result

    # -- sums -----------------------------------------------------------------------------------
    def _rebuild(self, blocks: tuple[IPAMBlock, ...]) -> None:
        self.own: dict[str, dict[int, IPAMBlock]] = defaultdict(dict)  # node -> position -> affine block
        self.held: dict[str, Counter[str | None]] = defaultdict(Counter)
        self.lent: dict[str, dict[int, tuple[Allocation, ...]]] = defaultdict(dict)  # node -> position -> its allocations
        for position, block in enumerate(blocks):
            self._count(position, block, +1)
        names = self.known + sorted((set(self.own) | set(self.held) | self.affine_nodes) - set(self.nodes))
        self.by_name = {name: self._usage(name) for name in names}
        self.result = tuple(self.by_name.values())

    def _patch(self, blocks: tuple[IPAMBlock, ...]) -> bool:
        """Update the nodes the changed blocks concern; False when the change is not a few blocks
        modified in place or changes which names IPAM mentions (then everything is recounted)."""
        changed = _replaced(self.blocks, blocks)
        if changed is None:
            return False
        concerned: set[str] = set()
        for position, before, after in changed:
            concerned |= self._count(position, before, -1) | self._count(position, after, +1)
        if any((name in self.by_name) != (name in self.nodes or name in self.own or name in self.held
                                          or name in self.affine_nodes) for name in concerned):
            self._rebuild(blocks)  # a name appears in or vanishes from IPAM
            return True
        for name in concerned:
            self.by_name[name] = self._usage(name)
        self.result = tuple(self.by_name.values())
        return True

    def _count(self, position: int, block: IPAMBlock, sign: int) -> set[str]:
        """Add (sign +1) or take away (-1) one block's share; returns the nodes it concerns."""
        owner, pool = block.affinity_node, self.pool_of(block)
        if owner is not None:
            if sign > 0:
                self.own[owner][position] = block
            else:
                self._drop(self.own, owner, position)
        for node, count in block.holders.items():
            counts = self.held[node]
            counts[pool] += sign * count
            if not counts[pool]:
                del counts[pool]
                if not counts:
                    del self.held[node]
        lent: dict[str, list[Allocation]] = {}
        for allocation in block.lent:
            lent.setdefault(allocation.node, []).append(allocation)
        for node, allocations in lent.items():
            if sign > 0:
                self.lent[node][position] = tuple(allocations)
            else:
                self._drop(self.lent, node, position)
        return ({owner} if owner is not None else set()) | set(block.holders) | set(lent)

    @staticmethod
    def _drop(table: dict[str, dict[int, Any]], node: str, position: int) -> None:
        entries = table[node]
        del entries[position]
        if not entries:
            del table[node]

    def _usage(self, name: str) -> NodeUsage:
        node = self.nodes.get(name)
        own = tuple(block for _, block in sorted(self.own.get(name, {}).items()))
        held = self.held.get(name, {})
        return NodeUsage(
            name=name,
            node=node,
            blocks=own,
            block_pools={block.name: self.pool_of(block) for block in own},
            allocations_by_pool={pool: held[pool] for pool in sorted(held, key=self._rank)},
            borrowed=tuple(a for _, allocations in sorted(self.lent.get(name, {}).items()) for a in allocations),
            tunnels=self.tunnels(node) if node else (),
        )

    def _rank(self, pool: str | None) -> int:
        """Pools in calicoctl's order (by name), orphaned blocks last."""
        return self.pool_rank.get(pool, len(self.pool_rank))


def _block_pools(pools: tuple[IPPool, ...]) -> Callable[[IPAMBlock], str | None]:
    """block -> the name of the pool calicoctl counts it under, remembered per block name (a block's
    name is its CIDR)."""
    known: dict[str, str | None] = {}

    def pool_of(block: IPAMBlock) -> str | None:
        name = block.meta.name
        if name not in known:
            pool = block_pool(pools, block)
            known[name] = None if pool is None else pool.name
        return known[name]

    return pool_of


def _node_tunnels(pools: tuple[IPPool, ...]) -> Callable[[Node], tuple[TunnelAddress, ...]]:
    """node -> its tunnel addresses, remembered per node name while the Node object is unchanged."""
    known: dict[str, tuple[Node, tuple[TunnelAddress, ...]]] = {}
    cluster = Cluster(pools=pools)

    def tunnels(node: Node) -> tuple[TunnelAddress, ...]:
        entry = known.get(node.name)
        if entry is None or entry[0] is not node:
            entry = known[node.name] = (node, tunnel_addresses(cluster, node))
        return entry[1]

    return tunnels


def allocations_in_pool(cluster: Cluster, pool_name: str, kind: str | None = "pod") -> tuple[Allocation, ...]:
    """Addresses of blocks counted under the pool, of one owner kind ("pod" by default; None: all).

    `allocations_in_pool(c, "default-ipv4-ippool")` lists the pods still to move off the old pool.
    """
    grouped = blocks_by_pool(cluster).get(pool_name, [])
    return tuple(a for block in grouped for a in block.allocations if kind is None or a.kind == kind)
