"""`Simulator`: one simulated cluster (clock, store, Api, HTTP server, controllers) on one asyncio loop.

Run it inside a running loop (`await sim.start()`, `run_forever()` for `demo-server`) or in its own
thread (`start_in_thread()` for the app's `--demo` and for tests). Controllers are components with
`start()` and `stop()` (plain or async) that are called on the simulator's loop; they do their work
through `sim.api` and may add control routes under `/_sim/`.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import os
import signal
import socket
import threading
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

import yaml
from aiohttp import web

from tui.sim import errors
from tui.sim.api import NAMESPACES_KEY, Api
from tui.sim.auth import Auth
from tui.sim.clock import Clock
from tui.sim.resources import Registry, ResourceType
from tui.sim.server import ApiServer, Handler
from tui.sim.store import DEFAULT_HISTORY, Store, meta
from tui.sim.tls import client_context, credentials, server_context

log = logging.getLogger(__name__)

CLUSTER_NAME = "calico-demo"
ADMIN_CONTEXT = "calico-demo-admin"
VIEWER_CONTEXT = "calico-demo-viewer"
SHUTDOWN_TIMEOUT = 2.0


async def _call(result) -> None:
    if inspect.isawaitable(result):
        await result


class NamespaceController:
    """kube-controller-manager's namespace controller: empties a Terminating namespace, then
    removes its `kubernetes` finalizer so that the namespace itself goes."""

    def __init__(self, api: Api):
        self.api = api
        self._unsubscribe: Callable[[], None] | None = None
        self._dirty: set[str] = set()
        self._scheduled = False

    def start(self) -> None:
        self._unsubscribe = self.api.subscribe(self._on_change)
        for ns in self.api.store.list(NAMESPACES_KEY):
            if meta(ns).get("deletionTimestamp"):
                self._mark(meta(ns)["name"])

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_change(self, event: str, res: ResourceType | None, obj: dict, old: dict | None) -> None:
        if res is not None and res.storage_key == NAMESPACES_KEY:
            if event != "DELETED" and meta(obj).get("deletionTimestamp"):
                self._mark(meta(obj)["name"])
        elif event == "DELETED" and meta(obj).get("namespace") in self._terminating():
            self._mark(meta(obj)["namespace"])

    def _terminating(self) -> set[str]:
        return self._dirty | {meta(ns)["name"] for ns in self.api.store.list(NAMESPACES_KEY)
                              if meta(ns).get("deletionTimestamp")}

    def _mark(self, name: str) -> None:
        """Coalesce the work of a burst of changes into one pass on the next loop turn."""
        self._dirty.add(name)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        while self._dirty:
            self.sync(self._dirty.pop())

    def sync(self, name: str) -> None:
        ns = self.api.store.get(NAMESPACES_KEY, "", name)
        if ns is None or not meta(ns).get("deletionTimestamp"):
            return
        remaining = 0
        for key in self.api.store.keys():
            res = self.api.registry.storage_type(key)
            if res is None or not res.namespaced:
                continue
            for obj in list(self.api.store.list(key, name)):
                remaining += 1
                if not meta(obj).get("deletionTimestamp"):
                    try:
                        self.api.delete(res, name, meta(obj)["name"])
                    except errors.ApiError as exc:
                        if exc.code != 404:
                            log.warning("namespace controller: deleting %s/%s: %s", name, meta(obj)["name"], exc)
        finalizers = (ns.get("spec") or {}).get("finalizers") or []
        if remaining == 0 and "kubernetes" in finalizers:
            res = self.api.type("namespaces")
            self.api.patch(res, None, name, [{"op": "replace", "path": "/spec/finalizers",
                                              "value": [f for f in finalizers if f != "kubernetes"]}],
                           "application/json-patch+json")


class Simulator:
    def __init__(self, objects: Iterable[dict] | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Clock | None = None, speed: float = 1.0, seed: int | str = 0,
                 history_size: int = DEFAULT_HISTORY, calico_api_server: bool = True,
                 bookmark_interval: float = 5.0, tls: bool = True):
        self.host, self.port, self.tls = host, port, tls
        self.clock = clock or Clock(speed=speed)
        self.store = Store(history_size)
        self.api = Api(self.store, self.clock, Registry(calico_api_server), seed=seed)
        self.auth = Auth()
        self.server = ApiServer(self.api, self.auth, bookmark_interval=bookmark_interval)
        self.url: str | None = None
        self._components: list = [NamespaceController(self.api)]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._loop_thread: int | None = None  # ident of the thread running the loop
        self._runner: web.AppRunner | None = None
        self._stopped: asyncio.Event | None = None
        self._add_control_routes()
        if objects is not None:
            self.api.load(objects)

    @classmethod
    def from_scenario(cls, name: str | None = None, path: str | os.PathLike | None = None,
                      params: dict | None = None, **options) -> Simulator:
        """A simulator loaded with a scenario (built-in by name, or a file), the bundled CRDs it does
        not define itself installed first. Raises tui.sim.scenario.ScenarioError."""
        from tui.sim.crds import load_crds
        from tui.sim.scenario import load_scenario

        scenario = load_scenario(name, path, params)
        defined = {meta(o).get("name") for o in scenario.objects if o.get("kind") == "CustomResourceDefinition"}
        crds = [crd for crd in load_crds() if meta(crd).get("name") not in defined]
        options.setdefault("seed", scenario.seed)
        sim = cls([*crds, *scenario.ordered_objects()], **options)
        from tui.sim.components import install

        install(sim, scenario)  # host state and controllers; boots the cluster into its steady state
        return sim

    @classmethod
    def from_args(cls, args) -> Simulator:
        """From the command line's scenario options (tui.cli.add_scenario_arguments) and `--port`."""
        params = {"nodes": args.nodes} if getattr(args, "nodes", None) else None
        return cls.from_scenario(getattr(args, "scenario", None), getattr(args, "scenario_file", None), params,
                                 speed=getattr(args, "speed", 1.0) or 1.0, port=getattr(args, "port", 0) or 0)

    @property
    def tokens(self) -> dict[str, str]:
        """Bearer tokens by identity (`admin`, `viewer`)."""
        return self.auth.tokens

    @property
    def running(self) -> bool:
        return self._runner is not None

    # --- composition -------------------------------------------------------------------------
    def load(self, objects: Iterable[dict]) -> list[dict]:
        return self.api.load(list(objects))

    def add_controller(self, component):
        """Add a component with `start()`/`stop()`; started now if the simulator runs, else on start."""
        self._components.append(component)
        if self.running:
            self.call(lambda: asyncio.ensure_future(_call(component.start())))
        return component

    def add_control_route(self, method: str, path: str, handler: Handler) -> None:
        """Serve `handler(request)` at `/_sim/<path>` (see ApiServer.add_control_route)."""
        self.server.add_control_route(method, path, handler)

    def call(self, fn: Callable, *args, **kwargs):
        """Run `fn` on the simulator's loop and return its result (directly when not running there)."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.get_ident() == self._loop_thread:
            return fn(*args, **kwargs)

        async def run():
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), loop).result()

    # --- running inside a loop ---------------------------------------------------------------
    async def start(self) -> str:
        """Listen (a free port on 127.0.0.1 unless given) and start the components; returns the URL."""
        loop = asyncio.get_running_loop()
        self._loop, self._loop_thread = loop, threading.get_ident()
        self.api.bind_loop(loop)
        self.clock.attach(loop)
        self.url = await self._listen(self.port)
        for component in list(self._components):
            await _call(component.start())
        return self.url

    async def _listen(self, port: int) -> str:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        runner = web.AppRunner(self.server.app, handle_signals=False, access_log=None,
                               shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        await web.SockSite(runner, sock, ssl_context=server_context() if self.tls else None).start()
        self._runner = runner
        port = sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.server.address = f"{host}:{port}"
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    async def _stop_serving(self) -> None:
        self.server.drop_watches()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def restart_server(self, downtime: float = 0.0) -> None:
        """An API server restart that keeps its storage (etcd): every connection is cut, nothing is
        served for `downtime` real seconds, then the same state is served on the same port. The new
        server's watch cache has no history, so watches from older revisions get 410 and relist."""
        port = int(self.url.rsplit(":", 1)[1])
        await self._stop_serving()
        await asyncio.sleep(downtime)
        self.store.compact()
        await self._listen(port)

    def restart(self, downtime: float = 0.0) -> None:
        """`restart_server` from another thread, returning once the server listens again."""
        asyncio.run_coroutine_threadsafe(self.restart_server(downtime), self._loop).result()

    async def stop_async(self) -> None:
        for component in reversed(self._components):
            try:
                await _call(component.stop())
            except Exception:
                log.exception("stopping %r failed", component)
        await self._stop_serving()

    def run_forever(self, on_ready: Callable[[str], None] | None = None) -> int:
        """Serve in the foreground until SIGINT/SIGTERM (`demo-server`); `on_ready(url)` once listening."""

        async def main() -> None:
            self._stopped = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self._stopped.set)
                except (NotImplementedError, RuntimeError):
                    pass
            url = await self.start()
            if on_ready:
                on_ready(url)
            try:
                await self._stopped.wait()
            finally:
                await self.stop_async()

        asyncio.run(main())
        return 0

    # --- running in a thread -----------------------------------------------------------------
    def start_in_thread(self) -> str:
        """Run the simulator on its own loop in a daemon thread; returns the URL once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._stopped = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await self._stopped.wait()
            finally:
                await self.stop_async()

        self._thread = threading.Thread(target=lambda: asyncio.run(main()), name="calico-sim", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]
        return self.url

    def stop(self) -> None:
        """Stop serving, close open watches and join the thread (or just signal, inside the loop)."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopped.set)
            except RuntimeError:
                pass
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Simulator:
        self.start_in_thread()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- kubeconfig --------------------------------------------------------------------------
    def kubeconfig(self) -> dict:
        """Contexts `calico-demo-admin` (current) and `calico-demo-viewer` for this server."""
        if self.url is None:
            raise RuntimeError("the simulator is not listening yet")
        users, contexts = [], []
        for role, context in (("admin", ADMIN_CONTEXT), ("viewer", VIEWER_CONTEXT)):
            users.append({"name": context, "user": {"token": self.tokens[role]}})
            contexts.append({"name": context, "context": {"cluster": CLUSTER_NAME, "user": context,
                                                          "namespace": "default"}})
        cluster = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(credentials().ca_pem).decode()
        return {"apiVersion": "v1", "kind": "Config", "preferences": {},
                "clusters": [{"name": CLUSTER_NAME, "cluster": cluster}],
                "users": users, "contexts": contexts, "current-context": ADMIN_CONTEXT}

    def write_kubeconfig(self, path: str | os.PathLike) -> Path:
        """Write the kubeconfig with mode 0600 (it holds the tokens)."""
        target = Path(path)
        text = yaml.safe_dump(self.kubeconfig(), sort_keys=False)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(target, 0o600)
        return target

    # --- control surface ---------------------------------------------------------------------
    def control(self, method: str, path: str, body: dict | None = None):
        """Call `/_sim/<path>` over HTTP from another thread (tests and tools); returns the JSON reply."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_sim/{path.strip('/')}", data=data, method=method.upper(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=client_context() if self.tls else None, timeout=30) as reply:
            return json.loads(reply.read() or b"null")

    def _add_control_routes(self) -> None:
        async def read_json(request) -> dict:
            raw = await request.read()
            data = json.loads(raw) if raw.strip() else {}
            if not isinstance(data, dict):
                raise errors.bad_request("expected a JSON object")
            return data

        async def restore(request):
            data = await read_json(request)
            if not isinstance(data.get("store"), dict):
                raise errors.bad_request("expected a snapshot from GET /_sim/snapshot")
            self.api.restore(data)
            return {"resourceVersion": str(self.store.resource_version)}

        async def clock(request):
            data = await read_json(request)
            if "speed" in data:
                self.clock.set_speed(float(data["speed"]))
            if data.get("freeze") is True:
                self.clock.freeze()
            elif data.get("freeze") is False:
                self.clock.unfreeze()
            if "step" in data:
                self.clock.step(float(data["step"]))
            return self.clock.state()

        async def history(request):
            data = await read_json(request)
            if "size" in data:
                self.store.set_history_size(int(data["size"]))
            if data.get("compact"):
                self.store.compact()
            return {"size": self.store.history_size, "compacted": str(self.store.compacted),
                    "resourceVersion": str(self.store.resource_version)}

        async def inject(request):
            """Store objects exactly as given, past every validation, as a corrupted etcd or an old
            buggy writer would have left them (malformed-input tests); watchers see them."""
            data = await read_json(request)
            objects = data.get("objects")
            if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
                raise errors.bad_request("expected {\"objects\": [...]}")
            stored = []
            for obj in objects:
                res = self.api.resource_for(obj)
                metadata = dict(obj.get("metadata") or {})
                if not isinstance(metadata.get("name"), str) or not metadata["name"]:
                    raise errors.bad_request("every injected object needs a metadata.name string")
                metadata["namespace"] = str(metadata.get("namespace") or "") if res.namespaced else ""
                exists = self.store.get(res.storage_key, metadata["namespace"], metadata["name"]) is not None
                put = self.store.update if exists else self.store.create
                stored.append(put(res.storage_key, {**obj, "metadata": metadata})["metadata"]["resourceVersion"])
            return {"resourceVersions": stored}

        async def restart(request):
            downtime = float((await read_json(request)).get("downtime", 0.0))
            # after this answer has gone out: the restart cuts every connection, this one included
            asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(self.restart_server(downtime)))
            return {"restarting": True, "downtime": downtime}

        def state(request):
            return {"url": self.url, "resourceVersion": str(self.store.resource_version),
                    "openWatches": self.server.open_watches, "clock": self.clock.state(),
                    "faults": self.server.faults.state(), "unexpectedErrors": len(self.server.unexpected_errors),
                    "components": [type(c).__name__ for c in self._components]}

        for method, path, handler in (("GET", "snapshot", lambda r: self.api.snapshot()),
                                      ("POST", "restore", restore), ("GET", "clock", lambda r: self.clock.state()),
                                      ("POST", "clock", clock), ("POST", "history", history),
                                      ("POST", "inject", inject), ("POST", "restart", restart),
                                      ("GET", "state", state)):
            self.add_control_route(method, path, handler)
