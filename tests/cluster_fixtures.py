"""Helpers for tests that run a whole simulated cluster (scenario + controllers) over HTTP.

The clock is frozen and the controllers are stopped after boot, so a test changes the cluster
through the real client, then calls `settle(sim)` to let every controller react, jumping simulated
time over each pending delay: deterministic and fast.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from kubernetes import client

from conftest import api_client, http, stop_simulator
from tui.sim.simulator import Simulator

CALICO = "crd.projectcalico.org"


def start_scenario(directory: Path, name: str = "seed", **params) -> Simulator:
    sim = Simulator.from_scenario(name, params=params or None)
    sim.clock.freeze()
    sim.start_in_thread()
    sim.controllers.stop()
    sim.kubeconfig_path = sim.write_kubeconfig(directory / "kubeconfig")
    return sim


def finish(sim: Simulator) -> None:
    errors = sim.controllers.errors
    stop_simulator(sim)
    assert not errors, "a controller failed:\n" + "\n".join(errors)


def settle(sim: Simulator, seconds: float = 600) -> float:
    return sim.controllers.settle(seconds)


def control(sim: Simulator, path: str, body: dict | None = None) -> dict:
    status, _, raw = http(sim, "POST" if body is not None else "GET", f"/_sim/{path}", body, identity=None)
    assert status == 200, raw
    return json.loads(raw)


def host_action(sim: Simulator, node: str, action: str, **options) -> dict:
    return control(sim, "hosts", {"node": node, "action": action, **options})


class Clients:
    """The real `kubernetes` client APIs for the admin context."""

    def __init__(self, sim: Simulator) -> None:
        self.api_client = api_client(sim)
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)

    def close(self) -> None:
        self.api_client.close()

    def calico(self, plural: str) -> list[dict]:
        return self.custom.list_cluster_custom_object(CALICO, "v1", plural)["items"]

    def pods(self, namespace: str | None = None, selector: str | None = None) -> list:
        if namespace is None:
            return self.core.list_pod_for_all_namespaces(label_selector=selector).items
        return self.core.list_namespaced_pod(namespace, label_selector=selector).items

    def events(self, namespace: str, name: str) -> list:
        return self.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items


def running_cluster(directory: Path, name: str = "seed"):
    """(simulator, clients) for a test, checked for controller failures afterwards."""
    sim = start_scenario(directory, name)
    clients = Clients(sim)
    yield sim, clients
    clients.close()
    finish(sim)


@pytest.fixture
def cluster(tmp_path):
    """The `seed` cluster, booted, clock frozen, controllers stopped (drive them with `settle`)."""
    yield from running_cluster(tmp_path)


@pytest.fixture
def operator_cluster(tmp_path):
    yield from running_cluster(tmp_path, "operator")


def live(pods: list) -> list:
    """Pods that are not being deleted."""
    return [p for p in pods if not p.metadata.deletion_timestamp]


def in_cidr(ip: str | None, cidr: str) -> bool:
    return ip is not None and ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)
