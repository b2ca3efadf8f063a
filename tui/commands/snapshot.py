"""`calico-tui snapshot -o FILE`: the cluster's Calico objects, nodes, workloads and migration
config as a scenario file, so `calico-tui --demo --scenario-file FILE` rehearses on a copy.

The file never holds Secrets, service-account tokens or kubeconfig credentials: Secrets are not
read at all, `managedFields` and `last-applied-configuration` are dropped, and literal env values
whose names look secret are replaced. It is written with mode 0600 all the same.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

NAME = "snapshot"
HELP = "write the cluster's Calico objects, nodes and workloads as a scenario file for --demo"

REDACTED = "<redacted by calico-tui snapshot>"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY", re.IGNORECASE)
DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
# Calico objects copied besides the ones the live cache watches.
EXTRA_CALICO = ("ipamhandles", "ipamconfigs", "ipamconfigurations", "felixconfigurations")


def add_arguments(parser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="scenario file to write (mode 0600)")


def snapshot_specs(served) -> list:
    """Every collection a rehearsal needs: Calico, nodes, namespaces, all pods and their owners
    (so the IPAM allocations keep their pods), PDBs, the migration's ConfigMaps, Installation."""
    from tui.kube.resources import (CALICO_PLURALS, CONFIGMAP_NAMES, KUBE_SYSTEM, OPERATOR_V1,
                                    WatchSpec, calico_group_for)

    specs = [WatchSpec(plural, group, plural) for plural in CALICO_PLURALS + EXTRA_CALICO
             if (group := calico_group_for(plural, served)) is not None]
    specs += [WatchSpec(plural, "v1", plural) for plural in ("namespaces", "nodes", "pods")]
    specs += [WatchSpec(plural, "apps/v1", plural)
              for plural in ("deployments", "replicasets", "statefulsets", "daemonsets")]
    specs.append(WatchSpec("poddisruptionbudgets", "policy/v1", "poddisruptionbudgets"))
    specs += [WatchSpec("configmaps", "v1", "configmaps", KUBE_SYSTEM, field_selector=f"metadata.name={name}")
              for name in CONFIGMAP_NAMES]
    if "installations" in served.get(OPERATOR_V1, ()):
        specs.append(WatchSpec("installations", OPERATOR_V1, "installations"))
    return specs


def scrub(obj: dict) -> dict:
    """A copy of `obj` fit to leave the cluster: no server bookkeeping, no applied-config copies,
    no literal secret-looking env values."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    for key in ("managedFields", "resourceVersion", "selfLink"):
        meta.pop(key, None)
    if meta.get("annotations"):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k not in DROPPED_ANNOTATIONS}
    out["metadata"] = meta
    if isinstance(out.get("spec"), dict):
        out["spec"] = _scrub_env(out["spec"])
    return out


def _scrub_env(value):
    """Walk a spec (pod specs sit at any depth in templates) replacing secret-looking env values."""
    if isinstance(value, dict):
        if "name" in value and "value" in value and isinstance(value.get("name"), str) \
                and SECRET_NAME.search(value["name"]):
            return {**value, "value": REDACTED}
        return {k: _scrub_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_env(v) for v in value]
    return value


def write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 (the temp file is created 0600, then renamed)."""
    path = path.expanduser()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def run(args) -> int:
    from tui.commands.status import run_with_cluster

    def work(conn) -> int:
        import yaml

        from tui.kube.detect import detect
        from tui.kube.listing import read_specs
        from tui.sim.scenario import scenario_document

        info = detect(conn)
        raw = read_specs(conn, snapshot_specs(info.served))
        objects = [scrub(obj) for items in raw.values() for obj in items]
        taken = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        document = scenario_document(
            f"snapshot-{conn.context}", objects,
            description=f"snapshot of {conn.server} (context {conn.context}) taken {taken}")
        write_private(Path(args.output), yaml.safe_dump(document, sort_keys=False))
        counts = {key: len(items) for key, items in raw.items() if items}
        summary = ", ".join(f"{n} {key}" for key, n in counts.items())
        print(f"wrote {args.output}: {summary}")
        return 0

    return run_with_cluster(args, work)
