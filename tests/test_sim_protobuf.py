"""Protobuf review bodies from kubectl decode to the dicts their JSON form would give."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.sim.protobuf import MAGIC, ProtobufError, decode_unknown

# Bodies captured from kubectl v1.32 (`auth can-i ...`, `auth can-i --list`, `auth whoami`)
# posting to a stdlib HTTP server.
CAN_I_CREATE_PODS = bytes.fromhex(
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a6563744163"
    "6365737352657669657712430a100a0012001a0022002a0032003800420012250a230a0b6b7562652d7379737465"
    "6d12066372656174651a0022002a04706f647332003a001a08080012001a0020001a002200")
CAN_I_DELETE_POOL = bytes.fromhex(
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a6563744163"
    "63657373526576696577126a0a100a0012001a0022002a00320038004200124c0a4a0a0764656661756c74120664"
    "656c6574651a156372642e70726f6a65637463616c69636f2e6f726722002a076970706f6f6c7332003a13646566"
    "61756c742d697076342d6970706f6f6c1a08080012001a0020001a002200")
CAN_I_GET_HEALTHZ = bytes.fromhex(
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a6563744163"
    "63657373526576696577122f0a100a0012001a0022002a003200380042001211120f0a082f6865616c74687a1203"
    "6765741a08080012001a0020001a002200")
CAN_I_LIST = bytes.fromhex(
    "6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a6563745275"
    "6c657352657669657712270a100a0012001a0022002a00320038004200120d0a0b6b7562652d73797374656d1a04"
    "180022001a002200")
WHOAMI = bytes.fromhex(
    "6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375626a65637452"
    "6576696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a002200")


def test_can_i_create_pods():
    review = decode_unknown(CAN_I_CREATE_PODS)
    assert review["apiVersion"] == "authorization.k8s.io/v1"
    assert review["kind"] == "SelfSubjectAccessReview"
    assert review["spec"] == {"resourceAttributes": {
        "namespace": "kube-system", "verb": "create", "group": "", "version": "",
        "resource": "pods", "subresource": "", "name": ""}}
    assert review["status"]["allowed"] is False
    assert review["metadata"]["name"] == ""


def test_can_i_delete_named_custom_resource():
    attrs = decode_unknown(CAN_I_DELETE_POOL)["spec"]["resourceAttributes"]
    assert (attrs["verb"], attrs["group"], attrs["resource"], attrs["name"]) == (
        "delete", "crd.projectcalico.org", "ippools", "default-ipv4-ippool")


def test_can_i_non_resource_path():
    assert decode_unknown(CAN_I_GET_HEALTHZ)["spec"] == {
        "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}


def test_rules_review_and_whoami():
    rules = decode_unknown(CAN_I_LIST)
    assert (rules["kind"], rules["spec"]) == ("SelfSubjectRulesReview", {"namespace": "kube-system"})
    who = decode_unknown(WHOAMI)
    assert (who["apiVersion"], who["kind"]) == ("authentication.k8s.io/v1", "SelfSubjectReview")
    assert who["status"] == {"userInfo": {"username": "", "uid": ""}}


# --- a minimal encoder, only for building test vectors ---------------------------------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes | str | int | bool) -> bytes:
    if isinstance(payload, (bool, int)):
        return varint(number << 3) + varint(int(payload))
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes, encoding: str = "") -> bytes:
    type_meta = field(1, api_version) + field(2, kind)
    return MAGIC + field(1, type_meta) + field(2, raw) + field(3, encoding) + field(4, "")


ATTRS = ["namespace", "verb", "group", "version", "resource", "subresource", "name"]


@given(st.lists(st.text(max_size=70), min_size=7, max_size=7), st.booleans())
def test_resource_attributes_round_trip(values, allowed):
    attrs = b"".join(field(i + 1, v) for i, v in enumerate(values))
    raw = field(2, field(1, attrs)) + field(3, field(1, allowed))
    review = decode_unknown(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw))
    assert review["spec"]["resourceAttributes"] == dict(zip(ATTRS, values))
    assert review["status"] == {"allowed": allowed}


def test_selectors_metadata_maps_and_unknown_fields():
    requirement = field(1, "app") + field(2, "In") + field(3, "a") + field(3, "b")
    attrs = field(2, "list") + field(5, "pods") + field(9, field(1, "app in (a,b)") +
                                                       field(2, requirement))
    label = field(11, field(1, "k") + field(2, "v"))
    metadata = field(1, "r") + label + field(8, field(1, 123)) + field(99, 7)  # 8, 99: skipped
    raw = field(1, metadata) + field(2, field(1, attrs))
    review = decode_unknown(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw))
    assert review["metadata"] == {"name": "r", "labels": {"k": "v"}}
    assert review["spec"]["resourceAttributes"]["labelSelector"] == {
        "rawSelector": "app in (a,b)",
        "requirements": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"kind":"SelfSubjectAccessReview"}',
        MAGIC + b"\x0a\x05ab",  # truncated
        MAGIC + b"\x0a",  # truncated length
        MAGIC + b"\x0b",  # wire type 3 (group)
        MAGIC + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # runaway varint
        envelope("v1", "Pod", b""),
        envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", b"", encoding="gzip"),
        envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", field(2, 5)),
        envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview",
                 field(1, field(1, b"\xff\xfe"))),
    ],
)
def test_unreadable_bodies_raise_protobuf_error(body):
    with pytest.raises(ProtobufError):
        decode_unknown(body)


@given(st.binary(max_size=60))
def test_random_bytes_only_raise_protobuf_error(tail):
    try:
        decode_unknown(MAGIC + tail)
    except ProtobufError:
        pass
