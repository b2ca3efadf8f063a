"""`projectcalico.org/v3` as the Calico API server serves it, over `crd.projectcalico.org/v1` storage.

On a real cluster the aggregated Calico API server is a translation layer: every v3 object is a v1
custom resource underneath, read and written through libcalico-go. This module reproduces what that
layer adds, so the simulator's v3 API and its raw v1 API differ exactly as they do on a cluster:

* **conversion** (`from_storage`, `to_storage`): same kind and spec; v3 labels and annotations live
  as JSON in the v1 annotation `projectcalico.org/metadata` (v1 keeps only `projectcalico.org/` and
  `operator.tigera.io/` keys); the v3 uid is a deterministic, reversible transform of the v1 uid;
  BlockAffinity's `deleted` is a string in v1 and a bool in v3;
* **IPPool defaults on read and write** (26/122 block size, `all()`, `Never` modes, `[Workload, Tunnel]`,
  `Automatic`), a computed `Allocatable` status condition, and libcalico-go's write validation: CIDR
  parsing, normalisation and strict mask, link-local and pool overlap, block-size range and pool size,
  IPIP/VXLAN rules, selectors, LoadBalancer rules, cidr/blockSize immutability, existing blocks of
  another size; failures are 422 Invalid with causes named like libcalico-go's fields
  (`IPPool.Spec.CIDR`);
* **the safe pool delete** (`before_delete`): disable, release the affinities of the pool's blocks,
  then the caller deletes the pool. A raw v1 delete skips all of it, as on a real cluster;
* **read-only BlockAffinity**: writes fail the way the Calico API server fails them (HTTP 500 with
  "Unable to create block affinity. Block affinity resources are read-only.");
* **v1 write rules** (`v1_rule_causes`): the 3.32 CRDs' CEL rules (IPPool, BGPPeer, BGPConfiguration)
  written out by hand, since `schema` does not evaluate CEL.

Dry-run mirrors the Calico API server too: its dry-run storage never calls libcalico-go, so a dry-run
v3 create or update is type-checked only (an overlapping pool is *not* rejected) and a dry-run delete
releases nothing. Not reproduced: the 500 ms pause before releasing affinities, and libcalico-go's
exact validator wording for non-IPPool kinds (those are checked by the v1 CRD schema and rules).
"""

from __future__ import annotations

import copy
import json
import uuid
from functools import lru_cache
from typing import Any, Protocol

from tui.model.cidr import CidrError, cidr_name, contains, overlaps, parse_cidr, parse_interface
from tui.model.selector import SelectorError, parse_selector
from tui.sim import errors
from tui.sim.crds import load_crds
from tui.sim.errors import ApiError
from tui.sim.kinds import CustomResourceStrategy
from tui.sim.resources import CALICO_V1_GROUP, ResourceType
from tui.sim.schema import cause, crd_schema, invalid_body, json_type, prune, validate
from tui.sim.strategy import Strategy

V1_API_VERSION = f"{CALICO_V1_GROUP}/v1"
V3_API_VERSION = "projectcalico.org/v3"
METADATA_ANNOTATION = "projectcalico.org/metadata"
_OURS = ("projectcalico.org/", "operator.tigera.io/")
# Flips the first UUID group only, leaving version and variant bits intact: an involution, so the
# same function maps v1 -> v3 on read and v3 -> v1 on write.
_UID_MASK = 0xFFFFFFFF << 96

ALLOCATABLE = "Allocatable"
DEFAULT_ALLOWED_USES = ["Workload", "Tunnel"]
LINK_LOCAL = (parse_cidr("169.254.0.0/16"), parse_cidr("fe80::/10"))
BLOCK_SIZE_RANGE = {4: (20, 32), 6: (116, 128)}
DEFAULT_BLOCK_SIZE = {4: 26, 6: 122}


class Api(Protocol):
    """The part of `tui.sim.api.Api` this module uses (see docs/ARCHITECTURE.md)."""

    def type(self, plural: str, group: str = "") -> ResourceType: ...
    def get(self, res: ResourceType, namespace: str | None, name: str) -> dict: ...
    def list(self, res: ResourceType, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict], str]: ...
    def update(self, res: ResourceType, namespace: str | None, name: str, obj: dict, **kw: Any) -> dict: ...
    def delete(self, res: ResourceType, namespace: str | None, name: str, **kw: Any) -> dict: ...


# --- metadata and conversion ---------------------------------------------------------------------


def convert_uid(uid: str) -> str:
    """The v3 uid of a v1 object and back: deterministic, reversible, never equal to its input.

    Non-UUID strings (which the apiserver never hands out) are returned unchanged.
    """
    try:
        parsed = uuid.UUID(uid)
    except (ValueError, AttributeError, TypeError):
        return uid
    return str(uuid.UUID(int=parsed.int ^ _UID_MASK))


def _ours(key: str) -> bool:
    return any(marker in key for marker in _OURS)


def _convert_owner(ref: dict, api_version: str) -> dict:
    if ref.get("apiVersion") not in (V1_API_VERSION, V3_API_VERSION):
        return ref
    return {**ref, "apiVersion": api_version, "uid": convert_uid(ref.get("uid", ""))}


# ObjectMeta fields libcalico-go keeps in the metadata annotation (besides labels, annotations and
# owner references): deletion and finalizers of a v3 object are the v3 object's business.
_ANNOTATED = ("generateName", "creationTimestamp", "generation", "deletionTimestamp",
              "deletionGracePeriodSeconds", "finalizers")


def _metadata_to_storage(meta: dict) -> dict:
    # Go's omitempty: zero values vanish, except the grace period, which is a pointer.
    kept = {key: meta[key] for key in _ANNOTATED
            if meta.get(key) or (key == "deletionGracePeriodSeconds" and meta.get(key) is not None)}
    kept.setdefault("creationTimestamp", None)  # Go marshals a zero time as null
    for key in ("labels", "annotations"):
        if meta.get(key):
            kept[key] = meta[key]
    if meta.get("ownerReferences"):
        kept["ownerReferences"] = [_convert_owner(r, V1_API_VERSION) for r in meta["ownerReferences"]]
    out: dict = {"name": meta.get("name", "")}
    # The custom resource has its own creation time and generation, kept in step with the v3 ones.
    for key in ("resourceVersion", "creationTimestamp", "generation"):
        if meta.get(key):
            out[key] = meta[key]
    if meta.get("uid"):
        out["uid"] = convert_uid(meta["uid"])
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if _ours(k)}
    if labels:
        out["labels"] = labels
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if _ours(k)}
    annotations[METADATA_ANNOTATION] = json.dumps(kept, separators=(",", ":"))
    out["annotations"] = annotations
    return out


def _metadata_from_storage(meta: dict) -> dict:
    annotations = dict(meta.get("annotations") or {})
    if METADATA_ANNOTATION not in annotations:
        out = copy.deepcopy(meta)  # written raw through v1: libcalico-go leaves such metadata as it is
    else:
        try:
            stored = json.loads(annotations.pop(METADATA_ANNOTATION))
        except ValueError:
            stored = {}
        labels = {**(meta.get("labels") or {}), **(stored.get("labels") or {})}
        annotations.update(stored.get("annotations") or {})
        out = {k: v for k, v in stored.items() if k not in ("labels", "annotations", "ownerReferences")}
        out.update({k: meta[k] for k in ("name", "namespace", "resourceVersion") if k in meta})
        out["creationTimestamp"] = stored.get("creationTimestamp") or meta.get("creationTimestamp")
        if labels:
            out["labels"] = labels
        if annotations:
            out["annotations"] = annotations
        if stored.get("ownerReferences"):
            out["ownerReferences"] = [_convert_owner(r, V3_API_VERSION) for r in stored["ownerReferences"]]
    if meta.get("uid"):
        out["uid"] = convert_uid(meta["uid"])
    return out


def to_storage(obj: dict) -> dict:
    """The v1 custom resource a v3 object is stored as."""
    out = {"apiVersion": V1_API_VERSION, "kind": obj.get("kind"),
           "metadata": _metadata_to_storage(obj.get("metadata") or {}),
           "spec": copy.deepcopy(obj.get("spec") or {})}
    if obj.get("kind") != "IPPool" and "status" in obj:  # IPPool status is computed, never stored
        out["status"] = copy.deepcopy(obj["status"])
    return out


def from_storage(stored: dict) -> dict:
    """The v3 object the Calico API server serves for a stored v1 custom resource."""
    kind = stored.get("kind")
    spec = copy.deepcopy(stored.get("spec") or {})
    out = {"apiVersion": V3_API_VERSION, "kind": kind,
           "metadata": _metadata_from_storage(stored.get("metadata") or {}), "spec": spec}
    if kind == "IPPool":
        out["spec"] = ippool_defaults(spec)
        out["status"] = ippool_status(out)
    elif kind == "BlockAffinity":
        out["spec"] = _affinity_spec_v3(spec)
    elif "status" in stored:
        out["status"] = copy.deepcopy(stored["status"])
    return out


def _affinity_spec_v3(spec: dict) -> dict:
    out = {k: spec[k] for k in ("state", "node", "type", "cidr") if k in spec}
    if str(spec.get("deleted", "")).lower() == "true":
        out["deleted"] = True  # a Go bool with omitempty: false is not printed
    return out


# --- IPPool semantics ----------------------------------------------------------------------------


def _version(cidr: Any) -> int | None:
    try:
        return parse_interface(cidr).version
    except CidrError:
        return None


def ippool_defaults(spec: dict) -> dict:
    """libcalico-go's IPPool defaults, applied on write and again on every read.

    False booleans (natOutgoing, disabled...) stay absent: Go omits them when serialising.
    """
    out = copy.deepcopy(spec)
    version = _version(out.get("cidr"))
    if not out.get("blockSize") and version:
        out["blockSize"] = DEFAULT_BLOCK_SIZE[version]
    for key, default in (("allowedUses", DEFAULT_ALLOWED_USES), ("nodeSelector", "all()"),
                         ("ipipMode", "Never"), ("vxlanMode", "Never")):
        if not out.get(key):
            out[key] = copy.deepcopy(default)
    out.setdefault("assignmentMode", "Automatic")
    return out


def ippool_status(pool: dict) -> dict:
    """The v3 `Allocatable` condition, derived from the pool itself (v1 storage has no status).

    The transition time is the moment the pool entered its current state as far as the object tells:
    its deletion timestamp when terminating, else its creation timestamp.
    """
    meta = pool.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        status, reason, message = "False", "Terminating", "IPPool is being deleted"
        when = meta["deletionTimestamp"]
    elif (pool.get("spec") or {}).get("disabled"):
        status, reason, message = "False", "PoolDisabled", "IPPool.Spec.Disabled is true"
        when = meta.get("creationTimestamp")
    else:
        status, reason, message = "True", "OK", "IPPool is available for IP allocation."
        when = meta.get("creationTimestamp")
    return {"conditions": [{"type": ALLOCATABLE, "status": status, "reason": reason,
                            "message": message, "lastTransitionTime": when}]}


def _field_error(field: str, reason: str, value: Any = None) -> dict:
    """A libcalico-go ErroredField as the Calico API server turns it into a cause."""
    return cause("FieldValueInvalid", field, invalid_body(value, reason))


def _mode_on(spec: dict, key: str) -> bool:
    return spec.get(key) not in (None, "", "Never")


def _uses(spec: dict) -> list:
    return spec.get("allowedUses") or []


def _selector_error(spec: dict, key: str, field: str) -> dict | None:
    text = spec.get(key)
    if not text:
        return None
    try:
        parse_selector(text)
    except SelectorError as exc:
        return _field_error(field, f"invalid selector: {exc}", text)
    return None


def validate_ippool(obj: dict, old: dict | None, pools: list[dict], block_cidrs: list[str]) -> tuple[dict, list[dict]]:
    """libcalico-go's IPPool create/update validation and defaulting (Calico API server semantics).

    `old` is the served pool for an update, None for a create; `pools` are the other served pools and
    `block_cidrs` the CIDRs of the existing IPAM blocks (both only consulted on create). Returns the
    pool as it would be stored (CIDR normalised, defaults filled) and the causes of a 422.
    """
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    name = (out.get("metadata") or {}).get("name", "")
    cidr_text = spec.get("cidr")
    if not cidr_text:
        return out, [_field_error("IPPool.Spec.CIDR", "IPPool CIDR must be specified")]
    try:
        given = parse_interface(cidr_text)
    except CidrError:
        return out, [_field_error("IPPool.Spec.CIDR", "IPPool CIDR must be a valid subnet", cidr_text)]
    network = given.network
    spec["cidr"] = str(network)
    old_spec = (old or {}).get("spec") or {}
    causes: list[dict] = []
    if old is not None and not _cidr_change_ok(old_spec.get("cidr"), spec["cidr"]):
        causes.append(_field_error("IPPool.Spec.CIDR", "IPPool CIDR cannot be modified", spec["cidr"]))
    if old is not None and "LoadBalancer" in _uses(old_spec) and any(u != "LoadBalancer" for u in _uses(spec)):
        return out, [_field_error("IPPool.Spec.AllowedUses", "IPPool allowed use cannot be changed from "
                                  "LoadBalancer to Workload or Tunnel", _uses(spec))]
    spec.update(ippool_defaults(spec))
    block_size = spec["blockSize"]
    if old is not None and old_spec.get("blockSize") != block_size:
        causes.append(_field_error("IPPool.Spec.BlockSize", "IPPool BlockSize cannot be modified", block_size))
    low, high = BLOCK_SIZE_RANGE[network.version]
    if not low <= block_size <= high:
        causes.append(_field_error("IPPool.Spec.BlockSize",
                                   f"IPv{network.version} block size must be between {low} and {high}", block_size))
    if not spec.get("disabled") and network.prefixlen > block_size:
        causes.append(_field_error("IPPool.Spec.CIDR", "IP pool size is too small for use with Calico IPAM. "
                                   "It must be equal to or greater than the block size.", spec["cidr"]))
    if old is None:
        causes += _overlap_causes(name, network, pools)
    if _mode_on(spec, "vxlanMode") and _mode_on(spec, "ipipMode"):
        causes.append(_field_error("IPPool.Spec.VXLANMode", "Cannot enable both VXLAN and IPIP on the same IPPool",
                                   spec["vxlanMode"]))
    if network.version == 6 and _mode_on(spec, "ipipMode"):
        causes.append(_field_error("IPPool.Spec.IPIPMode", "IPIP is not supported on an IPv6 IP pool",
                                   spec["ipipMode"]))
    if given.ip != network.network_address:
        causes.append(_field_error("IPPool.Spec.CIDR", "IPPool CIDR is not strictly masked", spec["cidr"]))
    link_local = LINK_LOCAL[0] if network.version == 4 else LINK_LOCAL[1]
    if overlaps(network, link_local):
        causes.append(_field_error("IPPool.Spec.CIDR", f"IPPool CIDR overlaps with IPv{network.version} "
                                   f"Link Local range {link_local}", spec["cidr"]))
    causes += [c for c in (_selector_error(spec, "nodeSelector", "IPPool.Spec.NodeSelector"),
                           _selector_error(spec, "namespaceSelector", "IPPool.Spec.NamespaceSelector")) if c]
    causes += _load_balancer_causes(spec)
    if old is None and not causes:
        causes += _block_size_conflicts(network, block_size, block_cidrs)
    return out, causes


def _cidr_change_ok(old_cidr: Any, new_cidr: str) -> bool:
    """Unchanged, or the same network rewritten in canonical form (libcalico-go allows that)."""
    if old_cidr == new_cidr:
        return True
    try:
        return parse_cidr(old_cidr, strict=False) == parse_cidr(new_cidr) and str(parse_cidr(new_cidr)) == new_cidr
    except CidrError:
        return False


def _overlap_causes(name: str, network, pools: list[dict]) -> list[dict]:
    causes = []
    for other in pools:
        other_name = (other.get("metadata") or {}).get("name")
        other_cidr = (other.get("spec") or {}).get("cidr")
        if other_name == name:
            continue
        try:
            other_net = parse_cidr(other_cidr, strict=False)
        except CidrError:
            continue
        if overlaps(other_net, network):
            causes.append(_field_error("IPPool.Spec.CIDR",
                                       f"IPPool({name}) CIDR overlaps with IPPool({other_name}) CIDR {other_cidr}",
                                       str(network)))
    return causes


def _load_balancer_causes(spec: dict) -> list[dict]:
    uses = _uses(spec)
    if "LoadBalancer" not in uses:
        return []
    causes = []
    if "Workload" in uses or "Tunnel" in uses:
        causes.append(_field_error("IPPool.Spec.AllowedUses",
                                   "LoadBalancer cannot be combined with Workload or Tunnel allowed uses", uses))
    if _mode_on(spec, "ipipMode") or _mode_on(spec, "vxlanMode"):
        causes.append(_field_error("IPPool.Spec.AllowedUses",
                                   "LoadBalancer IP pool cannot have IPIP or VXLAN enabled", uses))
    return causes


def _block_size_conflicts(network, block_size: int, block_cidrs: list[str]) -> list[dict]:
    for text in block_cidrs:
        try:
            block = parse_cidr(text, strict=False)
        except CidrError:
            continue
        if block.prefixlen != block_size and overlaps(block, network):
            return [_field_error("IPPool.Spec.BlockSize", "IPPool blocksSize conflicts with existing allocations "
                                 "that use a different blockSize", block_size)]
    return []


# --- the v1 CRDs' CEL rules ----------------------------------------------------------------------


def _empty(spec: dict, key: str) -> bool:
    """CEL `!has(self.k) || size(self.k) == 0` for a string field."""
    return not spec.get(key)


def _ippool_rules(spec: dict) -> list[tuple[bool, str]]:
    lb = "LoadBalancer" in _uses(spec)
    return [
        (not (_mode_on(spec, "ipipMode") and _mode_on(spec, "vxlanMode")),
         "ipipMode and vxlanMode cannot both be enabled"),
        (not lb or not (_mode_on(spec, "ipipMode") or _mode_on(spec, "vxlanMode")),
         "LoadBalancer IP pool cannot have IPIP or VXLAN enabled"),
        (not lb or not ({"Workload", "Tunnel"} & set(_uses(spec))),
         "LoadBalancer cannot be combined with Workload or Tunnel allowed uses"),
        (":" not in str(spec.get("cidr", "")) or not _mode_on(spec, "ipipMode"),
         "IPIP is not supported on IPv6 pools"),
    ]


def _bgppeer_rules(spec: dict) -> list[tuple[bool, str]]:
    workload = not _empty(spec, "localWorkloadSelector")
    return [
        (_empty(spec, "node") or _empty(spec, "nodeSelector"), "node and nodeSelector cannot both be set"),
        (_empty(spec, "peerIP") or _empty(spec, "peerSelector"), "peerIP and peerSelector cannot both be set"),
        (_empty(spec, "peerSelector") or not spec.get("asNumber"), "asNumber must be empty when peerSelector is set"),
        (not workload or _empty(spec, "peerIP"), "peerIP must be empty when localWorkloadSelector is set"),
        (not workload or _empty(spec, "peerSelector"), "peerSelector must be empty when localWorkloadSelector is set"),
    ]


def _bgpconfiguration_rules(spec: dict) -> list[tuple[bool, str]]:
    mesh_off = spec.get("nodeToNodeMeshEnabled") is False
    return [
        (not (mesh_off and "nodeMeshPassword" in spec),
         "nodeMeshPassword cannot be set when nodeToNodeMeshEnabled is false"),
        (not (mesh_off and "nodeMeshMaxRestartTime" in spec),
         "nodeMeshMaxRestartTime cannot be set when nodeToNodeMeshEnabled is false"),
    ]


_FORBIDDEN_RULES = {"ippools": _ippool_rules, "bgppeers": _bgppeer_rules,
                    "bgpconfigurations": _bgpconfiguration_rules}
# Transition rules `self == oldSelf`: (field, schema type, message). They only run when the old
# object has the field, so a raw v1 edit may still *add* a missing blockSize.
_IMMUTABLE = {"ippools": (
    ("cidr", "string", "CIDR cannot be changed; follow IP pool migration guide to avoid corruption."),
    ("blockSize", "integer", "Block size cannot be changed; follow IP pool migration guide to avoid corruption."),
)}


def v1_rule_causes(plural: str, obj: dict, old: dict | None = None) -> list[dict]:
    """Causes from the `x-kubernetes-validations` of the 3.32 `crd.projectcalico.org/v1` CRDs.

    Written out by hand for IPPool, BGPPeer and BGPConfiguration (FelixConfiguration's rules are
    not reproduced). `old` is the stored object on an update.
    """
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    causes = [cause("FieldValueForbidden", "spec", f"Forbidden: {message}")
              for ok, message in _FORBIDDEN_RULES.get(plural, lambda s: [])(spec) if not ok]
    if plural == "bgppeers" and not _empty(spec, "localWorkloadSelector") and not spec.get("asNumber"):
        causes.append(cause("FieldValueInvalid", "spec",
                            invalid_body("object", "asNumber is required when localWorkloadSelector is set")))
    old_spec = (old or {}).get("spec") or {}
    for key, type_name, message in _IMMUTABLE.get(plural, ()):
        if key in old_spec and key in spec and spec[key] != old_spec[key]:
            causes.append(cause("FieldValueInvalid", f"spec.{key}", invalid_body(type_name, message)))
    return causes


# --- the Calico API server's request handling ----------------------------------------------------


@lru_cache(maxsize=None)
def _v1_schemas() -> dict[str, dict]:
    return {crd["spec"]["names"]["plural"]: crd_schema(crd, "v1")
            for crd in load_crds() if crd["spec"]["group"] == CALICO_V1_GROUP}


_GO_JSON_KIND = {"string": "string", "integer": "number", "number": "number", "boolean": "bool",
                 "array": "array", "object": "object"}


def _schema_at(schema: dict, path: str) -> dict:
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            schema = schema.get("items") or {}
        else:
            schema = (schema.get("properties") or {}).get(part) or schema.get("additionalProperties") or {}
    return schema if isinstance(schema, dict) else {}


def _go_type(schema: dict) -> str:
    """An approximation of the Go field type libcalico-go's structs declare for a schema node."""
    if schema.get("x-kubernetes-int-or-string"):
        return "intstr.IntOrString"
    kind = schema.get("type")
    if kind == "integer":
        return {"int32": "int32", "int64": "int64"}.get(schema.get("format", ""), "int")
    if kind == "array":
        return "[]" + _go_type(schema.get("items") or {})
    return {"string": "string", "boolean": "bool", "number": "float64", "object": "map[string]string"}.get(kind, "string")


def _value_at(obj: Any, path: str) -> Any:
    for part in path.replace("[", ".[").split("."):
        obj = obj[int(part[1:-1])] if part.startswith("[") else obj.get(part)
    return obj


def decode(res: ResourceType, obj: dict) -> tuple[dict, list[str]]:
    """Decode a v3 request body the way a typed Go API server does.

    Unknown fields are dropped (their paths are returned, for a strict-decoding error or a Warning);
    a value of the wrong JSON type is a 400 BadRequest, before any validation runs.
    """
    schema = _v1_schemas()[res.plural]
    decoded, unknown = prune(obj, schema)
    _, causes = validate(decoded, schema)
    for problem in causes:
        if problem["reason"] != "FieldValueTypeInvalid" or problem["field"] in ("apiVersion", "kind"):
            continue
        path = problem["field"]
        got = _GO_JSON_KIND[json_type(_value_at(decoded, path))]
        raise errors.bad_request(
            f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: json: cannot unmarshal '
            f"{got} into Go struct field {res.kind}Spec.{path} of type {_go_type(_schema_at(schema, path))}")
    return decoded, unknown


def read_only_error(verb: str) -> ApiError:
    """What the Calico API server answers to any BlockAffinity write (its storage refuses it)."""
    action = {"create": "create", "delete": "delete"}.get(verb, "update")
    return errors.error(500, f"Unable to {action} block affinity. Block affinity resources are read-only.", "")


def _v1(api: Api, plural: str) -> ResourceType:
    return api.type(plural, CALICO_V1_GROUP)


def _invalid(res: ResourceType, obj: dict, causes: list[dict]) -> ApiError:
    return errors.invalid(res, (obj.get("metadata") or {}).get("name", ""), causes)


def prepare_create(api: Api, res: ResourceType, obj: dict, dry_run: bool = False) -> dict:
    """Validate and default a v3 create; returns the v3 object to store (via `to_storage`)."""
    if res.plural == "blockaffinities":
        raise read_only_error("create")
    decoded, _ = decode(res, obj)
    if dry_run or res.plural != "ippools":
        return decoded
    stored_pools, _ = api.list(_v1(api, "ippools"))
    blocks, _ = api.list(_v1(api, "ipamblocks"))
    pool, causes = validate_ippool(decoded, None, [from_storage(p) for p in stored_pools],
                                   [(b.get("spec") or {}).get("cidr", "") for b in blocks])
    if causes:
        raise _invalid(res, decoded, causes)
    return pool


def prepare_update(api: Api, res: ResourceType, new: dict, old: dict, dry_run: bool = False) -> dict:
    """Validate and default a v3 update (`old` is the served object); returns the v3 object to store."""
    if res.plural == "blockaffinities":
        raise read_only_error("update")
    decoded, _ = decode(res, new)
    if dry_run or res.plural != "ippools":
        return decoded
    pool, causes = validate_ippool(decoded, old, [], [])
    if causes:
        raise _invalid(res, decoded, causes)
    return pool


def before_delete(api: Api, res: ResourceType, obj: dict, dry_run: bool = False) -> None:
    """Run the Calico API server's steps before a v3 delete removes the stored object.

    IPPool: set `disabled` (stops new allocations), then release the affinities of its blocks. The
    pool's resourceVersion changes on the way, so the caller must delete without an RV precondition.
    """
    if res.plural == "blockaffinities":
        raise read_only_error("delete")
    if dry_run or res.plural != "ippools":
        return
    pools = _v1(api, "ippools")
    name = obj["metadata"]["name"]
    stored = api.get(pools, None, name)
    if not (stored.get("spec") or {}).get("disabled"):
        stored["spec"]["disabled"] = True
        api.update(pools, None, name, stored)
    release_pool_affinities(api, stored["spec"]["cidr"])


def release_pool_affinities(api: Api, pool_cidr: str) -> None:
    """libcalico-go `ReleasePoolAffinities`: every block affinity inside the pool is released.

    Per affinity: mark it `pendingDeletion`; delete its block if empty, else clear the block's
    `affinity` (the block stays, orphaned, until its IPs are released); then delete the affinity.
    Deletes are preceded by a `deleted` tombstone update, as libcalico-go does on Kubernetes.
    """
    pool = parse_cidr(pool_cidr, strict=False)
    affinity_res, block_res = _v1(api, "blockaffinities"), _v1(api, "ipamblocks")
    affinities, _ = api.list(affinity_res)
    for affinity in affinities:
        spec = affinity.get("spec") or {}
        try:
            block_net = parse_cidr(spec.get("cidr"), strict=False)
        except CidrError:
            continue
        if str(spec.get("deleted")).lower() == "true" or not contains(pool, block_net):
            continue
        name = affinity["metadata"]["name"]
        affinity["spec"]["state"] = "pendingDeletion"
        affinity = api.update(affinity_res, None, name, affinity)
        _release_block(api, block_res, block_net, f"{spec.get('type') or 'host'}:{spec.get('node')}")
        affinity["spec"]["deleted"] = "true"
        api.update(affinity_res, None, name, affinity)
        api.delete(affinity_res, None, name)


def _release_block(api: Api, block_res: ResourceType, block_net, owner: str) -> None:
    try:
        block = api.get(block_res, None, cidr_name(block_net))
    except ApiError as exc:
        if exc.code == 404:
            return
        raise
    spec = block.get("spec") or {}
    if spec.get("affinity") != owner:
        return
    name = block["metadata"]["name"]
    if len(spec.get("unallocated") or []) == len(spec.get("allocations") or []):  # libcalico-go's empty()
        spec["deleted"] = True
        api.update(block_res, None, name, block)
        api.delete(block_res, None, name)
    else:
        spec.pop("affinity", None)
        api.update(block_res, None, name, block)


# --- strategies: how the Api plugs this module in ------------------------------------------------


def _replace(target: dict, source: dict) -> None:
    if source is not target:
        target.clear()
        target.update(source)


class CalicoV3Strategy(Strategy):
    """`projectcalico.org/v3` types: conversion to and from v1 storage plus the API server's rules.

    `dry_run` is honoured when the Api passes it: the Calico API server's dry-run never reaches
    libcalico-go, so nothing but decoding is checked then.
    """

    def from_storage(self, api, res, obj):
        return from_storage(obj)

    def to_storage(self, api, res, obj, stored):
        return to_storage(obj)

    def prepare_create(self, api, res, obj, dry_run: bool = False):
        _replace(obj, prepare_create(api, res, obj, dry_run))

    def prepare_update(self, api, res, new, old, dry_run: bool = False):
        _replace(new, prepare_update(api, res, new, old, dry_run))

    def before_delete(self, api, res, obj, dry_run):
        before_delete(api, res, obj, dry_run)


class CalicoV1Strategy(CustomResourceStrategy):
    """`crd.projectcalico.org/v1` types: CRD schema validation plus the CRDs' CEL rules.

    As on the apiserver, the rules are skipped when the schema already found a wrong type, and
    their causes are reported together with the schema's other causes.
    """

    def _checked(self, res: ResourceType, obj: dict, old: dict | None) -> None:
        checked, causes = validate(obj, res.schema) if res.schema else (obj, [])
        if not any(c["reason"] == "FieldValueTypeInvalid" for c in causes):
            causes += v1_rule_causes(res.plural, checked, old)
        if causes:
            raise _invalid(res, obj, causes)
        _replace(obj, checked)

    def prepare_create(self, api, res, obj, dry_run=False):
        self._checked(res, obj, None)

    def prepare_update(self, api, res, new, old, dry_run=False):
        self._checked(res, new, old)
