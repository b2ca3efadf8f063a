"""Markdown tables of a results document (what docs/BENCHMARKS.md shows)."""

from __future__ import annotations


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def spread(s: dict, digits: int = 2, unit: str = "") -> str:
    """`1.23 s (1.10–1.40)`: median, then min–max when there were several repetitions."""
    if not s or s.get("median") is None:
        return "—"
    text = f"{_num(s['median'], digits)}{unit}"
    if s.get("n", 0) > 1:
        text += f" ({_num(s['min'], digits)}–{_num(s['max'], digits)})"
    return text


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def sync_table(variants: list[dict]) -> str:
    rows = []
    for v in variants:
        s, objects = v["summary"], v["server"]["objects"]
        rows.append([v["name"], f"{objects['ipamblocks']:,}", spread(s["open_to_watching_s"], unit=" s"),
                     spread(s["spawn_to_watching_s"], unit=" s"), spread(s["open_to_render_s"], unit=" s"),
                     spread(s["kubectl_s"], unit=" s"), spread(s["floor_s"], unit=" s"),
                     _num(s["ours_over_kubectl"]), _num(s["ours_over_floor"])])
    return table(["cluster", "IPAM blocks", "synced (from open)", "synced (from process start)",
                  "first complete render (from open)", "kubectl get -o json", "decode floor",
                  "ours / kubectl", "ours / floor"], rows)


def resource_table(variants: list[dict]) -> str:
    rows = []
    for v in variants:
        s, t = v["summary"], v["terminal"]
        rows.append([v["name"], spread(s["rss_after_render_mb"], 0, " MB"), spread(s["rss_peak_mb"], 0, " MB"),
                     _num(t["idle"]["bytes_per_s"], 0), _num(t["idle"]["cpu_percent"], 1),
                     _num(t["churn"]["bytes_per_s"], 0), _num(t["churn"]["cpu_percent"], 1)])
    rate = f"{variants[0]['terminal']['churn']['rate']:g}" if variants else ""
    return table(["cluster", "peak RSS after first render", "peak RSS (whole run)", "idle output B/s",
                  "idle CPU %", f"output B/s at {rate} ev/s", f"CPU % at {rate} ev/s"], rows)


def churn_table(variants: list[dict]) -> str:
    rows = []
    for v in variants:
        for rate, c in v["summary"]["churn"].items():
            rows.append([v["name"], rate, spread(c["achieved_rate"], 0), spread(c["p50_ms"], 0, " ms"),
                         spread(c["p99_ms"], 0, " ms"), spread(c["drain_s"], 2, " s"),
                         spread(c["lag_slope"], 3), "yes" if c["keeps_up"] else "**no**"])
    return table(["cluster", "events/s asked", "events/s generated", "p50 event-to-screen", "p99 event-to-screen",
                  "last event on screen after churn stopped", "latency growth (s/s)", "keeps up"], rows)


def scaling_table(exponents: dict) -> str:
    return table(["figure", "observed exponent (100 → largest)"],
                 [[name, _num(value)] for name, value in exponents.items()])


def targets_table(targets: dict) -> str:
    if not targets:
        return ""
    rows = [[name, _num(c["value"]), f"{c['limit']:g}", "—" if c["met"] is None else "met" if c["met"] else "**missed**"]
            for name, c in targets["checks"].items()]
    return f"At {targets['at']}:\n\n" + table(["target", "measured", "limit", ""], rows)


def markdown(results: dict) -> str:
    m, st = results["machine"], results["settings"]
    variants = results["variants"]
    parts = [
        f"Measured {results['started']} with `{results['command']}` "
        f"({st['repeat']} repetitions, churn {', '.join(f'{r:g}' for r in st['rates'])} events/s for "
        f"{st['churn_seconds']:g} s each, terminal {st['screen'][0]}×{st['screen'][1]}).",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB RAM, Python {m['python']}, "
        f"Textual {m['textual']}, kubectl {m.get('kubectl') or 'absent'}. Load average before/after each size: "
        + "; ".join(f"{v['name']} {v['load_before'][0]:.1f}/{v['load_after'][0]:.1f}" for v in variants) + ".",
        "### Time to synced\n\n" + sync_table(variants),
        "### Memory, terminal output, CPU\n\n" + resource_table(variants),
        "### Live load\n\n" + churn_table(variants),
        "### Scaling\n\n" + scaling_table(results.get("scaling_exponents", {})),
        "### Targets\n\n" + targets_table(results.get("targets", {})),
    ]
    return "\n\n".join(parts) + "\n"
