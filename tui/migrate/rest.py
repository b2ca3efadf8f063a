"""Raw-JSON REST calls for the migration: every verb, `dryRun=All`, preconditions, evictions.

The migration writes a handful of object kinds through several API groups (Calico v3 or v1,
operator, core, apps, policy, coordination) and must see exactly what the server says (Status
reason and code decide between retry, re-read and stop), so it talks JSON over the connection's
own `ApiClient` instead of the generated typed models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

import urllib3
from kubernetes.client.exceptions import ApiException


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
        return base


IPPOOLS_V3 = Resource("projectcalico.org", "v3", "ippools", "IPPool", False)
IPPOOLS_V1 = Resource("crd.projectcalico.org", "v1", "ippools", "IPPool", False)
IPAMBLOCKS_V1 = Resource("crd.projectcalico.org", "v1", "ipamblocks", "IPAMBlock", False)
BLOCKAFFINITIES_V1 = Resource("crd.projectcalico.org", "v1", "blockaffinities", "BlockAffinity", False)
INSTALLATIONS = Resource("operator.tigera.io", "v1", "installations", "Installation", False)
NODES = Resource("", "v1", "nodes", "Node", False)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False)
PODS = Resource("", "v1", "pods", "Pod", True)
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap", True)
DAEMONSETS = Resource("apps", "v1", "daemonsets", "DaemonSet", True)
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment", True)
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet", True)
REPLICASETS = Resource("apps", "v1", "replicasets", "ReplicaSet", True)
PDBS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True)
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease", True)

RESOURCES = (IPPOOLS_V3, IPPOOLS_V1, IPAMBLOCKS_V1, BLOCKAFFINITIES_V1, INSTALLATIONS, NODES,
             NAMESPACES, PODS, CONFIGMAPS, DAEMONSETS, DEPLOYMENTS, STATEFULSETS, REPLICASETS, PDBS,
             LEASES)


def resource_for(api_version: str, kind: str) -> Resource:
    for res in RESOURCES:
        if res.api_version == api_version and res.kind == kind:
            return res
    raise KeyError(f"no resource for {api_version} {kind}")


MERGE_PATCH = "application/merge-patch+json"
TRANSIENT_CODES = frozenset({0, 429, 500, 502, 503, 504})


class ApiStatusError(Exception):
    """A non-2xx answer (or no answer: code 0) with the server's Status fields."""

    def __init__(self, code: int, reason: str, message: str, status: dict | None = None):
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status or {}

    @property
    def transient(self) -> bool:
        """Worth retrying with backoff: throttled, server trouble or no connection. A 429 from an
        eviction (PDB) is also 'retry later', which is what kubectl drain does."""
        return self.code in TRANSIENT_CODES


def _status_error(exc: ApiException) -> ApiStatusError:
    try:
        status = json.loads(exc.body or "")
    except (TypeError, ValueError):
        status = None
    if not isinstance(status, dict):
        status = {}
    return ApiStatusError(int(exc.status or 0), status.get("reason") or str(exc.reason or ""),
                          status.get("message") or str(exc.reason or ""), status)


class Rest:
    """Synchronous JSON requests on one `Connection`; the async runner calls it from a thread."""

    def __init__(self, conn):
        self.conn = conn

    def request(self, method: str, path: str, query: dict | None = None, body=None,
                content_type: str = "application/json") -> dict:
        try:
            return self.conn.request(method, path, query, body, content_type=content_type)
        except ApiException as exc:
            raise _status_error(exc) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise ApiStatusError(0, "ConnectionError", str(exc)) from exc

    def text(self, path: str) -> str:
        """A plain-text answer, such as a pod's `/log`."""
        try:
            response = self.conn.open("GET", path)
        except ApiException as exc:
            raise _status_error(exc) from exc
        try:
            return (response.data or b"").decode(errors="replace")
        finally:
            response.release_conn()

    def get(self, res: Resource, namespace: str | None, name: str) -> dict:
        return self._typed(res, self.request("GET", res.path(namespace, name)))

    def list(self, res: Resource, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None, limit: int = 500) -> list[dict]:
        items, token = [], None
        while True:
            page = self.request("GET", res.path(namespace), {
                "labelSelector": label_selector, "fieldSelector": field_selector,
                "limit": limit, "continue": token})
            items.extend(self._typed(res, item) for item in page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def create(self, res: Resource, namespace: str | None, body: dict, dry_run: bool = False) -> dict:
        return self.request("POST", res.path(namespace), self._dry(dry_run), body)

    def replace(self, res: Resource, namespace: str | None, name: str, body: dict,
                dry_run: bool = False) -> dict:
        return self.request("PUT", res.path(namespace, name), self._dry(dry_run), body)

    def patch(self, res: Resource, namespace: str | None, name: str, body, dry_run: bool = False,
              content_type: str = MERGE_PATCH) -> dict:
        return self.request("PATCH", res.path(namespace, name), self._dry(dry_run), body, content_type)

    def delete(self, res: Resource, namespace: str | None, name: str, dry_run: bool = False,
               preconditions: dict | None = None, grace_period_seconds: int | None = None) -> dict:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if preconditions:
            body["preconditions"] = preconditions
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if dry_run:
            body["dryRun"] = ["All"]
        return self.request("DELETE", res.path(namespace, name), self._dry(dry_run), body)

    def evict(self, namespace: str, name: str, dry_run: bool = False) -> dict:
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace}, "deleteOptions": {}}
        if dry_run:
            body["deleteOptions"]["dryRun"] = ["All"]
        return self.request("POST", PODS.path(namespace, name, "eviction"), self._dry(dry_run), body)

    @staticmethod
    def _dry(dry_run: bool) -> dict:
        return {"dryRun": "All"} if dry_run else {}

    @staticmethod
    def _typed(res: Resource, obj: dict) -> dict:
        """Built-in list items come without kind/apiVersion (real servers do that); add them so
        every object the migration stores or diffs is self-describing."""
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        return obj
