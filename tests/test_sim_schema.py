"""Structural-schema pruning, defaulting and validation (tui.sim.schema) against the real CRDs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.sim.crds import load_crds
from tui.sim.schema import crd_schema, prune, validate

SHARED_CRDS = Path(__file__).resolve().parents[2] / "shared" / "calico-crds"
BUNDLED = Path(__file__).resolve().parents[1] / "tui" / "sim" / "crds"


SCHEMAS = {c["spec"]["names"]["plural"]: crd_schema(c, "v1") for c in load_crds()}


def schema_of(plural: str) -> dict:
    return SCHEMAS[plural]


def fields(causes: list[dict]) -> list[tuple[str, str]]:
    return [(c["reason"], c["field"]) for c in causes]


# --- the bundled CRDs ----------------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_CRDS.is_dir(), reason="reference CRDs not checked out next to the repo")
def test_bundled_calico_crds_are_unmodified_copies():
    shared = sorted(p.name for p in SHARED_CRDS.glob("*.yaml"))
    assert len(shared) == 10
    for name in shared:
        assert (BUNDLED / name).read_bytes() == (SHARED_CRDS / name).read_bytes(), name


def test_load_crds_returns_every_bundled_manifest_as_fresh_copies():
    crds = load_crds()
    names = {c["metadata"]["name"] for c in crds}
    assert "ippools.crd.projectcalico.org" in names
    assert "installations.operator.tigera.io" in names
    assert len(crds) == len(list(BUNDLED.glob("*.yaml")))
    crds[0]["spec"]["group"] = "mutated"
    assert load_crds()[0]["spec"]["group"] != "mutated"


def test_installation_crd_is_cluster_scoped_and_types_the_pool_fields():
    crd = next(c for c in load_crds() if c["spec"]["names"]["kind"] == "Installation")
    assert crd["spec"]["scope"] == "Cluster"
    schema = crd_schema(crd, "v1")
    good = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
            "spec": {"variant": "Calico", "cni": {"type": "Calico", "ipam": {"type": "Calico"}},
                     "calicoNetwork": {"mtu": 1440, "ipPools": [
                         {"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "blockSize": 26,
                          "encapsulation": "IPIP", "natOutgoing": "Enabled", "nodeSelector": "all()",
                          "disableNewAllocations": False}]}}}
    stored, causes = validate(good, schema)
    assert causes == []
    assert stored["spec"]["calicoNetwork"]["mtu"] == 1440  # preserved unknown field
    bad = yaml.safe_load(yaml.safe_dump(good))
    bad["spec"]["calicoNetwork"]["ipPools"][0]["encapsulation"] = "GRE"
    _, causes = validate(bad, schema)
    assert fields(causes) == [("FieldValueNotSupported", "spec.calicoNetwork.ipPools[0].encapsulation")]
    assert causes[0]["message"].startswith('Unsupported value: "GRE": supported values: "IPIPCrossSubnet", "IPIP"')


def test_crd_schema_rejects_unknown_version():
    crd = next(c for c in load_crds() if c["spec"]["names"]["plural"] == "ippools")
    with pytest.raises(KeyError):
        crd_schema(crd, "v2")


# --- validation wording --------------------------------------------------------------------------


def test_wrong_type_is_reported_in_the_apiservers_words():
    _, causes = validate({"spec": {"cidr": "10.0.0.0/16", "blockSize": "string"}}, schema_of("ippools"))
    assert causes == [{
        "reason": "FieldValueTypeInvalid", "field": "spec.blockSize",
        "message": 'Invalid value: "string": spec.blockSize in body must be of type integer: "string"',
    }]


def test_required_enum_format_and_bounds():
    spec = {"blockSize": 200, "ipipMode": "Sometimes", "cidr": "not-a-cidr"}
    _, causes = validate({"spec": spec}, schema_of("ippools"))
    by_field = {c["field"]: c for c in causes}
    assert by_field["spec.blockSize"]["message"] == (
        "Invalid value: 200: spec.blockSize in body should be less than or equal to 128")
    assert by_field["spec.ipipMode"]["message"] == (
        'Unsupported value: "Sometimes": supported values: "Never", "Always", "CrossSubnet"')
    assert by_field["spec.cidr"]["reason"] == "FieldValueTypeInvalid"
    assert "must be of type cidr" in by_field["spec.cidr"]["message"]
    _, causes = validate({"spec": {}}, schema_of("ippools"))
    assert causes == [{"reason": "FieldValueRequired", "field": "spec.cidr", "message": "Required value"}]


def test_cidr_format_accepts_host_bits_like_go():
    _, causes = validate({"spec": {"cidr": "10.0.0.1/16"}}, schema_of("ippools"))
    assert causes == []


def test_set_lists_reject_duplicates_and_max_items():
    uses = ["Workload", "Workload"] + ["Tunnel"] * 9
    _, causes = validate({"spec": {"cidr": "10.0.0.0/16", "allowedUses": uses}}, schema_of("ippools"))
    reasons = {c["reason"] for c in causes}
    assert reasons == {"FieldValueDuplicate", "FieldValueTooMany"}
    assert {"reason": "FieldValueDuplicate", "field": "spec.allowedUses[1]",
            "message": 'Duplicate value: "Workload"'} in causes


def test_go_patterns_with_midstream_case_flag_are_honoured():
    schema = schema_of("felixconfigurations")
    _, causes = validate({"spec": {"logSeverityScreen": "debug", "bpfLogLevel": "OFF"}}, schema)
    assert causes == []
    _, causes = validate({"spec": {"logSeverityScreen": "chatty"}}, schema)
    assert fields(causes) == [("FieldValueInvalid", "spec.logSeverityScreen")]
    assert "should match '^(?i)(Trace|Debug|Info|Warning|Error|Fatal)?$'" in causes[0]["message"]


def test_int_or_string_takes_both_and_nothing_else():
    schema = schema_of("felixconfigurations")
    assert validate({"spec": {"natPortRange": "32768:65535"}}, schema)[1] == []
    assert validate({"spec": {"natPortRange": 5}}, schema)[1] == []
    _, causes = validate({"spec": {"natPortRange": True}}, schema)
    assert causes[0]["message"].endswith('must be of type integer,string: "boolean"')


def test_max_length_and_nested_required():
    schema = schema_of("bgppeers")
    spec = {"node": "n" * 254, "password": {"secretKeyRef": {"name": "s"}}}
    _, causes = validate({"spec": spec}, schema)
    assert ("FieldValueTooLong", "spec.node") in fields(causes)
    assert ("FieldValueRequired", "spec.password.secretKeyRef.key") in fields(causes)


def test_all_of_enums_apply():
    _, causes = validate({"spec": {"reversePeering": "Sometimes"}}, schema_of("bgppeers"))
    assert {c["field"] for c in causes} == {"spec.reversePeering"}
    assert validate({"spec": {"reversePeering": "Manual"}}, schema_of("bgppeers"))[1] == []


def test_nullable_items_and_non_nullable_nulls():
    spec = {"cidr": "10.0.0.0/30", "affinity": None, "allocations": [None, 0, None, None],
            "attributes": [{"handle_id": "h", "secondary": {"node": "n1"}}], "strictAffinity": False,
            "unallocated": [0, 2, 3]}
    stored, causes = validate({"spec": spec}, schema_of("ipamblocks"))
    assert causes == []
    assert "affinity" not in stored["spec"]  # null for a non-nullable field is dropped, not stored
    assert stored["spec"]["allocations"] == [None, 0, None, None]
    _, causes = validate({"spec": {**spec, "unallocated": [None]}}, schema_of("ipamblocks"))
    assert causes[0]["field"] == "spec.unallocated[0]"
    assert causes[0]["message"].endswith('must be of type integer: "null"')


def test_typed_additional_properties_are_validated():
    spec = {"cidr": "10.0.0.0/30", "allocations": [], "attributes": [], "strictAffinity": False,
            "unallocated": [], "sequenceNumberForAllocation": {"0": "zero"}}
    _, causes = validate({"spec": spec}, schema_of("ipamblocks"))
    assert fields(causes) == [("FieldValueTypeInvalid", "spec.sequenceNumberForAllocation.0")]


# --- pruning and defaulting ----------------------------------------------------------------------


def test_unknown_fields_are_pruned_and_reported():
    obj = {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": "p"},
           "spec": {"cidr": "10.0.0.0/16", "vxlan": "Always"}, "status": {"conditions": []}}
    pruned, dropped = prune(obj, schema_of("ippools"))
    assert pruned == {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": "p"},
                      "spec": {"cidr": "10.0.0.0/16"}}
    assert dropped == ["spec.vxlan", "status"]
    assert obj["spec"]["vxlan"] == "Always"  # the input is left alone


def test_unknown_fields_inside_list_items_have_indexed_paths():
    obj = {"spec": {"peersV4": []}, "status": {"bgp": {"numberEstablishedV4": 0, "numberEstablishedV6": 0,
           "numberNotEstablishedV4": 0, "numberNotEstablishedV6": 0,
           "peersV4": [{"peerIP": "10.0.0.1", "colour": "blue"}]}}}
    _, dropped = prune(obj, schema_of("caliconodestatuses"))
    assert dropped == ["spec.peersV4", "status.bgp.peersV4[0].colour"]


def test_schema_defaults_are_filled_but_calico_defaults_are_not():
    stored, causes = validate({"spec": {"cidr": "10.0.0.0/16"}}, schema_of("ippools"))
    assert causes == []
    # The CRD itself defaults assignmentMode; ipipMode/vxlanMode/blockSize stay absent (pitfall #3).
    assert stored["spec"] == {"cidr": "10.0.0.0/16", "assignmentMode": "Automatic"}


def test_integral_floats_count_as_integers():
    _, causes = validate({"spec": {"cidr": "10.0.0.0/16", "blockSize": 26.0}}, schema_of("ippools"))
    assert causes == []
    _, causes = validate({"spec": {"cidr": "10.0.0.0/16", "blockSize": 26.5}}, schema_of("ippools"))
    assert causes[0]["message"].endswith('must be of type integer: "number"')


KEYS = st.sampled_from(["cidr", "blockSize", "ipipMode", "vxlanMode", "natOutgoing", "bogus", "extra"])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 200), st.text(max_size=8),
                   st.lists(st.integers(0, 3), max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=7))
def test_validation_is_stable_and_pruning_keeps_only_known_fields(spec):
    schema = schema_of("ippools")
    stored, causes = validate({"spec": spec}, schema)
    assert set(stored["spec"]) <= set(schema["properties"]["spec"]["properties"])
    again, causes_again = validate(stored, schema)
    assert again == stored
    assert causes_again == causes


def test_item_and_property_counts():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "list": {"type": "array", "minItems": 2, "items": {"type": "integer"}},
        "map": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}}}}}}
    _, causes = validate({"spec": {"list": [1], "map": {"a": "x", "b": "y"}}}, schema)
    assert causes == [
        {"reason": "FieldValueInvalid", "field": "spec.list",
         "message": "Invalid value: [1]: spec.list in body should have at least 2 items"},
        {"reason": "FieldValueTooMany", "field": "spec.map", "message": "Too many: 2: must have at most 1 items"},
    ]
