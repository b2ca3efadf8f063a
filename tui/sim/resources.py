"""The resource types the simulated API server knows, and the registry that serves them.

Built-in Kubernetes types are fixed; custom resources appear and vanish with the
CustomResourceDefinition objects in the store, exactly as on a real cluster, so creating a CRD
through the API makes its resource show up in discovery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

READ_VERBS = ("get", "list", "watch")
WRITE_VERBS = ("create", "delete", "deletecollection", "patch", "update")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)

StorageKey = tuple[str, str]  # (group, plural) of the version objects are stored as


@dataclass(frozen=True)
class Subresource:
    """A subresource as discovery lists it (`pods/eviction` is policy/v1 Eviction, not a Pod)."""

    name: str
    verbs: tuple[str, ...]
    kind: str = ""  # empty: the parent's kind
    group: str | None = None  # None: the parent's group and version
    version: str | None = None


STATUS = Subresource("status", ("get", "patch", "update"))
SCALE = Subresource("scale", ("get", "patch", "update"), kind="Scale", group="autoscaling", version="v1")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    builtin: bool = True  # strategic merge patch is accepted only for built-in types
    tracks_generation: bool = False  # metadata.generation is maintained (apps, policy, CRs ...)
    storage: StorageKey | None = None  # None: stored under its own (group, plural)
    stored: bool = True  # False for virtual types such as SelfSubjectAccessReview
    schema: dict | None = field(default=None, compare=False, hash=False)  # CRD openAPIV3Schema

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> tuple[str, str]:
        return self.group, self.version

    @property
    def storage_key(self) -> StorageKey:
        return self.storage or (self.group, self.plural)

    @property
    def custom(self) -> bool:
        """A custom resource (from a CRD or an aggregated API), as opposed to a built-in type."""
        return not self.builtin

    @property
    def qualified(self) -> str:
        """`pods`, `deployments.apps`: the form used in Forbidden messages and kubectl."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`Node`, `Deployment.apps`: the form used in Invalid messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None


def _core(plural, singular, kind, namespaced, **kw) -> ResourceType:
    return ResourceType("", "v1", plural, singular, kind, namespaced, **kw)


def _apps(plural, singular, kind, **kw) -> ResourceType:
    return ResourceType("apps", "v1", plural, singular, kind, True, categories=("all",),
                        tracks_generation=True, **kw)


EVICTION = Subresource("eviction", CREATE_ONLY, kind="Eviction", group="policy", version="v1")
POD_LOG = Subresource("log", ("get",))
POD_BINDING = Subresource("binding", CREATE_ONLY, kind="Binding")

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core("namespaces", "namespace", "Namespace", False, short_names=("ns",),
          verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
          subresources=(STATUS, Subresource("finalize", ("update",)))),
    _core("nodes", "node", "Node", False, short_names=("no",), subresources=(STATUS,)),
    _core("pods", "pod", "Pod", True, short_names=("po",), categories=("all",),
          subresources=(STATUS, EVICTION, POD_LOG, POD_BINDING)),
    _core("configmaps", "configmap", "ConfigMap", True, short_names=("cm",)),
    _core("secrets", "secret", "Secret", True),
    _core("serviceaccounts", "serviceaccount", "ServiceAccount", True, short_names=("sa",)),
    _core("services", "service", "Service", True, short_names=("svc",), categories=("all",),
          subresources=(STATUS,)),
    _core("endpoints", "endpoints", "Endpoints", True, short_names=("ep",)),
    _core("events", "event", "Event", True, short_names=("ev",)),
    _apps("deployments", "deployment", "Deployment", short_names=("deploy",), subresources=(STATUS, SCALE)),
    _apps("replicasets", "replicaset", "ReplicaSet", short_names=("rs",), subresources=(STATUS, SCALE)),
    _apps("statefulsets", "statefulset", "StatefulSet", short_names=("sts",), subresources=(STATUS, SCALE)),
    _apps("daemonsets", "daemonset", "DaemonSet", short_names=("ds",), subresources=(STATUS,)),
    ResourceType("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", True,
                 short_names=("pdb",), subresources=(STATUS,), tracks_generation=True),
    ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    ResourceType("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
                 "SelfSubjectAccessReview", False, verbs=CREATE_ONLY, stored=False),
    ResourceType("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview",
                 "SelfSubjectRulesReview", False, verbs=CREATE_ONLY, stored=False),
    ResourceType("authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview",
                 "SelfSubjectReview", False, verbs=CREATE_ONLY, stored=False),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
                 "CustomResourceDefinition", False, short_names=("crd", "crds"), subresources=(STATUS,),
                 tracks_generation=True),
)

# The Calico API server (projectcalico.org/v3) fronts the crd.projectcalico.org/v1 storage.
CALICO_V1_GROUP = "crd.projectcalico.org"
CALICO_V3_GROUP = "projectcalico.org"


def _calico_v3(plural, singular, kind, subresources=()) -> ResourceType:
    return ResourceType(CALICO_V3_GROUP, "v3", plural, singular, kind, False,
                        subresources=subresources, builtin=False, tracks_generation=True,
                        storage=(CALICO_V1_GROUP, plural))


CALICO_V3_TYPES: tuple[ResourceType, ...] = (
    _calico_v3("ippools", "ippool", "IPPool"),
    _calico_v3("bgpconfigurations", "bgpconfiguration", "BGPConfiguration"),
    _calico_v3("bgppeers", "bgppeer", "BGPPeer"),
    _calico_v3("caliconodestatuses", "caliconodestatus", "CalicoNodeStatus", subresources=(STATUS,)),
    # Read-only, but refused by the Calico API server's storage (a 500), not by routing.
    _calico_v3("blockaffinities", "blockaffinity", "BlockAffinity"),
)


def types_from_crd(crd: dict) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition object, all stored under one key."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (isinstance(group, str) and isinstance(plural, str) and isinstance(kind, str)):
        return []
    namespaced = spec.get("scope") == "Namespaced"
    types = []
    for version in spec.get("versions") or []:
        if not isinstance(version, dict) or not version.get("served", True):
            continue
        subs = version.get("subresources") or {}
        subresources = tuple(s for s, present in ((STATUS, "status" in subs), (SCALE, "scale" in subs)) if present)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        types.append(ResourceType(
            group, str(version.get("name")), plural, names.get("singular") or kind.lower(), kind, namespaced,
            subresources=subresources, short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()), builtin=False, tracks_generation=True,
            storage=(group, plural), schema=schema if isinstance(schema, dict) else None,
        ))
    return types


def crd_storage_version(crd: dict) -> str | None:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(version, dict) and version.get("storage"):
            return version.get("name")
    return None


class Registry:
    """Every type currently served: the built-ins, the optional Calico v3 API, and live CRDs."""

    def __init__(self, calico_api_server: bool = True):
        self._static = list(BUILTIN_TYPES)
        self._calico_v3 = list(CALICO_V3_TYPES) if calico_api_server else []
        self._crd_types: dict[str, list[ResourceType]] = {}  # CRD name -> its served versions
        self._storage_versions: dict[StorageKey, str] = {}
        self._rebuild()

    def _rebuild(self) -> None:
        crd_types = [t for types in self._crd_types.values() for t in types]
        # v3 resources exist only while the v1 CRD they are stored in exists.
        stored = {t.storage_key for t in crd_types}
        v3 = [t for t in self._calico_v3 if t.storage_key in stored]
        self._all = self._static + crd_types + v3
        self._by_gvr = {(t.group, t.version, t.plural): t for t in self._all}

    def set_crd(self, crd: dict) -> None:
        name = (crd.get("metadata") or {}).get("name", "")
        self._crd_types[name] = types_from_crd(crd)
        version = crd_storage_version(crd)
        for t in self._crd_types[name]:
            if version:
                self._storage_versions[t.storage_key] = version
        self._rebuild()

    def remove_crd(self, name: str) -> None:
        for t in self._crd_types.pop(name, []):
            self._storage_versions.pop(t.storage_key, None)
        self._rebuild()

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def get(self, group: str, version: str, plural: str) -> ResourceType:
        res = self.lookup(group, version, plural)
        if res is None:
            raise KeyError(f"{plural}.{group}/{version}")
        return res

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return next((t for t in self._all if t.api_version == api_version and t.kind == kind), None)

    def storage_type(self, key: StorageKey) -> ResourceType | None:
        """The type whose version objects under `key` are stored in (e.g. ippools v1, not v3)."""
        version = self._storage_versions.get(key)
        if version:
            return self._by_gvr.get((key[0], version, key[1]))
        return next((t for t in self._static if (t.group, t.plural) == key), None)

    def all(self) -> list[ResourceType]:
        return list(self._all)

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, groups in discovery order (built-ins first)."""
        out: dict[str, list[str]] = {}
        for t in self._all:
            versions = out.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._all if t.group == group and t.version == version]
