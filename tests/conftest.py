"""Shared fixtures: a running simulated cluster and real `kubernetes` clients pointed at it.

`sim` is a fresh simulator per test (about 50 ms to start); `module_sim` is shared by the tests of
one module, for read-mostly suites. Both fail the test if the server hit an unexpected exception
(a 500 InternalError), so server bugs never pass silently.
"""

from __future__ import annotations

import http.client as httplib
import json
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kubernetes import config

from tui.sim import builtin_cluster
from tui.sim.simulator import ADMIN_CONTEXT, VIEWER_CONTEXT, Simulator
from tui.sim.tls import client_context


def start_simulator(directory: Path, objects: list[dict] | None = None, **options) -> Simulator:
    """A simulator serving in its own thread, with its kubeconfig at `sim.kubeconfig_path`."""
    sim = Simulator(builtin_cluster.objects() if objects is None else objects, **options)
    sim.start_in_thread()
    sim.kubeconfig_path = sim.write_kubeconfig(directory / "kubeconfig")
    return sim


def stop_simulator(sim: Simulator) -> None:
    sim.stop()
    errors = sim.server.unexpected_errors
    assert not errors, "the simulated API server failed unexpectedly:\n" + "\n".join(errors)


def api_client(sim: Simulator, context: str = ADMIN_CONTEXT):
    """An independent `kubernetes.client.ApiClient` for one of the simulator's contexts."""
    return config.new_client_from_config(config_file=str(sim.kubeconfig_path), context=context,
                                         persist_config=False)


@pytest.fixture
def sim(tmp_path):
    simulator = start_simulator(tmp_path)
    yield simulator
    stop_simulator(simulator)


@pytest.fixture(scope="module")
def module_sim(tmp_path_factory):
    simulator = start_simulator(tmp_path_factory.mktemp("sim"))
    yield simulator
    stop_simulator(simulator)


@pytest.fixture
def admin_client(sim):
    client = api_client(sim, ADMIN_CONTEXT)
    yield client
    client.close()


@pytest.fixture
def viewer_client(sim):
    client = api_client(sim, VIEWER_CONTEXT)
    yield client
    client.close()


_connections = threading.local()


def _connection(sim: Simulator, fresh: bool = False) -> httplib.HTTPConnection:
    """A kept-alive connection per simulator and thread (a TLS handshake per request is slow)."""
    pool = _connections.__dict__.setdefault("pool", {})
    if fresh or sim.url not in pool:
        old = pool.pop(sim.url, None)
        if old is not None:
            old.close()
        parsed = urlsplit(sim.url)
        pool[sim.url] = httplib.HTTPSConnection(parsed.hostname, parsed.port, context=client_context(),
                                                    timeout=30) if parsed.scheme == "https" else \
            httplib.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    return pool[sim.url]


def http(sim: Simulator, method: str, path: str, body=None, identity: str | None = "admin",
         content_type: str = "application/json", headers: dict | None = None):
    """A raw request to the simulator: (status, headers, body bytes). `body` may be bytes or JSON data."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if identity is not None:
        all_headers["Authorization"] = f"Bearer {sim.tokens[identity]}"
    for attempt in range(2):
        connection = _connection(sim, fresh=attempt > 0)
        try:
            connection.request(method, path, body=data, headers=all_headers)
            reply = connection.getresponse()
            return reply.status, dict(reply.headers), reply.read()
        except (httplib.RemoteDisconnected, httplib.CannotSendRequest, BrokenPipeError,
                ConnectionResetError):
            if attempt:
                raise
    raise AssertionError("unreachable")
