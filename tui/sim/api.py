"""`Api`: the simulated cluster's API semantics, shared by the HTTP server and the controllers.

One pipeline for every type: decode and type-check the body, fill server-set metadata, run the
type's `Strategy` (defaulting, validation, conversion to storage), maintain `generation`, handle
finalizers, graceful deletion and dry-run, and commit to the `Store`. Controllers running inside the
simulator call the same methods as HTTP clients, so both obey the same rules.

Objects are plain JSON dicts in served form; everything returned is a private copy. Methods may be
called from any thread: calls from outside the simulator's loop are run on the loop and waited for,
so tests can use `sim.api` directly.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import functools
import json
import logging
import random
import threading
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from tui.sim import errors, schema
from tui.sim.calico_v3 import CalicoV1Strategy, CalicoV3Strategy
from tui.sim.clock import Clock
from tui.model.disruption import budget, expected_pods, selector_matches
from tui.sim.kinds import BUILTIN_STRATEGIES, SERVICE_CIDR, CustomResourceStrategy
from tui.sim.naming import SAFE_ALPHABET
from tui.sim.patch import ApplyConflict, PatchError, apply_merge, json_patch, merge_patch, strategic_merge_patch
from tui.sim.resources import CALICO_V1_GROUP, CALICO_V3_GROUP, Registry, ResourceType, StorageKey
from tui.model.k8s_selectors import SelectorError, parse_field_selector, parse_label_selector, supported_fields
from tui.sim.store import Event, Store, TooOld, clone, meta, object_key, stamped, without_rv
from tui.sim.strategy import Strategy
from tui.sim.validation import check_metadata_types, check_types, field_path, metadata_causes

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
BUILTIN_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)
PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")
CRD_KEY: StorageKey = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES_KEY: StorageKey = ("", "namespaces")
PODS_KEY: StorageKey = ("", "pods")
SERVER_SET_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                       "generation")
TOO_OLD_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list.")
PDB_VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
WATCH_QUEUE_LIMIT = 50_000

DEFAULT_STRATEGY = Strategy()
CUSTOM_STRATEGY = CustomResourceStrategy()
GROUP_STRATEGIES: dict[str, Strategy] = {CALICO_V1_GROUP: CalicoV1Strategy(), CALICO_V3_GROUP: CalicoV3Strategy()}


@dataclass(frozen=True)
class ListResult:
    items: list[dict]
    resource_version: str
    continue_token: str | None = None
    remaining: int | None = None


def _on_loop(method):
    """Run the method on the simulator's loop (waiting for it) when called from another thread,
    and deliver subscriber notifications once the outermost call has finished."""

    @functools.wraps(method)
    def wrapper(self: Api, *args, **kwargs):
        loop = self._loop
        if loop is not None and threading.get_ident() != self._thread_id and loop.is_running():
            done: concurrent.futures.Future = concurrent.futures.Future()

            def run() -> None:
                try:
                    done.set_result(wrapper(self, *args, **kwargs))
                except BaseException as exc:  # handed to the calling thread
                    done.set_exception(exc)

            loop.call_soon_threadsafe(run)
            return done.result()
        self._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._dispatch()

    return wrapper


def encode_continue(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"rv": rv, "start": list(last)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        rv, start = data["rv"], data["start"]
        if not isinstance(rv, int) or not (isinstance(start, list) and len(start) == 2
                                           and all(isinstance(s, str) for s in start)):
            raise ValueError
        return rv, (start[0], start[1])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise errors.bad_request(f"continue key is not valid: {token!r}") from None


def parse_rv(text: str, what: str = "resource version") -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise errors.bad_request(f'invalid {what}: "{text}"') from None
    if value < 0:
        raise errors.bad_request(f'invalid {what}: "{text}"')
    return value


def apply_patch(obj: dict, body, content_type: str) -> dict:
    """A JSON patch, merge patch or strategic merge patch applied to `obj` (PatchError on failure)."""
    if content_type == JSON_PATCH:
        if not isinstance(body, list):
            raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        return json_patch(obj, body)
    if not isinstance(body, dict):
        raise errors.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    if content_type == MERGE_PATCH:
        return merge_patch(obj, body)
    return strategic_merge_patch(obj, body)


class Watch:
    """One consumer's view of the changes to a type: served form, namespace and selector filtered.

    Objects that start matching a selector arrive as ADDED and objects that stop matching as DELETED
    (the watch cache's behaviour). `queue` yields `(type, object)`; `None` means the watch ended
    (for example because the consumer fell too far behind).
    """

    def __init__(self, api: Api, res: ResourceType, namespace: str | None, labels, fields, copies: bool = True):
        self.api, self.res, self.namespace = api, res, namespace or None
        self._convert = api._served if copies else api._view
        self._labels, self._fields = labels, fields
        self._filtered = not (labels.empty and fields.empty)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.after = 0  # revisions up to this one are not news to the consumer
        self.closed = False
        self._unsubscribe: Callable[[], None] | None = None

    def matches(self, obj: dict) -> bool:
        return self._labels.matches(meta(obj).get("labels") or {}) and self._fields.matches(obj)

    def translate(self, event: Event) -> tuple[str, dict] | None:
        if event.key != self.res.storage_key:
            return None
        if self.namespace is not None and object_key(event.obj)[0] != self.namespace:
            return None
        new = self._convert(self.res, event.obj)
        if event.type != "MODIFIED" or not self._filtered:
            return (event.type, new) if self.matches(new) else None
        old = self._convert(self.res, event.old)
        was, now = self.matches(old), self.matches(new)
        if now:
            return ("MODIFIED" if was else "ADDED", new)
        return ("DELETED", stamped(old, event.rv)) if was else None

    def put(self, item: tuple[str, dict]) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= WATCH_QUEUE_LIMIT:
            log.warning("watch on %s fell %d events behind; closing it", self.res.qualified, WATCH_QUEUE_LIMIT)
            self.stop()
            return
        self.queue.put_nowait(item)

    def _offer(self, event: Event) -> None:
        if event.rv <= self.after:
            return
        item = self.translate(event)
        if item is not None:
            self.put(item)

    def stop(self) -> None:
        """Stop receiving events; the consumer sees `None` once the queue is drained."""
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class Api:
    def __init__(self, store: Store | None = None, clock: Clock | None = None, registry: Registry | None = None,
                 *, seed: int | str = 0, service_cidr: str = SERVICE_CIDR):
        self.store = store or Store()
        self.clock = clock or Clock()
        self.registry = registry or Registry()
        self.service_cidr = service_cidr
        self._rng = random.Random(str(seed))
        self._strategies: dict[tuple[str, str], Strategy] = {}
        self._subscribers: list[Callable] = []
        self._pending: list[Event] = []
        self._followups: list[Callable[[], None]] = []
        self._depth = 0
        self._dispatching = False
        self._logs: dict[tuple[str, str], list[str]] = {}
        self._known_types: dict[StorageKey, ResourceType] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        for crd in self.store.list(CRD_KEY):
            self.registry.set_crd(crd)
        self.store.listen(self._on_store_event)

    # --- wiring ------------------------------------------------------------------------------
    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Calls from other threads are marshalled onto `loop` from now on (call this on that loop)."""
        self._loop = loop
        self._thread_id = threading.get_ident()

    def set_strategy(self, group: str, plural: str, strategy: Strategy) -> None:
        """Give the served type (group, plural) its own rules; see tui.sim.strategy."""
        self._strategies[(group, plural)] = strategy

    def strategy(self, res: ResourceType) -> Strategy:
        key = (res.group, res.plural)
        found = self._strategies.get(key) or BUILTIN_STRATEGIES.get(key) or GROUP_STRATEGIES.get(res.group)
        return found or (CUSTOM_STRATEGY if res.custom else DEFAULT_STRATEGY)

    def subscribe(self, callback: Callable[[str, ResourceType, dict, dict | None], None]) -> Callable[[], None]:
        """`callback(event_type, res, obj, old)` after every committed change, in commit order.

        `res` is the storage type and objects are copies in storage form. Callbacks run after the
        API call that caused the change has finished, so they may call the Api themselves.
        """
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    # --- type lookup -------------------------------------------------------------------------
    def resource(self, group: str, version: str, plural: str) -> ResourceType:
        res = self.registry.lookup(group, version, plural)
        if res is None:
            raise errors.route_not_found()
        return res

    def type(self, plural: str, group: str = "") -> ResourceType:
        """The storage version of (group, plural), e.g. `api.type("ippools", "crd.projectcalico.org")`."""
        res = self.registry.storage_type((group, plural))
        if res is None:
            raise errors.route_not_found()
        return res

    def resource_for(self, obj: dict) -> ResourceType:
        res = self.registry.by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
        if res is None:
            raise errors.bad_request(f'no matches for kind "{obj.get("kind")}" in version "{obj.get("apiVersion")}"')
        return res

    # --- reading -----------------------------------------------------------------------------
    def _served(self, res: ResourceType, stored: dict) -> dict:
        return self.strategy(res).from_storage(self, res, clone(stored))

    def _view(self, res: ResourceType, stored: dict) -> dict:
        """The served form for read-only use (serialising a list or a watch event): when the type
        converts nothing but apiVersion and kind, a shallow copy sharing nested data with the store."""
        strategy = self.strategy(res)
        if type(strategy).from_storage is Strategy.from_storage:
            return {**stored, "apiVersion": res.api_version, "kind": res.kind}
        return strategy.from_storage(self, res, clone(stored))

    def _stored(self, res: ResourceType, namespace: str | None, name: str) -> dict:
        obj = self.store.get(res.storage_key, namespace or "" if res.namespaced else "", name)
        if obj is None:
            raise errors.not_found(res, name)
        return obj

    @_on_loop
    def get(self, res: ResourceType, namespace: str | None, name: str) -> dict:
        return self._served(res, self._stored(res, namespace, name))

    @_on_loop
    def exists(self, res: ResourceType, namespace: str | None, name: str) -> bool:
        return self.store.get(res.storage_key, namespace or "" if res.namespaced else "", name) is not None

    def _selectors(self, res: ResourceType, label_selector: str | None, field_selector: str | None):
        try:
            return (parse_label_selector(label_selector or ""),
                    parse_field_selector(field_selector or "", supported_fields(res.group, res.plural)))
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from None

    @_on_loop
    def list(self, res: ResourceType, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict], str]:
        page = self.list_page(res, namespace, label_selector, field_selector)
        return page.items, page.resource_version

    @_on_loop
    def list_page(self, res: ResourceType, namespace: str | None = None, label_selector: str | None = None,
                  field_selector: str | None = None, limit: int | None = None, continue_token: str | None = None,
                  resource_version: str | None = None, resource_version_match: str | None = None,
                  copies: bool = True) -> ListResult:
        """A list with the API's resourceVersion, resourceVersionMatch, limit and continue rules.
        `copies=False` returns read-only objects that may share data with the store (faster)."""
        self._require_verb(res, "list")
        labels, fields = self._selectors(res, label_selector, field_selector)
        current, start = self.store.resource_version, None
        if resource_version_match not in (None, "", "NotOlderThan", "Exact"):
            raise errors.bad_request(f'resourceVersionMatch: Unsupported value: "{resource_version_match}"')
        if resource_version_match and not resource_version:
            raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if continue_token:
            if resource_version not in (None, ""):
                raise errors.bad_request("specifying resource version is not allowed when using continue")
            at, start = decode_continue(continue_token)
            if at < self.store.compacted:
                raise errors.expired(TOO_OLD_CONTINUE, encode_continue(current, start))
            at = min(at, current)
        elif resource_version in (None, "", "0") and resource_version_match != "Exact":
            at = current
        else:
            requested = parse_rv(resource_version)
            if requested > current:
                raise errors.timeout(f"Too large resource version: {requested}, current: {current}")
            exact = resource_version_match == "Exact" or (not resource_version_match and limit)
            if exact and requested < self.store.compacted:
                raise errors.expired("The resourceVersion for the provided list is too old.")
            at = requested if exact else current
        ns = namespace or None if res.namespaced else None
        stored = self.store.list(res.storage_key, ns) if at == current else \
            self.store.list_at(res.storage_key, at, ns)
        items, remaining, last = [], 0, None
        unfiltered = labels.empty and fields.empty
        convert = self._served if copies else self._view
        for obj in stored:
            key = object_key(obj)
            if start is not None and key <= start:
                continue
            full = bool(limit) and len(items) >= limit
            if full and unfiltered:
                remaining += 1  # every further object counts; no need to convert it
                continue
            served = convert(res, obj)
            if not (labels.matches(meta(served).get("labels") or {}) and fields.matches(served)):
                continue
            if full:
                remaining += 1  # one more match proves there is a next page
                break
            items.append(served)
            last = key
        token = encode_continue(at, last) if remaining and last is not None else None
        return ListResult(items, str(at), token, remaining if remaining and unfiltered else None)

    @_on_loop
    def watch(self, res: ResourceType, namespace: str | None = None, label_selector: str | None = None,
              field_selector: str | None = None, resource_version: str | None = None,
              send_initial_events: bool | None = None, copies: bool = True) -> Watch:
        """Start a watch. Without a resourceVersion (or "0"), or with `send_initial_events`, current
        objects come first as ADDED; with `send_initial_events` a BOOKMARK annotated
        `k8s.io/initial-events-end` follows them. Raises 410 Expired when the history no longer
        reaches back to `resource_version`."""
        self._require_verb(res, "watch")
        labels, fields = self._selectors(res, label_selector, field_selector)
        watch = Watch(self, res, namespace if res.namespaced else None, labels, fields, copies)
        initial = send_initial_events if send_initial_events is not None else resource_version in (None, "", "0")
        if initial:
            for obj in self.store.list(res.storage_key, watch.namespace):
                served = watch._convert(res, obj)
                if watch.matches(served):
                    watch.put(("ADDED", served))
            if send_initial_events:
                watch.put(("BOOKMARK", self.bookmark(res, initial_events_end=True)))
        else:
            watch.after = self.store.resource_version if resource_version in (None, "", "0") \
                else parse_rv(resource_version)
            try:
                backlog = self.store.events_since(watch.after)
            except TooOld as exc:
                raise errors.expired(str(exc)) from None
            for event in backlog:
                watch._offer(event)
        watch._unsubscribe = self.store.listen(watch._offer)
        return watch

    def bookmark(self, res: ResourceType, initial_events_end: bool = False) -> dict:
        """A BOOKMARK object: only metadata.resourceVersion (the store's current revision) matters."""
        metadata: dict = {"resourceVersion": str(self.store.resource_version)}
        if initial_events_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": res.kind, "apiVersion": res.api_version, "metadata": metadata}

    # --- write helpers -----------------------------------------------------------------------
    def _require_verb(self, res: ResourceType, verb: str) -> None:
        if verb not in res.verbs or not res.stored:
            raise errors.method_not_allowed(res, verb)

    def _decode(self, res: ResourceType, namespace: str | None, body, field_validation: str | None) -> dict:
        """A private, type-checked copy of a request body with apiVersion, kind and namespace settled."""
        if not isinstance(body, dict):
            kind = "array" if isinstance(body, list) else type(body).__name__
            raise errors.bad_request(f"json: cannot unmarshal {kind} into Go value of type {res.kind}")
        obj = clone(body)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version not in (None, "") and api_version != res.api_version:
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                     f"API version ({res.api_version})")
        if kind not in (None, "") and kind != res.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        if obj.get("metadata") is None:
            obj["metadata"] = {}
        strict = field_validation == "Strict"
        if res.builtin:
            check_types(res, obj, strict)
        else:
            check_metadata_types(obj)
            if strict and res.schema:
                _, dropped = schema.prune(obj, res.schema)
                if dropped:
                    raise errors.bad_request(f'strict decoding error: unknown field "{dropped[0]}"')
        m = obj["metadata"]
        if res.namespaced:
            body_ns = m.get("namespace")
            if namespace and body_ns and body_ns != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            m["namespace"] = namespace or body_ns or ""
            if not m["namespace"]:
                raise errors.bad_request("the namespace of the provided object is required")
        else:
            m.pop("namespace", None)
        return obj

    def _require_namespace(self, res: ResourceType, namespace: str, name: str) -> None:
        ns = self.store.get(NAMESPACES_KEY, "", namespace)
        if ns is None:
            raise errors.namespace_not_found(namespace)
        if meta(ns).get("deletionTimestamp"):
            exc = errors.forbidden_message(res, name, f"unable to create new content in namespace {namespace} "
                                                      "because it is being terminated")
            exc.status["details"]["causes"] = [{"reason": "NamespaceTerminating", "message": exc.status["message"],
                                                "field": "metadata.namespace"}]
            raise exc

    def _uid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _spec_changed(self, res: ResourceType, new: dict, old: dict) -> bool:
        ignored = {"metadata", "apiVersion", "kind"} | ({"status"} if res.has_status else set())
        keys = (set(new) | set(old)) - ignored
        return any(new.get(k) != old.get(k) for k in keys)

    # --- create ------------------------------------------------------------------------------
    @_on_loop
    def create(self, res: ResourceType, namespace: str | None, obj: dict, dry_run: bool = False,
               field_manager: str | None = None, field_validation: str | None = None) -> dict:
        """POST: returns the stored object (201). AlreadyExists 409, namespace NotFound 404."""
        return self._create(res, namespace, obj, dry_run, field_validation)

    def _create(self, res: ResourceType, namespace: str | None, body, dry_run: bool,
                field_validation: str | None = None, preserve: bool = False) -> dict:
        self._require_verb(res, "create")
        obj = self._decode(res, namespace, body, field_validation)
        m = obj["metadata"]
        if not m.get("name") and isinstance(m.get("generateName"), str) and m["generateName"]:
            for _ in range(8):
                m["name"] = m["generateName"] + "".join(self._rng.choice(SAFE_ALPHABET) for _ in range(5))
                if self.store.get(res.storage_key, m.get("namespace", ""), m["name"]) is None:
                    break
        ns, name = m.get("namespace", ""), m.get("name") or ""
        if res.namespaced:
            self._require_namespace(res, ns, name)
        m.pop("resourceVersion", None)
        m.pop("selfLink", None)
        if preserve:
            m.setdefault("uid", self._uid())
            m.setdefault("creationTimestamp", self.clock.timestamp())
        else:
            m["uid"] = self._uid()
            m["creationTimestamp"] = self.clock.timestamp()
            m.pop("deletionTimestamp", None)
            m.pop("deletionGracePeriodSeconds", None)
        if res.tracks_generation:
            m["generation"] = 1
        else:
            m.pop("generation", None)
        causes = metadata_causes(obj)
        if causes:
            raise errors.invalid(res, name, causes)
        status = obj.get("status")
        self.strategy(res).prepare_create(self, res, obj, dry_run=dry_run)
        if preserve and status is not None:
            obj["status"] = status
        if self.store.get(res.storage_key, ns, name) is not None:
            raise errors.already_exists(res, name)
        stored = self.strategy(res).to_storage(self, res, obj, None)
        if dry_run:
            return self._served(res, stored)
        return self._served(res, self.store.create(res.storage_key, stored))

    @_on_loop
    def load(self, objects: Iterable[dict]) -> list[dict]:
        """Create a cluster's objects as they are given, status, uid and creationTimestamp included
        (scenarios and snapshots); CRDs and namespaces go first so everything else has a home."""
        def rank(obj: dict) -> int:
            return {"CustomResourceDefinition": 0, "Namespace": 1}.get(obj.get("kind"), 2)

        created = []
        for obj in sorted(objects, key=rank):
            res = self.resource_for(obj)
            created.append(self._create(res, meta(obj).get("namespace"), obj, False, preserve=True))
        return created

    # --- update and patch --------------------------------------------------------------------
    def _check_subresource(self, res: ResourceType, subresource: str | None) -> None:
        if subresource is not None and (subresource != "status" or not res.has_status):
            raise errors.route_not_found()

    @_on_loop
    def update(self, res: ResourceType, namespace: str | None, name: str, obj: dict, subresource: str | None = None,
               dry_run: bool = False, field_manager: str | None = None,
               field_validation: str | None = None) -> dict:
        """PUT: 409 Conflict on a stale metadata.resourceVersion; custom resources require one."""
        self._require_verb(res, "update")
        self._check_subresource(res, subresource)
        new = self._decode(res, namespace, obj, field_validation)
        body_name = new["metadata"].get("name")
        if body_name and body_name != name:
            raise errors.bad_request(f"the name of the object ({body_name}) does not match the name on the URL "
                                     f"({name})")
        new["metadata"]["name"] = name
        stored = self._stored(res, new["metadata"].get("namespace"), name)
        current = self._served(res, stored)
        rv = new["metadata"].get("resourceVersion")
        if rv:
            if rv != meta(current).get("resourceVersion"):
                raise errors.conflict(res, name)
        elif res.custom:
            raise errors.invalid(res, name, [errors.field_error("Invalid", "metadata.resourceVersion",
                                                                "must be specified for an update", "0x0")])
        return self._write(res, current, stored, new, subresource, dry_run)

    @_on_loop
    def patch(self, res: ResourceType, namespace: str | None, name: str, body, content_type: str,
              subresource: str | None = None, dry_run: bool = False, field_manager: str | None = None,
              force: bool = False, field_validation: str | None = None) -> dict:
        """PATCH with any of the four patch types; server-side apply creates a missing object."""
        self._require_verb(res, "patch")
        self._check_subresource(res, subresource)
        ct = (content_type or "").split(";")[0].strip().lower()
        accepted = CUSTOM_PATCH_TYPES if res.custom else BUILTIN_PATCH_TYPES
        if ct not in accepted:
            raise errors.unsupported_media_type(ct, accepted)
        ns = (namespace or "") if res.namespaced else ""
        stored = self.store.get(res.storage_key, ns, name)
        try:
            if ct == APPLY_PATCH:
                if not field_manager:
                    raise errors.invalid(None, "", [errors.field_error("Required", "fieldManager",
                                                                       "is required for apply patch")],
                                         kind="PatchOptions.meta.k8s.io")
                if stored is None:
                    if subresource:
                        raise errors.not_found(res, name)
                    body = {**body, "metadata": {**(body.get("metadata") or {}), "name": name}} \
                        if isinstance(body, dict) else body
                    return self._create(res, namespace, apply_merge(None, body, field_manager, force), dry_run,
                                        field_validation)
                current = self._served(res, stored)
                patched = apply_merge(current, body, field_manager, force)
            else:
                if stored is None:
                    raise errors.not_found(res, name)
                current = self._served(res, stored)
                patched = apply_patch(current, body, ct)
        except ApplyConflict as exc:
            raise errors.error(409, str(exc), "Conflict", {**errors._details(res, name), "causes": exc.causes}) \
                from None
        except PatchError as exc:
            raise errors.error(exc.code, str(exc)) from None
        if not isinstance(patched, dict):
            raise errors.error(422, "the patched object is not a JSON object")
        patched_meta = patched.get("metadata") if isinstance(patched.get("metadata"), dict) else {}
        rv = patched_meta.get("resourceVersion")
        if rv and rv != meta(current).get("resourceVersion"):
            raise errors.conflict(res, name)
        if patched_meta.get("name", name) != name:
            raise errors.bad_request(f"the name of the object ({patched_meta.get('name')}) does not match the "
                                     f"name on the URL ({name})")
        new = self._decode(res, namespace, patched, field_validation)
        new["metadata"]["name"] = name
        return self._write(res, current, stored, new, subresource, dry_run)

    def _write(self, res: ResourceType, current: dict, stored: dict, new: dict, subresource: str | None,
               dry_run: bool) -> dict:
        """The shared tail of PUT and PATCH: server-owned fields, status split, generation, no-op
        detection, and removal once the last finalizer of a deleted object is gone."""
        old_meta = meta(current)
        m = new["metadata"]
        for key in SERVER_SET_METADATA:
            if key in old_meta:
                m[key] = old_meta[key]
            else:
                m.pop(key, None)
        m.pop("selfLink", None)
        m["resourceVersion"] = old_meta.get("resourceVersion")
        if subresource == "status":
            status = new.get("status")
            new = clone(current)
            m = new["metadata"]
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif res.has_status:
            if "status" in current:
                new["status"] = clone(current["status"])
            else:
                new.pop("status", None)
        causes = metadata_causes(new)
        if old_meta.get("deletionTimestamp"):
            added = set(m.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                causes.append(errors.field_error("Forbidden", "metadata.finalizers",
                                                 "no new finalizers can be added if the object is being deleted"))
        if causes:
            raise errors.invalid(res, m.get("name", ""), causes)
        strategy = self.strategy(res)
        if subresource != "status":
            strategy.prepare_update(self, res, new, current, dry_run=dry_run)
        if res.tracks_generation and self._spec_changed(res, new, current):
            m["generation"] = int(old_meta.get("generation") or 0) + 1
        new_stored = strategy.to_storage(self, res, new, stored)
        if without_rv(new_stored) == without_rv(stored):
            return current
        remove = (old_meta.get("deletionTimestamp") and not m.get("finalizers")
                  and old_meta.get("deletionGracePeriodSeconds") == 0 and not strategy.deletion_blocked(new))
        if dry_run:
            return self._served(res, new_stored)
        if remove:
            return self._served(res, self.store.delete(res.storage_key, *object_key(stored), final=new_stored))
        return self._served(res, self.store.update(res.storage_key, new_stored))

    # --- delete ------------------------------------------------------------------------------
    def _has_dependents(self, uid: str) -> bool:
        return any(ref.get("uid") == uid for key in self.store.keys() for obj in self.store.list(key)
                   for ref in meta(obj).get("ownerReferences") or [])

    @_on_loop
    def delete(self, res: ResourceType, namespace: str | None, name: str, grace_period_seconds: int | None = None,
               propagation_policy: str | None = None, preconditions: dict | None = None,
               dry_run: bool = False) -> dict:
        """DELETE: the object, still present with a deletionTimestamp (finalizers, graceful pods), or
        for pods the removed object, or a Success Status. `grace_period_seconds=0` finishes a
        graceful deletion (what the kubelet does)."""
        self._require_verb(res, "delete")
        if propagation_policy not in (None, "", *PROPAGATION_POLICIES):
            raise errors.bad_request(f'propagationPolicy: Unsupported value: "{propagation_policy}": supported '
                                     'values: "Foreground", "Background", "Orphan"')
        stored = self._stored(res, namespace, name)
        current = self._served(res, stored)
        m = meta(current)
        for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = (preconditions or {}).get(field)
            if wanted and wanted != m.get(field):
                raise errors.conflict(res, name, f"Precondition failed: {label} in precondition: {wanted}, "
                                                 f"{label} in object meta: {m.get(field)}")
        strategy = self.strategy(res)
        strategy.before_delete(self, res, current, dry_run)
        finalizers = list(m.get("finalizers") or [])
        wanted_finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(propagation_policy or "")
        if wanted_finalizer and wanted_finalizer not in finalizers and not m.get("deletionTimestamp") \
                and self._has_dependents(m.get("uid", "")):
            finalizers.append(wanted_finalizer)
        new = clone(current)
        nm = new["metadata"]
        if m.get("deletionTimestamp"):
            grace = strategy.grace_period(current, grace_period_seconds)
            if grace_period_seconds is None or grace >= (m.get("deletionGracePeriodSeconds") or 0):
                return current
            nm["deletionTimestamp"] = min(m["deletionTimestamp"], self.clock.timestamp(grace))
        else:
            grace = strategy.grace_period(current, grace_period_seconds)
            if grace == 0 and not finalizers and not strategy.deletion_blocked(current):
                return self._remove(res, stored, current, dry_run)
            nm["deletionTimestamp"] = self.clock.timestamp(grace)
            if finalizers:
                nm["finalizers"] = finalizers
            if res.tracks_generation and nm.get("generation"):
                nm["generation"] += 1
            strategy.mark_deleting(new)
        nm["deletionGracePeriodSeconds"] = grace
        if grace == 0 and not nm.get("finalizers") and not strategy.deletion_blocked(new):
            return self._remove(res, stored, current, dry_run)
        new_stored = strategy.to_storage(self, res, new, stored)
        if dry_run:
            return self._served(res, new_stored)
        return self._served(res, self.store.update(res.storage_key, new_stored))

    def _remove(self, res: ResourceType, stored: dict, current: dict, dry_run: bool) -> dict:
        last = current if dry_run else self._served(res, self.store.delete(res.storage_key, *object_key(stored)))
        if res.storage_key == PODS_KEY:
            return last
        details = {"name": meta(current).get("name", "")}
        if res.group:
            details["group"] = res.group
        details.update(kind=res.plural, uid=meta(current).get("uid", ""))
        return errors.success(details)

    @_on_loop
    def delete_collection(self, res: ResourceType, namespace: str | None, label_selector: str | None = None,
                          field_selector: str | None = None, grace_period_seconds: int | None = None,
                          propagation_policy: str | None = None, dry_run: bool = False) -> list[dict]:
        self._require_verb(res, "deletecollection")
        items, _ = self.list(res, namespace, label_selector, field_selector)
        for item in items:
            m = meta(item)
            try:
                self.delete(res, m.get("namespace"), m["name"], grace_period_seconds, propagation_policy,
                            dry_run=dry_run)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return items

    # --- pods --------------------------------------------------------------------------------
    @_on_loop
    def evict(self, namespace: str, name: str, eviction: dict | None = None, dry_run: bool = False) -> dict:
        """pods/eviction: a graceful delete unless it would break the pod's PodDisruptionBudget (429)."""
        pods = self.type("pods")
        eviction = eviction if isinstance(eviction, dict) else {}
        body_name = (eviction.get("metadata") or {}).get("name") if isinstance(eviction.get("metadata"), dict) \
            else None
        if body_name and body_name != name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        options = eviction.get("deleteOptions") or {}
        if not isinstance(options, dict):
            raise errors.bad_request("deleteOptions must be an object")
        pod = self.get(pods, namespace, name)
        phase = (pod.get("status") or {}).get("phase")
        if not (meta(pod).get("deletionTimestamp") or phase in ("Succeeded", "Failed", "Pending")):
            self._check_budget(pod, dry_run)
        grace = options.get("gracePeriodSeconds")
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
            raise errors.bad_request("deleteOptions.gracePeriodSeconds must be an integer")
        self.delete(pods, namespace, name, grace_period_seconds=grace,
                    preconditions=options.get("preconditions") if isinstance(options.get("preconditions"), dict)
                    else None, dry_run=dry_run)
        return errors.success(code=201)

    def _check_budget(self, pod: dict, dry_run: bool) -> None:
        pdb_type = self.type("poddisruptionbudgets", "policy")
        namespace = meta(pod).get("namespace", "")
        labels = meta(pod).get("labels") or {}
        pdbs = [p for p in self.store.list(pdb_type.storage_key, namespace)
                if selector_matches((p.get("spec") or {}).get("selector"), labels)]
        if not pdbs:
            return
        if len(pdbs) > 1:
            raise errors.internal("This pod has more than one PodDisruptionBudget, which the eviction "
                                  "subresource does not support.")
        pdb = pdbs[0]
        selector = (pdb.get("spec") or {}).get("selector")
        selected = [p for p in self.store.list(PODS_KEY, namespace)
                    if selector_matches(selector, meta(p).get("labels"))]
        status = budget(pdb, selected, expected_pods(selected, self._owner))
        if status["disruptionsAllowed"] <= 0:
            raise errors.too_many_requests(PDB_VIOLATION, [{
                "reason": "DisruptionBudget",
                "message": f"The disruption budget {meta(pdb).get('name')} needs {status['desiredHealthy']} "
                           f"healthy pods and has {status['currentHealthy']} currently"}])
        if not dry_run:
            status["disruptionsAllowed"] -= 1
            current = self._served(pdb_type, pdb)
            new_status = {**(current.get("status") or {}), **status,
                          "observedGeneration": meta(pdb).get("generation", 1)}
            self._write(pdb_type, current, pdb, {**clone(current), "status": new_status}, "status", False)

    def _owner(self, ref: dict, namespace: str) -> dict | None:
        res = self.registry.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        return self.store.get(res.storage_key, namespace, ref.get("name", "")) if res else None

    @_on_loop
    def bind_pod(self, namespace: str, name: str, node_name: str) -> dict:
        """pods/binding: assign a node to an unscheduled pod (what the scheduler does)."""
        pods = self.type("pods")
        stored = self._stored(pods, namespace, name)
        current = self._served(pods, stored)
        assigned = (current.get("spec") or {}).get("nodeName")
        if assigned:
            raise errors.conflict(pods, name, f'pod {name} is already assigned to node "{assigned}"')
        if meta(current).get("deletionTimestamp"):
            raise errors.conflict(pods, name, f"pod {name} is being deleted, cannot be assigned to a host")
        new = clone(current)
        new["spec"]["nodeName"] = node_name
        conditions = [c for c in (new.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": self.clock.timestamp()})
        new.setdefault("status", {})["conditions"] = conditions
        return self._served(pods, self.store.update(PODS_KEY, self.strategy(pods).to_storage(self, pods, new, stored)))

    @_on_loop
    def append_log(self, namespace: str, name: str, text: str) -> None:
        """Add lines to a pod's log (what `pods/log` serves); dropped with the pod."""
        self._logs.setdefault((namespace, name), []).extend(text.splitlines())

    @_on_loop
    def read_log(self, namespace: str, name: str, tail_lines: int | None = None) -> str:
        self._stored(self.type("pods"), namespace, name)
        lines = self._logs.get((namespace, name), [])
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        return "".join(line + "\n" for line in lines)

    # --- snapshots ---------------------------------------------------------------------------
    @_on_loop
    def snapshot(self) -> dict:
        return {"store": self.store.snapshot(),
                "logs": [{"namespace": ns, "name": name, "lines": list(lines)}
                         for (ns, name), lines in sorted(self._logs.items())]}

    @_on_loop
    def restore(self, snapshot: dict) -> None:
        """Bring the cluster back to `snapshot`; revisions stay monotonic and watchers see the diff."""
        self.store.restore(snapshot["store"])
        self._logs = {(e["namespace"], e["name"]): list(e["lines"]) for e in snapshot.get("logs", [])}

    # --- notifications -----------------------------------------------------------------------
    def _on_store_event(self, event: Event) -> None:
        res = self.registry.storage_type(event.key)
        if res is not None:
            self._known_types[event.key] = res
        if event.key == CRD_KEY:
            if event.type == "DELETED":
                self.registry.remove_crd(meta(event.obj).get("name", ""))
                spec = event.obj.get("spec") or {}
                key = (spec.get("group"), (spec.get("names") or {}).get("plural"))
                self._followups.append(functools.partial(self._drop_all, key))
            else:
                self.registry.set_crd(event.obj)
        elif event.key == PODS_KEY and event.type == "DELETED":
            self._logs.pop(object_key(event.obj), None)
        self._pending.append(event)
        if self._depth == 0:
            self._dispatch()

    def _drop_all(self, key: StorageKey) -> None:
        """A CRD is gone: so are its objects."""
        for obj in list(self.store.list(key)):
            self.store.delete(key, *object_key(obj))

    def _dispatch(self) -> None:
        if self._dispatching:
            return
        self._dispatching = True
        self._depth += 1
        try:
            while self._pending or self._followups:
                if self._followups:
                    self._followups.pop(0)()
                    continue
                event = self._pending.pop(0)
                res = self._known_types.get(event.key)
                for callback in list(self._subscribers):
                    try:
                        callback(event.type, res, clone(event.obj), clone(event.old) if event.old else None)
                    except Exception:
                        log.exception("subscriber %r failed on %s %s", callback, event.type, event.key)
        finally:
            self._depth -= 1
            self._dispatching = False
