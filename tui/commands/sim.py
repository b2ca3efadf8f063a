"""`calico-tui sim ...`: play the parts of a migration that happen on hosts, against a simulator.

Talks to a running `calico-tui demo-server` (or `--demo` app) through its loopback control surface
`/_sim/...`, found from the kubeconfig context's server URL: host actions (edit the
kube-controller-manager manifest, restart or stop a kubelet, restart calico-node), host state, the
controllers (start, stop, step, settle), and the list of built-in scenarios.
"""

from __future__ import annotations

import json
import sys

NAME = "sim"
HELP = "drive the simulated cluster: host actions (edit-kcm, restart-kubelet, ...), controllers, scenarios"
HOST_ACTIONS = ("edit-kcm", "restart-kubelet", "stop-kubelet", "start-kubelet", "restart-calico-node")
CONTROLLER_ACTIONS = ("state", "start", "stop", "step", "settle", "advance")


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="sim_command", metavar="WHAT", required=True)
    sub.add_parser("scenarios", help="list the built-in scenarios")
    host = sub.add_parser("host", help="run a host action on a simulated node",
                          description="Run what a person would do on a node: edit "
                                      "/etc/kubernetes/manifests/kube-controller-manager.yaml, "
                                      "systemctl restart/stop/start kubelet, restart calico-node.")
    host.add_argument("node")
    host.add_argument("action", choices=HOST_ACTIONS)
    host.add_argument("--cluster-cidr", help="edit-kcm: new --cluster-cidr")
    host.add_argument("--allocate-node-cidrs", choices=("true", "false"), help="edit-kcm: new --allocate-node-cidrs")
    host.add_argument("--node-cidr-mask-size", help="edit-kcm: new --node-cidr-mask-size")
    sub.add_parser("hosts", help="print every simulated host's state (JSON)")
    controllers = sub.add_parser("controllers", help="show or drive the simulated controllers")
    controllers.add_argument("action", nargs="?", choices=CONTROLLER_ACTIONS, default="state")
    controllers.add_argument("seconds", nargs="?", type=float, default=600.0,
                             help="settle/advance: simulated seconds (default 600)")


def host_request(args) -> dict:
    """The /_sim/hosts body for `sim host ...`."""
    body = {"node": args.node, "action": args.action}
    if args.action == "edit-kcm":
        options = {"clusterCIDR": args.cluster_cidr, "allocateNodeCIDRs": args.allocate_node_cidrs,
                   "nodeCIDRMaskSize": args.node_cidr_mask_size}
        if not any(options.values()):
            raise SystemExit("calico-tui sim host: edit-kcm needs --cluster-cidr, --allocate-node-cidrs "
                             "or --node-cidr-mask-size")
        body.update({k: v for k, v in options.items() if v is not None})
    return body


def run(args) -> int:
    if args.sim_command == "scenarios":
        from tui.sim.scenario import builtin_scenarios

        for name, description in builtin_scenarios().items():
            print(f"{name:10s} {' '.join(description.split())}")
        return 0
    from kubernetes.client.exceptions import ApiException

    from tui.commands.status import run_with_cluster

    if args.sim_command == "host":
        method, path, body = "POST", "/_sim/hosts", host_request(args)
    elif args.sim_command == "hosts":
        method, path, body = "GET", "/_sim/hosts", None
    elif args.action == "state":
        method, path, body = "GET", "/_sim/controllers", None
    else:
        method, path, body = "POST", "/_sim/controllers", {"action": args.action, "seconds": args.seconds}

    def work(conn) -> int:
        try:
            reply = conn.request(method, path, body=body)
        except ApiException as exc:
            if exc.status == 404:
                print(f"calico-tui sim: {conn.server} is not a calico-tui simulator (no /_sim control surface)",
                      file=sys.stderr)
                return 2
            if exc.status == 400:
                message = json.loads(exc.body or "{}").get("message", exc.reason)
                print(f"calico-tui sim: {message}", file=sys.stderr)
                return 1
            raise
        if args.sim_command == "host":
            command = " ".join(reply.get("command") or [])
            print(f"{args.node}: {args.action} done" + (f"; kube-controller-manager now runs: {command}"
                                                          if command else ""))
        else:
            print(json.dumps(reply, indent=2, sort_keys=True))
        return 0

    return run_with_cluster(args, work)
