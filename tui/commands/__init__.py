"""Headless subcommands. Each module exposes NAME, HELP, add_arguments(parser) and run(args) -> int.

Modules keep heavy imports inside run() so that `calico-tui --help` stays fast.
"""
