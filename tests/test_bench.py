"""The scale work: `python -m bench --quick` runs and writes well-formed results, the churn
generator keeps its rate and logs what it did, and the incremental live view (what makes the
dashboard keep up at 5,000 nodes) always equals a view built from scratch."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.app import App

from bench.client import latencies
from bench.report import markdown
from bench.stats import exponent, percentile, summary
from model_builders import blockaffinity, ipamblock, node, pod_owner, seed_raw, tunnel_owner
from tui.kube.resources import LeanBlocks, PartSharing, is_lean
from tui.model.calico import parse_ipamblock
from tui.model.bgp import bgp_topology
from tui.model.cluster import ParseMemo
from tui.model.findings import cluster_findings
from tui.session import LiveView
from tui.sim.churn import Churn
from tui.sim.simulator import Simulator
from widgets.table_sync import keyed_table, sync_rows

ROOT = Path(__file__).resolve().parents[1]


# --- python -m bench --quick ------------------------------------------------------------------------

def test_quick_run_writes_well_formed_results(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["schema"] == 1 and results["machine"]["cpus"] >= 1
    [variant] = results["variants"]
    assert variant["nodes"] == 100 and variant["server"]["objects"]["nodes"] == 100
    [run] = variant["runs"]
    # Listed, watching, rendered follow each other within milliseconds; the marks come from different
    # threads and processes, so their order is only checked to a tenth of a second.
    listed, watching, rendered = run["open_to_listed_s"], run["open_to_watching_s"], run["open_to_render_s"]
    assert 0 < listed <= watching + 0.1 and watching <= rendered + 0.1
    assert run["spawn_to_watching_s"] > run["open_to_watching_s"]
    assert run["floor"]["seconds"] > 0 and run["floor"]["objects"] > 300
    assert run["rss_peak_mb"] >= run["rss_after_render_mb"] > 20
    for phase in run["churn"]:
        assert phase["events"] > 0 and phase["not_shown"] == 0
        assert 0 <= phase["p50_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    terminal = variant["terminal"]
    assert terminal["churn"]["bytes_per_s"] > terminal["idle"]["bytes_per_s"] >= 0
    assert 0 <= terminal["idle"]["cpu_percent"] < 100
    assert set(results["targets"]["checks"]) >= {"peak RSS under 400 MB", "idle output under 200 B/s"}
    text = done.stdout
    assert "### Time to synced" in text and "| 100 nodes |" in text
    assert markdown(results) == text


# --- the numbers ---------------------------------------------------------------------------------------

def test_summaries_percentiles_and_exponents():
    assert summary([3, 1, 2]) == {"median": 2, "min": 1, "max": 3, "n": 3}
    assert summary([None]) == {"median": None, "min": None, "max": None, "n": 0}
    assert percentile([10, 20, 30, 40], 50) == 25 and percentile(list(range(101)), 99) == 99
    assert exponent([(100, 1.0), (1000, 10.0), (5000, 50.0)]) == pytest.approx(1.0)
    assert exponent([(100, 2.0), (1000, 200.0)]) == pytest.approx(2.0)
    assert exponent([(100, 2.0)]) is None


def test_an_event_is_on_screen_at_the_first_refresh_showing_its_version():
    events = [{"at": 10.0, "resourceVersion": "5"}, {"at": 10.1, "resourceVersion": "7"},
              {"at": 10.2, "resourceVersion": "9"}]
    shown = [(10.05, 4, True), (10.3, 7, True), (10.6, 12, True)]
    delays, missing = latencies(events, shown)
    assert delays == pytest.approx([0.3, 0.2, 0.4]) and missing == 0
    assert latencies(events, shown[:2]) == (pytest.approx([0.3, 0.2]), 1)


# --- the churn generator -----------------------------------------------------------------------------

def test_churn_keeps_its_rate_logs_commits_and_leaves_usage_as_it_was():
    with Simulator.from_scenario("seed") as sim:
        Churn.install(sim)
        in_use = _block_usage(sim)
        sim.control("POST", "churn", {"rate": 100, "seconds": 1})
        deadline = time.monotonic() + 10
        while sim.control("GET", "churn")["running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        state = sim.control("GET", "churn?since=0")
        events = state["events"]
        assert state["sent"] == len(events) == 100 and state["errors"] == 0
        versions = [int(e["resourceVersion"]) for e in events]
        assert versions == sorted(versions) and len(set(versions)) == 100
        assert events[-1]["at"] - events[0]["at"] == pytest.approx(0.99, abs=0.3)
        by_block: dict[str, list[str]] = {}
        for event in events:
            by_block.setdefault(event["block"], []).append(event["action"])
        for actions in by_block.values():  # one address per block at most: allocate, release, ...
            assert actions == ["allocate", "release"] * (len(actions) // 2) + ["allocate"] * (len(actions) % 2)
        after = _block_usage(sim)
        assert all(after[b] - in_use[b] == len(a) % 2 for b, a in by_block.items())
    assert not sim.server.unexpected_errors


def _block_usage(sim) -> dict[str, int]:
    res = sim.api.registry.get("crd.projectcalico.org", "v1", "ipamblocks")
    return {b["metadata"]["name"]: len(b["spec"]["allocations"]) - len(b["spec"]["unallocated"])
            for b in sim.store.list(res.storage_key)}


# --- compact cache objects --------------------------------------------------------------------------

def test_equal_parts_of_pods_become_one_object_and_every_pod_stays_as_served():
    share = PartSharing()
    served = [{"metadata": {"name": f"calico-node-{i}", "labels": {"k8s-app": "calico-node"}},
               "spec": {"nodeName": f"node{i}", "containers": [{"name": "calico-node", "env": [{"name": "A"}]}],
                        "affinity": {"node": f"node{i}"}},
               "status": {"phase": "Running"}} for i in range(10)]
    pods = [share(copy.deepcopy(pod)) for pod in served]
    assert pods == served
    assert all(p["spec"]["containers"] is pods[0]["spec"]["containers"] for p in pods)
    assert all(p["metadata"]["labels"] is pods[0]["metadata"]["labels"] for p in pods)
    assert len({id(p["spec"]["affinity"]) for p in pods}) == 10  # different parts stay apart


def test_lean_blocks_parse_as_served_with_one_string_per_node_and_namespace():
    lean = LeanBlocks()
    served = [json.loads(json.dumps(ipamblock(f"192.168.{i}.0/26", "node01", {
        0: tunnel_owner("node01"), 1: pod_owner("shop", f"pod-{i}", "node01"),
        2: pod_owner("shop", f"pod-{i}b", "node02")}))) for i in range(3)]
    blocks = [lean(copy.deepcopy(b)) for b in served]
    assert [parse_ipamblock(b) for b in blocks] == [parse_ipamblock(b) for b in served]
    assert all(is_lean("ipamblocks", b) for b in blocks) and not is_lean("ipamblocks", served[0])
    owners = [a for b in blocks for a in b["spec"]["attributes"]]
    assert len({id(o[1]) for o in owners}) == 2 and len({id(o[2]) for o in owners if o[2]}) == 1
    broken = copy.deepcopy(served[0])
    broken["spec"]["attributes"][1]["secondary"]["pod"] = 7
    assert lean(copy.deepcopy(broken)) == broken  # kept as served: the parser names the fault


# --- the incremental live view -----------------------------------------------------------------------

def scale_raw() -> dict:
    """The seed cluster plus what exercises the corners: a node that only IPAM remembers, and
    addresses borrowed from another node's block."""
    raw = seed_raw()
    raw["ipamblocks"].append(ipamblock("192.168.40.0/26", "gone-node", {
        0: tunnel_owner("gone-node"), 5: pod_owner("shop", "borrower", "node03")}))
    raw["blockaffinities"].append(blockaffinity("gone-node", "192.168.40.0/26"))
    raw["ipamblocks"].append(ipamblock("172.21.3.0/26", "node03", {4: pod_owner("shop", "moved", "node03")}))
    return raw


def mutate(raw: dict, rng: random.Random, step: int) -> None:
    """One change as the cache delivers it: a new list holding a new object (bumped resourceVersion)."""
    kind = rng.choice(["allocate", "allocate", "release", "release", "add-block", "drop-block", "relabel",
                       "add-node", "status"])
    blocks = list(raw["ipamblocks"])
    if kind in ("allocate", "release") and blocks:
        index = rng.randrange(len(blocks))
        block = copy.deepcopy(blocks[index])
        spec = block["spec"]
        holder = rng.choice(["node01", "node02", "node05", "gone-node", "node-x"])
        if kind == "allocate" and spec["unallocated"]:
            ordinal = spec["unallocated"].pop(0)
            spec["attributes"].append({"handle_id": f"h{step}", "secondary": pod_owner("ns", f"p{step}", holder)})
            spec["allocations"][ordinal] = len(spec["attributes"]) - 1
        elif kind == "release":
            used = [o for o, a in enumerate(spec["allocations"]) if a is not None]
            if used:
                ordinal = rng.choice(used)
                spec["allocations"][ordinal] = None
                spec["unallocated"].append(ordinal)
        block["metadata"]["resourceVersion"] = str(100 + step)
        blocks[index] = block
    elif kind == "add-block":
        blocks.append(ipamblock(f"192.168.{100 + step % 100}.{64 * rng.randrange(4)}/26",
                                rng.choice(["node04", "node-y"]), {1: pod_owner("ns", f"q{step}", "node04")}))
        blocks[-1]["metadata"]["resourceVersion"] = str(100 + step)
    elif kind == "drop-block" and blocks:
        del blocks[rng.randrange(len(blocks))]
    elif kind == "relabel":
        nodes = list(raw["nodes"])
        index = rng.randrange(len(nodes))
        changed = copy.deepcopy(nodes[index])
        changed["metadata"]["labels"]["route-reflector"] = rng.choice(["true", "false"])
        changed["metadata"]["resourceVersion"] = str(100 + step)
        nodes[index] = changed
        raw["nodes"] = nodes
    elif kind == "status":
        statuses = list(raw["caliconodestatuses"])
        changed = copy.deepcopy(statuses[-1])
        peer = rng.choice(changed["status"]["bgp"]["peersV4"])
        peer["state"] = rng.choice(["Established", "Active", "Connect"])
        changed["metadata"]["resourceVersion"] = str(100 + step)
        statuses[-1] = changed
        raw["caliconodestatuses"] = statuses
    elif kind == "add-node":
        raw["nodes"] = [*raw["nodes"], node(f"extra-{step}", f"10.10.9.{step % 200 + 1}/24")]
    names = {}
    for block in blocks:  # one block per name, as in a real cluster
        names.setdefault(block["metadata"]["name"], block)
    raw["ipamblocks"] = list(names.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(min_value=5, max_value=30))
def test_an_incremental_live_view_equals_one_built_from_scratch(rng, steps):
    raw = scale_raw()
    memo = ParseMemo()
    for step in range(steps):
        live = LiveView.build(raw, {}, 0.0, memo=memo)
        fresh = LiveView.build(copy.deepcopy(raw), {}, 0.0)
        assert live.cluster == fresh.cluster
        assert live.nodes == fresh.nodes
        assert [list(u.allocations_by_pool.items()) for u in live.nodes] == \
               [list(u.allocations_by_pool.items()) for u in fresh.nodes]
        assert live.pools == fresh.pools and live.findings == fresh.findings
        assert live.expected_peers == fresh.expected_peers and live.rr_clusters == fresh.rr_clusters
        oracle = bgp_topology(fresh.cluster)  # straight from the whole cluster, no parts reused
        assert live.sessions == {s.node: oracle.sessions(s.node) for s in fresh.cluster.node_statuses}
        assert live.expected_peers == {n.name: oracle.peer_count(n.name) for n in fresh.cluster.nodes}
        assert live.findings == cluster_findings(fresh.cluster)
        mutate(raw, rng, step)


def test_a_block_change_rebuilds_only_the_nodes_it_concerns():
    raw = scale_raw()
    memo = ParseMemo()
    first = LiveView.build(raw, {}, 0.0, memo=memo)
    blocks = list(raw["ipamblocks"])
    block = copy.deepcopy(blocks[4])  # node05's block: a pod of node05 goes
    block["spec"]["allocations"][2] = None
    block["spec"]["unallocated"].append(2)
    block["metadata"]["resourceVersion"] = "2"
    blocks[4] = block
    second = LiveView.build({**raw, "ipamblocks": blocks}, {}, 0.0, memo=memo)
    assert second.cluster.nodes is first.cluster.nodes and second.bgp is first.bgp
    kept = [a is b for a, b in zip(first.nodes, second.nodes)]
    assert kept == [u.name != "node05" for u in first.nodes]
    assert second.nodes[4].allocations_by_pool == {"default-ipv4-ippool": first.nodes[4].in_use - 1}
    assert sum(p.in_use for p in second.pools) == sum(p.in_use for p in first.pools) - 1


async def test_table_rows_given_again_are_skipped_and_columns_shrink_with_their_widest_cell():
    class TableApp(App):
        def compose(self):
            yield keyed_table("t", ["name", "value"])

    app = TableApp()
    async with app.run_test():
        table = app.query_one("#t")
        rows = {"a": ("a", "x" * 12), "b": ("b", "yy")}
        assert sync_rows(table, rows) == {"a", "b"}
        assert sync_rows(table, dict(rows)) == set()
        await settle(app)
        rendered: list[int] = []  # rows whose cells were rendered (not taken from a cache)
        render_cell = table._render_cell
        table._render_cell = lambda row, *a, **k: rendered.append(row) or render_cell(row, *a, **k)
        assert [table.render_line(y).text.split()[:2] for y in (1, 2)] == [["a", "x" * 12], ["b", "yy"]]
        rendered.clear()
        assert sync_rows(table, {**rows, "b": ("b", "zz")}) == {"b"}
        await settle(app)
        assert table.columns["value"].content_width == 12
        # Same widths: only row b is drawn again; row a keeps its cached rendering.
        assert [table.render_line(y).text.split()[:2] for y in (1, 2)] == [["a", "x" * 12], ["b", "zz"]]
        assert set(rendered) == {1}  # row b is row index 1
        assert sync_rows(table, {"a": ("a", "short"), "b": ("b", "zz")}) == {"a"}
        await settle(app)
        assert table.columns["value"].content_width == 5
        assert sync_rows(table, {"a": ("a", "short")}) == {"b"} and table.row_count == 1


async def settle(app) -> None:
    """Let the table's idle handler apply column widths."""
    for _ in range(5):
        await asyncio.sleep(0.02)
