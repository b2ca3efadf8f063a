"""Calico IPAM over the Api: what the CNI plugin and calico-node ask libcalico-go to do.

`Ipam` assigns and releases addresses the way libcalico-go's `AutoAssign` does: choose the pools
(explicit pins from the pod, its namespace or the CNI config, else every enabled pool selecting the
node and namespace), use the node's affine blocks first, claim a new block when they are full, borrow
from another node's block as a last resort. `IpamGC` plays calico-kube-controllers: addresses of pods
that vanished without the kubelet releasing them are freed, and the IPAM of deleted nodes is
cleaned up once it is empty.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache

from tui.model.selector import SelectorError, parse_selector
from tui.sim.calico_v3 import ippool_defaults
from tui.sim.controllers import ipam_blocks as ib
from tui.sim.controllers.base import (BLOCKAFFINITIES, CONFIGMAPS, IPAMBLOCKS, IPAMCONFIGS, IPAMHANDLES,
                                      IPPOOLS, NAMESPACES, NODES, PODS, Controller, key_of)
from tui.sim.errors import ApiError
from tui.sim.pod_objects import CALICO_CONTAINER_ID

POOLS_ANNOTATION = "cni.projectcalico.org/ipv4pools"
WORKLOAD = "Workload"
TUNNEL = "Tunnel"
_PLACEHOLDER = re.compile(r"__[A-Z_]+__")


class IpamError(Exception):
    """An address could not be assigned; the message is libcalico-go's."""


def pool_spec(pool: dict) -> dict:
    """An IPPool's spec with libcalico-go's read defaults (memoised per stored revision; read-only)."""
    meta = pool.get("metadata") or {}
    key = (meta.get("name"), meta.get("resourceVersion"))
    if key[1] is None:
        return ippool_defaults(pool.get("spec") or {})
    if key not in _POOL_SPECS:
        if len(_POOL_SPECS) > 1024:
            _POOL_SPECS.clear()
        _POOL_SPECS[key] = ippool_defaults(pool.get("spec") or {})
    return _POOL_SPECS[key]


_POOL_SPECS: dict[tuple, dict] = {}


def pool_enabled(pool: dict) -> bool:
    """IPAM's "enabled pool": not disabled and not being deleted."""
    return not (pool.get("spec") or {}).get("disabled") and not pool["metadata"].get("deletionTimestamp")


def selects(selector: str | None, labels: dict) -> bool:
    try:
        return parse_selector(selector or "all()").matches(labels or {})
    except SelectorError:
        return False


def is_ipv4(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).version == 4
    except ValueError:
        return False


@lru_cache(maxsize=64)
def parse_cni_config(text: str | None) -> dict:
    """The CNI conflist template of `calico-config` (its `__CNI_MTU__`-style placeholders filled)."""
    if not text:
        return {}
    try:
        return json.loads(_PLACEHOLDER.sub("0", text))
    except ValueError:
        return {}


def cni_ipv4_pools(conf: dict) -> list[str]:
    """`ipam.ipv4_pools` of the calico plugin in a CNI config (or conflist)."""
    for plugin in conf.get("plugins") or [conf]:
        if plugin.get("type") == "calico":
            return list((plugin.get("ipam") or {}).get("ipv4_pools") or [])
    return []


def requested_pools(pod: dict, namespace: dict | None, cni_conf: dict) -> list[str]:
    """Explicit pool requests, most specific first: pod annotation, namespace annotation, CNI config."""
    for obj in (pod, namespace or {}):
        text = ((obj.get("metadata") or {}).get("annotations") or {}).get(POOLS_ANNOTATION)
        if text:
            try:
                value = json.loads(text)
            except ValueError:
                raise IpamError(f"failed to parse {POOLS_ANNOTATION} annotation {text!r}") from None
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return cni_ipv4_pools(cni_conf)


class Ipam:
    """Address assignment and release; all writes go through the Api with resourceVersion checks."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.cache = ctx.cache

    def _res(self, gvr):
        return self.ctx.res(gvr)

    # --- reading ---------------------------------------------------------------------------------
    def pools(self) -> list[dict]:
        return [p for p in self.cache.list(key_of(IPPOOLS)) if is_ipv4((p.get("spec") or {}).get("cidr", ""))]

    def config(self) -> dict:
        obj = self.cache.get(key_of(IPAMCONFIGS), None, "default")
        spec = (obj or {}).get("spec") or {}
        return {"strictAffinity": bool(spec.get("strictAffinity", False)),
                "autoAllocateBlocks": spec.get("autoAllocateBlocks", True) is not False,
                "maxBlocksPerHost": int(spec.get("maxBlocksPerHost") or 0)}

    def blocks(self) -> list[dict]:
        return self.cache.list(key_of(IPAMBLOCKS))

    def handle(self, handle_id: str) -> dict | None:
        return self.cache.get(key_of(IPAMHANDLES), None, ib.handle_name(handle_id))

    def handle_ips(self, handle_id: str) -> list[str]:
        """Addresses held by a handle (read from the blocks the handle names)."""
        handle = self.handle(handle_id)
        out = []
        for cidr in ((handle or {}).get("spec") or {}).get("block") or {}:
            block = self.cache.get(key_of(IPAMBLOCKS), None, ib.cidr_to_name(cidr))
            if block:
                out += [ib.ordinal_ip(cidr, o) for o, h, _ in ib.owners(block["spec"]) if h == handle_id]
        return out

    def node_cni_config(self, node: str) -> dict:
        """The CNI config the node's calico-node installed (else the current calico-config)."""
        host = self.ctx.hosts.get(node)
        if host is not None and host.cni_config is not None:
            return host.cni_config
        cm = self.cache.get(key_of(CONFIGMAPS), "kube-system", "calico-config")
        return parse_cni_config(((cm or {}).get("data") or {}).get("cni_network_config"))

    def pod_pools(self, pod: dict, node: str) -> list[dict]:
        """libcalico-go `determinePools` for a pod: pinned pools (must be enabled) or all usable ones."""
        ns_name = pod["metadata"].get("namespace", "")
        namespace = self.cache.get(key_of(NAMESPACES), None, ns_name)
        requested = requested_pools(pod, namespace, self.node_cni_config(node))
        pools = self.pools()
        if requested:
            chosen = []
            for ref in requested:
                pool = next((p for p in pools if p["metadata"]["name"] == ref
                             or pool_spec(p).get("cidr") == ref), None)
                if pool is None or not pool_enabled(pool):
                    cidr = pool_spec(pool)["cidr"] if pool else ref
                    raise IpamError(f"the given pool ({cidr}) does not exist, or is not enabled")
                chosen.append(pool)
            return chosen
        node_obj = self.cache.get(key_of(NODES), None, node)
        node_labels = ((node_obj or {}).get("metadata") or {}).get("labels") or {}
        ns_labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        usable = [p for p in pools if self._usable(p, WORKLOAD, node_labels)
                  and selects(pool_spec(p).get("namespaceSelector"), ns_labels)]
        if not usable:
            raise IpamError(f"no configured Calico pools for node {node}")
        return usable

    def tunnel_pools(self, node: str, mode_key: str) -> list[dict]:
        """Enabled pools selecting the node, allowing tunnels, with that encapsulation switched on."""
        node_obj = self.cache.get(key_of(NODES), None, node)
        labels = ((node_obj or {}).get("metadata") or {}).get("labels") or {}
        return [p for p in self.pools()
                if self._usable(p, TUNNEL, labels) and pool_spec(p).get(mode_key, "Never") != "Never"]

    @staticmethod
    def _usable(pool: dict, use: str, node_labels: dict) -> bool:
        spec = pool_spec(pool)
        return (pool_enabled(pool) and use in spec.get("allowedUses", [])
                and spec.get("assignmentMode", "Automatic") == "Automatic"
                and selects(spec.get("nodeSelector"), node_labels))

    # --- writing ---------------------------------------------------------------------------------
    def assign(self, handle_id: str, secondary: dict, node: str, pools: list[dict]) -> str:
        """libcalico-go AutoAssign of one IPv4 address; returns the address."""
        nets = [ipaddress.ip_network(pool_spec(p)["cidr"]) for p in pools]

        def in_pools(cidr: str) -> bool:
            net = ipaddress.ip_network(cidr)
            return any(net.subnet_of(p) for p in nets)

        affine = [b for b in self.blocks() if ib.node_of(b["spec"]) == node and in_pools(b["spec"]["cidr"])]
        for block in affine:
            if block["spec"]["unallocated"]:
                return self._allocate(block, handle_id, secondary)
        config = self.config()
        owned = sum(1 for b in self.blocks() if ib.node_of(b["spec"]) == node)
        if config["autoAllocateBlocks"] and (not config["maxBlocksPerHost"] or owned < config["maxBlocksPerHost"]):
            taken = {b["spec"]["cidr"] for b in self.blocks()}
            for pool in pools:
                spec = pool_spec(pool)
                cidr = ib.first_free_block(spec["cidr"], int(spec["blockSize"]), node, taken)
                if cidr:
                    block = self._claim(node, cidr)
                    return self._allocate(block, handle_id, secondary)
        if not config["strictAffinity"]:
            for block in self.blocks():
                if in_pools(block["spec"]["cidr"]) and block["spec"]["unallocated"]:
                    return self._allocate(block, handle_id, secondary)
        cidrs = ", ".join(str(n) for n in nets)
        raise IpamError(f"no IPs available in pools: [{cidrs}]")

    def _claim(self, node: str, cidr: str) -> dict:
        """Affinity `pending` -> block claimed -> affinity `confirmed`, as libcalico-go does."""
        api, now = self.ctx.api, self.ctx.now()
        aff_res, block_res = self._res(BLOCKAFFINITIES), self._res(IPAMBLOCKS)
        affinity = ib.new_affinity(node, cidr)
        affinity["spec"]["state"] = "pending"
        existing = self.cache.get(key_of(BLOCKAFFINITIES), None, affinity["metadata"]["name"])
        if existing is None:
            stored = api.create(aff_res, None, affinity)
        else:
            stored = api.update(aff_res, None, existing["metadata"]["name"],
                                {**existing, "spec": affinity["spec"]})
        block = api.create(block_res, None, ib.new_block(cidr, node, now, int(now * 1e9)))
        api.update(aff_res, None, stored["metadata"]["name"],
                   {**stored, "spec": {**stored["spec"], "state": "confirmed"}})
        return block

    def _allocate(self, block: dict, handle_id: str, secondary: dict) -> str:
        spec, ordinal = ib.allocate(block["spec"], handle_id, secondary)
        self.ctx.api.update(self._res(IPAMBLOCKS), None, block["metadata"]["name"], {**block, "spec": spec})
        self._count_handle(handle_id, spec["cidr"], +1)
        return ib.ordinal_ip(spec["cidr"], ordinal)

    def _count_handle(self, handle_id: str, cidr: str, delta: int) -> None:
        api, res = self.ctx.api, self._res(IPAMHANDLES)
        handle = self.handle(handle_id)
        if handle is None:
            if delta > 0:
                api.create(res, None, ib.new_handle(handle_id, {cidr: delta}))
            return
        blocks = dict(handle["spec"].get("block") or {})
        blocks[cidr] = blocks.get(cidr, 0) + delta
        if blocks[cidr] <= 0:
            del blocks[cidr]
        if blocks:
            api.update(res, None, handle["metadata"]["name"], {**handle, "spec": {**handle["spec"], "block": blocks}})
        else:
            api.delete(res, None, handle["metadata"]["name"])

    def release(self, handle_id: str) -> int:
        """libcalico-go ReleaseByHandle; returns how many addresses were freed."""
        handle = self.handle(handle_id)
        freed = 0
        for cidr in list(((handle or {}).get("spec") or {}).get("block") or {}):
            block = self.cache.get(key_of(IPAMBLOCKS), None, ib.cidr_to_name(cidr))
            if block is None:
                self._count_handle(handle_id, cidr, -10**9)
                continue
            spec, ordinals = ib.release_handle(block["spec"], handle_id)
            if ordinals:
                self.ctx.api.update(self._res(IPAMBLOCKS), None, block["metadata"]["name"], {**block, "spec": spec})
            freed += len(ordinals)
            self._count_handle(handle_id, cidr, -10**9)
        return freed

    def release_node_blocks(self, node: str) -> bool:
        """kube-controllers' cleanup of a deleted node: empty affine blocks and their affinities go.
        Returns False while some of the node's blocks still hold addresses."""
        api = self.ctx.api
        clean = True
        for block in self.blocks():
            if ib.node_of(block["spec"]) != node:
                continue
            if ib.in_use(block["spec"]):
                clean = False
                continue
            api.delete(self._res(IPAMBLOCKS), None, block["metadata"]["name"])
            name = ib.affinity_name(node, block["spec"]["cidr"])
            if self.cache.get(key_of(BLOCKAFFINITIES), None, name):
                api.delete(self._res(BLOCKAFFINITIES), None, name)
        return clean


def pod_handle(pod: dict) -> str | None:
    container = ((pod.get("metadata") or {}).get("annotations") or {}).get(CALICO_CONTAINER_ID)
    return ib.pod_handle_id(container) if container else None


class IpamGC(Controller):
    """calico-kube-controllers' IPAM garbage collection."""

    name = "calico-kube-controllers/ipam"

    def on_change(self, event, key, obj, old):
        if event == "DELETED" and key == key_of(PODS) and pod_handle(obj):
            yield ("pod", pod_handle(obj))
        elif event == "DELETED" and key == key_of(NODES):
            yield ("node", obj["metadata"]["name"])

    def initial_keys(self):
        live_nodes = {n["metadata"]["name"] for n in self.cache.list(key_of(NODES))}
        for node in {ib.node_of(b["spec"]) for b in self.cache.list(key_of(IPAMBLOCKS))} - live_nodes - {None}:
            yield ("node", node)

    def sync(self, key) -> None:
        kind, name = key
        ipam = Ipam(self.ctx)
        if kind == "pod":
            ipam.release(name)
            return
        if self.cache.get(key_of(NODES), None, name) is not None:
            return
        ipam.release(ib.tunnel_handle_id(name, ib.IPIP_TUNNEL))
        ipam.release(ib.tunnel_handle_id(name, ib.VXLAN_TUNNEL))
        if not ipam.release_node_blocks(name):
            self.after(max(self.ctx.timings.pod_gc, 1.0), key)


__all__ = ["ApiError", "Ipam", "IpamError", "IpamGC", "pod_handle"]
