"""`calico-tui demo-server`: the simulated Calico cluster in the foreground, for kubectl and friends."""

from __future__ import annotations

import sys

from tui.cli import add_scenario_arguments

NAME = "demo-server"
HELP = "run the simulated Calico cluster in the foreground and write a kubeconfig for kubectl"
DEFAULT_KUBECONFIG = "calico-demo.kubeconfig"


def add_arguments(parser) -> None:
    add_scenario_arguments(parser)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--kubeconfig-out", default=DEFAULT_KUBECONFIG, metavar="PATH",
                        help=f"where to write the kubeconfig (default: ./{DEFAULT_KUBECONFIG}); contexts "
                             "calico-demo-admin (current) and calico-demo-viewer")


def run(args) -> int:
    from tui.sim.scenario import ScenarioError
    from tui.sim.simulator import Simulator

    if not 0 <= args.port <= 65535:
        print(f"calico-tui demo-server: invalid port {args.port}", file=sys.stderr)
        return 2
    try:
        sim = Simulator.from_args(args)
    except (ScenarioError, OSError) as exc:
        print(f"calico-tui demo-server: {exc}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        path = sim.write_kubeconfig(args.kubeconfig_out)
        print(url, flush=True)
        print(f"kubeconfig: {path} (try: KUBECONFIG={path} kubectl get nodes -o wide); Ctrl-C stops",
              file=sys.stderr, flush=True)

    try:
        return sim.run_forever(on_ready=ready)
    except OSError as exc:
        print(f"calico-tui demo-server: cannot serve: {exc}", file=sys.stderr)
        return 2
