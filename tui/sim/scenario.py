"""Scenario files: the description of a simulated cluster (format in docs/SIMULATOR.md).

A scenario is literal Kubernetes/Calico objects exactly as the API serves them, plus host state the
API cannot show (tui.sim.hosts), plus generator shorthands for clusters too big to write down. The
same format is what `calico-tui snapshot` writes, so an operator can rehearse on a copy of their own
cluster. Reading a scenario is pure: it yields objects and hosts; the simulator loads them and the
controllers bring the cluster to life.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import yaml

from tui.sim.hosts import KUBELET_RUNNING, KUBELET_STOPPED, Host
from tui.sim.node_objects import CONTROL_PLANE_LABEL, internal_ip, is_node_ready
from tui.sim.pod_objects import is_mirror
from tui.model.static_pods import manifest_from_mirror
from tui.sim.static_pods import KCM, CONFIG_HASH, cluster_configuration, kubeadm_manifests

FORMAT_VERSION = "calico-tui/v1alpha1"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: snapshots can be large
SCENARIO_DIR = Path(__file__).parent / "scenarios"
# name -> module with `generate(params: dict, scenario: Scenario) -> None`
GENERATORS = {"large-cluster": "tui.sim.scenarios.large"}
_PARAM = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Load order, so that namespaces exist before what lives in them and owners before their pods.
_KIND_ORDER = ["Namespace", "CustomResourceDefinition", "ClusterInformation", "IPAMConfig",
               "FelixConfiguration", "BGPConfiguration", "IPPool", "Installation", "Node"]


class ScenarioError(ValueError):
    """A scenario that cannot be read; the message names the file and the problem."""


@dataclass
class Scenario:
    name: str
    description: str = ""
    seed: int | str = 0
    objects: list[dict] = field(default_factory=list)
    hosts: dict[str, Host] = field(default_factory=dict)
    # Objects a generator built with the simulator's own builders, complete with uid and timestamps:
    # bulk-loaded without API validation so that a 5,000-node cluster starts in seconds.
    generated: list[dict] = field(default_factory=list)

    def ordered_objects(self) -> list[dict]:
        """Objects in load order (namespaces and config first, pods last)."""
        def rank(obj: dict) -> int:
            kind = obj.get("kind", "")
            if kind in _KIND_ORDER:
                return _KIND_ORDER.index(kind)
            return len(_KIND_ORDER) + (1 if kind == "Pod" else 0)
        return sorted(self.objects, key=rank)

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        for obj in self.objects + self.generated:
            meta = obj.get("metadata") or {}
            if obj.get("kind") == kind and meta.get("name") == name and (
                    namespace is None or meta.get("namespace") == namespace):
                return obj
        return None

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects + self.generated if o.get("kind") == kind]


def scenario_document(name: str, objects: list[dict], hosts: dict[str, Host] | None = None,
                      description: str = "", seed: int | str = 0) -> dict:
    """The scenario-file form of a cluster (what `calico-tui snapshot` writes)."""
    doc = {"apiVersion": FORMAT_VERSION, "kind": "Scenario", "name": name}
    if description:
        doc["description"] = description
    doc["seed"] = seed
    if hosts:
        doc["hosts"] = {n: hosts[n].to_dict() for n in sorted(hosts)}
    doc["objects"] = objects
    return doc


def builtin_scenarios() -> dict[str, str]:
    """Name -> description of the scenarios shipped with the package (files not starting with `_`)."""
    out = {}
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        if not path.name.startswith("_"):
            doc = yaml.load(path.read_text(), Loader=_LOADER) or {}
            out[path.stem] = doc.get("description", "")
    return out


def load_scenario(name: str | None = None, path: str | Path | None = None,
                  params: dict | None = None) -> Scenario:
    """Read a built-in scenario by name or a scenario file by path, with generator parameters
    (e.g. `{"nodes": 5000}` for `large`), and derive the host state it does not spell out."""
    if path is not None:
        file = Path(path)
    else:
        file = SCENARIO_DIR / f"{name or 'seed'}.yaml"
        if not file.is_file() or file.name.startswith("_"):
            known = ", ".join(builtin_scenarios())
            raise ScenarioError(f"unknown scenario {name!r} (built-in: {known})")
    scenario = Scenario(name=file.stem)
    _read_into(scenario, file, params or {}, top=True)
    complete_hosts(scenario)
    return scenario


def _read_into(scenario: Scenario, file: Path, params: dict, top: bool) -> None:
    try:
        doc = yaml.load(file.read_text(), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{file}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "Scenario":
        raise ScenarioError(f"{file}: not a scenario file (expected `kind: Scenario`)")
    values = {**(doc.get("params") or {}), **{k: v for k, v in params.items() if v is not None}}
    doc = substitute({k: v for k, v in doc.items() if k != "params"}, values)
    if top:
        scenario.name = doc.get("name", scenario.name)
        scenario.description = doc.get("description", "")
        scenario.seed = doc.get("seed", 0)
    for entry in doc.get("include") or []:
        entry = {"file": entry} if isinstance(entry, str) else entry
        target = file.parent / entry["file"]
        if target.suffix != ".yaml":
            target = target.with_name(target.name + ".yaml")
        _read_into(scenario, target, {**values, **(entry.get("params") or {})}, top=False)
    for name, data in (doc.get("hosts") or {}).items():
        if not isinstance(data, dict) or "address" not in data:
            raise ScenarioError(f"{file}: host {name!r} needs an address (e.g. 10.0.0.5/24)")
        scenario.hosts[name] = Host.from_dict(name, data)
    for obj in doc.get("objects") or []:
        if not isinstance(obj, dict) or not obj.get("kind") or not (obj.get("metadata") or {}).get("name"):
            raise ScenarioError(f"{file}: every object needs kind and metadata.name: {str(obj)[:80]}")
        scenario.objects.append(obj)
    for gen in doc.get("generate") or []:
        module = GENERATORS.get(gen.get("generator"))
        if module is None:
            raise ScenarioError(f"{file}: unknown generator {gen.get('generator')!r}")
        import_module(module).generate({**gen, **values}, scenario)


def substitute(value, params: dict):
    """Replace `${name}` in string values; a string that is exactly `${name}` takes the param's type."""
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, str):
        whole = _PARAM.fullmatch(value)
        if whole and whole.group(1) in params:
            return params[whole.group(1)]
        return _PARAM.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), value)
    return value


def complete_hosts(scenario: Scenario) -> None:
    """Derive host state for nodes the scenario gives none (as for a snapshot of a real cluster):
    address from the Calico annotation or InternalIP, kubelet from Ready, static pods from mirror
    pods, and kubeadm manifests for control-plane hosts that list none."""
    mirrors: dict[str, dict[str, dict]] = {}
    for pod in scenario.of_kind("Pod"):
        if is_mirror(pod):
            node = pod["spec"].get("nodeName", "")
            manifest = manifest_from_mirror(pod)
            mirrors.setdefault(node, {})[manifest["metadata"]["name"]] = (
                manifest, pod["metadata"]["annotations"].get(CONFIG_HASH))
    for node in scenario.of_kind("Node"):
        name = node["metadata"]["name"]
        if name in scenario.hosts:
            continue
        annotations = node["metadata"].get("annotations") or {}
        address = annotations.get("projectcalico.org/IPv4Address")
        if not address:
            ip = internal_ip(node)
            if not ip:
                raise ScenarioError(f"node {name} has no address: give it a host entry")
            address = f"{ip}/24"
        labels = node["metadata"].get("labels") or {}
        static = mirrors.get(name, {})
        host = Host(name=name, address=str(ipaddress.ip_interface(address)),
                    kubelet=KUBELET_RUNNING if not node.get("status") or is_node_ready(node) else KUBELET_STOPPED,
                    control_plane=CONTROL_PLANE_LABEL in labels or KCM in static,
                    static_pods={n: m for n, (m, _) in static.items()},
                    static_hashes={n: h for n, (_, h) in static.items() if h})
        scenario.hosts[name] = host
    kubeadm = scenario.find("ConfigMap", "kubeadm-config", "kube-system")
    config = cluster_configuration(kubeadm) if kubeadm else {}
    for host in scenario.hosts.values():
        if host.control_plane and not host.static_pods:
            host.static_pods = kubeadm_manifests(config, host.ip)

