"""The kubelet of every simulated node: node registration and status, static pods, pod lifecycle.

Per pod: Pending -> ContainerCreating (sandbox: host network, or an address from Calico IPAM
through the CNI plugin, whose failure is a FailedCreatePodSandBox event and a retry) -> Running;
graceful deletion finishes after the (shortened) grace period with the CNI teardown and the final
delete. Per node: the Node is registered when the kubelet starts and finds none (never otherwise, as
on a real cluster), its status is posted while the kubelet runs, and static pod manifests are
published as mirror pods.
"""

from __future__ import annotations

from tui.sim.clock import parse_rfc3339
from tui.sim.controllers import ipam_blocks as ib
from tui.sim.controllers.base import BY_NODE, CNI_INSTALLED, NODES, PODS, Controller, key_of, node_of_pod
from tui.sim.controllers.events import WARNING
from tui.sim.controllers.ipam import Ipam, IpamError, pod_handle
from tui.sim.node_objects import capacity, kubelet_labels, node_addresses, node_info, node_status, registered_node
from tui.sim.pod_objects import (CALICO_CONTAINER_ID, CALICO_POD_IP, CALICO_POD_IPS, creating_status, is_mirror,
                                 is_ready, is_terminal, running_status, with_readiness)
from tui.sim.static_pods import CONFIG_HASH, KCM, MIRROR_ANNOTATION, mirror_pod

POD = key_of(PODS)
NODE = key_of(NODES)
SMP = "application/strategic-merge-patch+json"


def sandbox_error(sandbox: str, message: str) -> str:
    return (f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for '
            f'sandbox "{sandbox}": plugin type="calico" failed (add): {message}')


class Kubelet(Controller):
    name = "kubelet"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._starting: dict[str, tuple[str, float, str]] = {}  # pod uid -> (ip, running at, sandbox)
        self._killing: dict[str, float] = {}  # pod uid -> final delete at
        self._registered: dict[str, int] = {}  # node -> kubelet start it registered (or found) its Node in
        self._static_hosts: set[str] = set()  # nodes that have (or had) static pods

    def initial_keys(self):
        for name in self.ctx.hosts:
            if self.cache.get(NODE, None, name) is not None:
                self._registered[name] = self.ctx.hosts[name].kubelet_starts
            yield ("node", name)
        for pod in self.cache.list(POD):
            if node_of_pod(pod) and not _settled(pod):
                yield ("pod", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def on_change(self, event, key, obj, old):
        if key == POD and node_of_pod(obj):
            meta = obj["metadata"]
            yield ("pod", meta["namespace"], meta["name"])
            if event == "DELETED" and is_mirror(obj):
                yield ("node", node_of_pod(obj)[0])
        elif key == NODE and event in ("ADDED", "DELETED"):
            yield ("node", obj["metadata"]["name"])

    def on_host(self, node, action):
        if action == CNI_INSTALLED:  # only pods waiting for the network care
            for pod in self.cache.by_index(POD, BY_NODE, node):
                if not _settled(pod):
                    yield ("pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
            return
        yield ("node", node)
        for pod in self.cache.by_index(POD, BY_NODE, node):
            if not _settled(pod) or not is_ready(pod) or pod["metadata"].get("deletionTimestamp"):
                yield ("pod", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def sync(self, key) -> None:
        if key[0] == "node":
            self._sync_node(key[1])
        else:
            self._sync_pod(key[1], key[2])

    # --- nodes -----------------------------------------------------------------------------------
    def _sync_node(self, name: str) -> None:
        host = self.ctx.hosts.get(name)
        if host is None or not host.kubelet_running:
            return
        api, now = self.ctx.api, self.ctx.now()
        node = self.cache.get(NODE, None, name)
        if node is None:
            if self._registered.get(name) == host.kubelet_starts:
                return  # deleted while running: the kubelet only re-registers when restarted
            self._registered[name] = host.kubelet_starts
            api.create(self.ctx.res(NODES), None, registered_node(host, now))
            return
        self._registered[name] = host.kubelet_starts
        status = node.get("status") or {}
        if _status_differs(status, host):
            api.update(self.ctx.res(NODES), None, name,
                       {**node, "status": node_status(host, now, ready=True, old=status)}, subresource="status")
        labels = node["metadata"].get("labels") or {}
        missing = {k: v for k, v in kubelet_labels(host).items() if labels.get(k) != v}
        if missing:
            api.patch(self.ctx.res(NODES), None, name, {"metadata": {"labels": missing}}, SMP)
        self._sync_static_pods(host, self.cache.get(NODE, None, name))

    def _sync_static_pods(self, host, node: dict) -> None:
        if not host.static_pods and host.name not in self._static_hosts:
            return
        self._static_hosts.add(host.name)  # it may still have mirror pods to remove
        api, pods = self.ctx.api, self.ctx.res(PODS)
        wanted = {}
        for manifest_name, manifest in host.static_pods.items():
            meta = manifest.get("metadata") or {}
            wanted[(meta.get("namespace", "kube-system"), f"{meta.get('name')}-{host.name}")] = manifest_name
        for pod in self.cache.by_index(POD, BY_NODE, host.name):
            if not is_mirror(pod):
                continue
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            manifest_name = wanted.get(key)
            current = pod["metadata"]["annotations"].get(MIRROR_ANNOTATION)
            if manifest_name is None or current != host.static_hash(manifest_name):
                # manifest removed or edited: the kubelet replaces the static pod and its mirror
                api.delete(pods, key[0], key[1], grace_period_seconds=0)
        for (namespace, name), manifest_name in wanted.items():
            if self.cache.get(POD, namespace, name) is None:
                mirror = mirror_pod(host.static_pods[manifest_name], host.name, node["metadata"]["uid"],
                                    self.ctx.now())
                digest = host.static_hash(manifest_name)
                mirror["metadata"]["annotations"].update({CONFIG_HASH: digest, MIRROR_ANNOTATION: digest})
                api.create(pods, namespace, mirror)

    # --- pods ------------------------------------------------------------------------------------
    def _sync_pod(self, namespace: str, name: str) -> None:
        pod = self.cache.get(POD, namespace, name)
        if pod is None or not pod["spec"].get("nodeName"):
            return  # gone, or a new pod of the same name that is not bound yet
        node = pod["spec"]["nodeName"]
        host = self.ctx.hosts.get(node)
        if host is None or not host.kubelet_running or self.cache.get(NODE, None, node) is None:
            return
        if pod["metadata"].get("deletionTimestamp"):
            self._terminate(pod)
        elif is_mirror(pod) and pod["metadata"].get("labels", {}).get("component") == KCM:
            return  # the kube-controller-manager process is simulated by the kcm controller
        elif not _settled(pod):
            if pod["spec"].get("hostNetwork") or host.cni_config is not None:
                self._start(pod, host)  # else: NetworkPluginNotReady until calico-node installs the CNI
        elif (pod["status"].get("phase") == "Running" and not is_ready(pod)
              and pod["metadata"]["uid"] not in self._starting):
            self.set_status(PODS, pod, with_readiness(pod["status"], True, self.ctx.now()))  # back after an outage

    def _start(self, pod: dict, host) -> None:
        api, now, timings = self.ctx.api, self.ctx.now(), self.ctx.timings
        uid = pod["metadata"]["uid"]
        key = ("pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
        started = self._starting.get(uid)
        if started is None:
            if not _creating(pod):
                pod = api.update(self.ctx.res(PODS), pod["metadata"]["namespace"], pod["metadata"]["name"],
                                 {**pod, "status": creating_status(pod, host.ip, now, now)}, subresource="status")
            sandbox = self.ctx.namer.container_id()
            try:
                ip = self._setup_network(pod, host, sandbox)
            except IpamError as exc:
                self.ctx.events.emit(pod, "FailedCreatePodSandBox", sandbox_error(sandbox, str(exc)), WARNING,
                                     "kubelet", host.name)
                self.after(timings.sandbox_retry, key)
                return
            self._starting[uid] = (ip, now + timings.pod_startup, sandbox)
            self.after(timings.pod_startup, key)
            return
        ip, due, _ = started
        if now < due:
            self.after(due - now, key)
            return
        container_ids = [self.ctx.namer.container_id() for _ in pod["spec"].get("containers", [])]
        for container in pod["spec"].get("containers", []):
            image = container.get("image", "")
            self.ctx.events.emit(pod, "Pulled", f'Container image "{image}" already present on machine',
                                 component="kubelet", host=host.name)
            self.ctx.events.emit(pod, "Created", f"Created container {container['name']}", host=host.name)
            self.ctx.events.emit(pod, "Started", f"Started container {container['name']}", host=host.name)
        began = (pod.get("status") or {}).get("startTime")
        start_time = parse_rfc3339(began) if began else now
        api.update(self.ctx.res(PODS), pod["metadata"]["namespace"], pod["metadata"]["name"],
                   {**pod, "status": running_status(pod, host.ip, ip, container_ids, start_time, now)},
                   subresource="status")
        del self._starting[uid]

    def _setup_network(self, pod: dict, host, sandbox: str) -> str:
        """The CNI ADD: the host's address for host-network pods, else an address from Calico IPAM,
        recorded on the pod the way the Calico CNI plugin annotates it."""
        if pod["spec"].get("hostNetwork"):
            return host.ip
        ipam = Ipam(self.ctx)
        previous = pod_handle(pod)
        if previous and ipam.handle_ips(previous):
            return ipam.handle_ips(previous)[0]  # the sandbox already has its address
        meta = pod["metadata"]
        pools = ipam.pod_pools(pod, host.name)
        handle = ib.pod_handle_id(sandbox)
        ip = ipam.assign(handle, ib.pod_attributes(meta["namespace"], meta["name"], host.name, self.ctx.now()),
                         host.name, pools)
        self.ctx.api.patch(self.ctx.res(PODS), meta["namespace"], meta["name"], {"metadata": {"annotations": {
            CALICO_CONTAINER_ID: sandbox, CALICO_POD_IP: f"{ip}/32", CALICO_POD_IPS: f"{ip}/32"}}}, SMP)
        return ip

    def _terminate(self, pod: dict) -> None:
        api, now = self.ctx.api, self.ctx.now()
        meta = pod["metadata"]
        uid, key = meta["uid"], ("pod", meta["namespace"], meta["name"])
        due = self._killing.get(uid)
        if due is None:
            for container in pod["spec"].get("containers", []):
                self.ctx.events.emit(pod, "Killing", f"Stopping container {container['name']}",
                                     host=pod["spec"]["nodeName"])
            grace = min(float(meta.get("deletionGracePeriodSeconds") or 0), self.ctx.timings.grace_cap)
            self._killing[uid] = due = now + grace
        if now < due:
            self.after(due - now, key)
            return
        handle = pod_handle(pod)
        if handle:
            Ipam(self.ctx).release(handle)
        self._starting.pop(uid, None)
        api.delete(self.ctx.res(PODS), meta["namespace"], meta["name"], grace_period_seconds=0,
                   preconditions={"uid": uid})
        self._killing.pop(uid, None)


def _settled(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" or is_terminal(pod)


def _creating(pod: dict) -> bool:
    return any(((s.get("state") or {}).get("waiting") or {}).get("reason") == "ContainerCreating"
               for s in (pod.get("status") or {}).get("containerStatuses") or [])


def _status_differs(old: dict, host) -> bool:
    """Whether the kubelet must post: readiness, addresses, boot or capacity changed (the simulator
    sends no periodic heartbeats)."""
    ready = next((c.get("status") for c in old.get("conditions") or [] if c.get("type") == "Ready"), None)
    return (ready != "True" or old.get("addresses") != node_addresses(host)
            or (old.get("nodeInfo") or {}).get("bootID") != node_info(host)["bootID"]
            or old.get("capacity") != capacity(host)[0])
