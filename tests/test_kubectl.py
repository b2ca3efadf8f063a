"""The real kubectl against the simulator: what an operator types must work unchanged.

The kubectl on the development machines is the gcloud dispatcher: it asks `/version` first and runs
the kubectl matching the server's minor version, so every call gets a generous timeout. Each test
gets its own HOME and KUBECACHEDIR, because kubectl caches discovery for hours.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tui.sim.simulator import VIEWER_CONTEXT

pytestmark = pytest.mark.kubectl

KUBECTL = shutil.which("kubectl")
TIMEOUT = 90

V3_POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: migration-pool
spec:
  cidr: 10.250.0.0/16
  ipipMode: Always
  natOutgoing: {nat}
"""


class Kubectl:
    """Runs kubectl with the simulator's kubeconfig and a private HOME and discovery cache."""

    def __init__(self, kubeconfig: Path, home: Path):
        home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home),
                    "KUBECACHEDIR": str(home / "cache")}
        self.env.pop("KUBE_EDITOR", None)

    def command(self, args, context: str | None) -> list[str]:
        return [KUBECTL, *(["--context", context] if context else []), *args]

    def run(self, *args: str, context: str | None = None, check: bool = True,
            stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.command(args, context), env={**self.env, **(env or {})},
                              input=stdin, capture_output=True, text=True, timeout=TIMEOUT)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str, context: str | None = None) -> dict:
        return json.loads(self.run(*args, "-o", "json", context=context).stdout)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(args, None), env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture
def kubectl(sim, tmp_path) -> Kubectl:
    if KUBECTL is None:
        pytest.skip("kubectl not on PATH")
    return Kubectl(sim.kubeconfig_path, tmp_path / "home")


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def test_get_nodes_wide_prints_the_real_columns(kubectl):
    nodes = kubectl.json("get", "nodes")["items"]
    assert nodes
    out = kubectl.run("get", "nodes", "-o", "wide").stdout
    header, *lines = rows(out)
    assert header == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP",
                      "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    by_name = {line[0]: line for line in lines}
    assert set(by_name) == {n["metadata"]["name"] for n in nodes}
    for node in nodes:
        line = by_name[node["metadata"]["name"]]
        internal = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        ready = next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert line[1] == ("Ready" if ready == "True" else "NotReady")
        assert line[4] == node["status"]["nodeInfo"]["kubeletVersion"]
        assert line[5] == internal
    assert any(line[2] == "control-plane" for line in lines)


def test_get_crd_ippools_lists_the_pools(kubectl):
    pools = kubectl.json("get", "ippools.crd.projectcalico.org")["items"]
    assert pools
    header, *lines = rows(kubectl.run("get", "ippools.crd.projectcalico.org").stdout)
    assert header == ["NAME", "AGE"]
    assert [line[0] for line in lines] == sorted(p["metadata"]["name"] for p in pools)


def test_apply_patch_and_delete_a_v3_ippool(kubectl, tmp_path):
    manifest = tmp_path / "pool.yaml"
    manifest.write_text(V3_POOL.format(nat="true"))
    # No --validate=false: kubectl must find server-side validation in the OpenAPI documents.
    assert "ippool.projectcalico.org/migration-pool created" in kubectl.run(
        "apply", "-f", str(manifest)).stdout
    pool = kubectl.json("get", "ippools.projectcalico.org", "migration-pool")
    assert pool["spec"]["cidr"] == "10.250.0.0/16" and pool["spec"]["natOutgoing"] is True
    stored = kubectl.json("get", "ippools.crd.projectcalico.org", "migration-pool")
    assert stored["spec"]["cidr"] == "10.250.0.0/16"

    manifest.write_text(V3_POOL.format(nat="false"))
    assert "configured" in kubectl.run("apply", "-f", str(manifest)).stdout
    assert "unchanged" in kubectl.run("apply", "-f", str(manifest)).stdout
    assert kubectl.json("get", "ippools.projectcalico.org", "migration-pool")["spec"]["natOutgoing"] is False
    assert "serverside-applied" in kubectl.run("apply", "--server-side", "--force-conflicts",
                                               "-f", str(manifest)).stdout

    out = kubectl.run("patch", "ippools.projectcalico.org", "migration-pool", "--type", "merge",
                      "-p", '{"spec":{"disabled":true}}').stdout
    assert "patched" in out
    assert kubectl.json("get", "ippools.projectcalico.org", "migration-pool")["spec"]["disabled"] is True
    # Custom resources take no strategic merge patch, exactly like a real server.
    refused = kubectl.run("patch", "ippools.projectcalico.org", "migration-pool",
                          "-p", '{"spec":{"disabled":false}}', check=False)
    assert refused.returncode != 0 and "strategic-merge-patch" in refused.stderr

    assert 'ippool.projectcalico.org "migration-pool" deleted' in kubectl.run(
        "delete", "ippools.projectcalico.org", "migration-pool").stdout
    gone = kubectl.run("get", "ippools.projectcalico.org", "migration-pool", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_typed_create_commands_and_edit(kubectl, tmp_path):
    # `kubectl create <kind>` sends protobuf bodies; the simulator decodes them.
    kubectl.run("create", "namespace", "migration")
    kubectl.run("create", "configmap", "settings", "-n", "migration", "--from-literal=a=1")
    kubectl.run("create", "deployment", "web", "-n", "migration", "--image=nginx", "--replicas=2")
    assert kubectl.json("get", "configmap", "settings", "-n", "migration")["data"] == {"a": "1"}
    assert kubectl.json("get", "deployment", "web", "-n", "migration")["spec"]["replicas"] == 2

    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i \'s/^  a: "1"$/  a: "2"/\' "$1"\n')
    editor.chmod(0o755)
    kubectl.run("edit", "configmap", "settings", "-n", "migration", env={"KUBE_EDITOR": str(editor)})
    assert kubectl.json("get", "configmap", "settings", "-n", "migration")["data"] == {"a": "2"}


def read_lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def wait_for_line(lines: queue.Queue, predicate, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if predicate(line):
            return line
    raise AssertionError("kubectl get -w never printed the expected line; it printed:\n"
                         + "\n".join(seen))


def test_get_watch_prints_a_modified_change(kubectl):
    kubectl.run("create", "configmap", "watched", "--from-literal=a=1")
    proc = kubectl.start("get", "configmap", "watched", "-w", "--output-watch-events")
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        wait_for_line(lines, lambda line: line.split()[:2] == ["ADDED", "watched"], TIMEOUT)
        kubectl.run("label", "configmap", "watched", "changed=yes")
        wait_for_line(lines, lambda line: line.split()[:2] == ["MODIFIED", "watched"], 30)
        kubectl.run("delete", "configmap", "watched")
        wait_for_line(lines, lambda line: line.split()[:2] == ["DELETED", "watched"], 30)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_auth_can_i_for_both_identities(kubectl):
    assert kubectl.run("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    assert kubectl.run("auth", "can-i", "patch", "nodes").stdout.strip() == "yes"
    denied = kubectl.run("auth", "can-i", "create", "pods", context=VIEWER_CONTEXT, check=False)
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    assert kubectl.run("auth", "can-i", "list", "ippools.crd.projectcalico.org",
                       context=VIEWER_CONTEXT).stdout.strip() == "yes"
    assert "viewer" in kubectl.run("auth", "whoami", context=VIEWER_CONTEXT).stdout

    # What the review says is what the server enforces.
    assert kubectl.run("get", "nodes", context=VIEWER_CONTEXT).returncode == 0
    refused = kubectl.run("create", "namespace", "nope", context=VIEWER_CONTEXT, check=False)
    assert refused.returncode != 0 and "Forbidden" in refused.stderr


DRAIN_OBJECTS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: agent:1}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: agent-w1
  namespace: default
  labels: {app: agent}
  ownerReferences:
  - {apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: 00000000-0000-0000-0000-000000000001,
     controller: true}
spec:
  nodeName: worker-1
  containers: [{name: agent, image: agent:1}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: default
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4f8, uid: 00000000-0000-0000-0000-000000000002,
     controller: true}
spec:
  nodeName: worker-1
  terminationGracePeriodSeconds: 0
  containers: [{name: web, image: nginx}]
"""


def test_drain_evicts_pods_and_skips_daemonsets(kubectl, tmp_path):
    manifest = tmp_path / "drain.yaml"
    manifest.write_text(DRAIN_OBJECTS)
    kubectl.run("apply", "-f", str(manifest))

    drained = kubectl.run("drain", "worker-1", "--ignore-daemonsets", "--timeout=60s")
    output = drained.stdout + drained.stderr
    assert "evicting pod default/web-1" in output  # the eviction subresource, not a plain DELETE
    assert "pod/web-1 evicted" in output
    assert "ignoring DaemonSet-managed Pods: default/agent-w1" in output
    assert "node/worker-1 drained" in output

    assert kubectl.json("get", "node", "worker-1")["spec"]["unschedulable"] is True
    names = {p["metadata"]["name"] for p in kubectl.json("get", "pods", "-n", "default")["items"]}
    assert names == {"agent-w1"}
    kubectl.run("uncordon", "worker-1")
    assert not kubectl.json("get", "node", "worker-1")["spec"].get("unschedulable")
