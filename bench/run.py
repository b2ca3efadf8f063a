"""The benchmark run: for each cluster size, a simulator process, then per repetition the measured
app process, the decode floor and kubectl against it, then the terminal measurement.

Processes: `bench.server` (the simulator, one per size), `bench.client` (the app, a fresh process
per repetition), kubectl (its own processes), the real `calico-tui` on a pseudo-terminal; the decode
floor runs in this orchestrating process, which does nothing else meanwhile.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench import ROOT, terminal
from bench.cluster import Target
from bench.peers import Kubectl, decode_floor, kubectl_version
from bench.stats import exponent, ratio, summary
from tui.kube.connection import connect
from tui.kube.detect import detect
from tui.kube.resources import WatchSpec, watch_specs

SCHEMA = 1
SERVER_START_TIMEOUT = 900


@dataclass(frozen=True)
class Variant:
    """One benchmark cluster: the `large` scenario with generator parameters."""

    name: str
    nodes: int
    params: dict = field(default_factory=dict)
    fragmented: bool = False

    @classmethod
    def sized(cls, nodes: int) -> Variant:
        return cls(f"{nodes} nodes", nodes, {"nodes": nodes})

    @classmethod
    def fragmented_at(cls, nodes: int, block_size: int) -> Variant:
        return cls(f"{nodes} nodes, /{block_size} blocks", nodes, {"nodes": nodes, "blockSize": block_size}, True)


@dataclass(frozen=True)
class Settings:
    repeat: int = 3
    rates: tuple[float, ...] = (50, 200, 1000)
    churn_seconds: float = 10.0
    terminal_seconds: float = 10.0
    terminal_rate: float = 200
    client_timeout: float = 600.0


class ServerProcess:
    """`python -m bench.server` for one variant; `info` is its ready line."""

    def __init__(self, variant: Variant, folder: Path) -> None:
        self.variant = variant
        self.kubeconfig = folder / "kubeconfig"
        self.log = folder / "server.log"
        self.info: dict = {}
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> ServerProcess:
        args = [sys.executable, "-m", "bench.server", "--kubeconfig", str(self.kubeconfig)]
        for name, value in self.variant.params.items():
            args += ["--param", f"{name}={json.dumps(value)}"]
        with open(self.log, "w") as log:
            self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                          text=True, cwd=ROOT)
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait(SERVER_START_TIMEOUT)
            raise RuntimeError(f"bench.server for {self.variant.name} failed:\n{self.log.read_text()[-2000:]}")
        self.info = json.loads(line)
        return self

    def __exit__(self, *exc) -> None:
        proc = self._proc
        if proc is not None:
            proc.stdin.close()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_client(target: Target, nodes: int, settings: Settings, log: Path) -> dict:
    """One fresh app process: sync, first render, churn phases."""
    target.control("DELETE", "requests")
    args = [sys.executable, "-m", "bench.client", "--kubeconfig", str(target.kubeconfig), "--nodes", str(nodes),
            "--rates", ",".join(f"{r:g}" for r in settings.rates), "--seconds", str(settings.churn_seconds),
            "--timeout", str(settings.client_timeout), "--spawned-at", repr(time.time())]
    with open(log, "a") as err:
        done = subprocess.run(args, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT,
                              timeout=settings.client_timeout + 120 + len(settings.rates) * settings.churn_seconds * 3)
    if done.returncode != 0:
        raise RuntimeError(f"bench.client failed ({done.returncode}); see {log}")
    return json.loads(done.stdout)


def served_specs(target: Target) -> list[WatchSpec]:
    """The collections the monitor watches on this server (discovery, as the app does it)."""
    conn = connect(str(target.kubeconfig), None)
    try:
        return watch_specs(detect(conn).served)
    finally:
        conn.close()


def measure_variant(variant: Variant, settings: Settings, kubectl_binary: str | None, progress) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    result: dict = {"name": variant.name, "nodes": variant.nodes, "params": variant.params,
                    "fragmented": variant.fragmented, "load_before": os.getloadavg()}
    progress(f"{variant.name}: starting the simulator")
    with ServerProcess(variant, folder) as server:
        result["server"] = server.info
        target = Target(server.kubeconfig)
        specs = served_specs(target)
        kubectl = Kubectl(target, kubectl_binary)
        try:
            if kubectl.available:  # discovery into kubectl's cache, as on a user's machine
                subprocess.run([kubectl.binary, "api-resources"], env=kubectl.env, capture_output=True, timeout=300)
            runs = []
            for rep in range(settings.repeat):
                progress(f"{variant.name}: repetition {rep + 1}/{settings.repeat}")
                run = run_client(target, variant.nodes, settings, folder / "client.log")
                run["floor"] = decode_floor(target, specs)
                run["kubectl"] = kubectl.get(specs) if kubectl.available else None
                runs.append(run)
            result["runs"] = runs
            progress(f"{variant.name}: terminal output")
            target.control("DELETE", "requests")
            result["terminal"] = terminal.measure(target, specs, variant.nodes, settings.terminal_seconds,
                                                  settings.terminal_rate, settings.client_timeout)
        finally:
            kubectl.close()
    result["load_after"] = os.getloadavg()
    result["summary"] = summarise(result["runs"])
    return result


def summarise(runs: list[dict]) -> dict:
    """Median and spread of every figure over the repetitions, and the ratios of the medians."""
    def over(key: str) -> dict:
        return summary(r.get(key) for r in runs)

    out = {key: over(key) for key in ("open_to_listed_s", "open_to_watching_s", "open_to_render_s",
                                      "spawn_to_watching_s", "spawn_to_render_s", "rss_after_render_mb",
                                      "rss_peak_mb")}
    out["floor_s"] = summary(r["floor"]["seconds"] for r in runs)
    out["kubectl_s"] = summary(r["kubectl"]["seconds"] for r in runs if r.get("kubectl"))
    out["ours_over_kubectl"] = ratio(out["spawn_to_watching_s"]["median"], out["kubectl_s"]["median"])
    out["ours_over_floor"] = ratio(out["open_to_watching_s"]["median"], out["floor_s"]["median"])
    churn = {}
    for phase in (c for r in runs for c in r["churn"]):
        entry = churn.setdefault(f"{phase['rate']:g}", [])
        entry.append(phase)
    out["churn"] = {rate: {"p50_ms": summary(p["p50_ms"] for p in phases),
                           "p99_ms": summary(p["p99_ms"] for p in phases),
                           "achieved_rate": summary(p["achieved_rate"] for p in phases),
                           "drain_s": summary(p["drain_s"] for p in phases),
                           "lag_slope": summary(p["lag_slope"] for p in phases),
                           "keeps_up": all(p["keeps_up"] for p in phases)}
                    for rate, phases in churn.items()}
    return out


SCALED = {  # figure -> how to read it from a variant
    "time to synced (ours)": lambda v: v["summary"]["open_to_watching_s"]["median"],
    "time to first render": lambda v: v["summary"]["open_to_render_s"]["median"],
    "kubectl get -o json": lambda v: v["summary"]["kubectl_s"]["median"],
    "decode floor": lambda v: v["summary"]["floor_s"]["median"],
    "peak RSS": lambda v: v["summary"]["rss_peak_mb"]["median"],
    "p99 event-to-screen at 200 ev/s": lambda v: v["summary"]["churn"].get("200", {}).get("p99_ms", {}).get("median"),
    "idle output": lambda v: v["terminal"]["idle"]["bytes_per_s"],
    "idle CPU": lambda v: v["terminal"]["idle"]["cpu_percent"],
}


def scaling(variants: list[dict]) -> dict:
    """Observed exponent of each figure over node count (log-log slope), unfragmented sizes only."""
    plain = [v for v in variants if not v["fragmented"]]
    return {name: exponent((v["nodes"], read(v)) for v in plain) for name, read in SCALED.items()}


def targets(variants: list[dict]) -> dict:
    """The issue's targets, judged at the largest unfragmented size measured."""
    plain = [v for v in variants if not v["fragmented"]]
    if not plain:
        return {}
    v = max(plain, key=lambda v: v["nodes"])
    s = v["summary"]
    p99 = s["churn"].get("200", {}).get("p99_ms", {}).get("median")
    checks = {
        "synced no slower than kubectl": (s["ours_over_kubectl"], "<=", 1.0),
        "synced within 3x the decode floor": (s["ours_over_floor"], "<=", 3.0),
        "peak RSS under 400 MB": (s["rss_peak_mb"]["median"], "<", 400),
        "p99 event-to-screen under 250 ms at 200 ev/s": (p99, "<", 250),
        "idle output under 200 B/s": (v["terminal"]["idle"]["bytes_per_s"], "<", 200),
        "idle CPU under 2%": (v["terminal"]["idle"]["cpu_percent"], "<", 2),
    }
    return {"at": v["name"], "checks": {
        name: {"value": value, "limit": limit,
               "met": None if value is None else (value <= limit if op == "<=" else value < limit)}
        for name, (value, op, limit) in checks.items()}}


def machine() -> dict:
    def first(path: str, prefix: str) -> str | None:
        try:
            with open(path) as f:
                return next((line.split(":", 1)[1].strip() for line in f if line.startswith(prefix)), None)
        except OSError:
            return None

    mem = first("/proc/meminfo", "MemTotal")
    import textual

    return {"cpus": os.cpu_count(), "cpu_model": first("/proc/cpuinfo", "model name"),
            "memory_gb": round(int(mem.split()[0]) / 1024 / 1024, 1) if mem else None,
            "python": platform.python_version(), "platform": platform.platform(),
            "textual": textual.__version__}


def run(variants: list[Variant], settings: Settings, out: Path | None, command: str, progress=print) -> dict:
    started = time.time()
    kubectl_binary = shutil.which("kubectl")
    results = {"schema": SCHEMA, "command": command,
               "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
               "machine": {**machine(), "kubectl": kubectl_version(kubectl_binary)}, "settings": {**settings.__dict__, "rates": list(settings.rates),
                                                  "screen": [terminal.COLUMNS, terminal.LINES]},
               "variants": []}
    for variant in variants:
        results["variants"].append(measure_variant(variant, settings, kubectl_binary, progress))
        if out is not None:  # keep what is measured even if a later size fails
            write(results, out)
    results["scaling_exponents"] = scaling(results["variants"])
    results["targets"] = targets(results["variants"])
    results["duration_s"] = time.time() - started
    if out is not None:
        write(results, out)
    return results


def write(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
