"""The bench's view of a simulator running in another process: its kubeconfig and control surface.

The simulator's CA is generated per process, so every other process trusts it through the
`certificate-authority-data` of the kubeconfig the simulator wrote, as any client would.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from urllib.parse import parse_qs
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Target:
    """Server URL, bearer token and CA of the kubeconfig's current context."""

    kubeconfig: Path

    @cached_property
    def _config(self) -> dict:
        return yaml.safe_load(self.kubeconfig.read_text())

    def _named(self, section: str, name: str) -> dict:
        return next(e for e in self._config[section] if e["name"] == name)

    @cached_property
    def _context(self) -> dict:
        return self._named("contexts", self._config["current-context"])["context"]

    @property
    def server(self) -> str:
        return self._named("clusters", self._context["cluster"])["cluster"]["server"]

    @property
    def token(self) -> str:
        return self._named("users", self._context["user"])["user"]["token"]

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        data = self._named("clusters", self._context["cluster"])["cluster"].get("certificate-authority-data")
        return ssl.create_default_context(cadata=base64.b64decode(data).decode()) if data else None

    def control(self, method: str, path: str, body: dict | None = None, timeout: float = 60):
        """Call the simulator's `/_sim/<path>`; returns the decoded JSON reply."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.server}/_sim/{path.lstrip('/')}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.ssl_context, timeout=timeout) as reply:
            return json.loads(reply.read() or b"null")

    def watches_open_at(self, specs) -> float | None:
        """When the last of the WatchSpecs `specs` got its first watch request since the request log
        was cleared (the simulator's `time.time()`), or None while some has none yet."""
        first: dict[tuple[str, str, str], float] = {}
        for entry in self.control("GET", "requests"):
            query = parse_qs(entry["query"])
            if query.get("watch", [""])[0].lower() in ("true", "1"):
                key = (entry["path"], query.get("labelSelector", [""])[0], query.get("fieldSelector", [""])[0])
                first.setdefault(key, entry["time"])
        wanted = {(s.path, s.label_selector or "", s.field_selector or "") for s in specs}
        return None if wanted - set(first) else max(first[k] for k in wanted)
