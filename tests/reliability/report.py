"""Run the reliability suite and write its matrix into docs/RELIABILITY.md.

    .venv/bin/python tests/reliability/report.py                       # run, then rewrite the matrix
    .venv/bin/python tests/reliability/report.py --sample-crash-points   # a stratified sample of kills
    .venv/bin/python tests/reliability/report.py --results FILE          # render a saved run only

The suite records every trial it makes (area, what was tried, passed or not, numbers, notes) when
CALICO_TUI_RELIABILITY_RESULTS names a file; the matrix is counted from those records, so every
number in the document comes from an actual run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "RELIABILITY.md"
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"
AREAS = ["API faults: monitor", "API faults: migration", "Crashes", "Concurrent change", "Bad input", "Security"]


def run_suite(results: Path, sample: bool) -> tuple[int, float]:
    env = {**os.environ, "CALICO_TUI_RELIABILITY_RESULTS": str(results)}
    if sample:
        env["CALICO_TUI_RELIABILITY_CRASH_POINTS"] = "sample"
    started = time.monotonic()
    code = subprocess.call([sys.executable, "-m", "pytest", "-m", "reliability", "-q", "-p", "no:cacheprovider",
                            "tests/reliability"], cwd=ROOT, env=env)
    return code, time.monotonic() - started


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def observed(trials: list[dict]) -> str:
    """Numbers as ranges, notes with how often they were seen, the first failure."""
    parts = []
    names = list(dict.fromkeys(name for t in trials for name in t["metrics"]))
    for name in names:
        parts.append(f"{name}: {_span([t['metrics'][name] for t in trials if name in t['metrics']])}")
    notes = Counter(note for t in trials for note in t["notes"])
    for note, count in notes.most_common(3):
        parts.append(f"{note}" + (f" (×{count})" if count > 1 else ""))
    failure = next((t.get("error") for t in trials if not t["ok"]), None)
    if failure:
        parts.append(f"**failed:** {failure.splitlines()[0][:160]}")
    return "; ".join(parts).replace("|", "\\|").replace("\n", " ")


def matrix(trials: list[dict], code: int, seconds: float | None) -> str:
    passed = sum(t["ok"] for t in trials)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    lines = [f"Counted from the run of {when}{took}: {len(trials)} trials, {passed} passed, "
             f"{len(trials) - passed} failed (pytest exit code {code}).", ""]
    areas = AREAS + sorted({t["area"] for t in trials} - set(AREAS))
    for area in areas:
        mine = [t for t in trials if t["area"] == area]
        if not mine:
            continue
        lines += [f"### {area}", "", "| what is tried | tries | passed | failed | observed |", "|---|---|---|---|---|"]
        for what in dict.fromkeys(t["what"] for t in mine):
            group = [t for t in mine if t["what"] == what]
            ok = sum(t["ok"] for t in group)
            lines.append(f"| {what.replace('|', '/')} | {len(group)} | {ok} | {len(group) - ok} | {observed(group)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="render this results file instead of running the suite")
    parser.add_argument("--sample-crash-points", action="store_true",
                        help="kill at a stratified sample of the journal write points, not at every one")
    args = parser.parse_args()
    if args.results:
        code, seconds, results = 0, None, args.results
    else:
        results = Path(tempfile.mkdtemp()) / "reliability.json"
        code, seconds = run_suite(results, args.sample_crash_points)
        if not results.exists():
            print("the suite recorded no trials", file=sys.stderr)
            return code or 1
    write_doc(matrix(json.loads(results.read_text()), code, seconds))
    print(f"matrix written to {DOC.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
