"""What a user would otherwise run, measured against the same server in the same run.

- `kubectl_get`: `kubectl get ... -o json` of exactly the collections the monitor watches (same
  namespaces and selectors), one invocation per selector and one for all unselected cluster-wide
  types, started together like the monitor's parallel lists. kubectl gets a HOME and KUBECACHEDIR of
  its own that the bench warms first, so discovery comes from its cache as on a user's machine.
- `decode_floor`: the time merely to download and `json.loads` the same lists with the standard
  library, page by page with the same page size, over one kept-alive HTTPS connection: nothing
  a client in Python can do is faster, so it is the floor.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
from urllib.parse import urlencode, urlsplit

from bench.cluster import Target
from tui.kube.listing import PAGE_SIZE
from tui.kube.resources import WatchSpec

KUBECTL_TIMEOUT = 600


def kubectl_resource(spec: WatchSpec) -> str:
    """kubectl's fully qualified name of the spec's type (`ipamblocks.crd.projectcalico.org`)."""
    return f"{spec.plural}.{spec.group}" if spec.group else spec.plural


def kubectl_commands(specs: list[WatchSpec]) -> list[list[str]]:
    """kubectl arguments fetching the same objects as `specs`: unselected cluster-wide types in one
    invocation, every namespaced or selected collection in its own."""
    plain = [kubectl_resource(s) for s in specs if not s.namespace and not s.selectors]
    commands = [["get", ",".join(plain), "-o", "json"]] if plain else []
    for spec in specs:
        if spec.namespace or spec.selectors:
            args = ["get", kubectl_resource(spec), "-o", "json"]
            if spec.namespace:
                args += ["-n", spec.namespace]
            if spec.label_selector:
                args += ["-l", spec.label_selector]
            if spec.field_selector:
                args += ["--field-selector", spec.field_selector]
            commands.append(args)
    return commands


def kubectl_version(binary: str | None) -> str | None:
    """`kubectl version --client`'s first line (the dispatcher's own version on gcloud installs)."""
    if binary is None:
        return None
    done = subprocess.run([binary, "version", "--client"], capture_output=True, text=True, timeout=KUBECTL_TIMEOUT)
    return done.stdout.splitlines()[0].strip() if done.returncode == 0 and done.stdout else None


class Kubectl:
    """The kubectl on PATH with the target's kubeconfig and a private, warmed cache."""

    def __init__(self, target: Target, binary: str | None) -> None:
        self.binary = binary
        self.home = tempfile.mkdtemp(prefix="bench-kubectl-")
        self.env = {**os.environ, "KUBECONFIG": str(target.kubeconfig), "HOME": self.home,
                    "KUBECACHEDIR": os.path.join(self.home, "cache")}

    @property
    def available(self) -> bool:
        return self.binary is not None

    def get(self, specs: list[WatchSpec]) -> dict:
        """Run every command at once; wall time until the last exits, and bytes of JSON received."""
        started = time.perf_counter()
        procs = [subprocess.Popen([self.binary, *args], env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for args in kubectl_commands(specs)]
        received = 0
        for proc in procs:
            out, err = proc.communicate(timeout=KUBECTL_TIMEOUT)
            if proc.returncode != 0:
                raise RuntimeError(f"kubectl {' '.join(proc.args[1:])} failed: {err.decode()[-500:]}")
            received += len(out)
        return {"seconds": time.perf_counter() - started, "invocations": len(procs), "bytes": received}

    def close(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


def decode_floor(target: Target, specs: list[WatchSpec], page_size: int = PAGE_SIZE) -> dict:
    """Download and decode every list of `specs`, sequentially, on one connection."""
    url = urlsplit(target.server)
    headers = {"Authorization": f"Bearer {target.token}", "Accept": "application/json"}
    started = time.perf_counter()
    conn = (http.client.HTTPSConnection(url.hostname, url.port, context=target.ssl_context)
            if url.scheme == "https" else http.client.HTTPConnection(url.hostname, url.port))
    received = objects = 0
    try:
        for spec in specs:
            token = None
            while True:
                query = {**spec.selectors, "limit": page_size, **({"continue": token} if token else {})}
                conn.request("GET", f"{spec.path}?{urlencode(query)}", headers=headers)
                reply = conn.getresponse()
                body = reply.read()
                if reply.status != 200:
                    raise RuntimeError(f"GET {spec.path}: HTTP {reply.status}")
                page = json.loads(body)
                received += len(body)
                objects += len(page.get("items") or [])
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    break
    finally:
        conn.close()
    return {"seconds": time.perf_counter() - started, "bytes": received, "objects": objects}
