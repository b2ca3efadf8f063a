"""The simulated cluster's HTTP face: kube-apiserver's wire protocol over aiohttp.

Routing, query parsing, content negotiation, authentication and authorization, watch streaming and
the loopback-only control surface `/_sim/*` live here; every API rule lives in `Api`. Failures are
always `Status` objects: an unexpected exception becomes a 500 InternalError, is logged, and is kept
in `unexpected_errors` so that tests can fail on it.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import json
import logging
import math
import time
import traceback
from collections import deque
from datetime import datetime, timezone
from typing import Awaitable, Callable
from urllib.parse import unquote

import yaml
from aiohttp import web

from tui.sim import errors
from tui.sim.api import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Api, Watch, apply_patch
from tui.sim.auth import Auth, Identity
from tui.sim.discovery import VERSION_INFO, api_group, api_group_list, api_versions, resource_list
from tui.sim.patch import PatchError
from tui.sim.openapi import group_version_path, openapi_group_version, openapi_root
from tui.sim.protobuf import ProtobufError, decode_unknown
from tui.sim.resources import ResourceType
from tui.sim.tables import to_table, wants_table

log = logging.getLogger(__name__)

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", APPLY_PATCH)
MAX_BODY = 3 * 1024 * 1024 + 1024  # etcd's request limit, like kube-apiserver
TRUE = {"1", "t", "T", "TRUE", "true", "True"}
FALSE = {"0", "f", "F", "FALSE", "false", "False"}
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
VIRTUAL = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}
WATCH_POLL = 1.0  # real seconds between checks of a quiet watch (bookmarks, client gone, drop fault)
Handler = Callable[[web.Request], "Awaitable[object] | object"]
LOG_ENTRY = web.RequestKey("log_entry", dict)
IDENTITY = web.RequestKey("identity", Identity)


class _YamlLoader(yaml.SafeLoader):
    """YAML as JSON sees it: timestamps stay strings (`creationTimestamp` must not become a datetime)."""


_YamlLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _reject_constant(name: str):
    raise ValueError(f"invalid JSON constant {name}")


def parse_bool(value: str | None, name: str) -> bool | None:
    """Go's strconv.ParseBool, as the apiserver parses query booleans."""
    if value is None:
        return None
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax for {name}')


def parse_int(value: str | None, name: str, minimum: int | None = None) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax for {name}') from None
    if abs(number) > 2**63 - 1 or (minimum is not None and number < minimum):
        raise errors.bad_request(f'{name}: Invalid value: {value}')
    return number


def to_json(obj) -> bytes:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate (from a `\ud800` escape in a request) echoed in a message: Go's encoder
        # writes U+FFFD for what is not valid UTF-8, and so do we; a surrogate pair becomes its character.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def json_response(obj, status: int = 200) -> web.Response:
    return web.Response(body=to_json(obj), status=status, content_type=JSON)


def status_response(error: errors.ApiError) -> web.Response:
    return json_response(error.status, error.code)


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


class Faults:
    """Injected misbehaviour, steered through `/_sim/faults` or directly by tests."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.expire_watches = 0  # the next N watches get a 410 ERROR event
        self.failures: list[dict] = []  # {"count", "code", "prefix", "message", "afterApply"}
        self._resumed = asyncio.Event()
        self._resumed.set()

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    async def wait_resumed(self) -> None:
        await self._resumed.wait()

    def fail(self, count: int, code: int, prefix: str = "", message: str = "", after_apply: bool = False) -> None:
        """The next `count` requests under `prefix` fail with `code`; with `after_apply`, only writes
        (not dry-runs), and each takes effect before its answer is replaced by the error (a response
        lost on the way back, which is what makes a retried write dangerous)."""
        self.failures.append({"count": count, "code": code, "prefix": prefix, "message": message,
                              "afterApply": after_apply})

    def take_failure(self, path: str, write: bool = False) -> tuple[errors.ApiError, bool] | None:
        """The injected error for this request and whether to apply the request first, or None."""
        for rule in self.failures:
            if path.startswith(rule["prefix"]) and rule["count"] > 0 and (write or not rule["afterApply"]):
                rule["count"] -= 1
                self.failures = [r for r in self.failures if r["count"] > 0]
                message = rule["message"] or f"injected failure ({rule['code']})"
                return errors.error(rule["code"], message), rule["afterApply"]
        return None

    def take_expire(self) -> bool:
        if self.expire_watches > 0:
            self.expire_watches -= 1
            return True
        return False

    def clear(self) -> None:
        self.latency, self.expire_watches, self.failures = 0.0, 0, []
        self.resume()

    def state(self) -> dict:
        return {"latency": self.latency, "expireWatches": self.expire_watches, "paused": self.paused,
                "failures": [dict(r) for r in self.failures]}


class ApiServer:
    def __init__(self, api: Api, auth: Auth, *, bookmark_interval: float = 5.0, request_log_size: int = 20000):
        self.api = api
        self.auth = auth
        self.clock = api.clock
        self.faults = Faults()
        self.bookmark_interval = bookmark_interval
        self.requests: deque[dict] = deque(maxlen=request_log_size)
        self.unexpected_errors: list[str] = []
        self.address = ""  # host:port once listening (for /api serverAddressByClientCIDRs)
        self._control: dict[tuple[str, str], Handler] = {}
        self._closing: set[asyncio.Event] = set()
        self.app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        self.app.router.add_route("*", "/{tail:.*}", self._route)
        self._add_fault_routes()

    # --- control surface ---------------------------------------------------------------------
    def add_control_route(self, method: str, path: str, handler: Handler) -> None:
        """Serve `handler(request)` at `/_sim/<path>` (loopback only, no auth). It may be async and may
        return a web.Response or any JSON value (sent with 200)."""
        self._control[(method.upper(), "/_sim/" + path.strip("/"))] = handler

    def drop_watches(self) -> int:
        """End every open watch stream cleanly, as an apiserver restart or a proxy timeout does."""
        closing = list(self._closing)
        for event in closing:
            event.set()
        return len(closing)

    @property
    def open_watches(self) -> int:
        return len(self._closing)

    def _add_fault_routes(self) -> None:
        async def body(request: web.Request) -> dict:
            raw = await request.read()
            data = json.loads(raw) if raw.strip() else {}
            if not isinstance(data, dict):
                raise errors.bad_request("expected a JSON object")
            return data

        def number(data: dict, key: str, default, kind=int):
            value = data.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise errors.bad_request(f"{key} must be a non-negative number")
            return kind(value)

        async def drop(request):
            return {"dropped": self.drop_watches()}

        async def expire(request):
            data = await body(request)
            self.faults.expire_watches += number(data, "count", 1)
            return self.faults.state()

        async def fail(request):
            data = await body(request)
            code = number(data, "code", 500)
            if not 400 <= code <= 599:
                raise errors.bad_request("code must be a 4xx or 5xx status")
            self.faults.fail(number(data, "count", 1), code, str(data.get("pathPrefix", "")),
                             str(data.get("message", "")), bool(data.get("afterApply", False)))
            return self.faults.state()

        async def latency(request):
            self.faults.latency = number(await body(request), "seconds", 0.0, float)
            return self.faults.state()

        def requests(request):
            return list(self.requests)

        def clear_requests(request):
            self.requests.clear()
            return {}

        routes = [("POST", "faults/drop-watches", drop), ("POST", "faults/expire-watches", expire),
                  ("POST", "faults/fail", fail), ("POST", "faults/latency", latency),
                  ("POST", "faults/pause", lambda r: (self.faults.pause(), self.faults.state())[1]),
                  ("POST", "faults/resume", lambda r: (self.faults.resume(), self.faults.state())[1]),
                  ("POST", "faults/clear", lambda r: (self.faults.clear(), self.faults.state())[1]),
                  ("GET", "faults", lambda r: self.faults.state()),
                  ("GET", "requests", requests), ("DELETE", "requests", clear_requests)]
        for method, path, handler in routes:
            self.add_control_route(method, path, handler)

    async def _control_route(self, request: web.Request) -> web.StreamResponse:
        if not _is_loopback(request.remote):
            raise errors.error(403, "the control surface is only served on loopback", "Forbidden")
        handler = self._control.get((request.method, request.path.rstrip("/")))
        if handler is None:
            raise errors.route_not_found()
        try:
            result = handler(request)
            if inspect.isawaitable(result):
                result = await result
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.bad_request(f"bad control request: {exc}") from None
        return result if isinstance(result, web.StreamResponse) else json_response(result)

    # --- middleware ----------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        entry = {"time": time.time(), "method": request.method, "path": request.path,
                 "query": request.query_string, "identity": None, "code": None}
        request[LOG_ENTRY] = entry
        try:
            if request.path.startswith("/_sim/"):
                response = await self._control_route(request)
            else:
                self.requests.append(entry)
                response = await self._serve(request, handler, entry)
        except errors.ApiError as exc:
            response = status_response(exc)
        except web.HTTPException as exc:
            response = status_response(errors.error(exc.status, exc.reason or exc.text or ""))
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:
            message = f"{request.method} {request.path_qs}: {traceback.format_exc()}"
            log.error("unexpected error serving %s", message)
            self.unexpected_errors.append(message)
            response = status_response(errors.internal(f"an unexpected error occurred: {exc}"))
        if entry["code"] is None:
            entry["code"] = response.status
        return response

    async def _serve(self, request: web.Request, handler, entry: dict) -> web.StreamResponse:
        await self.faults.wait_resumed()
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        injected = self.faults.take_failure(request.path, request.method in WRITE_METHODS
                                            and request.query.get("dryRun") != "All")
        if injected is not None and not injected[1]:
            raise injected[0]
        if request.path.rstrip("/") not in PUBLIC_PATHS:
            identity = self.auth.authenticate(request.headers.get("Authorization"))
            if identity is None:
                raise errors.unauthorized()
            request[IDENTITY] = identity
            entry["identity"] = identity.name
        response = await handler(request)
        if injected is not None:
            entry["applied"] = response.status
            raise injected[0]
        return response

    # --- routing -------------------------------------------------------------------------------
    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        parts = [unquote(p) for p in path.split("/") if p]
        if request.method == "GET":
            document = self._static_document(path, parts)
            if document is not None:
                return document
        if len(parts) >= 2 and parts[0] == "api" or len(parts) >= 3 and parts[0] == "apis":
            return await self._resource_request(request, parts)
        raise errors.route_not_found()

    def _static_document(self, path: str, parts: list[str]) -> web.StreamResponse | None:
        registry = self.api.registry
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/version":
            return json_response(VERSION_INFO)
        if parts == ["api"]:
            return json_response(api_versions(self.address))
        if parts == ["apis"]:
            return json_response(api_group_list(registry))
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        if len(parts) == 2 and parts[0] == "api":
            document = resource_list(registry, "", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            document = api_group(registry, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            document = resource_list(registry, parts[1], parts[2])
        else:
            return None
        if document is None:
            raise errors.route_not_found()
        return json_response(document)

    def _openapi(self, rest: list[str]) -> web.StreamResponse:
        group_versions = [(g, v) for g, versions in self.api.registry.group_versions().items() for v in versions]
        if not rest:
            return json_response(openapi_root(group_versions))
        for group, version in group_versions:
            if "/".join(rest) == group_version_path(group, version):
                kinds = [t.kind for t in self.api.registry.in_group_version(group, version)]
                return json_response(openapi_group_version(group, version, kinds))
        raise errors.route_not_found()

    def _parse_resource_path(self, parts: list[str]):
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        legacy_watch = bool(rest) and rest[0] == "watch"
        if legacy_watch:
            rest = rest[1:]
        namespace = None
        namespace_sub = group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")
        if len(rest) >= 3 and rest[0] == "namespaces" and not namespace_sub:
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise errors.route_not_found()
        res = self.api.registry.lookup(group, version, rest[0])
        if res is None or (namespace is not None and not res.namespaced):
            raise errors.route_not_found()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if res.namespaced and name is not None and namespace is None:
            raise errors.route_not_found()
        if subresource is not None and res.subresource(subresource) is None:
            raise errors.route_not_found()
        return res, namespace, name, subresource, legacy_watch

    async def _resource_request(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        res, namespace, name, sub, legacy_watch = self._parse_resource_path(parts)
        q, method = request.query, request.method
        identity: Identity = request[IDENTITY]
        watching = legacy_watch or bool(parse_bool(q.get("watch"), "watch"))
        verb = None if legacy_watch and method != "GET" else _verb(method, name, sub, watching)
        if verb is None or verb not in (res.subresource(sub).verbs if sub else res.verbs):
            raise errors.method_not_allowed(res)
        if res.namespaced and namespace is None and verb in ("create", "deletecollection"):
            raise errors.method_not_allowed(res)
        resource_name = f"{res.plural}/{sub}" if sub else res.plural
        self.auth.authorize(identity, verb, res.group, resource_name, namespace, name)
        if res.plural in VIRTUAL and res.group in ("authorization.k8s.io", "authentication.k8s.io"):
            return await self._review(request, res, identity)
        if verb in ("list", "watch"):
            return await self._list_or_watch(request, res, namespace, verb == "watch")
        dry_run = self._dry_run(q)
        if verb == "get":
            if sub == "log":
                return self._log(res, namespace, name, q)
            if sub == "scale":
                return json_response(scale_of(self.api.get(res, namespace, name)))
            return self._object_response(request, res, self.api.get(res, namespace, name))
        if verb == "delete":
            return await self._delete(request, res, namespace, name, dry_run)
        if verb == "deletecollection":
            return await self._delete_collection(request, res, namespace, dry_run)
        body = await self._body(request, patch=verb == "patch")
        common = {"dry_run": dry_run, "field_validation": self._field_validation(q)}
        if verb == "create" and sub == "eviction":
            return json_response(self.api.evict(namespace, name, body, dry_run=dry_run), 201)
        if verb == "create" and sub == "binding":
            return json_response(self._bind(namespace, name, body), 201)
        if verb == "create":
            return json_response(self.api.create(res, namespace, body, field_manager=q.get("fieldManager"),
                                                 **common), 201)
        if sub == "scale":
            return json_response(self._scale(request, res, namespace, name, body, verb, dry_run))
        if sub == "finalize":
            return json_response(self._finalize(res, name, body, dry_run))
        if verb == "update":
            return json_response(self.api.update(res, namespace, name, body, subresource=sub,
                                                 field_manager=q.get("fieldManager"), **common))
        content_type = request.content_type
        existed = self.api.exists(res, namespace, name)
        result = self.api.patch(res, namespace, name, body, content_type, subresource=sub,
                                field_manager=q.get("fieldManager"), force=bool(parse_bool(q.get("force"), "force")),
                                **common)
        return json_response(result, 200 if existed else 201)

    # --- request pieces ------------------------------------------------------------------------
    @staticmethod
    def _dry_run(q) -> bool:
        values = q.getall("dryRun", [])
        for value in values:
            if value != "All":
                raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
        return bool(values)

    @staticmethod
    def _field_validation(q) -> str | None:
        value = q.get("fieldValidation")
        if value not in (None, "", "Ignore", "Warn", "Strict"):
            raise errors.bad_request(f'fieldValidation: Unsupported value: "{value}": supported values: '
                                     '"Ignore", "Strict", "Warn"')
        return value

    async def _body(self, request: web.Request, patch: bool = False):
        raw = await request.read()
        content_type = request.content_type.lower()
        if not raw.strip():
            raise errors.bad_request("the body of the request is empty")
        if content_type == PROTOBUF and not patch:
            # kubectl's typed commands (create configmap/namespace/deployment, auth can-i) send these.
            try:
                return decode_unknown(raw)
            except ProtobufError as exc:
                raise errors.unsupported_media_type(content_type, (JSON, "application/yaml")) from exc
        if content_type == PROTOBUF:
            raise errors.unsupported_media_type(content_type, (JSON, "application/yaml"))
        try:
            if content_type in YAML_TYPES:
                return yaml.load(raw.decode("utf-8"), Loader=_YamlLoader)
            return json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, yaml.YAMLError, RecursionError) as exc:
            what = "patch" if patch else "object"
            raise errors.bad_request(f"the body of the request could not be decoded as a {what}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None

    def _object_response(self, request: web.Request, res: ResourceType, obj: dict) -> web.Response:
        if wants_table(request.headers.get("Accept", "")):
            table = self._table(res, [obj], request.query)
            table["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion", "")
            return json_response(table)
        return json_response(obj)

    def _table(self, res: ResourceType, objects: list[dict], q) -> dict:
        include = q.get("includeObject") or "Metadata"
        if include not in ("None", "Metadata", "Object"):
            raise errors.bad_request(f'includeObject: Unsupported value: "{include}"')
        now = datetime.fromtimestamp(self.clock.now(), tz=timezone.utc)
        return to_table(res.kind, res.group, objects, now, include)

    def _log(self, res: ResourceType, namespace: str, name: str, q) -> web.Response:
        tail = parse_int(q.get("tailLines"), "tailLines", minimum=0)
        for flag in ("follow", "previous", "timestamps"):
            parse_bool(q.get(flag), flag)
        text = self.api.read_log(namespace, name, tail_lines=tail)
        return web.Response(text=text, content_type="text/plain")

    def _bind(self, namespace: str, name: str, body) -> dict:
        target = body.get("target") if isinstance(body, dict) else None
        if not isinstance(target, dict) or not isinstance(target.get("name"), str) or not target["name"]:
            raise errors.invalid(None, name, [errors.field_error("Required", "target.name", "")], kind="Binding")
        self.api.bind_pod(namespace, name, target["name"])
        return errors.success(code=201)

    def _scale(self, request, res, namespace, name, body, verb, dry_run) -> dict:
        current = scale_of(self.api.get(res, namespace, name))
        if verb == "patch":
            content_type = request.content_type.lower()
            if content_type not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH):
                raise errors.unsupported_media_type(content_type, (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH))
            try:
                patched = apply_patch(current, body, content_type)
            except PatchError as exc:
                raise errors.error(exc.code, str(exc)) from None
        else:
            patched = body
        replicas = (patched.get("spec") or {}).get("replicas") if isinstance(patched, dict) else None
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(None, name, [errors.field_error("Invalid", "spec.replicas",
                                                                 "must be greater than or equal to 0", replicas)],
                                 kind="Scale.autoscaling")
        updated = self.api.patch(res, namespace, name, {"spec": {"replicas": replicas}}, MERGE_PATCH,
                                 dry_run=dry_run)
        return scale_of(updated)

    def _finalize(self, res: ResourceType, name: str, body, dry_run: bool) -> dict:
        spec = body.get("spec") if isinstance(body, dict) else None
        finalizers = (spec or {}).get("finalizers") or []
        if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
            raise errors.bad_request("spec.finalizers must be a list of strings")
        return self.api.patch(res, None, name, [{"op": "add", "path": "/spec/finalizers", "value": finalizers}],
                              JSON_PATCH, dry_run=dry_run)

    async def _delete(self, request, res, namespace, name, dry_run) -> web.Response:
        options = await self._delete_options(request)
        q = request.query
        grace = parse_int(q.get("gracePeriodSeconds"), "gracePeriodSeconds")
        if grace is None:
            grace = options.get("gracePeriodSeconds")
        policy = q.get("propagationPolicy") or options.get("propagationPolicy")
        if options.get("orphanDependents") is True or parse_bool(q.get("orphanDependents"), "orphanDependents"):
            policy = policy or "Orphan"
        dry_run = dry_run or options.get("dryRun") == ["All"]
        result = self.api.delete(res, namespace, name, grace_period_seconds=grace, propagation_policy=policy,
                                 preconditions=options.get("preconditions"), dry_run=dry_run)
        return json_response(result)

    async def _delete_options(self, request: web.Request) -> dict:
        raw = await request.read()
        if not raw.strip():
            return {}
        options = await self._body(request)
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        grace = options.get("gracePeriodSeconds")
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
            raise errors.bad_request("json: cannot unmarshal into Go struct field DeleteOptions.gracePeriodSeconds "
                                     "of type int64")
        if options.get("preconditions") is not None and not isinstance(options["preconditions"], dict):
            raise errors.bad_request("json: cannot unmarshal into Go struct field DeleteOptions.preconditions")
        if options.get("propagationPolicy") is not None and not isinstance(options["propagationPolicy"], str):
            raise errors.bad_request("json: cannot unmarshal into Go struct field DeleteOptions.propagationPolicy")
        return options

    async def _delete_collection(self, request, res, namespace, dry_run) -> web.Response:
        q = request.query
        options = await self._delete_options(request)
        grace = parse_int(q.get("gracePeriodSeconds"), "gracePeriodSeconds")
        items = self.api.delete_collection(res, namespace, q.get("labelSelector"), q.get("fieldSelector"),
                                           grace_period_seconds=grace if grace is not None
                                           else options.get("gracePeriodSeconds"),
                                           propagation_policy=q.get("propagationPolicy")
                                           or options.get("propagationPolicy"), dry_run=dry_run)
        return json_response(self._list_body(res, items, str(self.api.store.resource_version)))

    async def _review(self, request: web.Request, res: ResourceType, identity: Identity) -> web.Response:
        if request.method != "POST":
            raise errors.method_not_allowed(res)
        body = await self._body(request)
        if not isinstance(body, dict):
            raise errors.bad_request(f"json: cannot unmarshal into Go value of type {res.kind}")
        if body.get("kind") not in (None, "", res.kind):
            raise errors.bad_request(f"the kind in the data ({body.get('kind')}) does not match the expected kind "
                                     f"({res.kind})")
        if res.plural == "selfsubjectaccessreviews":
            answer = self.auth.access_review(identity, body)
        elif res.plural == "selfsubjectrulesreviews":
            answer = self.auth.rules_review(identity, body)
        else:
            answer = self.auth.self_review(identity)
        return json_response(answer, 201)

    # --- lists and watches ---------------------------------------------------------------------
    def _list_body(self, res: ResourceType, items: list[dict], rv: str, token: str | None = None,
                   remaining: int | None = None) -> dict:
        metadata: dict = {"resourceVersion": rv}
        if token:
            metadata["continue"] = token
        if remaining:
            metadata["remainingItemCount"] = remaining
        if res.builtin:
            items = [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items]
        return {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": metadata, "items": items}

    async def _list_or_watch(self, request: web.Request, res: ResourceType, namespace: str | None,
                             watching: bool) -> web.StreamResponse:
        q = request.query
        for flag in ("allowWatchBookmarks", "sendInitialEvents"):
            parse_bool(q.get(flag), flag)
        if watching:
            return await self._watch(request, res, namespace)
        page = self.api.list_page(res, namespace, q.get("labelSelector"), q.get("fieldSelector"),
                                  limit=parse_int(q.get("limit"), "limit", minimum=0),
                                  continue_token=q.get("continue") or None, resource_version=q.get("resourceVersion"),
                                  resource_version_match=q.get("resourceVersionMatch") or None, copies=False)
        if wants_table(request.headers.get("Accept", "")):
            table = self._table(res, page.items, q)
            table["metadata"] = {"resourceVersion": page.resource_version}
            if page.continue_token:
                table["metadata"]["continue"] = page.continue_token
            if page.remaining:
                table["metadata"]["remainingItemCount"] = page.remaining
            return json_response(table)
        return json_response(self._list_body(res, page.items, page.resource_version, page.continue_token,
                                             page.remaining))

    async def _watch(self, request: web.Request, res: ResourceType, namespace: str | None) -> web.StreamResponse:
        q = request.query
        timeout = parse_int(q.get("timeoutSeconds"), "timeoutSeconds", minimum=0)
        bookmarks = bool(parse_bool(q.get("allowWatchBookmarks"), "allowWatchBookmarks"))
        initial = parse_bool(q.get("sendInitialEvents"), "sendInitialEvents")
        match = q.get("resourceVersionMatch") or None
        if initial is not None:
            if match != "NotOlderThan":
                raise errors.bad_request("resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                                         "resourceVersionMatch to NotOlderThan")
            if initial and not bookmarks:
                raise errors.bad_request("allowWatchBookmarks: Forbidden: sendInitialEvents requires "
                                         "allowWatchBookmarks=true")
        elif match:
            raise errors.bad_request("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch")
        table = wants_table(request.headers.get("Accept", ""))
        if table:
            self._table(res, [], q)  # rejects a bad includeObject before the stream starts
        rv = q.get("resourceVersion")
        watch: Watch | None = None
        expired: errors.ApiError | None = None
        if self.faults.take_expire():
            current = self.api.store.resource_version
            expired = errors.expired(f"too old resource version: {rv or current} ({current})")
        else:
            try:
                watch = self.api.watch(res, namespace, q.get("labelSelector"), q.get("fieldSelector"),
                                       resource_version=rv, send_initial_events=initial, copies=False)
            except errors.ApiError as exc:
                if exc.code != 410:
                    raise
                expired = exc
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON, "Cache-Control": "no-cache"})
        response.enable_chunked_encoding()
        closing = asyncio.Event()
        self._closing.add(closing)
        try:
            await response.prepare(request)
            request[LOG_ENTRY]["code"] = 200
            if expired is not None:
                await response.write(to_json({"type": "ERROR", "object": expired.status}) + b"\n")
            else:
                await self._stream(request, response, res, watch, closing, timeout, bookmarks, table)
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self._closing.discard(closing)
            if watch is not None:
                watch.stop()
        return response

    async def _stream(self, request, response, res, watch: Watch, closing: asyncio.Event, timeout: int | None,
                      bookmarks: bool, table: bool) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else math.inf
        next_bookmark = self.clock.now() + self.bookmark_interval
        q = request.query

        def encode(kind: str, obj: dict) -> bytes:
            if table and kind != "BOOKMARK" and kind != "ERROR":
                obj_table = self._table(res, [obj], q)
                obj_table["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion", "")
                obj = obj_table
            return to_json({"type": kind, "object": obj}) + b"\n"

        while True:
            chunk = []
            ended = False
            while not watch.queue.empty():
                item = watch.queue.get_nowait()
                if item is None:
                    ended = True
                    break
                chunk.append(encode(*item))
            if chunk:
                await self.faults.wait_resumed()
                await response.write(b"".join(chunk))
            if ended or closing.is_set():
                return
            now = loop.time()
            if now >= deadline:
                if bookmarks:
                    await response.write(encode("BOOKMARK", self.api.bookmark(res)))
                return
            if bookmarks and self.clock.now() >= next_bookmark and not self.faults.paused:
                await response.write(encode("BOOKMARK", self.api.bookmark(res)))
                next_bookmark = self.clock.now() + self.bookmark_interval
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            wait = min(WATCH_POLL, deadline - now)
            if bookmarks and not self.clock.frozen:
                wait = min(wait, max(0.01, (next_bookmark - self.clock.now()) / self.clock.speed))
            getter = asyncio.ensure_future(watch.queue.get())
            closer = asyncio.ensure_future(closing.wait())
            try:
                done, _ = await asyncio.wait({getter, closer}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closer.cancel()
                if not getter.done():
                    getter.cancel()
            if getter in done and not getter.cancelled():
                item = getter.result()
                if item is None:
                    return
                await self.faults.wait_resumed()
                await response.write(encode(*item))


def _verb(method: str, name: str | None, sub: str | None, watching: bool) -> str | None:
    """The authorization verb of a request (None: the method makes no sense there)."""
    if method == "GET":
        return "get" if name is not None else "watch" if watching else "list"
    if method == "POST":  # a collection, or an item's subresource (eviction, binding)
        return "create" if (name is None) == (sub is None) else None
    if name is None:
        return "deletecollection" if method == "DELETE" else None
    return {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)


def scale_of(obj: dict) -> dict:
    """The autoscaling/v1 Scale view of a workload."""
    m = obj.get("metadata") or {}
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in m},
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}}
