"""IP pools pane: every pool with its usage as `calicoctl ipam show` computes it, plus orphaned blocks."""

from __future__ import annotations

from textual.app import ComposeResult

from tui.model.calico import IPPool
from tui.model.usage import ORPHANED, PoolUsage
from widgets.pane import Pane
from widgets.table_sync import keyed_table, selected_key, sync_rows
from widgets.usage import usage_cell

# Usage and state first: what an operator watching a migration looks at; configuration after.
COLUMNS = ("name", "CIDR", "state", "IPs in use / total", "blocks", "block", "encap", "NAT", "node selector",
           "managed")


def encapsulation(pool: IPPool) -> str:
    modes = [f"IPIP {pool.ipip_mode}" if pool.ipip_mode != "Never" else "",
             f"VXLAN {pool.vxlan_mode}" if pool.vxlan_mode != "Never" else ""]
    return " ".join(m for m in modes if m) or "none"


def pool_state(pool: IPPool) -> str:
    if pool.deleting:
        return "✖ deleting"
    if pool.disabled:
        return "⊘ disabled"
    return "✔ enabled" if pool.enabled else "⊘ not allocatable"


def pool_rows(usages: tuple[PoolUsage, ...]) -> dict[str, tuple]:
    """One row per pool in `calicoctl ipam show` order, then the orphaned-blocks group when present."""
    rows: dict[str, tuple] = {}
    for usage in usages:
        pool = usage.pool
        if pool is None:
            rows[usage.name] = (f"⚠ {usage.name}", "—", "⚠ in no pool", usage_cell(usage.in_use, usage.total),
                                str(len(usage.blocks)), "", "", "", "", "")
            continue
        rows[pool.name] = (
            pool.name, str(pool.cidr), pool_state(pool), usage_cell(usage.in_use, usage.total),
            str(len(usage.blocks)), f"/{pool.block_size}", encapsulation(pool),
            "✔ yes" if pool.nat_outgoing else "no", str(pool.node_selector),
            "◆ operator" if pool.operator_managed else "",
        )
    return rows


class PoolsPane(Pane):
    TITLE = "IP pools"
    RESOURCES = ("ippools", "ipamblocks")

    def compose_body(self) -> ComposeResult:
        yield keyed_table("pools-table", COLUMNS)

    def show_view(self, view) -> None:
        self.show_health(view.pane_health(self.RESOURCES))
        sync_rows(self.table, pool_rows(view.pools))

    def selected_object(self) -> tuple[str, str] | None:
        key = selected_key(self.table)
        return ("ippools", key) if key and key != ORPHANED else None
