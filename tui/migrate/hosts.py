"""Manual host steps played by the simulator (`--sim-manual`, demo and tests only).

On a real cluster a person edits the kube-controller-manager manifest or restarts a kubelet and the
runner waits until it sees the result. Against the calico-tui simulator the same host actions can
be asked of its control surface; a real API server has no such surface, which is how `--sim-manual`
is refused there.
"""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException

from tui.migrate.rest import Rest
from tui.migrate.steps import HostTask

HOSTS_PATH = "/_sim/hosts"
# The simulator's names for kube-controller-manager flags in an edit-kcm action.
FLAG_OPTIONS = {"cluster-cidr": "clusterCIDR", "allocate-node-cidrs": "allocateNodeCIDRs",
                "node-cidr-mask-size": "nodeCIDRMaskSize"}


class SimulatorHostActions:
    def __init__(self, conn):
        self.rest = Rest(conn)  # its errors are ApiStatusErrors: the runner retries transient ones

    def perform(self, task: HostTask) -> dict:
        body = {"node": task.node, "action": task.action}
        body.update({FLAG_OPTIONS.get(k, k): v for k, v in task.args.items()})
        return self.rest.request("POST", HOSTS_PATH, body=body)


def simulator_host_actions(conn) -> SimulatorHostActions | None:
    """Host actions when `conn` points at a simulator with hosts, else None."""
    try:
        hosts = conn.get(HOSTS_PATH)
    except (ApiException, OSError):
        return None
    return SimulatorHostActions(conn) if isinstance(hosts, dict) and hosts else None
