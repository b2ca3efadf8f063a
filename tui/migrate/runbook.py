"""The plan for people and for scripts: a markdown runbook a change board can approve, and the same
content as a YAML or JSON document (`calico-tui plan --format`)."""

from __future__ import annotations

import json

import yaml

from tui.migrate.steps import API, MANUAL, Change, Plan, Step

SEVERITY_LABEL = {"blocking": "BLOCKING", "warning": "warning", "info": "info"}


def _object(change: Change) -> dict | None:
    return change.after if change.after is not None else change.before


def plan_document(plan: Plan) -> dict:
    """The plan as plain data: every step with its objects (the manifests to be written) and diffs."""
    def change_doc(change: Change) -> dict:
        return {"op": change.op, "object": str(change.ref), "dryRun": str(change.dry_run or "not run"),
                "manifest": _object(change), "diff": change.diff}

    def step_doc(number: int, step: Step) -> dict:
        doc = {"number": number, "id": step.id, "title": step.title, "kind": step.kind, "why": step.why,
               "ifSkipped": step.if_skipped, "preconditions": list(step.preconditions),
               "verify": step.verify, "rollback": step.rollback,
               "changes": [change_doc(c) for c in step.changes]}
        if step.items:
            doc["items"] = list(step.items)
        if step.hosts:
            doc["hosts"] = [{"node": h.node, "action": h.action, "file": h.file, "diff": h.diff,
                             "commands": list(h.commands), "verify": h.verify} for h in step.hosts]
        return doc

    return {"apiVersion": "calico-tui/v1", "kind": "MigrationPlan", "params": plan.params,
            "cluster": plan.cluster, "findings": list(plan.findings), "notes": list(plan.notes),
            "steps": [step_doc(i, s) for i, s in enumerate(plan.steps, 1)]}


def render_yaml(plan: Plan) -> str:
    return yaml.safe_dump(plan_document(plan), sort_keys=False, default_flow_style=False, width=100)


def render_json(plan: Plan) -> str:
    return json.dumps(plan_document(plan), indent=2)


def _fence(text: str, lang: str = "") -> list[str]:
    return [f"```{lang}", text.rstrip("\n"), "```"]


def _findings(plan: Plan) -> list[str]:
    lines = ["## Preflight", ""]
    if not plan.findings:
        return lines + ["No findings.", ""]
    blocking = [f for f in plan.findings if f["severity"] == "blocking"]
    lines.append(f"{len(blocking)} blocking finding(s)." if blocking else "No blocking findings.")
    lines.append("")
    for f in plan.findings:
        lines.append(f"- **{SEVERITY_LABEL.get(f['severity'], f['severity'])}** `{f['id']}`: {f['message']}")
        for item in f.get("evidence") or []:
            lines.append(f"  - seen: {item}")
        if f.get("fix"):
            lines.append(f"  - fix: {f['fix']}")
    return lines + [""]


def _step_section(number: int, step: Step) -> list[str]:
    lines = [f"### {number}. {step.title}", "", f"`{step.id}` · {step.kind}", "",
             f"**Why now.** {step.why}", "", f"**If skipped.** {step.if_skipped}", ""]
    if step.preconditions:
        lines += ["**Preconditions.**", ""] + [f"- {p}" for p in step.preconditions] + [""]
    if step.items:
        lines += ["**Order.**", ""]
        keys = [k for k in step.items[0] if k != "pods"]
        lines.append("| " + " | ".join(keys + (["pods"] if "pods" in step.items[0] else [])) + " |")
        lines.append("|" + "---|" * (len(keys) + ("pods" in step.items[0])))
        for item in step.items:
            cells = [str(item.get(k, "")) for k in keys]
            if "pods" in item:
                cells.append(str(len(item["pods"])))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for change in step.changes:
        verdict = f" · server dry-run: {change.dry_run}" if step.kind == API else ""
        lines += [f"**{change.op} {change.ref}**{verdict}", ""] + _fence(change.diff or "(no change)", "diff") + [""]
    for host in step.hosts:
        lines += [f"**On {host.node}** ({host.action})", ""]
        if host.diff:
            lines += _fence(host.diff, "diff") + [""]
        lines += _fence("\n".join(host.commands), "sh") + ["", f"Then wait for: {host.verify}", ""]
    if step.kind == MANUAL:
        lines += ["The runner waits on this verification; it never assumes a host step was done.", ""]
    lines += [f"**Verification.** {step.verify or 'the step completes'}", "",
              f"**Rollback.** {step.rollback or 'none: this step cannot be undone automatically'}", ""]
    return lines


def render_markdown(plan: Plan) -> str:
    p, c = plan.params, plan.cluster
    lines = [f"# Runbook: move pods from {p['old_cidr']} to {p['target_cidr']}", "",
             "| | |", "|---|---|",
             f"| Cluster | {c.get('server')} (context `{c.get('context')}`, kube-system uid `{c.get('uid')}`) |",
             f"| Versions | Kubernetes {c.get('kubernetesVersion')}, Calico {c.get('calicoVersion')} "
             f"({c.get('flavor')}, {c.get('ipam')}) |",
             f"| Calico objects written through | {c.get('writePath')} |",
             f"| Old pool | {p['old_pool']} {p['old_cidr']} |",
             f"| New pool | {p['pool_name']} {p['target_cidr']}, blockSize {p['block_size']}, ipipMode "
             f"{p['ipip_mode']}, vxlanMode {p['vxlan_mode']}, natOutgoing {str(p['nat_outgoing']).lower()}, "
             f"nodeSelector `{p['node_selector']}` |",
             f"| Strategies | workloads: {p['roll']}; node podCIDRs: {p['node_strategy']} "
             f"(node mask /{p['node_cidr_mask']}) |",
             f"| Prepared | {c.get('stamp')} |", ""]
    lines += _findings(plan)
    if plan.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in plan.notes] + [""]
    lines += ["## Steps", ""]
    lines += [f"{i}. {s.title} (`{s.id}`, {s.kind})" for i, s in enumerate(plan.steps, 1)] + [""]
    for i, step in enumerate(plan.steps, 1):
        lines += _step_section(i, step)
    lines += ["## Approval", "", "| Role | Name | Date | Signature |", "|---|---|---|---|",
              "| Prepared by | | | |", "| Reviewed by | | | |", "| Approved by (change board) | | | |", ""]
    return "\n".join(lines)
