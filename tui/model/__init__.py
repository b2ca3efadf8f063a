"""Typed Calico/Kubernetes model and the pure views derived from it.

`build_cluster(raw)` turns a RawCluster (docs/ARCHITECTURE.md) into one frozen `Cluster`; the
views (pool usage, per-node usage, BGP topology, findings, the status document) are functions of it.
"""

from tui.model.bgp import BgpTopology, ExpectedPeer, Session
from tui.model.cluster import Cluster, Invalid, build_cluster
from tui.model.findings import Finding, cluster_findings
from tui.model.raw import RAW_KEYS, RawCluster
from tui.model.selector import Selector, SelectorError, parse_selector
from tui.model.status import status_document, status_text
from tui.model.usage import NodeUsage, PoolUsage, allocations_in_pool, node_usage, pool_usage

__all__ = [
    "RAW_KEYS", "BgpTopology", "Cluster", "ExpectedPeer", "Finding", "Invalid", "NodeUsage", "PoolUsage",
    "RawCluster", "Selector", "SelectorError", "Session", "allocations_in_pool", "build_cluster",
    "cluster_findings", "node_usage", "parse_selector", "pool_usage", "status_document", "status_text",
]
