"""Decode the protobuf request bodies kubectl sends into the dicts their JSON form would give.

kubectl's typed commands send built-in objects as ``application/vnd.kubernetes.protobuf`` and never
retry with JSON: ``auth can-i`` / ``can-i --list`` / ``auth whoami`` post review objects, and
``create configmap|secret|namespace|deployment`` post the objects they build. The body is
the Kubernetes envelope: the magic ``k8s\\0`` and a ``runtime.Unknown`` message whose ``raw`` bytes
are the object. Each kind below has a hand-written schema (field numbers of k8s.io/api's messages)
covering what those commands set. A field outside the schema is tolerated only when it carries the
zero value (proto2 writes every non-pointer field); anything else is a :class:`ProtobufError`, so no
data is dropped silently. Zero scalars are then left out, like the JSON encoder's ``omitempty``.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

__all__ = ["MAGIC", "ProtobufError", "decode_unknown"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf envelope of a kind the simulator can read."""


# A schema maps field numbers to (JSON name, type). A type is a scalar name ("string", "bool", "int",
# "bytes" (base64 in JSON), "time", "quantity", "intorstring"), a nested schema, a one-element list
# [type] for a repeated field, or ("map", value type) for a map with string keys.
Schema = dict

_STRINGS = ("map", "string")
_OWNER_REFERENCE: Schema = {
    1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"), 5: ("apiVersion", "string"),
    6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool"),
}
_OBJECT_META: Schema = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
    5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
    8: ("creationTimestamp", "time"), 9: ("deletionTimestamp", "time"),
    10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", _STRINGS),
    12: ("annotations", _STRINGS), 13: ("ownerReferences", [_OWNER_REFERENCE]),
    14: ("finalizers", ["string"]),
}
_SELECTOR_REQUIREMENT: Schema = {1: ("key", "string"), 2: ("operator", "string"),
                                 3: ("values", ["string"])}
_LABEL_SELECTOR: Schema = {1: ("matchLabels", _STRINGS),
                           2: ("matchExpressions", [_SELECTOR_REQUIREMENT])}

# --- review objects (authorization.k8s.io, authentication.k8s.io) ---------------------------------
_SELECTOR_ATTRIBUTES: Schema = {1: ("rawSelector", "string"),
                                2: ("requirements", [_SELECTOR_REQUIREMENT])}
_RESOURCE_ATTRIBUTES: Schema = {
    1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
    4: ("version", "string"), 5: ("resource", "string"), 6: ("subresource", "string"),
    7: ("name", "string"), 8: ("fieldSelector", _SELECTOR_ATTRIBUTES),
    9: ("labelSelector", _SELECTOR_ATTRIBUTES),
}
_ACCESS_REVIEW: Schema = {
    1: ("metadata", _OBJECT_META),
    2: ("spec", {1: ("resourceAttributes", _RESOURCE_ATTRIBUTES),
                 2: ("nonResourceAttributes", {1: ("path", "string"), 2: ("verb", "string")})}),
    3: ("status", {1: ("allowed", "bool"), 2: ("reason", "string"),
                   3: ("evaluationError", "string"), 4: ("denied", "bool")}),
}
_RULES_REVIEW: Schema = {
    1: ("metadata", _OBJECT_META),
    2: ("spec", {1: ("namespace", "string")}),
    3: ("status", {3: ("incomplete", "bool"), 4: ("evaluationError", "string")}),
}
_SUBJECT_REVIEW: Schema = {
    1: ("metadata", _OBJECT_META),
    2: ("status", {1: ("userInfo", {1: ("username", "string"), 2: ("uid", "string"),
                                    3: ("groups", ["string"])})}),
}

# --- objects built by `kubectl create <kind>` and `kubectl run` -----------------------------------
_CONTAINER: Schema = {
    1: ("name", "string"), 2: ("image", "string"), 3: ("command", ["string"]),
    4: ("args", ["string"]), 5: ("workingDir", "string"),
    6: ("ports", [{1: ("name", "string"), 2: ("hostPort", "int"), 3: ("containerPort", "int"),
                   4: ("protocol", "string"), 5: ("hostIP", "string")}]),
    7: ("env", [{1: ("name", "string"), 2: ("value", "string")}]),
    8: ("resources", {1: ("limits", ("map", "quantity")), 2: ("requests", ("map", "quantity"))}),
    13: ("terminationMessagePath", "string"), 14: ("imagePullPolicy", "string"),
    16: ("stdin", "bool"), 17: ("stdinOnce", "bool"), 18: ("tty", "bool"),
    20: ("terminationMessagePolicy", "string"),
}
_POD_SPEC: Schema = {
    2: ("containers", [_CONTAINER]), 3: ("restartPolicy", "string"),
    4: ("terminationGracePeriodSeconds", "int"), 5: ("activeDeadlineSeconds", "int"),
    6: ("dnsPolicy", "string"), 7: ("nodeSelector", _STRINGS),
    8: ("serviceAccountName", "string"), 9: ("serviceAccount", "string"),
    10: ("nodeName", "string"), 11: ("hostNetwork", "bool"), 12: ("hostPID", "bool"),
    13: ("hostIPC", "bool"), 16: ("hostname", "string"), 17: ("subdomain", "string"),
    19: ("schedulerName", "string"), 20: ("initContainers", [_CONTAINER]),
    21: ("automountServiceAccountToken", "bool"),
    22: ("tolerations", [{1: ("key", "string"), 2: ("operator", "string"), 3: ("value", "string"),
                          4: ("effect", "string"), 5: ("tolerationSeconds", "int")}]),
    24: ("priorityClassName", "string"), 25: ("priority", "int"),
    30: ("enableServiceLinks", "bool"), 31: ("preemptionPolicy", "string"),
}
_OBJECTS: dict[tuple[str, str], Schema] = {
    ("v1", "ConfigMap"): {1: ("metadata", _OBJECT_META), 2: ("data", _STRINGS),
                          3: ("binaryData", ("map", "bytes")), 4: ("immutable", "bool")},
    ("v1", "Secret"): {1: ("metadata", _OBJECT_META), 2: ("data", ("map", "bytes")),
                       3: ("type", "string"), 4: ("stringData", _STRINGS), 5: ("immutable", "bool")},
    ("v1", "Namespace"): {1: ("metadata", _OBJECT_META), 2: ("spec", {1: ("finalizers", ["string"])}),
                          3: ("status", {1: ("phase", "string")})},
    ("apps/v1", "Deployment"): {
        1: ("metadata", _OBJECT_META),
        2: ("spec", {
            1: ("replicas", "int"), 2: ("selector", _LABEL_SELECTOR),
            3: ("template", {1: ("metadata", _OBJECT_META), 2: ("spec", _POD_SPEC)}),
            4: ("strategy", {1: ("type", "string"),
                             2: ("rollingUpdate", {1: ("maxUnavailable", "intorstring"),
                                                   2: ("maxSurge", "intorstring")})}),
            5: ("minReadySeconds", "int"), 6: ("revisionHistoryLimit", "int"),
            7: ("paused", "bool"), 9: ("progressDeadlineSeconds", "int"),
        }),
        3: ("status", {}),  # a client's status is all zero values: the server sets its own
    },
}
_KINDS: dict[tuple[str, str], Schema] = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): _ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): _RULES_REVIEW,
    ("authentication.k8s.io/v1", "SelfSubjectReview"): _SUBJECT_REVIEW,
    **_OBJECTS,
}

_UNKNOWN: Schema = {
    1: ("typeMeta", {1: ("apiVersion", "string"), 2: ("kind", "string")}),
    2: ("raw", "raw"), 3: ("contentEncoding", "string"), 4: ("contentType", "string"),
}


# --- wire format -----------------------------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(data: bytes):
    """Yield (field number, wire type, value): an int for varints, bytes for the rest."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire in (1, 2, 5):
            if wire == 2:
                size, pos = _varint(data, pos)
            else:
                size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise ProtobufError("truncated field")
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if number == 0:
            raise ProtobufError("field number 0")
        yield number, wire, value


def _is_zero(wire: int, value: int | bytes) -> bool:
    """Whether a field this reader does not know carries only zero values (safe to ignore)."""
    if wire == 0:
        return value == 0
    if wire != 2:
        return not any(value)
    if not value:
        return True
    try:
        return all(_is_zero(w, v) for _, w, v in _fields(value))
    except ProtobufError:
        return False  # not a message: a non-empty string or bytes


def _is_empty(value: object) -> bool:
    """A zero scalar, which JSON's omitempty leaves out (False == 0). Nested messages stay, even
    empty: they are non-pointer structs, and Go's JSON writes those as {} too."""
    return not isinstance(value, (dict, list)) and value in (None, "", 0)


# --- decoding by schema ----------------------------------------------------------------------------

def _length_delimited(wire: int, value: int | bytes) -> bytes:
    if wire != 2:
        raise ProtobufError("expected a length-delimited field")
    return value


def _signed(wire: int, value: int | bytes) -> int:
    if wire != 0:
        raise ProtobufError("expected a varint")
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtobufError("invalid UTF-8 in a string field") from None


def _time(raw: bytes) -> str | None:
    fields = _message(raw, {1: ("seconds", "int"), 2: ("nanos", "int")}, "Time")
    if not fields:
        return None
    try:
        moment = datetime.fromtimestamp(fields.get("seconds", 0), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ProtobufError("timestamp out of range") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(raw: bytes) -> int | str | None:
    fields = _message(raw, {1: ("type", "int"), 2: ("intVal", "int"), 3: ("strVal", "string")},
                      "IntOrString")
    if not fields:
        return None
    return fields.get("strVal", "") if fields.get("type") == 1 else fields.get("intVal", 0)


def _value(kind: object, wire: int, value: int | bytes, where: str) -> object:
    if isinstance(kind, dict):
        return _message(_length_delimited(wire, value), kind, where)
    if kind == "bool":
        return bool(_signed(wire, value))
    if kind == "int":
        return _signed(wire, value)
    raw = _length_delimited(wire, value)
    if kind == "string":
        return _text(raw)
    if kind == "raw":
        return raw
    if kind == "bytes":
        return base64.b64encode(raw).decode("ascii")
    if kind == "time":
        return _time(raw)
    if kind == "quantity":
        return _message(raw, {1: ("string", "string")}, "Quantity").get("string", "")
    if kind == "intorstring":
        return _int_or_string(raw)
    raise AssertionError(f"unknown schema type {kind!r}")


def _message(data: bytes, schema: Schema, where: str) -> dict:
    out: dict = {}
    for number, wire, value in _fields(data):
        if number not in schema:
            if _is_zero(wire, value):
                continue
            raise ProtobufError(f"{where}: field {number} is not understood by the simulator; "
                                "send the object as JSON (e.g. kubectl apply -f)")
        name, kind = schema[number]
        inner = f"{where}.{name}"
        if isinstance(kind, tuple):
            entry = _message(_length_delimited(wire, value), {1: ("key", "string"), 2: ("value", "raw")},
                             inner)
            raw = entry.get("value", b"")
            out.setdefault(name, {})[entry.get("key", "")] = _value(kind[1], 2, raw, inner)
        elif isinstance(kind, list):
            out.setdefault(name, []).append(_value(kind[0], wire, value, inner))
        else:
            out[name] = _value(kind, wire, value, inner)
    return {k: v for k, v in out.items() if not _is_empty(v)}


def decode_unknown(body: bytes) -> dict:
    """The object inside a protobuf request body, shaped as its JSON form would be.

    Raises :class:`ProtobufError` for a body that is not an envelope, for a kind without a schema
    here, and for any non-zero field outside the schema; answer it with 415.
    """
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = _message(body[len(MAGIC):], _UNKNOWN, "Unknown")
    type_meta = envelope.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if envelope.get("contentEncoding"):
        raise ProtobufError(f"unsupported content encoding {envelope['contentEncoding']!r}")
    schema = _KINDS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"cannot decode {kind or 'an object'} ({api_version or 'no apiVersion'}) "
                            "from protobuf; send JSON")
    decoded = _message(envelope.get("raw", b""), schema, kind)
    return {"apiVersion": api_version, "kind": kind, "metadata": {}, **decoded}
