"""What the reliability tests share: trial records, the small simulated cluster, the semantic digest of
a migrated cluster, journal/backup/audit invariants, and `calico-tui` processes that can be killed.
"""

from __future__ import annotations

import ipaddress
import json
import traceback
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from conftest import stop_simulator
from reliability.zygote import Zygote
from tui.migrate.journal import CRASH_ENV, read_records
from tui.sim.auth import Auth
from tui.sim.simulator import Simulator

SMALL = Path(__file__).with_name("small.yaml")
OLD_CIDR = "192.168.0.0/16"
TARGET_CIDR = "172.21.0.0/16"
SPEED = 100.0  # simulated seconds per real second while a migration runs
TRIALS: list[dict] = []
MIGRATE = ["--target-cidr", TARGET_CIDR, "--yes", "--sim-manual", "--poll-interval", "0.05", "--settle", "0.2",
           "--wait-timeout", "120"]
RESUME = ["--resume", "--yes", "--poll-interval", "0.05", "--settle", "0.2", "--wait-timeout", "120"]


# --- trials --------------------------------------------------------------------------------------

class Trial:
    """One attempt of one thing the matrix lists: numbers to aggregate and what was seen."""

    def __init__(self, area: str, what: str):
        self.record = {"area": area, "what": what, "ok": False, "metrics": {}, "notes": []}

    def metric(self, name: str, value: float) -> None:
        self.record["metrics"][name] = round(float(value), 3)

    def note(self, text: str) -> None:
        self.record["notes"].append(text)


@contextmanager
def trial(area: str, what: str):
    """`with trial(area, what) as t:` records one attempt, passed unless the block raises."""
    attempt = Trial(area, what)
    try:
        yield attempt
    except BaseException as exc:
        attempt.record["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:300]
        raise
    else:
        attempt.record["ok"] = True
    finally:
        TRIALS.append(attempt.record)


# --- the small cluster ------------------------------------------------------------------------------

def boot(directory: Path, speed: float = SPEED, tokens: dict[str, str] | None = None) -> Simulator:
    """The small scenario with its controllers running, serving HTTPS, kubeconfig written;
    `tokens` by identity (`admin`, `viewer`) instead of random ones."""
    sim = Simulator.from_scenario(path=SMALL, speed=speed)
    if tokens is not None:
        sim.auth = sim.server.auth = Auth(tokens)
    sim.start_in_thread()
    sim.kubeconfig_path = sim.write_kubeconfig(directory / "kubeconfig")
    return sim


def finish(sim: Simulator) -> None:
    errors = list(getattr(sim, "controllers", None) and sim.controllers.errors or [])
    stop_simulator(sim)
    assert not errors, "a controller failed:\n" + "\n".join(errors)


def objects(sim: Simulator, group: str, version: str, plural: str) -> list[dict]:
    return sim.api.list(sim.api.registry.get(group, version, plural))[0]


def in_cidr(ip: str | None, cidr: str) -> bool:
    try:
        return ip is not None and ipaddress.ip_address(ip.split("/")[0]) in ipaddress.ip_network(cidr)
    except ValueError:
        return False


def _top_owner(pod: dict, replicasets: dict[str, dict]) -> str:
    ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    if ref is None:
        return "bare"
    if ref["kind"] == "ReplicaSet" and ref["name"] in replicasets:
        owner = next((r for r in replicasets[ref["name"]]["metadata"].get("ownerReferences") or []), None)
        if owner is not None:
            return f"{owner['kind']}/{owner['name']}"
    return f"{ref['kind']}/{ref['name'] if ref['kind'] != 'Node' else 'static'}"


def digest(sim: Simulator) -> dict:
    """What a migration is about, without what legitimately differs between two runs (uids,
    timestamps, generated pod names, which block a node got): two correct runs give equal digests."""
    pools = {p["metadata"]["name"]: {k: p["spec"].get(k) for k in ("cidr", "blockSize", "ipipMode", "vxlanMode",
                                                                   "natOutgoing", "disabled", "nodeSelector")}
             for p in objects(sim, "crd.projectcalico.org", "v1", "ippools")}
    nodes = {}
    for node in objects(sim, "", "v1", "nodes"):
        annotations = node["metadata"].get("annotations") or {}
        nodes[node["metadata"]["name"]] = {
            "podCIDRs": node["spec"].get("podCIDRs"), "labels": node["metadata"].get("labels"),
            "taints": node["spec"].get("taints"), "unschedulable": node["spec"].get("unschedulable", False),
            "tunnel-in-target": in_cidr(annotations.get("projectcalico.org/IPv4IPIPTunnelAddr"), TARGET_CIDR)}
    configmaps = {f"{c['metadata']['namespace']}/{c['metadata']['name']}": c.get("data")
                  for c in objects(sim, "", "v1", "configmaps")
                  if c["metadata"]["name"] in ("kube-proxy", "kubeadm-config", "calico-config")}
    namespaces = {n["metadata"]["name"]: n["metadata"].get("annotations") or {}
                  for n in objects(sim, "", "v1", "namespaces")}
    replicasets = {r["metadata"]["name"]: r for r in objects(sim, "apps", "v1", "replicasets")}
    pods = Counter()
    for pod in objects(sim, "", "v1", "pods"):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        ip = (pod.get("status") or {}).get("podIP")
        where = "host" if (pod["spec"].get("hostNetwork")) else "target" if in_cidr(ip, TARGET_CIDR) else \
            "OLD" if in_cidr(ip, OLD_CIDR) else "none"
        state = (pod.get("status") or {}).get("phase")
        pods[f"{pod['metadata']['namespace']}/{_top_owner(pod, replicasets)} {state} {where}"] += 1
    workloads = {}
    for plural in ("deployments", "statefulsets", "daemonsets"):
        for obj in objects(sim, "apps", "v1", plural):
            template = obj["spec"]["template"]
            annotations = dict(template["metadata"].get("annotations") or {})
            restarted = annotations.pop("kubectl.kubernetes.io/restartedAt", None) is not None
            workloads[f"{plural}/{obj['metadata']['namespace']}/{obj['metadata']['name']}"] = {
                "annotations": annotations, "restarted": restarted,
                "env": [c.get("env") for c in template["spec"]["containers"]]}
    blocks = objects(sim, "crd.projectcalico.org", "v1", "ipamblocks")
    return {"pools": pools, "nodes": nodes, "configmaps": configmaps, "namespaces": namespaces,
            "pods": dict(sorted(pods.items())), "workloads": workloads,
            "old-blocks": sum(1 for b in blocks if in_cidr(b["spec"]["cidr"], OLD_CIDR)),
            "kcm": {host.name: host.kcm_command() for host in sim.hosts.values() if host.kcm_command()}}


def digest_difference(expected: dict, actual: dict) -> list[str]:
    out = []
    for section in sorted(set(expected) | set(actual)):
        want, got = expected.get(section), actual.get(section)
        if want == got:
            continue
        if isinstance(want, dict) and isinstance(got, dict):
            for key in sorted(set(want) | set(got)):
                if want.get(key) != got.get(key):
                    out.append(f"{section}[{key}]: expected {want.get(key)!r}, got {got.get(key)!r}")
        else:
            out.append(f"{section}: expected {want!r}, got {got!r}")
    return out


# --- journal, backups, audit -------------------------------------------------------------------

def journal_problems(path: Path) -> list[str]:
    """A valid journal: readable (a torn last line is tolerated), numbered 1..n, every action done at
    most once and only after it started, nothing but the run's end after migration-done."""
    records, _, _ = read_records(path)
    problems = []
    if [r["seq"] for r in records] != list(range(1, len(records) + 1)):
        problems.append("seq is not 1..n")
    started, done = set(), Counter()
    for record in records:
        key = (record.get("step"), record.get("action"))
        if record["type"] == "action-start":
            started.add(key)
        elif record["type"] == "action-done":
            done[key] += 1
            if key not in started:
                problems.append(f"action-done without action-start: {key}")
    problems += [f"action done {n} times: {key}" for key, n in done.items() if n > 1]
    finished = [i for i, r in enumerate(records) if r["type"] == "migration-done"]
    if finished and any(r["type"] != "run-end" for r in records[finished[0] + 1:]):
        problems.append("records after migration-done")
    return problems


def mutations(sim: Simulator) -> list[dict]:
    """The simulator's log of writes that took effect (a lost response included)."""
    out = []
    for entry in list(sim.server.requests):
        code = entry.get("applied") or entry.get("code") or 0
        if entry["method"] in ("POST", "PUT", "PATCH", "DELETE") and 200 <= code < 300 \
                and "dryRun=All" not in entry.get("query", "") \
                and not entry["path"].endswith(("selfsubjectaccessreviews", "selfsubjectrulesreviews")):
            out.append(entry)
    return out


def _object_of(path: str) -> tuple[str, str, str] | None:
    """(plural, namespace, name) of a write to an existing object, None for a create."""
    parts = path.strip("/").split("/")
    parts = parts[2:] if parts[0] == "api" else parts[3:]
    namespace = ""
    if parts[:1] == ["namespaces"] and len(parts) >= 3:
        namespace, parts = parts[1], parts[2:]
    if len(parts) < 2:
        return None
    return parts[0], namespace, parts[1]


def backup_gaps(records: list[dict], writes: list[dict]) -> list[str]:
    """Writes to an existing object (update, delete, eviction) with no backup of it in the journal;
    the Lease is the lock, not cluster state."""
    saved = {(r["ref"]["kind"].lower() + "s", r["ref"].get("namespace") or "", r["ref"]["name"])
             for r in records if r["type"] == "backup"}
    gaps = []
    for entry in writes:
        target = _object_of(entry["path"])
        if entry["method"] == "POST" and not entry["path"].endswith("/eviction"):
            continue
        if target is None or target[0] == "leases":
            continue
        if target not in saved:
            gaps.append(f"{entry['method']} {entry['path']} without a backup")
    return gaps


def read_audit(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def audit_problems(entries: list[dict], writes: list[dict]) -> list[str]:
    """Every write that took effect has its audit record (who, what, when, result), and no action
    of a migration wrote the same object twice (an action is never applied twice)."""
    problems = []
    recorded = Counter((e["method"], e["path"]) for e in entries)
    for (method, path), count in Counter((w["method"], w["path"]) for w in writes).items():
        if recorded[(method, path)] < count:
            problems.append(f"{method} {path}: {count} writes took effect, {recorded[(method, path)]} audited")
    for entry in entries:
        if not {"time", "who", "method", "path", "result"} <= set(entry) or not entry["who"].get("user"):
            problems.append(f"incomplete audit record: {entry}")
    per_action = Counter((e.get("migration"), e.get("step"), e.get("action"), e["method"], e["path"])
                         for e in entries if e["result"]["ok"] and e.get("action") and "/leases/" not in e["path"])
    problems += [f"action {key[2]} wrote {key[3]} {key[4]} {n} times" for key, n in per_action.items() if n > 1]
    return problems


# --- calico-tui processes ------------------------------------------------------------------------

_zygote: Zygote | None = None


def calico_tui(argv: list[str], env: dict, output: Path, timeout: float = 180.0) -> int:
    """Run `calico-tui <argv>` in a process of its own with `env` added to the environment and its
    output appended to `output`; its exit code, -9 if it was killed."""
    global _zygote
    if _zygote is None:
        _zygote = Zygote()
    return _zygote.run(argv, env, str(output), timeout)


def journal_of(state: Path) -> Path | None:
    """The journal of the (only) migration under an XDG_STATE_HOME."""
    found = sorted(state.glob("calico-tui/journal/*/*/journal.jsonl"))
    return found[-1] if found else None


def migrate(sim: Simulator, state: Path, log: Path, resume: bool, crash_at: str | None = None) -> int:
    """`calico-tui migrate` (or `--resume`) on the small cluster; killed right after `crash_at`."""
    env = {"XDG_STATE_HOME": str(state)}
    if crash_at is not None:
        env[CRASH_ENV] = f"{crash_at}:1"
    return calico_tui(["migrate", "--kubeconfig", str(sim.kubeconfig_path), *(RESUME if resume else MIGRATE)],
                      env, log)
