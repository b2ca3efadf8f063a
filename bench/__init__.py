"""Scale benchmarks (`python -m bench`): the monitor against the simulated `large` cluster, with
kubectl and a standard-library decode floor measured in the same run. See docs/BENCHMARKS.md."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout: subprocesses run `python -m bench.*` from here
