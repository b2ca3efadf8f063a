"""Protobuf bodies from kubectl decode to the dicts their JSON form would give."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.sim.protobuf import MAGIC, ProtobufError, decode_unknown

# Bodies captured from kubectl v1.32 (`auth can-i ...`, `auth can-i --list`, `auth whoami`,
# `create configmap|secret|namespace|deployment`) posting to a stdlib HTTP server.
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

# kubectl create configmap cm-lit -n default --from-literal=a=1 --from-literal=empty=
#   --from-file=blob=<bytes 00 01 ff "bin">
CREATE_CONFIGMAP = bytes.fromhex(
    "6b3873000a0f0a0276311209436f6e6669674d617012420a1d0a06636d2d6c697412001a0764656661756c742200"
    "2a0032003800420012060a016112013112090a05656d70747912001a0e0a04626c6f6212060001ff62696e1a002200")
# kubectl create secret generic s1 -n default --from-literal=password=hunter2 --type=Opaque
CREATE_SECRET = bytes.fromhex(
    "6b3873000a0c0a027631120653656372657412380a190a02733112001a0764656661756c7422002a003200380042"
    "0012130a0870617373776f7264120768756e746572321a064f70617175651a002200")
# kubectl create namespace ns1
CREATE_NAMESPACE = bytes.fromhex(
    "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a003200380042001200"
    "1a020a001a002200")
# kubectl create deployment dep --image=nginx --replicas=3 --port=8080 -n default
CREATE_DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c0010a260a0364657012001a0764656661756c"
    "7422002a003200380042005a0a0a0361707012036465701287010803120c0a0a0a0361707012036465701a6d0a1c"
    "0a0012001a0022002a003200380042005a0a0a036170701203646570124d122f0a056e67696e7812056e67696e78"
    "2a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a00320042004a005200580060"
    "0068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200")


def test_can_i_create_pods():
    review = decode_unknown(CAN_I_CREATE_PODS)
    assert review["apiVersion"] == "authorization.k8s.io/v1"
    assert review["kind"] == "SelfSubjectAccessReview"
    # Empty strings and false are left out, as the JSON encoder's omitempty does; structs stay.
    assert review["spec"] == {"resourceAttributes": {
        "namespace": "kube-system", "verb": "create", "resource": "pods"}}
    assert review["metadata"] == {}
    assert review["status"] == {}


def test_can_i_delete_named_custom_resource():
    assert decode_unknown(CAN_I_DELETE_POOL)["spec"]["resourceAttributes"] == {
        "namespace": "default", "verb": "delete", "group": "crd.projectcalico.org",
        "resource": "ippools", "name": "default-ipv4-ippool"}


def test_can_i_non_resource_path():
    assert decode_unknown(CAN_I_GET_HEALTHZ)["spec"] == {
        "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}


def test_rules_review_and_whoami():
    rules = decode_unknown(CAN_I_LIST)
    assert (rules["kind"], rules["spec"]) == ("SelfSubjectRulesReview", {"namespace": "kube-system"})
    who = decode_unknown(WHOAMI)
    assert (who["apiVersion"], who["kind"]) == ("authentication.k8s.io/v1", "SelfSubjectReview")
    assert who == {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
                   "metadata": {}, "status": {"userInfo": {}}}


def test_kubectl_create_configmap_secret_namespace():
    assert decode_unknown(CREATE_CONFIGMAP) == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm-lit", "namespace": "default"},
        "data": {"a": "1", "empty": ""},  # map values keep their empty strings
        "binaryData": {"blob": "AAH/Ymlu"},
    }
    assert decode_unknown(CREATE_SECRET) == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": "default"},
        "data": {"password": "aHVudGVyMg=="}, "type": "Opaque"}
    assert decode_unknown(CREATE_NAMESPACE) == {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": "ns1"}, "spec": {},
                                                "status": {}}


def test_kubectl_create_deployment():
    # What `kubectl create deployment ... --dry-run=client -o json` prints for the same command.
    labels = {"app": "dep"}
    assert decode_unknown(CREATE_DEPLOYMENT) == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "dep", "namespace": "default", "labels": labels},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 8080}],
                 "resources": {}}]}},
            "strategy": {},
        },
        "status": {},
    }


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
    assert review["spec"]["resourceAttributes"] == {k: v for k, v in zip(ATTRS, values) if v}
    assert review["status"] == ({"allowed": True} if allowed else {})


def test_selectors_metadata_times_and_negative_numbers():
    requirement = field(1, "app") + field(2, "In") + field(3, "a") + field(3, "b")
    attrs = field(2, "list") + field(5, "pods") + field(9, field(1, "app in (a,b)") +
                                                       field(2, requirement))
    label = field(11, field(1, "k") + field(2, ""))
    created = field(8, field(1, 1700000000))
    metadata = field(1, "r") + label + created + field(10, (1 << 64) - 30) + field(99, 0)
    raw = field(1, metadata) + field(2, field(1, attrs))
    review = decode_unknown(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw))
    assert review["metadata"] == {"name": "r", "labels": {"k": ""},
                                  "creationTimestamp": "2023-11-14T22:13:20Z",
                                  "deletionGracePeriodSeconds": -30}
    assert review["spec"]["resourceAttributes"]["labelSelector"] == {
        "rawSelector": "app in (a,b)",
        "requirements": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}


def test_int_or_string_and_quantities():
    strategy = field(2, field(1, field(1, 1) + field(3, "25%")) + field(2, field(2, 2)))
    container = field(1, "c") + field(8, field(1, field(1, "cpu") + field(2, field(1, "500m"))))
    template = field(2, field(2, container))
    raw = field(1, field(1, "d")) + field(2, field(3, template) + field(4, strategy))
    deployment = decode_unknown(envelope("apps/v1", "Deployment", raw))
    assert deployment["spec"]["strategy"] == {"rollingUpdate": {"maxUnavailable": "25%",
                                                                "maxSurge": 2}}
    assert deployment["spec"]["template"]["spec"]["containers"] == [
        {"name": "c", "resources": {"limits": {"cpu": "500m"}}}]
    assert "replicas" not in deployment["spec"]  # zero reads as unset, as in JSON


def test_unknown_fields_are_fine_only_when_zero():
    zero_message = field(7, field(1, "") + field(2, 0))
    assert decode_unknown(envelope("v1", "Namespace", field(1, field(1, "n")) + zero_message)) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}
    assert decode_unknown(envelope("v1", "Namespace", b""))["metadata"] == {}
    for unknown in (field(7, "x"), field(7, 3), field(7, field(1, "set"))):
        with pytest.raises(ProtobufError, match="field 7 is not understood"):
            decode_unknown(envelope("v1", "Namespace", unknown))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"kind":"SelfSubjectAccessReview"}',
        MAGIC + b"\x0a\x05ab",  # truncated
        MAGIC + b"\x0a",  # truncated length
        MAGIC + b"\x0b",  # wire type 3 (group)
        MAGIC + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # runaway varint
        envelope("v1", "Pod", b""),  # kubectl sends pods as JSON; no schema here
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
