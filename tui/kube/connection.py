"""Connecting to a cluster the way kubectl does, with one independent ApiClient per connection.

Nothing here touches the process-global kubernetes `Configuration`: the demo simulator and a real
cluster (or two contexts) can be open side by side without sharing credentials or TLS settings.

Requests go through the connection's ApiClient (auth headers, token refresh, TLS, proxy) but bypass
the generated models: the cache and the model work on the JSON exactly as the server sent it.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Mapping

import urllib3
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config import incluster_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

DEFAULT_KUBECONFIG = "~/.kube/config"
# (connect, read) seconds for ordinary requests; watches pass their own.
DEFAULT_TIMEOUT = (5.0, 30.0)
# One connection per open watch (~20) plus requests made meanwhile.
POOL_SIZE = 48

class ClusterAccessError(Exception):
    """The cluster could not be used; `summary` is one line for the operator, without secrets.

    `cause` is a short machine word: kubeconfig, dns, refused, tls, timeout, network,
    unauthorized, forbidden or http.
    """

    def __init__(self, summary: str, cause: str, server: str = "", status: int | None = None):
        super().__init__(summary)
        self.summary = summary
        self.cause = cause
        self.server = server
        self.status = status


class InFlight:
    """The pooled HTTP connections each thread holds right now.

    A thread blocked reading (a watch, or a request to a server that accepted the connection but
    never answers) only wakes up when its socket is shut down; this lets `Connection.abort` find
    that socket from another thread, so stopping never waits for a read timeout.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, weakref.WeakSet] = {}

    def hold(self, conn) -> None:
        with self._lock:
            self._held.setdefault(threading.get_ident(), weakref.WeakSet()).add(conn)

    def release(self, conn) -> None:
        with self._lock:
            for held in self._held.values():
                held.discard(conn)

    def cut(self, thread_id: int) -> None:
        with self._lock:
            held = list(self._held.pop(thread_id, ()))
        for conn in held:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def tracking(self, pool_class: type) -> type:
        """`pool_class` reporting which thread takes and returns each connection."""
        in_flight = self

        class TrackingPool(pool_class):
            def _get_conn(self, timeout=None):
                conn = super()._get_conn(timeout)
                in_flight.hold(conn)
                return conn

            def _put_conn(self, conn):
                if conn is not None:
                    in_flight.release(conn)
                super()._put_conn(conn)

        return TrackingPool


@dataclass
class Connection:
    """One cluster endpoint: where it is, who we are (never the secret), and the client to use."""

    context: str
    server: str
    user: str
    api_client: client.ApiClient = field(repr=False)
    in_flight: InFlight = field(default_factory=InFlight, repr=False)
    # `record(method, path, query, code, error)` after every request (tui.audit keeps the mutations).
    audit: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        manager = self.api_client.rest_client.pool_manager
        manager.pool_classes_by_scheme = {scheme: self.in_flight.tracking(cls)
                                          for scheme, cls in manager.pool_classes_by_scheme.items()}

    def abort(self, thread_id: int) -> None:
        """Cut the connections thread `thread_id` is using (it sees an error and can stop)."""
        self.in_flight.cut(thread_id)

    def open(self, method: str, path: str, query: Mapping[str, Any] | None = None,
             body: Any = None, timeout=DEFAULT_TIMEOUT, content_type: str = "application/json"):
        """Send a request and return the urllib3 response with its body unread.

        Non-2xx answers raise `ApiException` (with the Status body), like the generated API does.
        """
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        params = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        serialized = self.api_client.param_serialize(
            method, path, query_params=params, header_params=headers, body=body,
            auth_settings=["BearerToken"])
        try:
            response = self.api_client.call_api(*serialized, _request_timeout=timeout)
        except Exception as exc:
            self._audit(method, path, query, 0, " ".join(f"{type(exc).__name__}: {exc}".split()))
            raise
        if not 200 <= response.status <= 299:
            response.read()
            try:
                raise ApiException.from_response(http_resp=response, body=None, data=None)
            except ApiException as error:  # from_response raises the subclass for the status
                self._audit(method, path, query, response.status, status_message(error))
                raise
        self._audit(method, path, query, response.status)
        return response.response

    def _audit(self, method: str, path: str, query, code: int, error: str | None = None) -> None:
        if self.audit is not None:
            self.audit.record(method, path, query, code, error)

    def request(self, method: str, path: str, query: Mapping[str, Any] | None = None,
                body: Any = None, timeout=DEFAULT_TIMEOUT,
                content_type: str = "application/json") -> dict:
        """Send a request and return the decoded JSON answer."""
        response = self.open(method, path, query, body, timeout, content_type)
        try:
            return json.loads(response.data or b"{}")
        finally:
            response.release_conn()

    def get(self, path: str, query: Mapping[str, Any] | None = None, timeout=DEFAULT_TIMEOUT) -> dict:
        return self.request("GET", path, query, timeout=timeout)

    def close(self) -> None:
        """Release pooled sockets (an unclosed client can hang interpreter exit)."""
        self.api_client.close()
        self.api_client.rest_client.close()


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def kubeconfig_paths(kubeconfig: str | None, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The kubeconfig files to merge, in precedence order, as kubectl picks them.

    An explicit `--kubeconfig` must exist; files listed in `KUBECONFIG` that don't exist are skipped;
    `~/.kube/config` is the fallback. Returns [] when nothing applies (then in-cluster config may).
    """
    if kubeconfig:
        paths = [os.path.expanduser(p) for p in kubeconfig.split(os.pathsep) if p]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise ClusterAccessError(f"kubeconfig: file not found: {missing[0]}", "kubeconfig")
        return paths
    listed = environ.get("KUBECONFIG", "")
    if listed.strip():
        return [p for p in (os.path.expanduser(x) for x in listed.split(os.pathsep) if x)
                if os.path.isfile(p)]
    default = os.path.expanduser(DEFAULT_KUBECONFIG)
    return [default] if os.path.isfile(default) else []


def _new_configuration() -> client.Configuration:
    config = client.Configuration()
    config.connection_pool_maxsize = POOL_SIZE
    # No silent retries inside urllib3: a cut connection (stop, relist) must fail at once, and each
    # caller decides what is worth retrying (the cache backs off, one-shot reads retry transients).
    config.retries = False
    return config


def connect(kubeconfig: str | None = None, context: str | None = None,
            environ: Mapping[str, str] = os.environ) -> Connection:
    """A connection from kubeconfig (`--kubeconfig`, `KUBECONFIG` list merged, `~/.kube/config`),
    or the in-cluster service account when no kubeconfig exists and we run in a pod.

    Raises ClusterAccessError (cause `kubeconfig`) for missing files or an unknown context.
    Nothing is sent to the server yet.
    """
    paths = kubeconfig_paths(kubeconfig, environ)
    if not paths:
        if context is None and environ.get(incluster_config.SERVICE_HOST_ENV_NAME):
            return _connect_in_cluster()
        raise ClusterAccessError(
            "kubeconfig: none found (use --kubeconfig, set KUBECONFIG, or create ~/.kube/config)",
            "kubeconfig")
    try:
        merged = KubeConfigMerger(os.pathsep.join(paths))
        _first_current_context_wins(merged, paths)
        contexts = [_value(c).get("name") for c in merged.config.value.get("contexts") or []]
        name = context or merged.config.value.get("current-context")
        if not name:
            raise ClusterAccessError(
                f"kubeconfig: no current-context set; pick one with --context ({', '.join(contexts)})",
                "kubeconfig")
        if name not in contexts:
            raise ClusterAccessError(
                f"kubeconfig: context {name!r} not found (available: {', '.join(contexts) or 'none'})",
                "kubeconfig")
        loader = KubeConfigLoader(config_dict=merged.config, active_context=name, config_base_path=None)
        config = _new_configuration()
        loader.load_and_set(config)
    except ConfigException as exc:
        raise ClusterAccessError(f"kubeconfig: {exc}", "kubeconfig") from None
    except (yaml.YAMLError, TypeError, AttributeError, KeyError, ValueError) as exc:
        # not YAML, or YAML of the wrong shape: the client's loader trips over it in many ways
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise ClusterAccessError(f"kubeconfig: {', '.join(paths)} is not a valid kubeconfig: "
                                 f"{reason or type(exc).__name__}", "kubeconfig") from None
    user = loader.current_context["context"].get("user", "")
    return Connection(context=name, server=config.host, user=str(user),
                      api_client=client.ApiClient(configuration=config))


def _value(node: Any) -> dict:
    """Merged kubeconfig lists hold ConfigNodes (which remember their file) or plain dicts."""
    value = getattr(node, "value", node)
    return value if isinstance(value, dict) else {}


def _first_current_context_wins(merged: KubeConfigMerger, paths: list[str]) -> None:
    """kubectl takes current-context from the first file that sets it; the client takes the last."""
    for path in paths:
        current = (merged.config_files.get(path) or {}).get("current-context")
        if current:
            merged.config.value["current-context"] = current
            return


def _connect_in_cluster() -> Connection:
    config = _new_configuration()
    try:
        incluster_config.load_incluster_config(client_configuration=config)
    except ConfigException as exc:
        raise ClusterAccessError(f"in-cluster config: {exc}", "kubeconfig") from None
    return Connection(context="in-cluster", server=config.host, user="serviceaccount",
                      api_client=client.ApiClient(configuration=config))


# --- error classification -------------------------------------------------------------------

def access_error(exc: BaseException, server: str, user: str = "") -> ClusterAccessError | None:
    """Turn whatever a request raised into one operator line naming the server and the cause.

    Returns None for exceptions that are not about reaching or using the API (programming errors
    must still surface as tracebacks).
    """
    if isinstance(exc, ClusterAccessError):
        return exc
    if isinstance(exc, ApiException):
        return _http_error(exc, server, user)
    root = _root_cause(exc)
    if root is None:
        return None
    cause, detail = root
    verb = "TLS handshake failed with" if cause == "tls" else "cannot reach"
    return ClusterAccessError(f"{verb} {server}: {detail}", cause, server)


def _http_error(exc: ApiException, server: str, user: str) -> ClusterAccessError:
    if not exc.status:  # the REST layer wraps urllib3's SSLError as status 0
        text = " ".join(str(exc.reason or "").split())
        return ClusterAccessError(f"TLS handshake failed with {server}: {_tls_detail(text)}", "tls", server)
    message = status_message(exc)
    if exc.status == 401:
        who = f" of user {user!r}" if user else ""
        return ClusterAccessError(
            f"{server} rejected the credentials{who}: 401 Unauthorized", "unauthorized", server, 401)
    if exc.status == 403:
        return ClusterAccessError(f"{server} refused access: 403 Forbidden: {message}", "forbidden",
                                  server, 403)
    return ClusterAccessError(f"{server} answered {exc.status} {exc.reason or ''}: {message}".strip(),
                              "http", server, exc.status)


def status_message(exc: ApiException) -> str:
    """The `message` of the Status body the API sent, or the HTTP reason."""
    try:
        body = json.loads(exc.body or "")
        if isinstance(body, dict) and body.get("message"):
            return " ".join(str(body["message"]).split())
    except (TypeError, ValueError):
        pass
    return str(exc.reason or "")


def _chain(exc: BaseException):
    seen = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, urllib3.exceptions.MaxRetryError):
            todo.append(current.reason)
        todo.extend((current.__cause__, current.__context__))
        todo.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))


def _root_cause(exc: BaseException) -> tuple[str, str] | None:
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, (ssl.SSLError, urllib3.exceptions.SSLError)):
            return "tls", _tls_detail(" ".join(str(item).split()))
    for item in chain:
        if isinstance(item, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            host = getattr(getattr(item, "conn", None), "host", None)
            return "dns", f"DNS lookup failed{f' for {host}' if host else ''} (unknown host)"
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return "refused", "connection refused"
    for item in chain:
        if isinstance(item, (urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError)):
            return "timeout", "timed out waiting for the server"
    for item in chain:
        if isinstance(item, (urllib3.exceptions.HTTPError, OSError)):
            text = " ".join(str(item).split())
            if "refused" in text.lower():
                return "refused", "connection refused"
            return "network", text or type(item).__name__
    return None


def _tls_detail(text: str) -> str:
    lowered = text.lower()
    if "certificate verify failed" in lowered:
        start = lowered.index("certificate verify failed")
        detail = text[start:].split("(_ssl")[0].rstrip(" ()")
        return f"{detail} (the server's certificate is not trusted by the kubeconfig's CA)"
    if "pem lib" in lowered or "key values mismatch" in lowered:  # our own certificate or key, not the server's
        return f"the kubeconfig's client certificate or key cannot be used ({text.split('(_ssl')[0].strip()})"
    return text
