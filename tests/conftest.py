"""Shared fixtures: a running simulated cluster and real `kubernetes` clients pointed at it.

`sim` is a fresh simulator per test (about 50 ms to start); `module_sim` is shared by the tests of
one module, for read-mostly suites. Both fail the test if the server hit an unexpected exception
(a 500 InternalError), so server bugs never pass silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import config

from tui.sim import builtin_cluster
from tui.sim.simulator import ADMIN_CONTEXT, VIEWER_CONTEXT, Simulator


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


def http(sim: Simulator, method: str, path: str, body=None, identity: str | None = "admin",
         content_type: str = "application/json", headers: dict | None = None, timeout: float = 30):
    """A raw request to the simulator: (status, headers, body bytes). `body` may be bytes or JSON data."""
    import json
    import urllib.error
    import urllib.request

    from tui.sim.tls import client_context

    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if identity is not None:
        all_headers["Authorization"] = f"Bearer {sim.tokens[identity]}"
    request = urllib.request.Request(sim.url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, context=client_context(), timeout=timeout) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
