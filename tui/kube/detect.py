"""What kind of Calico cluster this is, and the explicit answer to "where is my Calico data?".

`detect(conn)` makes a handful of reads (version, discovery, ClusterInformation, the calico-node
DaemonSet, the `calico-config` ConfigMap, the operator's Installation); every decision is a pure
function of those objects so it can be tested without a server. Rules follow calico.md §0 and §4:
the API mode from discovery (libcalico-go's own rule), the datastore from calico-node's
`DATASTORE_TYPE` first, then ClusterInformation `clusterType`, then install evidence.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field

from kubernetes.client.exceptions import ApiException

from tui.kube.connection import Connection
from tui.kube.resources import (CALICO_SYSTEM, CALICO_V1, CALICO_V3, KUBE_SYSTEM, OPERATOR_V1,
                                calico_group_for)
from tui.model.config import (CniConfig, Installation, parse_calico_node, parse_cni_config,
                              parse_installation)
from tui.model.raw import Malformed

API_SERVER = "apiserver"   # projectcalico.org/v3 served by the Calico API server over v1 CRDs
V3_CRDS = "v3-crds"        # native projectcalico.org/v3 CRDs (no v1 storage)
V1_CRDS = "v1-crds"        # crd.projectcalico.org/v1 only
NO_CALICO = "none"

KUBERNETES = "kubernetes"
ETCDV3 = "etcdv3"
UNKNOWN = "unknown"

MANIFEST = "manifest"
OPERATOR = "operator"

CALICO_IPAM = "calico-ipam"
HOST_LOCAL = "host-local"

DISCOVERED_GROUPS = (CALICO_V1, CALICO_V3, OPERATOR_V1)


@dataclass(frozen=True)
class ClusterInfo:
    """Facts about the cluster that no single object states; `to_dict()` is the `cluster` section of
    `calico-tui status --format json`."""

    server: str
    context: str
    kubernetes_version: str
    calico_api: str
    calico_read_group: str | None
    write_group: str | None
    write_path: str
    datastore: str
    datastore_evidence: tuple[str, ...]
    flavor: str
    calico_namespace: str | None
    ipam: str
    calico_version: str | None
    cluster_type: str | None
    data_location: str
    served: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("served")
        data["datastore_evidence"] = list(self.datastore_evidence)
        return {_camel(k): v for k, v in data.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# --- pure decisions ---------------------------------------------------------------------------

def api_mode(served: Mapping[str, frozenset[str]], apiservice_present: bool | None = None) -> str:
    """libcalico-go's rule: v3 only when projectcalico.org is present and crd.projectcalico.org is
    not; both present means the Calico API server fronts the v1 CRDs."""
    has_v1 = bool(served.get(CALICO_V1))
    has_v3 = bool(served.get(CALICO_V3))
    if has_v1 and (has_v3 or apiservice_present):
        return API_SERVER
    if has_v3:
        return V3_CRDS
    if has_v1:
        return V1_CRDS
    return NO_CALICO


def write_path(mode: str) -> tuple[str | None, str]:
    """(group to write Calico objects through, one sentence saying so)."""
    if mode == API_SERVER:
        return CALICO_V3, ("projectcalico.org/v3 through the Calico API server, which validates and "
                           "defaults like calicoctl")
    if mode == V3_CRDS:
        return CALICO_V3, "projectcalico.org/v3 native CRDs (validated by admission policies)"
    if mode == V1_CRDS:
        return None, ("calicoctl only: this cluster has no projectcalico.org/v3 API, and writing "
                      "crd.projectcalico.org/v1 objects directly skips Calico's validation and defaults")
    return None, "none: no Calico API is served"


def datastore(env: Mapping[str, str | None], cluster_type: str | None, operator: bool,
              cni: CniConfig | None) -> tuple[str, tuple[str, ...]]:
    """(datastore, the evidence that decided it, strongest first). `env` is calico-node's."""
    evidence = []
    decided = None
    if "DATASTORE_TYPE" in env:
        value = env["DATASTORE_TYPE"]
        if value:
            evidence.append(f"calico-node DATASTORE_TYPE={value}")
            decided = value.strip().lower() if value.strip().lower() in (ETCDV3, KUBERNETES) else None
        else:
            evidence.append("calico-node DATASTORE_TYPE comes from a source calico-tui cannot read")
    elif env:
        # libcalico-go: unset DATASTORE_TYPE means etcdv3 when ETCD_ENDPOINTS is set.
        decided = ETCDV3 if env.get("ETCD_ENDPOINTS") else KUBERNETES
        evidence.append("calico-node sets no DATASTORE_TYPE" +
                        (" but ETCD_ENDPOINTS" if decided == ETCDV3 else " and no ETCD_ENDPOINTS"))
    if cluster_type is not None:
        kinds = {part.strip() for part in cluster_type.split(",")}
        evidence.append(f"ClusterInformation clusterType={cluster_type}")
        decided = decided or (KUBERNETES if "kdd" in kinds else ETCDV3)
    if operator:
        evidence.append("tigera-operator install (always the Kubernetes datastore)")
        decided = decided or KUBERNETES
    if cni is not None and cni.etcd_endpoints:
        evidence.append("calico-config has etcd_endpoints")
        decided = decided or ETCDV3
    return decided or UNKNOWN, tuple(evidence)


def flavor(installation: bool, node_namespaces: Collection[str]) -> tuple[str, str | None]:
    """(install flavor, namespace of calico-node) from whether an Installation exists and where
    calico-node DaemonSets are."""
    if installation or CALICO_SYSTEM in node_namespaces:
        return OPERATOR, CALICO_SYSTEM if CALICO_SYSTEM in node_namespaces else None
    if KUBE_SYSTEM in node_namespaces:
        return MANIFEST, KUBE_SYSTEM
    return UNKNOWN, None


def ipam_type(installation: Installation | None, cni: CniConfig | None) -> str:
    if installation is not None:
        value = installation.ipam_type or "Calico"  # the operator's default
        return {"calico": CALICO_IPAM, "hostlocal": HOST_LOCAL}.get(value.lower(), value)
    return (cni.ipam_type if cni is not None else None) or UNKNOWN


def _parsed(parse, obj, *args):
    """A model parser's result, or None for a missing or malformed object."""
    if obj is None:
        return None
    try:
        return parse(obj, *args)
    except Malformed:
        return None


def data_location(store: str, mode: str, read_group: str | None, etcd_endpoints: str | None) -> str:
    """The explicit answer to "where is my Calico data?"."""
    if store == ETCDV3:
        endpoints = etcd_endpoints
        where = f" at {endpoints}" if endpoints else ""
        return ("Calico keeps its data in its own etcd (etcdv3 datastore)" + where + ", under keys "
                "/calico/resources/v3/projectcalico.org/… (pools, BGP) and /calico/ipam/v2/… (IPAM "
                "blocks and affinities), not in Kubernetes objects. Inspect it with calicoctl "
                "(DATASTORE_TYPE=etcdv3, ETCD_ENDPOINTS=…). This version of calico-tui monitors the "
                "Kubernetes datastore only.")
    if mode == NO_CALICO:
        return ("No Calico API group is served by this cluster: Calico is not installed, or it uses "
                "an etcdv3 datastore without CRDs. Check for a calico-node DaemonSet.")
    group = (read_group or "").split("/")[0]
    via = (" The Calico API server also presents them as projectcalico.org/v3 (what calicoctl and "
           "kubectl get ippools.projectcalico.org show)." if mode == API_SERVER else "")
    return (f"Calico keeps its data in the Kubernetes API (Kubernetes datastore): IP pools, IPAM "
            f"blocks, block affinities and BGP settings are custom resources of {read_group}, "
            f"stored by kube-apiserver in the cluster's own etcd under /registry/{group}/…, and node "
            f"BGP addresses are annotations on the Node objects. There is no separate Calico etcd "
            f"and no /calico/ keys.{via}")


def cluster_info(*, server: str, context: str, version: dict, served: Mapping[str, frozenset[str]],
                 apiservice_present: bool | None, cluster_information: dict | None,
                 daemonsets: Mapping[str, dict], calico_config: dict | None,
                 installation: dict | None) -> ClusterInfo:
    """Combine what `detect` read into a ClusterInfo (pure). `daemonsets` maps namespace to the
    calico-node DaemonSet found there."""
    mode = api_mode(served, apiservice_present)
    write_group, write_sentence = write_path(mode)
    flavor_name, namespace = flavor(installation is not None, daemonsets)
    cni = _parsed(parse_cni_config, calico_config)
    configmaps = {(KUBE_SYSTEM, "calico-config"): (calico_config or {}).get("data") or {}}
    node = _parsed(parse_calico_node, daemonsets.get(namespace) if namespace else None, configmaps)
    env = node.env if node is not None else {}
    spec = (cluster_information or {}).get("spec") or {}
    cluster_type = spec.get("clusterType")
    store, evidence = datastore(env, cluster_type, flavor_name == OPERATOR, cni)
    read_group = calico_group_for("ippools", served)
    return ClusterInfo(
        server=server,
        context=context,
        kubernetes_version=str(version.get("gitVersion") or
                               f"v{version.get('major', '?')}.{version.get('minor', '?')}"),
        calico_api=mode,
        calico_read_group=read_group,
        write_group=write_group,
        write_path=write_sentence,
        datastore=store,
        datastore_evidence=evidence,
        flavor=flavor_name,
        calico_namespace=namespace,
        ipam=ipam_type(_parsed(parse_installation, installation), cni),
        calico_version=spec.get("calicoVersion") or (node.version if node is not None else None),
        cluster_type=cluster_type,
        data_location=data_location(store, mode, read_group, env.get("ETCD_ENDPOINTS")),
        served=served,
    )


# --- reads ------------------------------------------------------------------------------------

def discover(conn: Connection) -> dict[str, frozenset[str]]:
    """group/version -> plurals served, for the groups the data layer cares about."""
    groups = conn.get("/apis").get("groups") or []
    available = {v.get("groupVersion") for g in groups for v in g.get("versions") or []}
    served = {}
    for group_version in DISCOVERED_GROUPS:
        if group_version not in available:
            continue
        resources = conn.get(f"/apis/{group_version}").get("resources") or []
        served[group_version] = frozenset(r["name"] for r in resources
                                          if r.get("name") and "/" not in r["name"])
    return served


def _get_optional(conn: Connection, path: str) -> dict | None:
    """An object, or None when it does not exist or we may not read it."""
    try:
        return conn.get(path)
    except ApiException as exc:
        if exc.status in (403, 404):
            return None
        raise


def detect(conn: Connection) -> ClusterInfo:
    """Read what detection needs and decide. Raises what the connection raises when the API is
    unreachable or rejects us (see `connection.access_error`)."""
    version = conn.get("/version")
    served = discover(conn)
    apiservice = None
    if CALICO_V3 not in served:
        apiservice = _get_optional(
            conn, "/apis/apiregistration.k8s.io/v1/apiservices/v3.projectcalico.org") is not None
    info_group = calico_group_for("clusterinformations", served)
    cluster_information = (_get_optional(conn, f"/apis/{info_group}/clusterinformations/default")
                           if info_group else None)
    daemonsets = {ns: ds for ns in (KUBE_SYSTEM, CALICO_SYSTEM)
                  if (ds := _get_optional(conn, f"/apis/apps/v1/namespaces/{ns}/daemonsets/calico-node"))}
    calico_config = _get_optional(conn, f"/api/v1/namespaces/{KUBE_SYSTEM}/configmaps/calico-config")
    installation = (_get_optional(conn, f"/apis/{OPERATOR_V1}/installations/default")
                    if "installations" in served.get(OPERATOR_V1, ()) else None)
    return cluster_info(server=conn.server, context=conn.context, version=version, served=served,
                        apiservice_present=apiservice, cluster_information=cluster_information,
                        daemonsets=daemonsets, calico_config=calico_config, installation=installation)
