"""`calico-tui plan --target-cidr CIDR`: the ordered migration plan, dry-run on the server.

Markdown is a runbook a change board can approve; yaml and json carry the same content for scripts.
A read-only identity gets the plan without dry-runs (they need write permission). Exit codes: 0
plan printed, 1 printed but blocked by preflight findings, 2 could not plan.
"""

from __future__ import annotations

import sys

NAME = "plan"
HELP = "print the migration plan: ordered steps with diffs, server dry-run results, host commands"


def add_arguments(parser) -> None:
    from tui.commands.check import add_request_arguments

    add_request_arguments(parser)
    parser.add_argument("--format", choices=("markdown", "yaml", "json"), default="markdown")


def run(args) -> int:
    from tui.commands.check import EXIT_BLOCKING, EXIT_CANNOT, findings_text, request_from, run_migration_command

    def work(conn) -> int:
        from tui.migrate.engine import make_plan, prepare
        from tui.migrate.rest import Rest
        from tui.migrate.runbook import render_json, render_markdown, render_yaml

        prep = prepare(conn, request_from(args))
        if prep.params is None:
            print(findings_text(prep.findings), file=sys.stderr)
            return EXIT_CANNOT
        plan = make_plan(prep, Rest(conn))
        render = {"markdown": render_markdown, "yaml": render_yaml, "json": render_json}[args.format]
        print(render(plan))
        return EXIT_BLOCKING if prep.blocking else 0

    return run_migration_command(args, work)
