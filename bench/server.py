"""`python -m bench.server`: one benchmark cluster, served from a process of its own.

The simulator and the measured client must not share a GIL, so the bench runs the simulator here:
the scenario (with its generator parameters) is loaded and booted, the churn generator is added,
the kubeconfig is written, and one JSON line on stdout says it is ready. It serves until stdin
closes (the bench ends, or dies) or SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time

from bench.proc import status_mb
from tui.sim.churn import Churn
from tui.sim.simulator import Simulator

# Watch history in events: a client that lags by a few seconds at 1,000 events/s must resume, not
# relist (a real apiserver keeps minutes of history in etcd).
HISTORY = 50_000
COUNTED = {"nodes": ("", "nodes"), "pods": ("", "pods"), "ipamblocks": ("crd.projectcalico.org", "ipamblocks"),
           "blockaffinities": ("crd.projectcalico.org", "blockaffinities")}


def parse_param(text: str) -> tuple[str, object]:
    """`name=value`, the value read as JSON when it is JSON (numbers, booleans), else a string."""
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--param", action="append", default=[], type=parse_param, metavar="NAME=VALUE",
                        help="scenario generator parameter, e.g. nodes=5000")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sim = Simulator.from_scenario(args.scenario, params=dict(args.param), history_size=HISTORY)
    Churn.install(sim)
    gc.collect()
    gc.freeze()  # the booted cluster is long-lived: full GC passes over it would stall serving
    sim.start_in_thread()
    sim.write_kubeconfig(args.kubeconfig)
    counts = {name: sim.store.count(key) for name, key in COUNTED.items()}
    print(json.dumps({"url": sim.url, "startup_s": time.perf_counter() - started, "objects": counts,
                      "rss_mb": status_mb("VmHWM")}), flush=True)
    try:
        sys.stdin.read()
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
