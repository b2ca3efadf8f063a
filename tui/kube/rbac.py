"""What this identity may do, asked once with SelfSubjectAccessReviews and kept as a map.

Read-only identities are first-class: the UI and the migration consult `Capabilities` before
offering an action instead of discovering a 403 halfway through.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Mapping

from tui.kube.connection import Connection
from tui.kube.resources import CALICO_V1, CALICO_V3, KUBE_SYSTEM, OPERATOR_V1, WatchSpec, watch_specs

SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
READ_VERBS = ("get", "list", "watch")
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class Access:
    """One question: may I `verb` `group`/`resource`[/`subresource`] in `namespace` ("" = all)?"""

    verb: str
    group: str
    resource: str
    namespace: str = ""
    subresource: str = ""

    def review(self) -> dict:
        return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {
                    "verb": self.verb, "group": self.group, "resource": self.resource,
                    "subresource": self.subresource, "namespace": self.namespace, "name": ""}}}


def _split(resource: str) -> tuple[str, str]:
    name, _, sub = resource.partition("/")
    return name, sub


def planned_accesses(served: Mapping[str, frozenset[str]]) -> list[Access]:
    """Every verb the tool may use: reads of everything watched, writes the migration performs."""
    wanted: list[Access] = []
    for spec in watch_specs(served):
        wanted += [Access(verb, spec.group, spec.plural, spec.namespace or "") for verb in READ_VERBS]
    wanted += [Access("get", "", "pods"), Access("list", "", "pods")]  # on-demand pod reads
    pool_groups = [gv.split("/")[0] for gv in (CALICO_V3, CALICO_V1) if "ippools" in served.get(gv, ())]
    for group in pool_groups:
        wanted += [Access(verb, group, "ippools") for verb in ("create", "update", "patch", "delete")]
    status_group = next((gv.split("/")[0] for gv in (CALICO_V3, CALICO_V1)
                         if "caliconodestatuses" in served.get(gv, ())), None)
    if status_group is not None:
        wanted += [Access(verb, status_group, "caliconodestatuses") for verb in ("create", "delete")]
    wanted += [Access(verb, "", "configmaps", KUBE_SYSTEM) for verb in ("update", "patch")]
    wanted += [Access(verb, "", "nodes") for verb in ("create", "update", "patch", "delete")]
    wanted += [Access("create", "", "pods", subresource="eviction"), Access("delete", "", "pods")]
    wanted += [Access("patch", "apps", kind) for kind in ("daemonsets", "deployments", "statefulsets")]
    wanted += [Access(verb, "coordination.k8s.io", "leases", KUBE_SYSTEM)
               for verb in ("get", "create", "update", "delete")]
    if "installations" in served.get(OPERATOR_V1, ()):
        wanted += [Access(verb, "operator.tigera.io", "installations") for verb in ("update", "patch")]
    return list(dict.fromkeys(wanted))


@dataclass(frozen=True)
class Capabilities:
    """Answers of the server's authorizer, keyed by Access; unknown questions are answered no."""

    allowed: Mapping[Access, bool]

    def can(self, verb: str, group: str, resource: str, namespace: str | None = None) -> bool:
        """`resource` may carry a subresource (`pods/eviction`). A namespaced question is also
        answered by a cluster-wide grant."""
        name, sub = _split(resource)
        for ns in ([namespace, ""] if namespace else [""]):
            answer = self.allowed.get(Access(verb, group, name, ns, sub))
            if answer is not None:
                return answer
        return False

    @property
    def read_only(self) -> bool:
        """True when no write this tool would make is allowed."""
        return not any(ok for access, ok in self.allowed.items() if access.verb in WRITE_VERBS)

    def denied_reads(self, specs: Iterable[WatchSpec]) -> list[WatchSpec]:
        """Watched collections this identity cannot list or watch (their panes stay empty)."""
        return [s for s in specs
                if not all(self.can(v, s.group, s.plural, s.namespace) for v in ("list", "watch"))]

    def to_dict(self) -> dict:
        rows = sorted(self.allowed.items(), key=lambda kv: (kv[0].group, kv[0].resource, kv[0].verb))
        return {"readOnly": self.read_only,
                "checks": [{"verb": a.verb, "group": a.group,
                            "resource": a.resource + (f"/{a.subresource}" if a.subresource else ""),
                            "namespace": a.namespace, "allowed": ok} for a, ok in rows]}


def check_capabilities(conn: Connection, served: Mapping[str, frozenset[str]],
                       workers: int = 8) -> Capabilities:
    """Ask the server about every planned access (a few in parallel)."""
    accesses = planned_accesses(served)

    def ask(access: Access) -> bool:
        answer = conn.request("POST", SSAR_PATH, body=access.review())
        return bool((answer.get("status") or {}).get("allowed"))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="calico-tui-rbac") as pool:
        answers = list(pool.map(ask, accesses))
    return Capabilities(dict(zip(accesses, answers)))
