"""One-shot reads: paginated lists, a whole `RawCluster` at once, and pods fetched on demand.

Lists keep the JSON exactly as served, except that items of built-in lists get the `kind` and
`apiVersion` the server leaves out, so listed and watched objects look the same.
"""

from __future__ import annotations

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Mapping

import urllib3
from kubernetes.client.exceptions import ApiException

from tui.kube.connection import DEFAULT_TIMEOUT, Connection
from tui.kube.resources import WatchSpec, watch_specs
from tui.model.raw import RAW_KEYS

PAGE_SIZE = 500
# A continue token that expires mid-list (410) restarts the list; give up after this many.
MAX_LIST_RESTARTS = 3
# Transient answers a one-shot read retries (the live cache has its own backoff).
TRANSIENT = {429, 500, 502, 503, 504}

def complete_items(listing: dict) -> list[dict]:
    """The list's items, each carrying kind and apiVersion (built-in lists omit them)."""
    kind = listing.get("kind") or ""
    item_kind = kind[:-4] if kind.endswith("List") else kind
    api_version = listing.get("apiVersion")
    items = listing.get("items") or []
    for item in items:
        if "kind" not in item and item_kind:
            item["kind"] = item_kind
        if "apiVersion" not in item and api_version:
            item["apiVersion"] = api_version
    return items


def list_all(conn: Connection, spec: WatchSpec, *, page_size: int = PAGE_SIZE,
             timeout=DEFAULT_TIMEOUT, each: Callable[[dict], dict] | None = None) -> tuple[list[dict], str]:
    """Every object of `spec` and the list's resourceVersion, page by page (limit + continue).
    `each` is applied to every object as its page arrives (so a whole list never exists twice).

    An expired continue token (410) restarts the list from the beginning.
    """
    for _ in range(MAX_LIST_RESTARTS):
        items: list[dict] = []
        token = None
        try:
            while True:
                query = {**spec.selectors, "limit": page_size, "continue": token}
                page = conn.request("GET", spec.path, query, timeout=timeout)
                page_items = complete_items(page)
                items.extend(page_items if each is None else map(each, page_items))
                meta = page.get("metadata") or {}
                token = meta.get("continue")
                if not token:
                    return items, meta.get("resourceVersion") or ""
        except ApiException as exc:
            if exc.status != 410 or token is None:
                raise
    raise ApiException(status=410, reason=f"Expired: {spec.path} kept expiring while listing")


def transient(exc: BaseException) -> bool:
    """Worth retrying soon: 429, 5xx, or a connection the server dropped (not refused, DNS or TLS,
    which do not heal in a second)."""
    if isinstance(exc, ApiException):
        return exc.status in TRANSIENT
    return isinstance(exc, (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError))


def list_with_retries(conn: Connection, spec: WatchSpec, attempts: int = 3,
                      delay: float = 0.5) -> tuple[list[dict], str]:
    """`list_all`, retrying a few transient failures for one-shot commands."""
    attempt = 0
    while True:
        try:
            return list_all(conn, spec)
        except Exception as exc:
            attempt += 1
            if not transient(exc) or attempt >= attempts:
                raise
            time.sleep(delay * 2 ** (attempt - 1))


def read_specs(conn: Connection, specs: list[WatchSpec], workers: int = 8) -> dict[str, list[dict]]:
    """List every spec once (in parallel) and group the items by RawCluster key.

    A collection the identity may not list (403) or the server does not have (404) reads as empty;
    other failures propagate.
    """
    def one(spec: WatchSpec) -> list[dict]:
        try:
            return list_with_retries(conn, spec)[0]
        except ApiException as exc:
            if exc.status in (403, 404):
                return []
            raise

    raw: dict[str, list[dict]] = {key: [] for key in RAW_KEYS}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="calico-tui-read") as pool:
        for spec, items in zip(specs, pool.map(one, specs)):
            raw.setdefault(spec.key, []).extend(items)
    return raw


def read_cluster(conn: Connection, served: Mapping[str, frozenset[str]]) -> dict[str, list[dict]]:
    """One read of everything the live cache would hold, without watching."""
    return read_specs(conn, watch_specs(served))


def pods_on_node(conn: Connection, node: str) -> list[dict]:
    """The pods bound to one node (field selector, as `kubectl drain` lists them)."""
    spec = WatchSpec("pods", "v1", "pods", field_selector=f"spec.nodeName={node}")
    return list_with_retries(conn, spec)[0]


def pods_in_pool(conn: Connection, cidr: str) -> list[dict]:
    """Pods (not host-network) with an IP inside `cidr`.

    The API cannot select by CIDR, so this lists pod-network pods and filters their podIPs.
    """
    network = ipaddress.ip_network(cidr, strict=False)
    spec = WatchSpec("pods", "v1", "pods", field_selector="spec.hostNetwork=false")
    return [pod for pod in list_with_retries(conn, spec)[0] if _has_ip_in(pod, network)]


def _has_ip_in(pod: dict, network) -> bool:
    status = pod.get("status") or {}
    addresses = [entry.get("ip") for entry in status.get("podIPs") or [] if isinstance(entry, dict)]
    addresses.append(status.get("podIP"))
    for text in addresses:
        try:
            if text and ipaddress.ip_address(text) in network:
                return True
        except ValueError:
            continue
    return False
