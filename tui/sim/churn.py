"""Pod churn as Calico IPAM sees it, at a steady rate, for load tests and benchmarks.

Every event is what the CNI plugin writes when a pod starts or goes away on a node: one address
allocated in, or released from, an IPAMBlock affine to that node, committed through the `Api` so
that watchers receive an ordinary MODIFIED event. Each event is logged with the wall-clock time
(`time.time()`) of its commit and the resourceVersion it produced, so a client in another process
on the same machine can measure how long the change took to reach its screen.

Only blocks are written. Pod objects and IPAMHandles are left out on purpose: a monitor never
watches cluster-wide pods or handles, so they would cost the simulator without reaching any client.
Per block the churn holds at most one address (it alternates allocate and release), so the
cluster's usage stays where the scenario put it.

Steered through the control surface: `POST /_sim/churn {"rate": 200}` starts (rate 0 stops),
`{"rate": 200, "seconds": 10}` stops by itself, `GET /_sim/churn?since=N` returns the state and the
events after sequence number N.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from dataclasses import dataclass

from tui.sim import errors
from tui.sim.controllers import ipam_blocks as ib
from tui.sim.store import meta

IPAMBLOCKS = ("crd.projectcalico.org", "v1", "ipamblocks")
NAMESPACE = "churn"
MAX_BATCH = 100  # events committed per loop turn before yielding to the server
LOG_SIZE = 1_000_000


@dataclass(frozen=True)
class ChurnEvent:
    seq: int
    at: float            # time.time() right after the commit
    block: str
    node: str
    action: str          # "allocate" or "release"
    resource_version: int

    def to_dict(self) -> dict:
        return {"seq": self.seq, "at": self.at, "block": self.block, "node": self.node,
                "action": self.action, "resourceVersion": str(self.resource_version)}


class Churn:
    """A simulator component: idle until `run(rate)`; `stop()` (the component hook) halts it."""

    def __init__(self, sim, seed: int | str = 0) -> None:
        self.sim = sim
        self.api = sim.api
        self.rng = random.Random(seed)
        self.log: deque[ChurnEvent] = deque(maxlen=LOG_SIZE)
        self.rate = 0.0
        self.started_at: float | None = None
        self.behind = 0              # events due but not yet committed, at the last turn
        self.max_behind = 0
        self.errors = 0
        self._seq = 0
        self._held: dict[str, str] = {}  # block name -> the handle churn allocated there
        self._blocks: list[str] = []      # node-affine blocks, found when a run starts
        self._task: asyncio.Task | None = None

    @classmethod
    def install(cls, sim, seed: int | str = 0) -> Churn:
        """Add the component and its `/_sim/churn` routes to `sim`."""
        churn = sim.add_controller(cls(sim, seed))
        sim.add_control_route("GET", "churn", lambda request: churn.state(int(request.query.get("since", -1))))
        sim.add_control_route("POST", "churn", churn._control)
        return churn

    # --- component hooks ---------------------------------------------------------------------
    def start(self) -> None:
        """Nothing runs until asked through the control surface."""

    def stop(self) -> None:
        self.halt()

    # --- control -------------------------------------------------------------------------------
    def run(self, rate: float, seconds: float | None = None) -> None:
        """Commit `rate` events per second (on the simulator's loop) until halted or `seconds` pass."""
        self.halt()
        if rate <= 0:
            return
        self.rate = rate
        res = self.api.registry.get(*IPAMBLOCKS)
        self._blocks = [meta(b)["name"] for b in self.sim.store.list(res.storage_key) if ib.node_of(b["spec"])]
        self.started_at = time.time()
        self.behind = self.max_behind = 0
        self._task = asyncio.get_running_loop().create_task(self._pace(rate, seconds))

    def halt(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.rate = 0.0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def state(self, since: int = -1) -> dict:
        events = [e.to_dict() for e in self.log if e.seq > since] if since >= 0 else []
        return {"running": self.running, "rate": self.rate, "sent": self._seq, "behind": self.behind,
                "maxBehind": self.max_behind, "errors": self.errors, "startedAt": self.started_at,
                "events": events}

    async def _control(self, request) -> dict:
        raw = await request.read()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise errors.bad_request("expected a JSON object") from None
        rate, seconds = data.get("rate", 0), data.get("seconds")
        for name, value in (("rate", rate), ("seconds", seconds)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise errors.bad_request(f"{name} must be a non-negative number")
        self.run(float(rate), seconds)
        return self.state()

    # --- work ----------------------------------------------------------------------------------
    async def _pace(self, rate: float, seconds: float | None) -> None:
        """Event k is due at start + k/rate; a turn commits whatever is due (at most MAX_BATCH),
        so a slow turn is caught up rather than silently lowering the rate."""
        start = time.monotonic()
        done = 0
        while seconds is None or time.monotonic() - start < seconds:
            due = int((time.monotonic() - start) * rate) + 1
            if seconds is not None:
                due = min(due, int(seconds * rate))
            for _ in range(min(due - done, MAX_BATCH)):
                self.step()
                done += 1
            self.behind = max(0, due - done)
            self.max_behind = max(self.max_behind, self.behind)
            await asyncio.sleep(max(0.0, start + done / rate - time.monotonic()) if self.behind == 0 else 0)
            if seconds is not None and done >= int(seconds * rate):
                break
        self.rate = 0.0

    def step(self) -> ChurnEvent | None:
        """One allocate or release in a random node-affine block (of those present when the run
        started); None when there is none left."""
        res = self.api.registry.get(*IPAMBLOCKS)
        node = None
        while node is None:
            if not self._blocks:
                return None
            name = self.rng.choice(self._blocks)
            block = self.sim.store.get(res.storage_key, "", name)
            node = ib.node_of(block["spec"]) if block else None
            if node is None:  # deleted or released since the run started
                self._blocks.remove(name)
                self._held.pop(name, None)
        handle = self._held.get(name)
        try:
            if handle is not None:
                spec, _ = ib.release_handle(block["spec"], handle)
                action = "release"
            else:
                handle = ib.pod_handle_id(f"churn{self._seq:012x}")
                spec, _ = ib.allocate(block["spec"], handle, ib.pod_attributes(
                    NAMESPACE, f"churn-{self._seq}", node, self.sim.clock.now()))
                action = "allocate"
            stored = self.sim.store.update(res.storage_key, {**block, "spec": spec})
        except (ib.BlockFull, errors.ApiError):
            self.errors += 1
            return None
        if action == "release":
            del self._held[name]
        else:
            self._held[name] = handle
        self._seq += 1
        event = ChurnEvent(self._seq, time.time(), name, node, action, int(meta(stored)["resourceVersion"]))
        self.log.append(event)
        return event
