"""`python -m bench.client`: the measured process, the real dashboard run headless against a bench cluster.

It runs `CalicoApp` with a `Session` (the same classes `calico-tui` runs) under Textual's headless
Pilot and reports, as one JSON document on stdout:

- when `Session.open` started, when every collection was listed, when every watch was open (the
  simulator's request log says when each watch request arrived), and when the first complete
  dashboard was on screen (every pane live, every node in the nodes table, after the refresh);
- for each churn rate, event-to-screen latency: an event (the simulator's commit time and
  resourceVersion) is on screen at the first refresh after a view whose IPAM blocks include that
  resourceVersion was shown;
- its own peak RSS (VmHWM) after the first render and at the end.

Only the bench's bookkeeping is added to the app: the newest IPAMBlock resourceVersion of each
view, computed on the cache's delivery thread (not the UI thread), and a timestamp per refresh.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from pathlib import Path

from bench.cluster import Target
from bench.proc import status_mb
from bench.stats import percentile
from tui.app import CalicoApp
from tui.kube.resources import watch_specs
from tui.messages import ClusterUpdated
from tui.session import LiveView, Session
from widgets.freshness import LIVE
from widgets.nodes import NodesPane

SCREEN = (160, 50)
POLL = 0.02
# Lag growing faster than this (seconds of latency per second of churn) means the app falls behind.
MAX_LAG_SLOPE = 0.05


def newest_version(objects) -> int:
    return max((int(o["metadata"]["resourceVersion"]) for o in objects), default=0)


class BenchSession(Session):
    """A Session that notes when it started and when every collection was listed, and tags each
    view with the newest IPAMBlock resourceVersion it holds."""

    def __init__(self, kubeconfig: str) -> None:
        super().__init__(kubeconfig, None)
        self.open_started: float | None = None
        self.listed_at: float | None = None
        self.versions: dict[int, int] = {}

    def open(self):
        self.open_started = time.time()
        opened = super().open()
        cache = self.cache

        def listed() -> None:
            if cache.wait_synced():
                self.listed_at = time.time()

        threading.Thread(target=listed, daemon=True).start()
        return opened

    def subscribe(self, deliver) -> None:
        def tagged(view: LiveView) -> None:
            self.versions[id(view)] = newest_version(view.raw.get("ipamblocks", ()))
            deliver(view)

        super().subscribe(tagged)


class BenchApp(CalicoApp):
    """Records (time, newest IPAMBlock version, complete) after the refresh that follows each view."""

    def __init__(self, session: BenchSession, nodes: int) -> None:
        super().__init__(session, watch_terminal=False)
        self.expected_nodes = nodes
        self.shown: list[tuple[float, int, bool]] = []

    def on_cluster_updated(self, message: ClusterUpdated) -> None:
        # Runs before CalicoApp's own handler updates the panes; the callback runs after the
        # refresh that paints them.
        view = message.view
        self.call_after_refresh(self._shown, view)

    def _shown(self, view: LiveView) -> None:
        complete = (all(h.state == LIVE for h in view.health.values())
                    and self.dashboard.query_one(NodesPane).table.row_count >= self.expected_nodes)
        self.shown.append((time.time(), self.session.versions.pop(id(view), 0), complete))


async def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL)
    return True


def latencies(events: list[dict], shown: list[tuple[float, int, bool]]) -> tuple[list[float], int]:
    """Seconds from each event's commit to the first refresh showing a view that includes it,
    and how many events were never shown."""
    out, missing = [], 0
    index = 0
    for event in sorted(events, key=lambda e: int(e["resourceVersion"])):
        version = int(event["resourceVersion"])
        while index < len(shown) and shown[index][1] < version:
            index += 1
        if index == len(shown):
            missing += 1
        else:
            out.append(max(0.0, shown[index][0] - event["at"]))
    return out, missing


def lag_slope(events: list[dict], delays: list[float]) -> float | None:
    """Least-squares slope of latency over event time: ~0 when the app keeps up, > 0 when a
    backlog grows."""
    points = list(zip((e["at"] for e in sorted(events, key=lambda e: int(e["resourceVersion"]))), delays))
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else None


async def churn_phase(app: BenchApp, target: Target, rate: float, seconds: float) -> dict:
    """Churn at `rate` for `seconds`, wait until the last event is on screen, and summarise."""
    before = (await asyncio.to_thread(target.control, "GET", "churn"))["sent"]
    await asyncio.to_thread(target.control, "POST", "churn", {"rate": rate, "seconds": seconds})
    await asyncio.sleep(seconds)
    state = await asyncio.to_thread(target.control, "GET", f"churn?since={before}")
    while state["running"]:
        await asyncio.sleep(0.1)
        state = await asyncio.to_thread(target.control, "GET", f"churn?since={before}")
    events = state["events"]
    last = max((int(e["resourceVersion"]) for e in events), default=0)
    ended = time.time()
    await wait_for(lambda: app.shown and app.shown[-1][1] >= last, timeout=max(10.0, seconds))
    drain = (app.shown[-1][0] - ended) if app.shown and app.shown[-1][1] >= last else None
    delays, missing = latencies(events, app.shown)
    slope = lag_slope(events, delays) if not missing else None
    return {"rate": rate, "seconds": seconds, "events": len(events),
            "achieved_rate": len(events) / seconds, "generator_max_behind": state["maxBehind"],
            "p50_ms": _ms(percentile(delays, 50)), "p99_ms": _ms(percentile(delays, 99)),
            "max_ms": _ms(max(delays, default=None)), "not_shown": missing,
            "drain_s": drain, "lag_slope": slope,
            "rss_now_mb": status_mb("VmRSS"), "rss_peak_mb": status_mb("VmHWM"),
            "keeps_up": missing == 0 and slope is not None and slope < MAX_LAG_SLOPE}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


async def measure(kubeconfig: Path, nodes: int, rates: list[float], seconds: float, spawned: float,
                  timeout: float) -> dict:
    target = Target(kubeconfig)
    session = BenchSession(str(kubeconfig))
    app = BenchApp(session, nodes)
    result: dict = {}
    async with app.run_test(headless=True, size=SCREEN):
        if not await wait_for(lambda: any(complete for _, _, complete in app.shown), timeout):
            raise SystemExit(f"no complete dashboard within {timeout} s")
        rendered = next(t for t, _, complete in app.shown if complete)
        specs = watch_specs(session.opened.info.served)
        watching = await asyncio.to_thread(target.watches_open_at, specs)
        opened = session.open_started
        result.update({
            "open_to_listed_s": session.listed_at - opened,
            "open_to_watching_s": watching - opened if watching else None,
            "open_to_render_s": rendered - opened,
            "spawn_to_watching_s": watching - spawned if watching else None,
            "spawn_to_render_s": rendered - spawned,
            "watches": len(specs),
            "rss_after_render_mb": status_mb("VmHWM"), "rss_now_after_render_mb": status_mb("VmRSS"),
        })
        result["churn"] = []
        for rate in rates:
            await asyncio.sleep(1.0)
            result["churn"].append(await churn_phase(app, target, rate, seconds))
        result["rss_peak_mb"] = status_mb("VmHWM")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--nodes", required=True, type=int, help="nodes the complete dashboard lists")
    parser.add_argument("--rates", default="", help="churn rates in events/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="churn duration per rate")
    parser.add_argument("--spawned-at", type=float, default=None, help="time.time() when the bench spawned us")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r]
    result = asyncio.run(measure(args.kubeconfig, args.nodes, rates, args.seconds,
                                 args.spawned_at or time.time(), args.timeout))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
