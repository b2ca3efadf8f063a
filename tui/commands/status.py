"""`calico-tui status`: one consistent read of the cluster, printed like
`calicoctl ipam show --show-blocks` plus node and BGP summaries, or as JSON (docs/CLI.md).

Also home of the connection handling every headless command shares: `--demo` or a kubeconfig
context, and failures to reach or use the API as one line on stderr with exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

NAME = "status"
HELP = "print IP pools, blocks, nodes and BGP once (like calicoctl ipam show --show-blocks)"

EXIT_UNREACHABLE = 2


def add_arguments(parser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people, json for scripts (schema in docs/CLI.md)")


@contextmanager
def cluster_connection(args) -> Iterator:
    """A Connection to `--demo`'s simulator or the kubeconfig context in `args`, closed after."""
    from tui.kube.connection import connect

    with ExitStack() as stack:
        if getattr(args, "demo", False):
            from tui.commands.interactive import demo_cluster

            kubeconfig, context = stack.enter_context(demo_cluster(args))
        else:
            kubeconfig, context = getattr(args, "kubeconfig", None), getattr(args, "context", None)
        conn = connect(kubeconfig, context)
        stack.callback(conn.close)
        yield conn


def run_with_cluster(args, work: Callable) -> int:
    """`work(conn)` with the cluster in `args`; an unreachable or forbidden API becomes one line
    naming the server and the cause, and exit code 2."""
    from tui.kube.connection import access_error

    where = {"server": "the cluster", "user": ""}
    try:
        with cluster_connection(args) as conn:
            where.update(server=conn.server, user=conn.user)
            return work(conn)
    except Exception as exc:
        failure = access_error(exc, where["server"], where["user"])
        if failure is None:
            raise
        print(f"calico-tui: {failure.summary}", file=sys.stderr)
        return EXIT_UNREACHABLE


def run(args) -> int:
    def work(conn) -> int:
        from tui.kube.detect import detect
        from tui.kube.listing import read_cluster
        from tui.model import build_cluster, status_document, status_text

        info = detect(conn)
        cluster = build_cluster(read_cluster(conn, info.served))
        if args.format == "json":
            print(json.dumps(status_document(cluster, info.to_dict()), indent=2))
        else:
            print(status_text(cluster, info.to_dict()))
        return 0

    return run_with_cluster(args, work)
