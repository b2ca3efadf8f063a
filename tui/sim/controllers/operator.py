"""tigera-operator's IP pool reconcile: `Installation default` `spec.calicoNetwork.ipPools` -> IPPools.

The operator owns the pools it creates (label `app.kubernetes.io/managed-by: tigera-operator`):
direct edits are reverted and deletions undone shortly after they happen, pools removed from the
Installation are deleted (through the v3 API, i.e. the safe delete), and a pool of the same name it
does not own makes it report Degraded. Pools are disabled the way the operator docs say: through
the Installation (`disableNewAllocations`, or `nodeSelector: "!all()"`).
"""

from __future__ import annotations

from tui.sim.clock import rfc3339
from tui.sim.controllers.base import INSTALLATIONS, IPPOOLS, IPPOOLS_V3, Controller, key_of
from tui.sim.controllers.ipam import pool_spec

INSTALLATION = key_of(INSTALLATIONS)
MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "tigera-operator"
ENCAPSULATION = {"IPIP": ("Always", "Never"), "IPIPCrossSubnet": ("CrossSubnet", "Never"),
                 "VXLAN": ("Never", "Always"), "VXLANCrossSubnet": ("Never", "CrossSubnet"), "None": ("Never", "Never")}
COMPARED = ("cidr", "blockSize", "ipipMode", "vxlanMode", "natOutgoing", "nodeSelector", "disableBGPExport",
            "disabled", "allowedUses", "assignmentMode")


def desired_pool(entry: dict) -> dict:
    """The IPPool (v3) the operator renders for one Installation ipPools entry."""
    ipip, vxlan = ENCAPSULATION.get(entry.get("encapsulation", "IPIP"), ("Always", "Never"))
    spec = {"cidr": entry["cidr"], "blockSize": int(entry.get("blockSize") or 26), "ipipMode": ipip,
            "vxlanMode": vxlan, "natOutgoing": entry.get("natOutgoing", "Enabled") == "Enabled",
            "nodeSelector": entry.get("nodeSelector") or "all()",
            "allowedUses": list(entry.get("allowedUses") or ["Workload", "Tunnel"]),
            "assignmentMode": entry.get("assignmentMode") or "Automatic"}
    if entry.get("disableBGPExport"):
        spec["disableBGPExport"] = True
    if entry.get("disableNewAllocations"):
        spec["disabled"] = True
    name = entry.get("name") or "default-ipv4-ippool"
    return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
            "metadata": {"name": name, "labels": {MANAGED_BY: OPERATOR}}, "spec": spec}


def _compared(spec: dict) -> dict:
    spec = pool_spec({"spec": spec})
    return {k: spec.get(k, False if k in ("natOutgoing", "disableBGPExport", "disabled") else None) for k in COMPARED}


class TigeraOperator(Controller):
    name = "tigera-operator"

    def initial_keys(self):
        return ["installation"] if self.cache.get(INSTALLATION, None, "default") else []

    def on_change(self, event, key, obj, old):
        if key in (INSTALLATION, key_of(IPPOOLS)) and self.cache.get(INSTALLATION, None, "default"):
            self.after(self.ctx.timings.operator_delay, "installation")
        return ()

    def sync(self, key) -> None:
        installation = self.cache.get(INSTALLATION, None, "default")
        if installation is None or not self.ctx.has(IPPOOLS_V3):
            return
        api, res = self.ctx.api, self.ctx.res(IPPOOLS_V3)
        entries = ((installation.get("spec") or {}).get("calicoNetwork") or {}).get("ipPools") or []
        wanted = {p["metadata"]["name"]: p for p in (desired_pool(e) for e in entries if e.get("cidr"))}
        existing = {p["metadata"]["name"]: p for p in api.list(res)[0]}
        degraded = []
        for name, pool in wanted.items():
            current = existing.get(name)
            if current is None:
                api.create(res, None, pool)
            elif (current["metadata"].get("labels") or {}).get(MANAGED_BY) != OPERATOR:
                degraded.append(f"Cannot update an IP pool not owned by the operator: {name}")
            elif _compared(current["spec"]) != _compared(pool["spec"]):
                api.update(res, None, name, {**current, "spec": {**current["spec"], **pool["spec"],
                                                                  "disabled": pool["spec"].get("disabled", False)}})
        for name, current in existing.items():
            if name not in wanted and (current["metadata"].get("labels") or {}).get(MANAGED_BY) == OPERATOR \
                    and not current["metadata"].get("deletionTimestamp"):
                api.delete(res, None, name)
        self._report(installation, degraded)

    def _report(self, installation: dict, degraded: list[str]) -> None:
        now = rfc3339(self.ctx.now())
        old = {c["type"]: c for c in (installation.get("status") or {}).get("conditions") or []}

        def condition(kind: str, on: bool, reason: str, message: str) -> dict:
            status = "True" if on else "False"
            prev = old.get(kind) or {}
            return {"type": kind, "status": status, "reason": reason, "message": message,
                    "lastTransitionTime": prev.get("lastTransitionTime", now) if prev.get("status") == status else now,
                    "observedGeneration": installation["metadata"].get("generation", 1)}

        conditions = [
            condition("Ready", not degraded, "AllObjectsAvailable" if not degraded else "ResourceNotReady",
                      "All Objects are available" if not degraded else "; ".join(degraded)),
            condition("Degraded", bool(degraded), "ResourceUpdateError" if degraded else "AllObjectsAvailable",
                      "; ".join(degraded)),
        ]
        status = {**(installation.get("status") or {}), "variant": "Calico", "mtu": 1440,
                  "computed": installation.get("spec") or {}, "conditions": conditions}
        self.set_status(INSTALLATIONS, installation, status)
