"""`calico-tui` without a subcommand: the live dashboard, against a kubeconfig context or `--demo`.

`--demo` starts the simulated cluster in this process on a random loopback port and writes a
temporary kubeconfig for it (0600, removed on exit), so the app connects through exactly the same
client code as it would to a real cluster.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tui.terminal import apply_color_system


@contextmanager
def demo_cluster(args) -> Iterator[tuple[str, str | None]]:
    """A started simulator for the scenario options in `args`; yields (kubeconfig path, context)."""
    from tui.sim.simulator import Simulator

    folder = Path(tempfile.mkdtemp(prefix="calico-tui-demo-"))
    simulator = Simulator.from_args(args)
    try:
        simulator.start_in_thread()
        kubeconfig = folder / "kubeconfig"
        simulator.write_kubeconfig(kubeconfig)
        yield str(kubeconfig), None
    finally:
        simulator.stop()
        shutil.rmtree(folder, ignore_errors=True)


def run(args) -> int:
    apply_color_system(args.color_system)
    from tui.app import CalicoApp
    from tui.session import Session

    with ExitStack() as stack:
        kubeconfig, context = (stack.enter_context(demo_cluster(args)) if args.demo
                               else (args.kubeconfig, args.context))
        session = Session(kubeconfig, context, force_read_only=args.read_only)
        # The demo cluster has no hosts to log in to: its simulator plays the migration's manual steps.
        app = CalicoApp(session, ansi=args.color_system == "16", sim_manual=args.demo)
        return app.run() or 0
