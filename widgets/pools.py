"""IP pools pane: every pool with its usage as `calicoctl ipam show` computes it, plus orphaned blocks."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable

from widgets.pane import Pane
from widgets.table_sync import selected_key, sync_rows
from widgets.usage import usage_cell

ORPHANED = "(orphaned blocks)"
COLUMNS = ("name", "CIDR", "block", "encap", "NAT", "state", "node selector", "blocks", "IPs in use / total",
           "managed")


def encapsulation(pool) -> str:
    modes = [f"IPIP {pool.ipip_mode}" if pool.ipip_mode != "Never" else "",
             f"VXLAN {pool.vxlan_mode}" if pool.vxlan_mode != "Never" else ""]
    return " ".join(m for m in modes if m) or "none"


def pool_rows(cluster) -> dict[str, tuple]:
    """One row per pool in `calicoctl ipam show` order, then the orphaned-blocks group when present."""
    rows: dict[str, tuple] = {}
    for usage in cluster.pool_usage:
        pool = usage.pool
        rows[pool.name] = (
            pool.name, str(pool.cidr), f"/{pool.block_size}", encapsulation(pool),
            "✔ yes" if pool.nat_outgoing else "no",
            "⊘ disabled" if pool.disabled else "✔ enabled",
            pool.node_selector, str(usage.blocks), usage_cell(usage.in_use, usage.total),
            "◆ operator" if pool.operator_managed else "",
        )
    orphaned = cluster.orphaned_usage
    if orphaned is not None and orphaned.blocks:
        rows[ORPHANED] = (ORPHANED, "—", "", "", "", "⚠ no pool", "", str(orphaned.blocks),
                          f"{orphaned.in_use} IPs in use", "")
    return rows


class PoolsPane(Pane):
    TITLE = "IP pools"
    RESOURCES = ("ippools", "ipamblocks")

    def compose_body(self) -> ComposeResult:
        table = DataTable(cursor_type="row", zebra_stripes=True, id="pools-table")
        for column in COLUMNS:
            table.add_column(column, key=column)
        yield table

    def show_view(self, view) -> None:
        self.show_health(view.pane_health(self.RESOURCES))
        sync_rows(self.table, pool_rows(view.cluster))

    def selected_object(self) -> tuple[str, str] | None:
        key = selected_key(self.table)
        return ("ippools", key) if key and key != ORPHANED else None
