"""Command-line entry point: `calico-tui [options] [COMMAND]`.

Without a command the interactive app runs (against `--demo` or a kubeconfig context).
Every subcommand lives in its own module under tui.commands and is listed in COMMAND_MODULES.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tui import __version__

# Order is the order shown in --help.
COMMAND_MODULES = (
    "tui.commands.demo_server",
    "tui.commands.status",
    "tui.commands.snapshot",
    "tui.commands.check",
    "tui.commands.plan",
    "tui.commands.migrate",
    "tui.commands.sim",
)


def add_connection_arguments(parser: argparse.ArgumentParser, inherited: bool = False) -> None:
    """Options that say which cluster to talk to, shared by the app and every headless command.

    `inherited` (on subcommands) leaves an option unset unless given there, so that
    `calico-tui --context x status` and `calico-tui status --context x` mean the same.
    """
    group = parser.add_argument_group("cluster", argument_default=argparse.SUPPRESS if inherited else None)
    group.add_argument("--kubeconfig", help="kubeconfig file(s); default $KUBECONFIG or ~/.kube/config")
    group.add_argument("--context", help="kubeconfig context to use (default: current-context)")
    group.add_argument("--demo", action="store_true",
                       help="run against a simulated Calico cluster started in this process")
    add_scenario_arguments(group, inherited)


def add_scenario_arguments(parser, inherited: bool = False) -> None:
    unset = argparse.SUPPRESS if inherited else None
    parser.add_argument("--scenario", default=unset or "seed", help="built-in simulated cluster (default: seed)")
    parser.add_argument("--scenario-file", help="scenario YAML file (e.g. one written by `snapshot`)")
    parser.add_argument("--nodes", type=int, default=unset, help="node count for the `large` scenario")
    parser.add_argument("--speed", type=float, default=unset or 1.0, help="simulated time speed-up factor")


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the interactive dashboard (no subcommand)."""
    group = parser.add_argument_group("dashboard")
    group.add_argument("--read-only", action="store_true",
                       help="never write to the cluster, even with an identity that could")
    group.add_argument("--color-system", choices=("auto", "truecolor", "256", "16"), default="auto",
                       help="colours to use (default: detected; 16 uses your terminal's own palette)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calico-tui",
        description="Watch Calico networking live and migrate a cluster's pod CIDR without an outage.",
    )
    parser.add_argument("--version", action="version", version=f"calico-tui {__version__}")
    add_connection_arguments(parser)
    add_app_arguments(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        # A parent per command: "resolve" below edits the parent's actions, which argparse shares.
        common = argparse.ArgumentParser(add_help=False)
        add_connection_arguments(common, inherited=True)
        # "resolve": a command may redefine one of the common options (demo-server's --scenario).
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                                    parents=[common], conflict_handler="resolve")
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from tui.commands import interactive

        return interactive.run(args)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
