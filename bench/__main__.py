"""`python -m bench`: scale benchmarks of the monitor against the simulated `large` cluster.

Prints markdown tables (docs/BENCHMARKS.md) and writes the results as JSON. `--quick` is a small
run for the test suite; `--report FILE` prints the tables of an earlier run without measuring.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench import ROOT
from bench.report import markdown
from bench.run import Settings, Variant, run

DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"
QUICK = Settings(repeat=1, rates=(50, 200), churn_seconds=2.0, terminal_seconds=2.0, client_timeout=120.0)


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("sizes are node counts, e.g. 100,1000,5000")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small run (100 nodes, short phases)")
    parser.add_argument("--sizes", type=parse_sizes, help="node counts (default 100,1000,5000; quick: 100)")
    parser.add_argument("--fragmented", type=int, metavar="NODES",
                        help="also a fragmented cluster of NODES nodes with /28 blocks, about 4 per node (default 5000; 0: none)")
    parser.add_argument("--repeat", type=int, help=f"repetitions per size (default {Settings.repeat})")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/latest.json)")
    parser.add_argument("--report", type=Path, metavar="FILE", help="print the tables of an earlier results file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.report:
        print(markdown(json.loads(args.report.read_text())), end="")
        return 0
    settings = QUICK if args.quick else Settings()
    if args.repeat:
        settings = Settings(**{**settings.__dict__, "repeat": args.repeat})
    sizes = args.sizes or ([100] if args.quick else [100, 1000, 5000])
    fragmented = args.fragmented if args.fragmented is not None else (0 if args.quick else 5000)
    variants = [Variant.sized(n) for n in sizes]
    if fragmented:
        variants.append(Variant.fragmented_at(fragmented, 28))
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    results = run(variants, settings, args.out or DEFAULT_OUT, command.strip(),
                  progress=lambda text: print(text, file=sys.stderr, flush=True))
    print(markdown(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
