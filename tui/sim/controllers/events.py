"""core/v1 Events as real components record them (with the apiserver-side aggregation of repeats).

Events are how an operator sees *why* something happens (FailedCreatePodSandBox, BackOff,
CIDRNotAvailable...), so the simulated components emit the same reasons and messages.
"""

from __future__ import annotations

from tui.sim.clock import rfc3339
from tui.sim.controllers.base import EVENTS, Controller
from tui.sim.errors import ApiError

NORMAL = "Normal"
WARNING = "Warning"


class EventRecorder(Controller):
    """Creates Events, folds repeats into `count`, and deletes them after the event TTL (1 h)."""

    name = "events"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._recent: dict[tuple, str] = {}  # (uid, reason, message, component) -> event name
        self._serial = 0

    def emit(self, obj: dict, reason: str, message: str, type: str = NORMAL, component: str = "kubelet",
             host: str | None = None) -> None:
        api, now = self.ctx.api, self.ctx.now()
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        res = self.ctx.res(EVENTS)
        fold = (meta.get("uid"), reason, message, component)
        name = self._recent.get(fold)
        if name:
            current = self.cache_get(namespace, name)
            if current is not None:
                api.patch(res, namespace, name, {"count": current.get("count", 1) + 1,
                                                 "lastTimestamp": rfc3339(now)},
                          "application/merge-patch+json")
                return
        self._serial += 1
        name = f"{meta.get('name', 'unknown')}.{int(now * 1e9) + self._serial:x}"
        involved = {"kind": obj.get("kind", ""), "name": meta.get("name", ""),
                    "apiVersion": obj.get("apiVersion", "v1")}
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        if meta.get("uid"):
            involved["uid"] = meta["uid"]
        if meta.get("resourceVersion"):
            involved["resourceVersion"] = meta["resourceVersion"]
        source = {"component": component}
        if host:
            source["host"] = host
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message, "type": type,
            "source": source, "firstTimestamp": rfc3339(now), "lastTimestamp": rfc3339(now), "count": 1,
            "reportingComponent": component, "reportingInstance": host or "",
            "eventTime": None,
        }
        api.create(res, namespace, event)
        self._recent[fold] = name
        self.after(self.ctx.timings.event_ttl, (namespace, name), periodic=True)

    def cache_get(self, namespace: str, name: str) -> dict | None:
        """Events are not in the informer cache (nothing reconciles them): ask the Api."""
        try:
            return self.ctx.api.get(self.ctx.res(EVENTS), namespace, name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def sync(self, key) -> None:
        """An event reached its TTL: delete it, as the apiserver's event TTL does."""
        namespace, name = key
        self._recent = {k: v for k, v in self._recent.items() if v != name}
        if self.cache_get(namespace, name) is not None:
            self.ctx.api.delete(self.ctx.res(EVENTS), namespace, name)
