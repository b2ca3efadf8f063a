"""The controller runtime: work queues, timers, the shared cache, and deterministic stepping.

Each controller is a reconcile function over keys, fed by API changes and host actions, writing
through the same `Api` as HTTP clients. The `ControllerManager` runs them as one asyncio task on the
simulator's loop; tests stop it and call `step()` (drain all work at the current simulated time) or
`settle()` (also jump the clock to each pending timer), which makes every scenario deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import traceback
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from tui.sim.controllers.cache import Key, ObjectCache
from tui.sim.errors import ApiError

log = logging.getLogger(__name__)

CNI_INSTALLED = "cni-installed"  # host notification: calico-node wrote the node's CNI config

# (group, version, plural) of every type the controllers read or write.
PODS = ("", "v1", "pods")
NODES = ("", "v1", "nodes")
NAMESPACES = ("", "v1", "namespaces")
EVENTS = ("", "v1", "events")
CONFIGMAPS = ("", "v1", "configmaps")
DEPLOYMENTS = ("apps", "v1", "deployments")
REPLICASETS = ("apps", "v1", "replicasets")
STATEFULSETS = ("apps", "v1", "statefulsets")
DAEMONSETS = ("apps", "v1", "daemonsets")
PDBS = ("policy", "v1", "poddisruptionbudgets")
CALICO = "crd.projectcalico.org"
IPPOOLS = (CALICO, "v1", "ippools")
IPAMBLOCKS = (CALICO, "v1", "ipamblocks")
BLOCKAFFINITIES = (CALICO, "v1", "blockaffinities")
IPAMHANDLES = (CALICO, "v1", "ipamhandles")
IPAMCONFIGS = (CALICO, "v1", "ipamconfigs")
BGPCONFIGURATIONS = (CALICO, "v1", "bgpconfigurations")
BGPPEERS = (CALICO, "v1", "bgppeers")
CALICONODESTATUSES = (CALICO, "v1", "caliconodestatuses")
CLUSTERINFORMATIONS = (CALICO, "v1", "clusterinformations")
FELIXCONFIGURATIONS = (CALICO, "v1", "felixconfigurations")
INSTALLATIONS = ("operator.tigera.io", "v1", "installations")
IPPOOLS_V3 = ("projectcalico.org", "v3", "ippools")
CACHED = (PODS, NODES, NAMESPACES, CONFIGMAPS, DEPLOYMENTS, REPLICASETS, STATEFULSETS, DAEMONSETS, PDBS,
          IPPOOLS, IPAMBLOCKS, BLOCKAFFINITIES, IPAMHANDLES, IPAMCONFIGS, BGPCONFIGURATIONS, BGPPEERS,
          CALICONODESTATUSES, CLUSTERINFORMATIONS, FELIXCONFIGURATIONS, INSTALLATIONS)


def klog(severity: str, now: float, where: str, message: str) -> str:
    """A line of a Kubernetes component's log: `E0102 15:04:05.000000       1 file.go:123] message`."""
    when = datetime.fromtimestamp(now, tz=timezone.utc)
    return f"{severity}{when:%m%d %H:%M:%S}.{when.microsecond:06d}       1 {where}] {message}"


def key_of(gvr: tuple[str, str, str]) -> Key:
    return gvr[0], gvr[2]


def node_of_pod(pod: dict) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def controller_uid(obj: dict) -> list[str]:
    """The uid of the object's managing controller (its ownerReference with `controller: true`)."""
    return [r["uid"] for r in (obj.get("metadata") or {}).get("ownerReferences") or []
            if r.get("controller") and r.get("uid")][:1]


def controlled_by(cache: ObjectCache, key: Key, uid: str) -> list[dict]:
    """Objects of type `key` whose controller (ownerReference with controller: true) is `uid`."""
    return [o for o in cache.by_index(key, BY_OWNER, uid)
            if any(r.get("uid") == uid and r.get("controller") for r in o["metadata"]["ownerReferences"])]


def namespace_of(obj: dict) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


def owner_uids(obj: dict) -> list[str]:
    return [r["uid"] for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("uid")]


# Indexes every controller may use: cache.by_index(key, name, value). BY_OWNER groups by every
# owner uid; see `controlled_by` for the objects an owner controls.
BY_NODE = "node"
BY_OWNER = "owner"
BY_NAMESPACE = "namespace"
COMMON_INDEXES = (
    (("", "pods"), BY_NAMESPACE, namespace_of),
    (("", "pods"), BY_NODE, node_of_pod),
    (("", "pods"), BY_OWNER, owner_uids),
    (("apps", "replicasets"), BY_OWNER, owner_uids),
)


@dataclass(frozen=True)
class Timings:
    """Simulated seconds each real-world delay takes (scaled further by the clock's speed)."""

    pod_startup: float = 2.0  # sandbox, image pull and container start
    sandbox_retry: float = 10.0  # kubelet retry after FailedCreatePodSandBox
    grace_cap: float = 2.0  # graceful termination is cut to at most this
    pod_gc: float = 5.0  # pod GC of pods bound to a deleted node
    node_monitor_grace: float = 40.0  # node controller marks a silent node NotReady
    bgp_transition: float = 3.0  # a BGP session changing state after its cause
    kcm_start: float = 1.0  # kube-controller-manager start-up until it runs or dies
    operator_delay: float = 1.0  # tigera-operator reconcile after a change
    conflict_retry: float = 0.5
    event_ttl: float = 3600.0

    @classmethod
    def instant(cls) -> "Timings":
        """No waiting for progress (retries still wait): boots a scenario into its steady state."""
        return cls(pod_startup=0, grace_cap=0, pod_gc=0, node_monitor_grace=0, bgp_transition=0, kcm_start=0,
                   operator_delay=0)


class Controller:
    """Subclasses set `name`, optionally `kcm = True` (runs inside kube-controller-manager, so it is
    down while no kube-controller-manager instance runs), and implement the hooks below."""

    name = ""
    kcm = False

    def __init__(self, ctx: "Context") -> None:
        self.ctx = ctx
        self.cache = ctx.cache

    def setup(self) -> None:
        """Register cache indexes."""

    def initial_keys(self) -> Iterable[Hashable]:
        """Keys to reconcile when the controller starts (everything it owns)."""
        return ()

    def on_change(self, event: str, key: Key, obj: dict, old: dict | None) -> Iterable[Hashable]:
        """Keys affected by an API change."""
        return ()

    def on_host(self, node: str, action: str) -> Iterable[Hashable]:
        """Keys affected by a host action."""
        return ()

    def sync(self, key: Hashable) -> None:
        raise NotImplementedError

    # helpers
    def enqueue(self, key: Hashable) -> None:
        self.ctx.manager.enqueue(self, key)

    def after(self, seconds: float, key: Hashable, periodic: bool = False) -> None:
        self.ctx.manager.after(seconds, self, key, periodic)

    def set_status(self, gvr: tuple[str, str, str], obj: dict, status: dict) -> dict:
        """Write `status` through the status subresource unless it is already the object's."""
        if obj.get("status") == status:
            return obj
        meta, res = obj["metadata"], self.ctx.res(gvr)
        return self.ctx.api.update(res, meta.get("namespace"), meta["name"], {**obj, "status": status},
                                   subresource="status" if res.has_status else None)


@dataclass
class Context:
    """Everything a controller may use."""

    api: object
    clock: object
    hosts: object
    namer: object
    cache: ObjectCache
    manager: "ControllerManager"
    events: object = None
    timings: Timings = Timings()

    def now(self) -> float:
        return self.clock.now()

    def res(self, gvr: tuple[str, str, str]):
        return self.api.registry.get(*gvr)

    def has(self, gvr: tuple[str, str, str]) -> bool:
        return self.api.registry.lookup(*gvr) is not None


class ControllerManager:
    def __init__(self, api, clock, hosts, namer, timings: Timings | None = None) -> None:
        self.cache = ObjectCache()
        self.ctx = Context(api=api, clock=clock, hosts=hosts, namer=namer, cache=self.cache, manager=self,
                           timings=timings or Timings())
        self.controllers: list[Controller] = []
        self._queue: deque[tuple[Controller, Hashable]] = deque()
        self._queued: set[tuple[str, Hashable]] = set()
        self._timers: list[tuple[float, int, bool, Controller, Hashable]] = []
        self._seq = itertools.count()
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._caller = None
        self._attached = False
        self.kcm_available = lambda: True  # replaced by the kube-controller-manager controller
        self.errors: list[str] = []

    # --- wiring --------------------------------------------------------------------------------
    def add(self, controller: Controller) -> Controller:
        self.controllers.append(controller)
        return controller

    def attach(self) -> None:
        """Fill the cache from the Api, subscribe to changes and host actions, queue initial work."""
        api = self.ctx.api
        for gvr in CACHED:
            if self.ctx.has(gvr):  # stored objects are never mutated: the cache may share them
                self.cache.replace(key_of(gvr), api.store.list(self.ctx.res(gvr).storage_key))
        for key, name, fn in COMMON_INDEXES:
            self.cache.add_index(key, name, fn)
        for controller in self.controllers:
            controller.setup()
        api.subscribe(self._on_change)
        self.ctx.hosts.on_change(self._on_host)
        self._attached = True
        for controller in self.controllers:
            for key in controller.initial_keys():
                self.enqueue(controller, key)

    def _on_change(self, event: str, res, obj: dict, old: dict | None) -> None:
        key = res.storage_key
        if key in _CACHED_KEYS:
            if event == "DELETED":
                self.cache.remove(key, obj)
            else:
                self.cache.upsert(key, obj)
        for controller in self.controllers:
            for k in controller.on_change(event, key, obj, old):
                self.enqueue(controller, k)

    def _on_host(self, node: str, action: str) -> None:
        for controller in self.controllers:
            for k in controller.on_host(node, action):
                self.enqueue(controller, k)

    def set_timings(self, timings: Timings) -> None:
        self.ctx.timings = timings

    # --- queueing ------------------------------------------------------------------------------
    def enqueue(self, controller: Controller, key: Hashable) -> None:
        marker = (controller.name, key)
        if marker not in self._queued:
            self._queued.add(marker)
            self._queue.append((controller, key))
            if self._wake is not None:
                self._wake.set()

    def after(self, seconds: float, controller: Controller, key: Hashable, periodic: bool = False) -> None:
        if seconds <= 0:
            self.enqueue(controller, key)
            return
        heapq.heappush(self._timers, (self.ctx.clock.now() + seconds, next(self._seq), periodic, controller, key))
        if self._wake is not None:
            self._wake.set()

    def _release_due(self) -> None:
        now = self.ctx.clock.now()
        while self._timers and self._timers[0][0] <= now:
            _, _, _, controller, key = heapq.heappop(self._timers)
            self.enqueue(controller, key)

    def _runnable(self, controller: Controller) -> bool:
        return not controller.kcm or self.kcm_available()

    def _drain(self, limit: int | None = None) -> int:
        """Process queued work (and due timers) until none is runnable; returns items processed."""
        done = 0
        while True:
            parked: list[tuple[Controller, Hashable]] = []
            progressed = False
            while True:
                self._release_due()
                if not self._queue or (limit is not None and done >= limit):
                    break
                controller, key = self._queue.popleft()
                if not self._runnable(controller):
                    parked.append((controller, key))
                    continue
                self._queued.discard((controller.name, key))
                self._run_one(controller, key)
                done += 1
                progressed = True
            self._queue.extendleft(reversed(parked))
            if not progressed or not any(self._runnable(c) for c, _ in parked) or (
                    limit is not None and done >= limit):
                return done

    def _run_one(self, controller: Controller, key: Hashable) -> None:
        try:
            controller.sync(key)
        except ApiError as exc:
            if exc.code == 409:  # raced with another writer: look again shortly
                controller.after(self.ctx.timings.conflict_retry, key)
            elif exc.code != 404 or not (exc.status.get("details") or {}).get("name"):
                self._record(controller, key)  # (a 404 naming an object: it is gone, nothing to do)
        except Exception:  # a controller bug must not stop the cluster; tests check `errors`
            self._record(controller, key)

    def _record(self, controller: Controller, key: Hashable) -> None:
        message = f"{controller.name} {key!r}: {traceback.format_exc()}"
        log.error("controller failed: %s", message)
        self.errors.append(message)

    # --- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the loop task (on the simulator's loop)."""
        self._call(self._start)

    def bind(self, caller) -> None:
        """`caller(fn)` runs fn on the simulator's loop (Simulator.call); every entry point uses it."""
        self._caller = caller

    def _start(self) -> None:
        if not self._attached:
            self.attach()
        if not self.running:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        self._call(self._stop)

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        clock = self.ctx.clock
        while True:
            if self._drain(limit=200):
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            runnable_waiting = any(self._runnable(c) for c, _ in self._queue)
            if runnable_waiting:
                continue
            waits = [asyncio.ensure_future(self._wake.wait())]
            if self._timers:
                waits.append(asyncio.ensure_future(clock.sleep(max(0.0, self._timers[0][0] - clock.now()))))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    def step(self) -> int:
        """Reconcile until nothing is left to do at the current simulated time."""
        return self._call(self._step)

    def _step(self) -> int:
        if not self._attached:
            self.attach()
        return self._drain()

    def settle(self, max_seconds: float = 600.0) -> float:
        """Step, then jump the clock to each pending (non-periodic) timer and step again, until no
        work is pending or `max_seconds` of simulated time passed; returns the seconds advanced."""
        return self._call(lambda: self._settle(max_seconds))

    def _settle(self, max_seconds: float) -> float:
        clock = self.ctx.clock
        advanced = 0.0
        self._step()
        while True:
            pending = [t for t in self._timers if not t[2] and self._runnable(t[3])]
            if not pending:
                return advanced
            due = min(t[0] for t in pending)
            delta = max(0.0, due - clock.now())
            if advanced + delta > max_seconds:
                return advanced
            if delta:
                clock.step(delta)
                advanced += delta
            self._step()

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`, stepping at every timer on the way."""
        self._call(lambda: self._advance(seconds))

    def _advance(self, seconds: float) -> None:
        clock = self.ctx.clock
        end = clock.now() + seconds
        self._step()
        while True:
            due = min((t[0] for t in self._timers), default=end)
            target = min(due, end)
            if target > clock.now():
                clock.step(target - clock.now())
            self._step()
            if clock.now() >= end:
                return

    def state(self) -> dict:
        return {"running": self.running, "queued": len(self._queue), "timers": len(self._timers),
                "kcmAvailable": self.kcm_available(), "errors": len(self.errors),
                "controllers": [c.name for c in self.controllers]}

    def _call(self, fn):
        return self._caller(fn) if self._caller is not None else fn()


_CACHED_KEYS = frozenset(key_of(g) for g in CACHED)
