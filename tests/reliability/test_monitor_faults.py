"""The monitor (the dashboard's session: live cache, model, pane health, default timings) under API
faults: it shows its picture as stale within 5 s of the fault, never crashes, converges to exactly
the server's state once the fault clears, and leaves no thread behind."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from reliability.support import trial
from test_kube_cache import eventually, our_threads, pool, state
from tui.kube.connection import connect
from tui.kube.listing import read_cluster
from tui.session import Session

STALE_WITHIN = 5.0


class Monitor:
    """A dashboard session without the screen: every LiveView it builds, with the time it came."""

    def __init__(self, sim):
        self.session = Session(str(sim.kubeconfig_path), None)
        self.session.open()
        self.views: list[tuple[float, object]] = []
        self.session.subscribe(lambda view: self.views.append((time.monotonic(), view)))
        self.truth = connect(str(sim.kubeconfig_path), None)

    def stale(self, view) -> bool:
        return all(health.stale for health in view.health.values())

    def first_stale_after(self, moment: float) -> float | None:
        return next((t - moment for t, v in list(self.views) if t >= moment and self.stale(v)), None)

    def live(self) -> bool:
        return bool(self.views) and not any(h.stale for h in self.views[-1][1].health.values())

    def converged(self) -> bool:
        try:
            truth = state(read_cluster(self.truth, self.session.opened.info.served))
        except Exception:  # noqa: BLE001 - the server may still be coming back
            return False
        return state(self.session.cache.snapshot()) == truth and self.live()

    def close(self) -> None:
        self.session.close()
        self.truth.close()


class Errors(logging.Handler):
    """Errors logged by the data layer (a subscriber that raised is logged, not propagated)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def restart(sim, downtime: float) -> None:
    threading.Thread(target=sim.restart, args=(downtime,), name="test restart").start()


FAULTS = {
    # name: (start the fault, clear it, is the picture stale meanwhile?)
    "dropped watches": (lambda sim: sim.control("POST", "faults/drop-watches", {}), None, False),
    "forced 410 on every watch": (lambda sim: (sim.control("POST", "faults/expire-watches", {"count": 200}),
                                               sim.control("POST", "history", {"compact": True}),
                                               sim.control("POST", "faults/drop-watches", {})), None, False),
    "burst of 500": (lambda sim: (sim.control("POST", "faults/fail", {"count": 100000, "code": 500}),
                                  sim.control("POST", "faults/drop-watches", {})), "faults/clear", True),
    "burst of 429": (lambda sim: (sim.control("POST", "faults/fail", {"count": 100000, "code": 429}),
                                  sim.control("POST", "faults/drop-watches", {})), "faults/clear", True),
    "latency 3 s": (lambda sim: (sim.control("POST", "faults/latency", {"seconds": 3}),
                                 sim.control("POST", "faults/drop-watches", {})), "faults/clear", False),
    "server pause": (lambda sim: sim.control("POST", "faults/pause", {}), "faults/resume", True),
    "server restart, state kept": (lambda sim: restart(sim, 6.0), None, True),
}
FAULT_SECONDS = 7.0


@pytest.mark.parametrize("fault", FAULTS)
def test_monitor_under_fault(fault, sim):
    start, clear, goes_stale = FAULTS[fault]
    errors = Errors()
    logging.getLogger("tui").addHandler(errors)
    monitor = Monitor(sim)
    try:
        with trial("API faults: monitor", fault) as t:
            assert eventually(monitor.converged, 20), "the monitor never showed the server's state"
            began = time.monotonic()
            start(sim)
            # the cluster changes while the monitor cannot see it (in-process: no fault applies)
            sim.api.create(sim.api.registry.get("projectcalico.org", "v3", "ippools"), None,
                           pool("during", "10.77.0.0/16"))
            if goes_stale:
                assert eventually(lambda: monitor.first_stale_after(began) is not None, STALE_WITHIN + 1)
                delay = monitor.first_stale_after(began)
                t.metric("stale shown after (s)", delay)
                assert delay <= STALE_WITHIN
            time.sleep(max(0.0, began + FAULT_SECONDS - time.monotonic()))
            if clear:
                sim.control("POST", clear, {})
            cleared = time.monotonic()
            assert eventually(monitor.converged, 40), "no convergence after the fault cleared"
            t.metric("converged after clearing (s)", time.monotonic() - cleared)
            assert any(p["metadata"]["name"] == "during" for p in monitor.session.cache.snapshot()["ippools"])
            assert not errors.records, [r.getMessage() for r in errors.records]
        with trial("API faults: monitor", "no thread left after close"):
            monitor.close()
            assert eventually(lambda: not our_threads(), 5), our_threads()
    finally:
        logging.getLogger("tui").removeHandler(errors)
        monitor.close()
        sim.control("POST", "faults/clear", {})
