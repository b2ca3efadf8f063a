"""projectcalico.org/v3 semantics over v1 storage (tui.sim.calico_v3)."""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes.client import CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from test_sim_schema import SHARED_CRDS

from tui.sim import calico_v3 as v3
from tui.sim.controllers.ipam_blocks import allocate, new_affinity, new_block, new_handle
from tui.sim.errors import ApiError
from tui.sim.resources import CALICO_V3_TYPES
from tui.sim.schema import crd_schema, validate

V3_RES = {t.plural: t for t in CALICO_V3_TYPES}
UID = "6f1c2b3a-1d2e-4f50-9a6b-7c8d9e0f1a2b"


def v1_pool(name: str, spec: dict, **meta) -> dict:
    return {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
            "metadata": {"name": name, "uid": UID, "resourceVersion": "7",
                         "creationTimestamp": "2026-01-02T03:04:05Z", **meta},
            "spec": spec}


def v3_pool(name: str, **spec) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": name}, "spec": spec}


def served_pool(name: str, cidr: str, **spec) -> dict:
    return v3.from_storage(v1_pool(name, {"cidr": cidr, **spec}))


def causes_of(obj: dict, old: dict | None = None, pools=(), blocks=()) -> list[tuple[str, str]]:
    _, causes = v3.validate_ippool(obj, old, list(pools), list(blocks))
    return [(c["field"], c["message"]) for c in causes]


# --- uid and metadata ----------------------------------------------------------------------------


def test_uid_conversion_is_deterministic_reversible_and_different():
    converted = v3.convert_uid(UID)
    assert converted != UID
    assert v3.convert_uid(UID) == converted
    assert v3.convert_uid(converted) == UID
    assert converted[8:] == UID[8:]  # version and variant bits untouched: still a valid v4 UUID


def test_v3_labels_and_annotations_travel_in_the_metadata_annotation():
    obj = {"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer",
           "metadata": {"name": "rr", "uid": UID, "resourceVersion": "12",
                        "labels": {"team": "net", "projectcalico.org/managed": "yes"},
                        "annotations": {"note": "x", "operator.tigera.io/owned": "1"}},
           "spec": {"peerSelector": "route-reflector == 'true'", "nodeSelector": "all()"}}
    stored = v3.to_storage(obj)
    meta = stored["metadata"]
    assert stored["apiVersion"] == "crd.projectcalico.org/v1"
    assert meta["labels"] == {"projectcalico.org/managed": "yes"}
    assert meta["uid"] == v3.convert_uid(UID)
    kept = json.loads(meta["annotations"][v3.METADATA_ANNOTATION])
    assert kept["labels"] == {"team": "net", "projectcalico.org/managed": "yes"}
    assert meta["annotations"]["operator.tigera.io/owned"] == "1"
    assert "note" not in meta["annotations"]
    back = v3.from_storage(stored)
    assert back["metadata"]["labels"] == obj["metadata"]["labels"]
    assert back["metadata"]["annotations"] == obj["metadata"]["annotations"]
    assert back["metadata"]["uid"] == UID
    assert back["spec"] == obj["spec"]


def test_creation_timestamp_falls_back_to_the_custom_resource():
    stored = v3.to_storage(v3_pool("p", cidr="10.0.0.0/16"))
    assert json.loads(stored["metadata"]["annotations"][v3.METADATA_ANNOTATION]) == {"creationTimestamp": None}
    stored["metadata"]["creationTimestamp"] = "2026-01-02T03:04:05Z"
    assert v3.from_storage(stored)["metadata"]["creationTimestamp"] == "2026-01-02T03:04:05Z"


def test_owner_references_to_calico_objects_are_translated_both_ways():
    ref = {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "name": "p", "uid": UID}
    obj = {"kind": "BGPPeer", "metadata": {"name": "x", "ownerReferences": [ref]}, "spec": {}}
    kept = json.loads(v3.to_storage(obj)["metadata"]["annotations"][v3.METADATA_ANNOTATION])
    assert kept["ownerReferences"] == [{**ref, "apiVersion": "crd.projectcalico.org/v1",
                                        "uid": v3.convert_uid(UID)}]
    assert v3.from_storage(v3.to_storage(obj))["metadata"]["ownerReferences"] == [ref]


def test_raw_v1_metadata_is_served_as_is_apart_from_the_uid():
    stored = v1_pool("raw", {"cidr": "10.0.0.0/16"}, labels={"team": "net"}, generation=3)
    meta = v3.from_storage(stored)["metadata"]
    assert meta["labels"] == {"team": "net"} and meta["generation"] == 3
    assert meta["uid"] == v3.convert_uid(UID)


# --- read defaults and status --------------------------------------------------------------------


def test_raw_v1_pool_reads_back_with_libcalico_defaults():
    served = v3.from_storage(v1_pool("raw", {"cidr": "10.0.0.0/16"}))
    assert served["apiVersion"] == "projectcalico.org/v3"
    assert served["spec"] == {"cidr": "10.0.0.0/16", "blockSize": 26, "allowedUses": ["Workload", "Tunnel"],
                              "nodeSelector": "all()", "ipipMode": "Never", "vxlanMode": "Never",
                              "assignmentMode": "Automatic"}
    assert v3.from_storage(v1_pool("six", {"cidr": "fd00:10::/64"}))["spec"]["blockSize"] == 122


def test_read_defaults_keep_explicit_values():
    spec = {"cidr": "10.0.0.0/16", "blockSize": 28, "ipipMode": "Always", "nodeSelector": "!all()",
            "allowedUses": ["Tunnel"], "assignmentMode": "Manual", "natOutgoing": True}
    assert v3.from_storage(v1_pool("p", spec))["spec"] == {**spec, "vxlanMode": "Never"}


@pytest.mark.parametrize("spec, meta, expected", [
    ({}, {}, ("True", "OK", "2026-01-02T03:04:05Z")),
    ({"disabled": True}, {}, ("False", "PoolDisabled", "2026-01-02T03:04:05Z")),
    ({"disabled": True}, {"deletionTimestamp": "2026-02-01T00:00:00Z"}, ("False", "Terminating", "2026-02-01T00:00:00Z")),
])
def test_allocatable_condition_is_computed_on_read(spec, meta, expected):
    served = v3.from_storage(v1_pool("p", {"cidr": "10.0.0.0/16", **spec}, **meta))
    [condition] = served["status"]["conditions"]
    assert condition["type"] == "Allocatable"
    assert (condition["status"], condition["reason"], condition["lastTransitionTime"]) == expected
    assert "status" not in v3.to_storage(served)


def test_block_affinity_deleted_is_a_string_in_v1_and_a_bool_in_v3():
    stored = {"apiVersion": "crd.projectcalico.org/v1", "kind": "BlockAffinity", "metadata": {"name": "a"},
              "spec": {"cidr": "10.0.0.0/26", "deleted": "false", "node": "n1", "state": "confirmed", "type": "host"}}
    assert v3.from_storage(stored)["spec"] == {"state": "confirmed", "node": "n1", "type": "host",
                                               "cidr": "10.0.0.0/26"}
    stored["spec"]["deleted"] = "true"
    assert v3.from_storage(stored)["spec"]["deleted"] is True


# --- IPPool write validation ---------------------------------------------------------------------


def test_overlapping_create_is_rejected_with_libcalicos_message():
    existing = served_pool("default-ipv4-ippool", "10.0.0.0/8")
    assert causes_of(v3_pool("new", cidr="10.20.0.0/16"), pools=[existing]) == [(
        "IPPool.Spec.CIDR", 'Invalid value: "10.20.0.0/16": IPPool(new) CIDR overlaps with '
        "IPPool(default-ipv4-ippool) CIDR 10.0.0.0/8")]
    assert causes_of(v3_pool("new", cidr="172.16.0.0/16"), pools=[existing]) == []
    # A pool never overlaps itself, and IPv6 pools never overlap IPv4 ones.
    assert causes_of(v3_pool("default-ipv4-ippool", cidr="10.0.0.0/8"), pools=[existing]) == []
    assert causes_of(v3_pool("six", cidr="fd00::/48"), pools=[existing]) == []


def test_create_normalises_and_fills_defaults():
    pool, causes = v3.validate_ippool(v3_pool("p", cidr="FD00:0:0:0::/48", natOutgoing=True), None, [], [])
    assert causes == []
    assert pool["spec"] == {"cidr": "fd00::/48", "natOutgoing": True, "blockSize": 122,
                            "allowedUses": ["Workload", "Tunnel"], "nodeSelector": "all()",
                            "ipipMode": "Never", "vxlanMode": "Never", "assignmentMode": "Automatic"}


@pytest.mark.parametrize("spec, field, message", [
    ({}, "IPPool.Spec.CIDR", 'Invalid value: "null": IPPool CIDR must be specified'),
    ({"cidr": "10.0.0/16"}, "IPPool.Spec.CIDR", 'Invalid value: "10.0.0/16": IPPool CIDR must be a valid subnet'),
    ({"cidr": "10.0.0.1/16"}, "IPPool.Spec.CIDR", 'Invalid value: "10.0.0.0/16": IPPool CIDR is not strictly masked'),
    ({"cidr": "169.254.0.0/20"}, "IPPool.Spec.CIDR",
     'Invalid value: "169.254.0.0/20": IPPool CIDR overlaps with IPv4 Link Local range 169.254.0.0/16'),
    ({"cidr": "fe80::/64"}, "IPPool.Spec.CIDR",
     'Invalid value: "fe80::/64": IPPool CIDR overlaps with IPv6 Link Local range fe80::/10'),
    ({"cidr": "10.0.0.0/16", "blockSize": 19}, "IPPool.Spec.BlockSize",
     "Invalid value: 19: IPv4 block size must be between 20 and 32"),
    ({"cidr": "fd00::/48", "blockSize": 112}, "IPPool.Spec.BlockSize",
     "Invalid value: 112: IPv6 block size must be between 116 and 128"),
    ({"cidr": "10.0.0.0/28"}, "IPPool.Spec.CIDR", 'Invalid value: "10.0.0.0/28": IP pool size is too small for use '
     "with Calico IPAM. It must be equal to or greater than the block size."),
    ({"cidr": "10.0.0.0/16", "ipipMode": "Always", "vxlanMode": "CrossSubnet"}, "IPPool.Spec.VXLANMode",
     'Invalid value: "CrossSubnet": Cannot enable both VXLAN and IPIP on the same IPPool'),
    ({"cidr": "fd00::/48", "ipipMode": "Always"}, "IPPool.Spec.IPIPMode",
     'Invalid value: "Always": IPIP is not supported on an IPv6 IP pool'),
])
def test_create_rejections(spec, field, message):
    assert (field, message) in causes_of(v3_pool("p", **spec))


def test_small_disabled_pool_is_allowed():
    assert causes_of(v3_pool("p", cidr="10.0.0.0/28", disabled=True)) == []


def test_selectors_are_parsed():
    [(field, message)] = causes_of(v3_pool("p", cidr="10.0.0.0/16", nodeSelector="zone == 'a"))
    assert field == "IPPool.Spec.NodeSelector"
    assert message.startswith('Invalid value: "zone == \'a": invalid selector: ')
    assert causes_of(v3_pool("p", cidr="10.0.0.0/16", nodeSelector="!all()", namespaceSelector="has(x)")) == []


def test_load_balancer_rules():
    lb_with_workload = causes_of(v3_pool("p", cidr="10.0.0.0/16", allowedUses=["LoadBalancer", "Workload"]))
    assert [f for f, _ in lb_with_workload] == ["IPPool.Spec.AllowedUses"]
    assert "cannot be combined with Workload or Tunnel" in lb_with_workload[0][1]
    lb_vxlan = causes_of(v3_pool("p", cidr="10.0.0.0/16", allowedUses=["LoadBalancer"], vxlanMode="Always"))
    assert "cannot have IPIP or VXLAN enabled" in lb_vxlan[0][1]
    old = served_pool("p", "10.0.0.0/16", allowedUses=["LoadBalancer"])
    changed = causes_of(v3_pool("p", cidr="10.0.0.0/16", allowedUses=["Workload"]), old=old)
    assert changed == [("IPPool.Spec.AllowedUses", 'Invalid value: ["Workload"]: IPPool allowed use cannot be '
                        "changed from LoadBalancer to Workload or Tunnel")]


def test_existing_blocks_of_another_size_block_a_create():
    assert causes_of(v3_pool("p", cidr="10.0.0.0/16"), blocks=["10.0.3.0/28"]) == [(
        "IPPool.Spec.BlockSize", "Invalid value: 26: IPPool blocksSize conflicts with existing allocations "
        "that use a different blockSize")]
    assert causes_of(v3_pool("p", cidr="10.0.0.0/16"), blocks=["10.0.3.0/26", "10.9.0.0/28"]) == []


def test_cidr_and_block_size_are_immutable_on_update():
    old = served_pool("p", "10.0.0.0/16")
    assert causes_of(v3_pool("p", cidr="10.1.0.0/16"), old=old) == [
        ("IPPool.Spec.CIDR", 'Invalid value: "10.1.0.0/16": IPPool CIDR cannot be modified')]
    assert causes_of(v3_pool("p", cidr="10.0.0.0/16", blockSize=24), old=old) == [
        ("IPPool.Spec.BlockSize", "Invalid value: 24: IPPool BlockSize cannot be modified")]
    # Unchanged, or omitted (defaulted back to the same value), is fine; so is a disable.
    assert causes_of(v3_pool("p", cidr="10.0.0.0/16", disabled=True), old=old) == []


def test_update_may_rewrite_a_raw_non_canonical_cidr_into_canonical_form():
    old = served_pool("p", "fd00:0::/48")
    assert causes_of(v3_pool("p", cidr="fd00::/48"), old=old) == []


def test_update_does_not_check_overlaps():
    old = served_pool("p", "10.0.0.0/16")
    other = served_pool("q", "10.0.0.0/8")
    _, causes = v3.validate_ippool(v3_pool("p", cidr="10.0.0.0/16"), old, [other], [])
    assert causes == []


# --- v1 CEL rules ----------------------------------------------------------------------------------


def test_v1_pool_rules():
    spec = {"cidr": "fd00::/48", "ipipMode": "Always", "vxlanMode": "Always"}
    causes = v3.v1_rule_causes("ippools", {"spec": spec})
    assert causes == [
        {"reason": "FieldValueForbidden", "field": "spec", "message": "Forbidden: ipipMode and vxlanMode cannot both be enabled"},
        {"reason": "FieldValueForbidden", "field": "spec", "message": "Forbidden: IPIP is not supported on IPv6 pools"},
    ]
    assert v3.v1_rule_causes("ippools", {"spec": {"cidr": "10.0.0.0/16", "ipipMode": "Never", "vxlanMode": ""}}) == []


def test_v1_pool_immutability_only_guards_fields_that_were_set():
    old = {"spec": {"cidr": "10.0.0.0/16"}}
    assert v3.v1_rule_causes("ippools", {"spec": {"cidr": "10.0.0.0/16", "blockSize": 24}}, old) == []
    [problem] = v3.v1_rule_causes("ippools", {"spec": {"cidr": "10.1.0.0/16"}}, old)
    assert problem == {"reason": "FieldValueInvalid", "field": "spec.cidr", "message": 'Invalid value: "string": '
                       "CIDR cannot be changed; follow IP pool migration guide to avoid corruption."}
    old = {"spec": {"cidr": "10.0.0.0/16", "blockSize": 26}}
    [problem] = v3.v1_rule_causes("ippools", {"spec": {"cidr": "10.0.0.0/16", "blockSize": 24}}, old)
    assert problem["field"] == "spec.blockSize"


def test_v1_peer_and_bgp_configuration_rules():
    peer = {"spec": {"node": "n1", "nodeSelector": "all()", "peerSelector": "rr == 'true'", "asNumber": 64512}}
    messages = [c["message"] for c in v3.v1_rule_causes("bgppeers", peer)]
    assert messages == ["Forbidden: node and nodeSelector cannot both be set",
                        "Forbidden: asNumber must be empty when peerSelector is set"]
    workload = {"spec": {"localWorkloadSelector": "app == 'lb'"}}
    assert [c["message"] for c in v3.v1_rule_causes("bgppeers", workload)] == [
        'Invalid value: "object": asNumber is required when localWorkloadSelector is set']
    config = {"spec": {"nodeToNodeMeshEnabled": False, "nodeMeshMaxRestartTime": "120s"}}
    assert [c["message"] for c in v3.v1_rule_causes("bgpconfigurations", config)] == [
        "Forbidden: nodeMeshMaxRestartTime cannot be set when nodeToNodeMeshEnabled is false"]
    assert v3.v1_rule_causes("ipamblocks", {"spec": {}}) == []


# --- request decoding and read-only affinities -----------------------------------------------------


def test_decode_turns_a_wrong_type_into_a_go_style_bad_request():
    with pytest.raises(ApiError) as caught:
        v3.decode(V3_RES["ippools"], v3_pool("p", cidr="10.0.0.0/16", blockSize="26"))
    assert caught.value.code == 400
    assert caught.value.status["message"] == (
        'IPPool in version "v3" cannot be handled as a IPPool: json: cannot unmarshal string into Go struct '
        "field IPPoolSpec.spec.blockSize of type int")


def test_decode_drops_and_reports_unknown_fields():
    body = v3_pool("p", cidr="10.0.0.0/16", colour="blue")
    body["status"] = {"conditions": []}
    decoded, unknown = v3.decode(V3_RES["ippools"], body)
    assert decoded["spec"] == {"cidr": "10.0.0.0/16"}
    assert unknown == ["spec.colour", "status"]


@pytest.mark.parametrize("call, verb", [
    (lambda res: v3.prepare_create(None, res, {"spec": {}}), "create"),
    (lambda res: v3.prepare_update(None, res, {"spec": {}}, {"spec": {}}), "update"),
    (lambda res: v3.before_delete(None, res, {"metadata": {"name": "a"}}), "delete"),
])
def test_block_affinities_are_read_only_like_the_calico_api_server(call, verb):
    with pytest.raises(ApiError) as caught:
        call(V3_RES["blockaffinities"])
    assert caught.value.code == 500
    assert caught.value.status["message"] == (
        f"Unable to {verb} block affinity. Block affinity resources are read-only.")


# --- through the real client against the simulator --------------------------------------------------

V1 = ("crd.projectcalico.org", "v1")
V3 = ("projectcalico.org", "v3")


@pytest.fixture
def custom(admin_client):
    return CustomObjectsApi(admin_client)


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def create(custom, group_version, plural, body, **kw):
    return custom.create_cluster_custom_object(*group_version, plural, body, **kw)


def get(custom, group_version, plural, name):
    return custom.get_cluster_custom_object(*group_version, plural, name)


def names(custom, group_version, plural) -> set[str]:
    return {i["metadata"]["name"] for i in custom.list_cluster_custom_object(*group_version, plural)["items"]}


def test_v3_serves_the_stored_pool_with_v3_identity_and_status(custom):
    v1 = get(custom, V1, "ippools", "default-ipv4-ippool")
    pool = get(custom, V3, "ippools", "default-ipv4-ippool")
    assert pool["apiVersion"] == "projectcalico.org/v3" and pool["kind"] == "IPPool"
    assert pool["metadata"]["uid"] == v3.convert_uid(v1["metadata"]["uid"]) != v1["metadata"]["uid"]
    assert pool["metadata"]["resourceVersion"] == v1["metadata"]["resourceVersion"]
    assert pool["status"]["conditions"][0]["reason"] == "OK"
    assert pool["spec"]["assignmentMode"] == "Automatic"


def test_overlapping_v3_create_is_rejected_with_the_cause(custom):
    with pytest.raises(ApiException) as caught:
        create(custom, V3, "ippools", v3_pool("new-pool", cidr="192.168.128.0/18"))
    assert caught.value.status == 422
    status = status_of(caught.value)
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'IPPool.projectcalico.org "new-pool" is invalid: IPPool.Spec.CIDR: Invalid value: "192.168.128.0/18": '
        "IPPool(new-pool) CIDR overlaps with IPPool(default-ipv4-ippool) CIDR 192.168.0.0/16")
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "IPPool.Spec.CIDR",
        "message": 'Invalid value: "192.168.128.0/18": IPPool(new-pool) CIDR overlaps with '
                   "IPPool(default-ipv4-ippool) CIDR 192.168.0.0/16"}]
    assert names(custom, V1, "ippools") == {"default-ipv4-ippool"}


def test_v3_create_stores_a_defaulted_v1_resource_with_metadata_annotation(custom):
    body = v3_pool("new-pool", cidr="10.244.0.0/16", natOutgoing=True)
    body["metadata"]["labels"] = {"purpose": "migration"}
    created = create(custom, V3, "ippools", body)
    assert created["spec"]["blockSize"] == 26 and created["spec"]["ipipMode"] == "Never"
    assert created["metadata"]["labels"] == {"purpose": "migration"}
    stored = get(custom, V1, "ippools", "new-pool")
    assert stored["spec"] == {"cidr": "10.244.0.0/16", "natOutgoing": True, "blockSize": 26,
                              "allowedUses": ["Workload", "Tunnel"], "nodeSelector": "all()", "ipipMode": "Never",
                              "vxlanMode": "Never", "assignmentMode": "Automatic"}
    assert "labels" not in stored["metadata"]
    kept = json.loads(stored["metadata"]["annotations"][v3.METADATA_ANNOTATION])
    assert kept["labels"] == {"purpose": "migration"}
    assert kept["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    selected = custom.list_cluster_custom_object(*V3, "ippools", label_selector="purpose=migration")["items"]
    assert [p["metadata"]["name"] for p in selected] == ["new-pool"]


def test_raw_v1_pool_lacks_defaults_but_reads_back_defaulted_through_v3(custom):
    create(custom, V1, "ippools", {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
                                   "metadata": {"name": "raw"}, "spec": {"cidr": "10.50.0.0/16"}})
    raw = get(custom, V1, "ippools", "raw")
    assert raw["spec"] == {"cidr": "10.50.0.0/16", "assignmentMode": "Automatic"}  # only the CRD's own default
    served = get(custom, V3, "ippools", "raw")
    assert served["spec"]["blockSize"] == 26
    assert served["spec"]["ipipMode"] == served["spec"]["vxlanMode"] == "Never"
    assert served["spec"]["nodeSelector"] == "all()"


def test_cidr_is_immutable_through_both_apis(custom):
    with pytest.raises(ApiException) as caught:
        custom.patch_cluster_custom_object(*V3, "ippools", "default-ipv4-ippool", {"spec": {"cidr": "10.96.0.0/16"}})
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"][0]["message"] == (
        'Invalid value: "10.96.0.0/16": IPPool CIDR cannot be modified')
    with pytest.raises(ApiException) as caught:
        custom.patch_cluster_custom_object(*V1, "ippools", "default-ipv4-ippool", {"spec": {"blockSize": 24}})
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.blockSize",
        "message": 'Invalid value: "integer": Block size cannot be changed; follow IP pool migration guide '
                   "to avoid corruption."}]
    assert get(custom, V1, "ippools", "default-ipv4-ippool")["spec"]["cidr"] == "192.168.0.0/16"


def test_v3_update_of_other_fields_is_accepted(custom):
    patched = custom.patch_cluster_custom_object(*V3, "ippools", "default-ipv4-ippool", {"spec": {"disabled": True}})
    assert patched["spec"]["disabled"] is True
    assert patched["status"]["conditions"][0]["reason"] == "PoolDisabled"
    assert get(custom, V1, "ippools", "default-ipv4-ippool")["spec"]["disabled"] is True


def test_wrong_types_are_refused_by_both_apis(custom):
    with pytest.raises(ApiException) as caught:
        create(custom, V1, "ippools", {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
                                       "metadata": {"name": "bad"}, "spec": {"cidr": "10.60.0.0/16", "blockSize": "26"}})
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"] == [{
        "reason": "FieldValueTypeInvalid", "field": "spec.blockSize",
        "message": 'Invalid value: "string": spec.blockSize in body must be of type integer: "string"'}]
    with pytest.raises(ApiException) as caught:
        create(custom, V3, "ippools", v3_pool("bad", cidr="10.60.0.0/16", blockSize="26"))
    assert caught.value.status == 400
    assert "cannot unmarshal string into Go struct field IPPoolSpec.spec.blockSize" in status_of(caught.value)["message"]
    assert "bad" not in names(custom, V1, "ippools")


def test_v1_cel_rules_apply_to_raw_writes(custom):
    body = {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": "both"},
            "spec": {"cidr": "10.70.0.0/16", "ipipMode": "Always", "vxlanMode": "Always"}}
    with pytest.raises(ApiException) as caught:
        create(custom, V1, "ippools", body)
    assert status_of(caught.value)["details"]["causes"] == [{
        "reason": "FieldValueForbidden", "field": "spec",
        "message": "Forbidden: ipipMode and vxlanMode cannot both be enabled"}]


def test_dry_run_v3_create_persists_nothing_and_skips_libcalico_checks(custom):
    rv = custom.list_cluster_custom_object(*V1, "ippools")["metadata"]["resourceVersion"]
    answer = create(custom, V3, "ippools", v3_pool("trial", cidr="10.80.0.0/16"), dry_run="All")
    assert answer["metadata"]["name"] == "trial"
    # The Calico API server's dry-run storage never reaches libcalico-go: even an overlap passes.
    create(custom, V3, "ippools", v3_pool("overlap", cidr="192.168.5.0/24"), dry_run="All")
    assert names(custom, V3, "ippools") == {"default-ipv4-ippool"}
    assert custom.list_cluster_custom_object(*V1, "ippools")["metadata"]["resourceVersion"] == rv


def _seed_ipam(sim) -> None:
    """worker-1 owns an empty block of the default pool, worker-2 a block with one pod IP."""
    now = sim.api.clock.now()
    empty = new_block("192.168.1.0/26", "worker-1", now, 0)
    busy = new_block("192.168.2.0/26", "worker-2", now, 0)
    busy["spec"], _ = allocate(busy["spec"], "k8s-pod-network.abc", {"node": "worker-2", "pod": "p", "namespace": "d"})
    sim.api.load([empty, busy, new_affinity("worker-1", "192.168.1.0/26"), new_affinity("worker-2", "192.168.2.0/26"),
                  new_handle("k8s-pod-network.abc", {"192.168.2.0/26": 1})])


def test_v3_delete_disables_then_releases_affinities_then_deletes(sim, custom):
    _seed_ipam(sim)
    before = sim.api.store.resource_version
    custom.delete_cluster_custom_object(*V3, "ippools", "default-ipv4-ippool")
    assert names(custom, V3, "ippools") == set()
    assert names(custom, V1, "blockaffinities") == set()
    assert names(custom, V1, "ipamblocks") == {"192-168-2-0-26"}
    orphan = get(custom, V1, "ipamblocks", "192-168-2-0-26")
    assert "affinity" not in orphan["spec"] and orphan["spec"]["unallocated"] == list(range(1, 64))
    steps = [(e.type, e.key[1], e.obj["metadata"]["name"]) for e in sim.api.store.events_since(before)]
    assert steps[0] == ("MODIFIED", "ippools", "default-ipv4-ippool")  # disabled first
    assert steps[-1] == ("DELETED", "ippools", "default-ipv4-ippool")  # deleted last
    assert ("DELETED", "ipamblocks", "192-168-1-0-26") in steps
    pending = [e.obj["spec"]["state"] for e in sim.api.store.events_since(before)
               if e.key[1] == "blockaffinities" and e.type == "MODIFIED"]
    assert "pendingDeletion" in pending


def test_raw_v1_delete_skips_the_release(sim, custom):
    _seed_ipam(sim)
    custom.delete_cluster_custom_object(*V1, "ippools", "default-ipv4-ippool")
    assert names(custom, V1, "ippools") == set()
    assert len(names(custom, V1, "blockaffinities")) == 2
    assert get(custom, V1, "ipamblocks", "192-168-1-0-26")["spec"]["affinity"] == "host:worker-1"


def test_dry_run_v3_delete_releases_nothing(sim, custom):
    _seed_ipam(sim)
    custom.delete_cluster_custom_object(*V3, "ippools", "default-ipv4-ippool", dry_run="All")
    assert names(custom, V3, "ippools") == {"default-ipv4-ippool"}
    assert len(names(custom, V1, "blockaffinities")) == 2
    assert "disabled" not in get(custom, V1, "ippools", "default-ipv4-ippool")["spec"]


def test_block_affinities_are_read_only_through_v3(sim, custom):
    _seed_ipam(sim)
    served = get(custom, V3, "blockaffinities", "worker-1-192-168-1-0-26")
    assert served["spec"] == {"state": "confirmed", "node": "worker-1", "type": "host", "cidr": "192.168.1.0/26"}
    with pytest.raises(ApiException) as caught:
        custom.delete_cluster_custom_object(*V3, "blockaffinities", "worker-1-192-168-1-0-26")
    assert caught.value.status == 500
    assert status_of(caught.value)["message"] == (
        "Unable to delete block affinity. Block affinity resources are read-only.")
    assert len(names(custom, V1, "blockaffinities")) == 2


@pytest.mark.skipif(not SHARED_CRDS.is_dir(), reason="reference CRDs not checked out next to the repo")
def test_every_served_v1_object_validates_against_the_reference_crds(sim, custom):
    _seed_ipam(sim)
    create(custom, V3, "ippools", v3_pool("new-pool", cidr="10.244.0.0/16"))
    checked = 0
    for path in sorted(SHARED_CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        schema = crd_schema(crd, "v1")
        for item in custom.list_cluster_custom_object(*V1, crd["spec"]["names"]["plural"])["items"]:
            stored, causes = validate(item, schema)
            assert causes == [], (path.name, item["metadata"]["name"], causes)
            assert stored["spec"] == item["spec"], "served objects are already pruned and defaulted"
            checked += 1
    assert checked >= 6


def test_v3_finalizers_live_in_the_annotation_and_hold_the_v3_delete(custom):
    body = {"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer",
            "metadata": {"name": "rr", "finalizers": ["example.com/hold"]},
            "spec": {"peerSelector": "route-reflector == 'true'", "nodeSelector": "all()"}}
    create(custom, V3, "bgppeers", body)
    custom.delete_cluster_custom_object(*V3, "bgppeers", "rr")
    held = get(custom, V3, "bgppeers", "rr")
    assert held["metadata"]["finalizers"] == ["example.com/hold"] and held["metadata"]["deletionTimestamp"]
    raw = get(custom, V1, "bgppeers", "rr")["metadata"]
    assert "finalizers" not in raw and "deletionTimestamp" not in raw
    custom.patch_cluster_custom_object(*V3, "bgppeers", "rr", {"metadata": {"finalizers": None}})
    assert names(custom, V1, "bgppeers") == set()


def test_an_unchanged_v3_replace_writes_nothing(custom):
    first = custom.replace_cluster_custom_object(*V3, "ippools", "default-ipv4-ippool",
                                                 get(custom, V3, "ippools", "default-ipv4-ippool"))
    again = custom.replace_cluster_custom_object(*V3, "ippools", "default-ipv4-ippool", first)
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
