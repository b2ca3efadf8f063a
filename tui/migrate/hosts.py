"""Manual host steps played by the simulator (`--sim-manual`, demo and tests only).

On a real cluster a person edits the kube-controller-manager manifest or restarts a kubelet and the
runner waits until it sees the result. Against the calico-tui simulator the same host actions can
be asked of its control surface; a real API server has no such surface, which is how `--sim-manual`
is refused there.
"""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException

from tui.migrate.steps import HostTask

STATE_PATH = "/_sim/state"


class SimulatorHostActions:
    def __init__(self, conn):
        self.conn = conn

    def perform(self, task: HostTask) -> dict:
        return self.conn.request("POST", f"/_sim/hosts/{task.node}/{task.action}", body=task.args)


def simulator_host_actions(conn) -> SimulatorHostActions | None:
    """Host actions when `conn` points at the simulator, else None."""
    try:
        state = conn.get(STATE_PATH)
    except (ApiException, OSError):
        return None
    return SimulatorHostActions(conn) if isinstance(state, dict) and "clock" in state else None
