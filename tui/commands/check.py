"""`calico-tui check --target-cidr CIDR`: the migration preflight, read-only.

Exit codes: 0 no blocking finding, 1 blocking findings, 2 could not check. Also home of the
migration inputs `plan` and `migrate` share.
"""

from __future__ import annotations

import json
import sys

NAME = "check"
HELP = "preflight for moving pods to a new pool CIDR: every blocking problem, with evidence and fix"

EXIT_BLOCKING = 1
EXIT_CANNOT = 2


def add_request_arguments(parser, required: bool = True) -> None:
    """The migration's inputs; everything but the target defaults to what the cluster has."""
    from tui.migrate.params import NODE_STRATEGIES, ROLL_STRATEGIES

    group = parser.add_argument_group("migration")
    group.add_argument("--target-cidr", required=required, help="the new pod CIDR, e.g. 172.21.0.0/16")
    group.add_argument("--from-pool", help="the pool to move pods out of (default: the only other IPv4 pool)")
    group.add_argument("--pool-name", help="name of the new pool (default: derived from the CIDR)")
    group.add_argument("--block-size", type=int, help="new pool block size (default: the old pool's)")
    group.add_argument("--ipip-mode", choices=("Always", "CrossSubnet", "Never"),
                       help="new pool IPIP mode (default: the old pool's)")
    group.add_argument("--vxlan-mode", choices=("Always", "CrossSubnet", "Never"),
                       help="new pool VXLAN mode (default: the old pool's)")
    group.add_argument("--nat-outgoing", choices=("true", "false"), help="default: the old pool's")
    group.add_argument("--node-selector", help="new pool nodeSelector (default: the old pool's)")
    group.add_argument("--node-cidr-mask", type=int,
                       help="node podCIDR prefix length (default: kube-controller-manager's)")
    group.add_argument("--roll", choices=ROLL_STRATEGIES, default="rollout",
                       help="how pods are replaced: rollout (per owner, default) or drain (node by node)")
    group.add_argument("--node-strategy", choices=NODE_STRATEGIES, default="recreate-nodes",
                       help="node podCIDRs: recreate-nodes (default), disable-allocation, or keep")
    group.add_argument("--allow-crd-writes", action="store_true",
                       help="write crd.projectcalico.org/v1 pools when there is no projectcalico.org/v3 API")
    group.add_argument("--allow-bare-pod-loss", action="store_true",
                       help="delete pods without a controller (they are not recreated)")


def request_from(args):
    from tui.migrate.params import MigrationRequest

    nat = None if args.nat_outgoing is None else args.nat_outgoing == "true"
    return MigrationRequest(
        target_cidr=args.target_cidr, from_pool=args.from_pool, pool_name=args.pool_name,
        block_size=args.block_size, ipip_mode=args.ipip_mode, vxlan_mode=args.vxlan_mode,
        nat_outgoing=nat, node_selector=args.node_selector, node_cidr_mask=args.node_cidr_mask,
        roll=args.roll, node_strategy=args.node_strategy, allow_crd_writes=args.allow_crd_writes,
        allow_bare_pod_loss=args.allow_bare_pod_loss)


def add_arguments(parser) -> None:
    add_request_arguments(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text")


def finding_dict(f) -> dict:
    return {"id": f.id, "severity": f.severity, "message": f.message, "evidence": list(f.evidence),
            "fix": f.fix}


def findings_text(findings) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.severity.upper():<9} {f.id}: {f.message}")
        lines += [f"{'':<9} seen: {item}" for item in f.evidence]
        if f.fix:
            lines.append(f"{'':<9} fix: {f.fix}")
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("blocking", "warning", "info")}
    lines.append(f"{counts['blocking']} blocking, {counts['warning']} warnings, {counts['info']} info")
    return "\n".join(lines)


def run_migration_command(args, work) -> int:
    """`work(conn)` with one line and exit 2 for API answers that stop a command before it did anything."""
    from tui.commands.status import run_with_cluster
    from tui.migrate.rest import ApiStatusError

    def guarded(conn) -> int:
        try:
            return work(conn)
        except ApiStatusError as exc:
            print(f"calico-tui: {conn.server} answered {exc}", file=sys.stderr)
            return EXIT_CANNOT
    return run_with_cluster(args, guarded)


def run(args) -> int:
    def work(conn) -> int:
        from tui.migrate.engine import prepare

        prep = prepare(conn, request_from(args))
        blocking = prep.blocking
        if args.format == "json":
            print(json.dumps({"schemaVersion": 1, "targetCidr": args.target_cidr,
                              "params": prep.params.to_dict() if prep.params else None,
                              "blocking": len(blocking),
                              "findings": [finding_dict(f) for f in prep.findings]}, indent=2))
        else:
            if prep.params:
                p = prep.params
                print(f"migration {p.old_pool} {p.old_cidr} -> {p.pool_name} {p.target_cidr} "
                      f"(roll: {p.roll}, nodes: {p.node_strategy})")
            print(findings_text(prep.findings))
        return EXIT_BLOCKING if blocking else 0

    return run_migration_command(args, work)
