"""Decode the few protobuf request bodies kubectl sends, into the dicts their JSON form would give.

``kubectl auth can-i`` (and ``can-i --list``, ``auth whoami``) POST their review objects as
``application/vnd.kubernetes.protobuf`` and do not retry with JSON, so the simulator must read them.
The body is the Kubernetes envelope: the magic ``k8s\\0`` then a ``runtime.Unknown`` message whose
``raw`` bytes are the object. Only these review kinds are understood; no protobuf library is needed
for that much.
"""

from __future__ import annotations

__all__ = ["MAGIC", "ProtobufError", "decode_unknown"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf envelope of a kind the simulator can read."""


# A schema maps field numbers to (JSON name, type). A type is "string", "bool", "int", "map"
# (map<string,string>), a nested schema, or a one-element list [type] for a repeated field.
Schema = dict

_OBJECT_META: Schema = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
    5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
    11: ("labels", "map"), 12: ("annotations", "map"), 14: ("finalizers", ["string"]),
}
_SELECTOR_REQUIREMENT: Schema = {1: ("key", "string"), 2: ("operator", "string"),
                                 3: ("values", ["string"])}
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
_KINDS: dict[tuple[str, str], Schema] = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): _ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): _RULES_REVIEW,
    ("authentication.k8s.io/v1", "SelfSubjectReview"): _SUBJECT_REVIEW,
}

_UNKNOWN: Schema = {
    1: ("typeMeta", {1: ("apiVersion", "string"), 2: ("kind", "string")}),
    2: ("raw", "bytes"), 3: ("contentEncoding", "string"), 4: ("contentType", "string"),
}


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
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated length-delimited field")
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise ProtobufError("truncated fixed-size field")
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if number == 0:
            raise ProtobufError("field number 0")
        yield number, wire, value


def _scalar(kind: object, wire: int, value: int | bytes) -> object:
    if isinstance(kind, dict):
        return _message(_bytes(wire, value), kind)
    if kind in ("bool", "int"):
        if wire != 0:
            raise ProtobufError(f"expected a varint for a {kind}")
        return bool(value) if kind == "bool" else value
    raw = _bytes(wire, value)
    if kind == "bytes":
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtobufError("invalid UTF-8 in a string field") from None


def _bytes(wire: int, value: int | bytes) -> bytes:
    if wire != 2:
        raise ProtobufError("expected a length-delimited field")
    return value


def _message(data: bytes, schema: Schema) -> dict:
    out: dict = {}
    for number, wire, value in _fields(data):
        if number not in schema:
            continue  # a field this reader does not need (e.g. creationTimestamp)
        name, kind = schema[number]
        if kind == "map":
            entry = _message(_bytes(wire, value), {1: ("key", "string"), 2: ("value", "string")})
            out.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "")
        elif isinstance(kind, list):
            out.setdefault(name, []).append(_scalar(kind[0], wire, value))
        else:
            out[name] = _scalar(kind, wire, value)
    return out


def decode_unknown(body: bytes) -> dict:
    """The object inside a protobuf request body, shaped as its JSON form.

    Fields present on the wire are kept even when empty (proto2 sends them all), so read with
    ``.get(name, "")``. Raises :class:`ProtobufError` for anything else; answer it with 415.
    """
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = _message(body[len(MAGIC):], _UNKNOWN)
    type_meta = envelope.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if envelope.get("contentEncoding"):
        raise ProtobufError(f"unsupported content encoding {envelope['contentEncoding']!r}")
    schema = _KINDS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"cannot decode {kind or 'an object'} ({api_version or 'no apiVersion'}) "
                            "from protobuf; send JSON")
    return {"apiVersion": api_version, "kind": kind, **_message(envelope.get("raw", b""), schema)}
