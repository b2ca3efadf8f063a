"""The simulated cluster's components, wired onto a Simulator loaded with a scenario.

`install(sim, scenario)` gives the simulator its host state (`sim.hosts`), the controller runtime
(`sim.controllers`, a ControllerManager: `start()`, `stop()`, `step()`, `settle()`, `advance()`),
boots the scenario into its steady state (pods running, addresses assigned, BGP up) without moving
the clock, and adds the control routes `/_sim/controllers` and `/_sim/hosts`.
"""

from __future__ import annotations

import gc

from tui.sim import errors
from tui.sim.controllers.base import ControllerManager, Timings
from tui.sim.controllers.bgp_status import BgpStatus
from tui.sim.controllers.calico_node import CalicoNode
from tui.sim.controllers.events import EventRecorder
from tui.sim.controllers.ipam import IpamGC
from tui.sim.controllers.kcm import KubeControllerManager, NodeIpam
from tui.sim.controllers.kube_proxy import KubeProxy
from tui.sim.controllers.kubelet import Kubelet
from tui.sim.controllers.node_lifecycle import NodeLifecycle
from tui.sim.controllers.operator import TigeraOperator
from tui.sim.controllers.scheduler import Scheduler
from tui.sim.controllers.workloads import (DaemonSetController, DeploymentController, DisruptionController,
                                           GarbageCollector, ReplicaSetController, StatefulSetController)
from tui.sim.hosts import HostError, Hosts
from tui.sim.naming import Namer

COMPONENTS = (KubeControllerManager, NodeIpam, NodeLifecycle, GarbageCollector, DeploymentController,
              ReplicaSetController, StatefulSetController, DaemonSetController, DisruptionController, Scheduler,
              Kubelet, CalicoNode, IpamGC, KubeProxy, BgpStatus, TigeraOperator)
HOST_ACTIONS = ("edit-kcm", "restart-kubelet", "stop-kubelet", "start-kubelet", "restart-calico-node")


def install(sim, scenario, boot: bool = True) -> ControllerManager:
    if not scenario.generated:
        return _install(sim, scenario, boot)
    gc.disable()  # a big cluster is hundreds of thousands of acyclic dicts: see tui.sim.scenarios.large
    try:
        return _install(sim, scenario, boot)
    finally:
        gc.enable()
        gc.freeze()


def _install(sim, scenario, boot: bool) -> ControllerManager:
    if scenario.generated:
        keys = {}
        for obj in scenario.generated:
            kind = (obj["apiVersion"], obj["kind"])
            if kind not in keys:
                keys[kind] = sim.api.resource_for(obj).storage_key
        sim.store.bulk_create((keys[(o["apiVersion"], o["kind"])], o) for o in scenario.generated)
    hosts = Hosts(scenario.hosts)
    manager = ControllerManager(sim.api, sim.clock, hosts, Namer(scenario.seed))
    manager.ctx.events = manager.add(EventRecorder(manager.ctx))
    for component in COMPONENTS:
        manager.add(component(manager.ctx))
    manager.bind(sim.call)
    sim.hosts, sim.controllers, sim.scenario = hosts, manager, scenario
    if boot:
        timings = manager.ctx.timings
        manager.set_timings(Timings.instant())
        manager.step()
        manager.set_timings(timings)
    sim.add_controller(manager)
    _add_routes(sim, manager, hosts)
    return manager


def host_action(hosts: Hosts, node: str, action: str, options: dict | None = None):
    """Run a host action by its CLI name; HostError for unknown nodes, actions or bad options."""
    options = options or {}
    if action == "edit-kcm":
        return hosts.edit_kcm(node, cluster_cidr=options.get("clusterCIDR"),
                              allocate_node_cidrs=options.get("allocateNodeCIDRs"),
                              node_cidr_mask_size=options.get("nodeCIDRMaskSize"))
    handlers = {"restart-kubelet": hosts.restart_kubelet, "stop-kubelet": hosts.stop_kubelet,
                "start-kubelet": hosts.start_kubelet, "restart-calico-node": hosts.restart_calico_node}
    if action not in handlers:
        raise HostError(f"unknown host action {action!r} (one of: {', '.join(HOST_ACTIONS)})")
    return handlers[action](node)


def _add_routes(sim, manager: ControllerManager, hosts: Hosts) -> None:
    async def body(request) -> dict:
        import json
        raw = await request.read()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise errors.bad_request("expected a JSON object") from None
        if not isinstance(data, dict):
            raise errors.bad_request("expected a JSON object")
        return data

    async def controllers(request):
        data = await body(request)
        action = data.get("action")
        seconds = data.get("seconds", 600)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise errors.bad_request("seconds must be a non-negative number")
        if action == "start":
            manager.start()
        elif action == "stop":
            manager.stop()
        elif action == "step":
            return {**manager.state(), "processed": manager.step()}
        elif action == "settle":
            return {**manager.state(), "advanced": manager.settle(float(seconds))}
        elif action == "advance":
            manager.advance(float(seconds))
        elif action is not None:
            raise errors.bad_request("action must be one of start, stop, step, settle, advance")
        return manager.state()

    async def host(request):
        data = await body(request)
        try:
            result = host_action(hosts, str(data.get("node", "")), str(data.get("action", "")), data)
        except HostError as exc:
            raise errors.bad_request(str(exc)) from None
        out = {"node": data.get("node"), "action": data.get("action"), "host": hosts[data["node"]].to_dict()}
        if isinstance(result, list):
            out["command"] = result
        return out

    sim.add_control_route("GET", "controllers", lambda r: manager.state())
    sim.add_control_route("POST", "controllers", controllers)
    sim.add_control_route("GET", "hosts", lambda r: {n: hosts[n].to_dict() for n in hosts})
    sim.add_control_route("POST", "hosts", host)
