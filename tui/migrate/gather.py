"""One read of everything `check`, `plan` and `migrate` decide from.

Reads only (GET, LIST and SelfSubjectAccessReviews), so a viewer identity can run it and no write
request reaches the server.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tui.kube.detect import API_SERVER, V3_CRDS, ClusterInfo, detect
from tui.kube.listing import read_cluster
from tui.kube.rbac import SSAR_PATH, Access, Capabilities
from tui.migrate.checks import Context, required_accesses
from tui.migrate.rest import IPPOOLS_V1, IPPOOLS_V3, NAMESPACES, Resource, Rest
from tui.migrate.workloads import Workloads, read_workloads
from tui.model.cluster import Cluster, build_cluster
from tui.model.raw import RawCluster


@dataclass(frozen=True)
class Snapshot:
    info: ClusterInfo
    raw: RawCluster
    cluster: Cluster
    workloads: Workloads
    pools: dict[str, dict]  # IPPools as the write path serves them, by name
    installation: dict | None
    cluster_uid: str  # kube-system's uid: stable for the cluster's lifetime, unlike names

    @property
    def pool_resource(self) -> Resource:
        return IPPOOLS_V3 if self.info.calico_api in (API_SERVER, V3_CRDS) else IPPOOLS_V1


def cluster_uid(rest: Rest) -> str:
    return rest.get(NAMESPACES, None, "kube-system")["metadata"]["uid"]


def read_snapshot(conn, rest: Rest) -> Snapshot:
    info = detect(conn)
    raw = read_cluster(conn, info.served)
    pool_res = IPPOOLS_V3 if info.calico_api in (API_SERVER, V3_CRDS) else IPPOOLS_V1
    pools = {p["metadata"]["name"]: p for p in rest.list(pool_res)} if info.calico_api != "none" else {}
    installation = next((i for i in raw.get("installations") or []
                         if i["metadata"]["name"] == "default"), None)
    return Snapshot(info=info, raw=raw, cluster=build_cluster(raw), workloads=read_workloads(rest),
                    pools=pools, installation=installation, cluster_uid=cluster_uid(rest))


def ask_capabilities(conn, accesses) -> Capabilities:
    """SelfSubjectAccessReviews for exactly the verbs the plan uses."""
    answers = {}
    for verb, group, resource, namespace in accesses:
        name, _, sub = resource.partition("/")
        access = Access(verb, group, name, namespace or "", sub)
        review = conn.request("POST", SSAR_PATH, body=access.review())
        answers[access] = bool((review.get("status") or {}).get("allowed"))
    return Capabilities(answers)


def with_capabilities(conn, ctx: Context) -> Context:
    return replace(ctx, caps=ask_capabilities(conn, required_accesses(ctx)))
