"""`calico-tui migrate --target-cidr CIDR --yes`: run the plan, journaled, one log line per event.

`--resume` continues the unfinished migration of this cluster from its journal (after a crash,
an abort, a failed step or `--until`). Exit codes: 0 done (or stopped where asked), 1 failed or
aborted (state journaled), 2 could not start (nothing changed).
"""

from __future__ import annotations

import asyncio
import signal
import sys

NAME = "migrate"
HELP = "migrate the cluster's pods to the new pool CIDR (needs --yes); --resume continues a journaled run"

EXIT_FAILED = 1
EXIT_CANNOT = 2


def add_arguments(parser) -> None:
    from tui.commands.check import add_request_arguments

    add_request_arguments(parser, required=False)
    run = parser.add_argument_group("run")
    run.add_argument("--yes", action="store_true", help="really change the cluster")
    run.add_argument("--until", metavar="STEP", help="stop after this step (ids as in `plan`)")
    run.add_argument("--until-manual", action="store_true", help="stop before the next manual host step")
    run.add_argument("--resume", action="store_true", help="continue this cluster's unfinished migration")
    run.add_argument("--migration-id", help="with --resume: which journaled migration")
    run.add_argument("--rollback", metavar="STEP",
                     help="undo a completed api step of the unfinished migration from the journal's backups")
    run.add_argument("--sim-manual", action="store_true",
                     help="perform manual host steps through the simulator (demo and tests only)")
    run.add_argument("--poll-interval", type=float, default=2.0, help="seconds between reads while waiting")
    run.add_argument("--wait-timeout", type=float, default=1800.0, help="longest wait for one condition")
    run.add_argument("--settle", type=float, default=10.0,
                     help="seconds a restarted control-plane pod must stay healthy")


def _print_event(event) -> None:
    print(event.line(), flush=True)


async def _drive(runner, args) -> str:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.abort)
    try:
        if args.rollback:
            return await runner.rollback(args.rollback)
        return await runner.run(until=args.until, stop_before_manual=args.until_manual)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run(args) -> int:
    from tui.commands.check import findings_text, request_from, run_migration_command

    if not args.yes:
        print("calico-tui migrate: refusing to change the cluster without --yes "
              "(`calico-tui plan` shows what would be done)", file=sys.stderr)
        return EXIT_CANNOT
    if not (args.resume or args.rollback) and not args.target_cidr:
        print("calico-tui migrate: --target-cidr is required (or --resume)", file=sys.stderr)
        return EXIT_CANNOT

    def work(conn) -> int:
        from tui.migrate import engine
        from tui.migrate.rest import Rest
        from tui.migrate.runner import DONE, STOPPED, RunOptions, StepFailed

        options = RunOptions(poll_interval=args.poll_interval, wait_timeout=args.wait_timeout,
                             settle=args.settle)
        try:
            if args.resume or args.rollback:
                runner = engine.resume(conn, args.migration_id, options,
                                       sim_manual=True if args.sim_manual else None)
            else:
                prep = engine.prepare(conn, request_from(args))
                if prep.params is None or prep.blocking:
                    print(findings_text(prep.blocking or prep.findings), file=sys.stderr)
                    print("calico-tui migrate: blocked by preflight findings; nothing was changed",
                          file=sys.stderr)
                    return EXIT_CANNOT
                if not prep.can_write:
                    print("calico-tui migrate: this identity may not make the changes", file=sys.stderr)
                    return EXIT_CANNOT
                plan = engine.make_plan(prep, Rest(conn))
                rejected = [f"{c.ref}: {c.dry_run.message}" for s in plan.steps[:1] for c in s.changes
                            if c.dry_run and c.dry_run.status == "rejected"]
                if rejected:
                    print("calico-tui migrate: the server rejected the first step's dry-run: "
                          + "; ".join(rejected), file=sys.stderr)
                    return EXIT_CANNOT
                runner = engine.start(conn, plan, options, sim_manual=args.sim_manual)
        except engine.StartError as exc:
            print(f"calico-tui migrate: {exc}", file=sys.stderr)
            return EXIT_CANNOT
        runner.subscribe(_print_event)
        runner.log("info", None, f"migration {runner.journal.migration_id}: journal {runner.journal.path}")
        try:
            outcome = asyncio.run(_drive(runner, args))
        except StepFailed as exc:
            runner.log("error", None, str(exc))
            outcome = "failed"
        finally:
            if runner.lock is not None:
                try:
                    runner.lock.release()
                except Exception as exc:  # the run's outcome matters more than the lock's release
                    runner.log("warning", None, f"could not release the cluster lock: {exc}")
        return 0 if outcome in (DONE, STOPPED) else EXIT_FAILED

    return run_migration_command(args, work)
