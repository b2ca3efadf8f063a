"""Structural-schema handling of custom resources, the way kube-apiserver does it.

A write to a CRD-backed resource goes through three steps on a real API server, and the simulator
repeats them so that a raw `crd.projectcalico.org/v1` write behaves like on a real cluster:

1. **pruning**: fields the schema does not know are dropped (and reported, so the server can return
   a strict-decoding error or a `Warning` header); `null` for a non-nullable field without a default
   is dropped too;
2. **defaulting**: `default:` values are filled in (also on read, like the apiserver does);
3. **validation**: types, `required`, `enum`, string formats, lengths, patterns, bounds, list
   uniqueness. Problems come back as Status causes in the apiserver's wording, for example
   `{"reason": "FieldValueTypeInvalid", "field": "spec.blockSize",
   "message": 'Invalid value: "string": spec.blockSize in body must be of type integer: "string"'}`.

Not evaluated: `x-kubernetes-validations` (CEL). A general CEL interpreter is out of scope; the rules
that matter for Calico (IPPool immutability and mode rules, BGPPeer exclusions) are implemented
explicitly in `calico_v3`. Integer `format`s (int32/int64) only require an integer, because the
apiserver does not range-check them either (formats are only checked on strings).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import math
import re
from functools import lru_cache
from typing import Any

from tui.model.cidr import CidrError, parse_interface

PRESERVE = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"

_TYPE_INVALID = "FieldValueTypeInvalid"
_INVALID = "FieldValueInvalid"
_REQUIRED = "FieldValueRequired"
_NOT_SUPPORTED = "FieldValueNotSupported"
_DUPLICATE = "FieldValueDuplicate"
_TOO_LONG = "FieldValueTooLong"
_TOO_MANY = "FieldValueTooMany"


def crd_schema(crd: dict, version: str) -> dict:
    """The `openAPIV3Schema` of one version of a CRD manifest (KeyError if the version is absent)."""
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return entry.get("schema", {}).get("openAPIV3Schema", {PRESERVE: True})
    raise KeyError(f"{crd['metadata']['name']} has no version {version!r}")


def prune(obj: dict, schema: dict) -> tuple[dict, list[str]]:
    """A copy of `obj` without the fields `schema` does not declare, and the paths of those fields.

    `apiVersion`, `kind` and `metadata` at the root are the apiserver's own business and are kept.
    Paths look like the apiserver's strict-decoding errors: `spec.foo`, `spec.items[2].bar`.
    """
    pruned = copy.deepcopy(obj)
    dropped: list[str] = []
    for key in list(pruned):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        _prune_field(pruned, key, schema, key, dropped)
    return pruned, dropped


def apply_defaults(obj: Any, schema: dict) -> None:
    """Fill in `default:` values in place, for absent fields and non-nullable nulls."""
    if isinstance(obj, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if "default" in sub and (name not in obj or (obj[name] is None and not sub.get("nullable"))):
                obj[name] = copy.deepcopy(sub["default"])
        for key, value in obj.items():
            sub = _field_schema(schema, key)
            if sub is not None:
                apply_defaults(value, sub)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for item in obj:
            apply_defaults(item, schema["items"])


def validate(obj: dict, schema: dict) -> tuple[dict, list[dict]]:
    """Prune, default and validate `obj`; returns the object as it would be stored, and the causes.

    An empty cause list means the write is acceptable. The returned object is a new copy.
    """
    pruned, _ = prune(obj, schema)
    apply_defaults(pruned, schema)
    causes: list[dict] = []
    for key, sub in (schema.get("properties") or {}).items():
        if key == "metadata" or key not in pruned:
            continue
        _check(pruned[key], sub, key, causes)
    for name in schema.get("required") or []:
        if name not in pruned:
            causes.append(cause(_REQUIRED, name, "Required value"))
    return pruned, causes


def cause(reason: str, field: str, message: str) -> dict:
    """One `details.causes[]` entry of an Invalid Status."""
    return {"reason": reason, "message": message, "field": field}


def invalid_body(value: Any, detail: str, label: str = "Invalid value") -> str:
    """The apiserver's `field.Error` body: `Invalid value: "x": <detail>` (value printed like Go)."""
    return f"{label}: {go_value(value)}: {detail}"


def go_value(value: Any) -> str:
    """A value printed the way apimachinery prints a bad value (`%q` strings, bare scalars, JSON)."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_type(value: Any) -> str:
    """The JSON-schema type name of a decoded JSON value."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --- pruning -------------------------------------------------------------------------------------


def _field_schema(schema: dict, key: str) -> dict | None:
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _keeps_unknown(schema: dict) -> bool:
    return bool(schema.get(PRESERVE) or schema.get(INT_OR_STRING) or schema.get("additionalProperties") is True)


def _prune_field(parent: dict, key: str, schema: dict, path: str, dropped: list[str]) -> None:
    sub = _field_schema(schema, key)
    if sub is None:
        if not _keeps_unknown(schema):
            del parent[key]
            dropped.append(path)
        return
    value = parent[key]
    if value is None and not sub.get("nullable") and "default" not in sub:
        del parent[key]
        return
    _prune_value(value, sub, path, dropped)


def _prune_value(value: Any, schema: dict, path: str, dropped: list[str]) -> None:
    if isinstance(value, dict):
        for key in list(value):
            _prune_field(value, key, schema, f"{path}.{key}", dropped)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _prune_value(item, schema["items"], f"{path}[{index}]", dropped)


# --- validation ----------------------------------------------------------------------------------


def _allowed_types(schema: dict) -> list[str]:
    if schema.get(INT_OR_STRING):
        return ["integer", "string"]
    return [schema["type"]] if schema.get("type") else []


def _type_ok(value: Any, allowed: list[str]) -> bool:
    kind = json_type(value)
    if kind in allowed:
        return True
    if kind == "number" and "integer" in allowed and math.isfinite(value) and value.is_integer():
        return True
    return kind == "integer" and "number" in allowed


def _check(value: Any, schema: dict, path: str, causes: list[dict]) -> None:
    allowed = _allowed_types(schema)
    if value is None:
        if allowed and not schema.get("nullable"):
            detail = f'{path} in body must be of type {",".join(allowed)}: "null"'
            causes.append(cause(_TYPE_INVALID, path, invalid_body(None, detail)))
        return
    if allowed and not _type_ok(value, allowed):
        kind = json_type(value)
        detail = f'{path} in body must be of type {",".join(allowed)}: "{kind}"'
        causes.append(cause(_TYPE_INVALID, path, invalid_body(kind, detail)))
        return
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        supported = ", ".join(go_value(o if isinstance(o, str) else json.dumps(o)) for o in schema["enum"])
        causes.append(cause(_NOT_SUPPORTED, path, invalid_body(value, f"supported values: {supported}", "Unsupported value")))
    if isinstance(value, str):
        _check_string(value, schema, path, causes)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_number(value, schema, path, causes)
    elif isinstance(value, list):
        _check_array(value, schema, path, causes)
    elif isinstance(value, dict):
        _check_object(value, schema, path, causes)
    _check_combinators(value, schema, path, causes)


def _same(value: Any, option: Any) -> bool:
    if isinstance(value, bool) or isinstance(option, bool):
        return type(value) is type(option) and value == option
    return value == option


def _check_string(value: str, schema: dict, path: str, causes: list[dict]) -> None:
    fmt = schema.get("format")
    checker = _FORMATS.get(fmt or "")
    if checker is not None and not checker(value):
        detail = f"{path} in body must be of type {fmt}: {go_value(value)}"
        causes.append(cause(_TYPE_INVALID, path, invalid_body(value, detail)))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        causes.append(cause(_TOO_LONG, path, f"Too long: may not be more than {schema['maxLength']} bytes"))
    if "minLength" in schema and len(value) < schema["minLength"]:
        detail = f"{path} in body should be at least {schema['minLength']} chars long"
        causes.append(cause(_INVALID, path, invalid_body(value, detail)))
    pattern = schema.get("pattern")
    if pattern:
        compiled = _compile(pattern)
        if compiled is not None and not compiled.search(value):
            detail = f"{path} in body should match '{pattern}'"
            causes.append(cause(_INVALID, path, invalid_body(value, detail)))


def _check_number(value: float, schema: dict, path: str, causes: list[dict]) -> None:
    bounds = (
        ("maximum", "exclusiveMaximum", lambda v, b: v > b, lambda v, b: v >= b, "less than"),
        ("minimum", "exclusiveMinimum", lambda v, b: v < b, lambda v, b: v <= b, "greater than"),
    )
    for key, exclusive_key, beyond, beyond_exclusive, words in bounds:
        if key not in schema:
            continue
        bound, exclusive = schema[key], bool(schema.get(exclusive_key))
        if (beyond_exclusive if exclusive else beyond)(value, bound):
            relation = words if exclusive else f"{words} or equal to"
            detail = f"{path} in body should be {relation} {go_value(bound)}"
            causes.append(cause(_INVALID, path, invalid_body(value, detail)))
    factor = schema.get("multipleOf")
    if factor and (value / factor) != int(value / factor):
        detail = f"{path} in body should be a multiple of {go_value(factor)}"
        causes.append(cause(_INVALID, path, invalid_body(value, detail)))


def _check_array(value: list, schema: dict, path: str, causes: list[dict]) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            _check(item, items, f"{path}[{index}]", causes)
    _check_count(value, schema, path, causes, "Items", "items")
    list_type = schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if list_type == "set" or schema.get("uniqueItems"):
        _report_duplicates(value, value, path, causes)
    elif list_type == "map" and keys:
        identities = [[item.get(k) for k in keys] if isinstance(item, dict) else item for item in value]
        _report_duplicates(identities, value, path, causes)


def _check_count(value: list | dict, schema: dict, path: str, causes: list[dict], suffix: str, noun: str) -> None:
    """maxItems/minItems, maxProperties/minProperties."""
    most, least = schema.get(f"max{suffix}"), schema.get(f"min{suffix}")
    if most is not None and len(value) > most:
        causes.append(cause(_TOO_MANY, path, f"Too many: {len(value)}: must have at most {most} items"))
    if least is not None and len(value) < least:
        detail = f"{path} in body should have at least {least} {noun}"
        causes.append(cause(_INVALID, path, invalid_body(value, detail)))


def _report_duplicates(identities: list, items: list, path: str, causes: list[dict]) -> None:
    seen: list = []
    for index, identity in enumerate(identities):
        if identity in seen:
            causes.append(cause(_DUPLICATE, f"{path}[{index}]", f"Duplicate value: {go_value(items[index])}"))
        else:
            seen.append(identity)


def _check_object(value: dict, schema: dict, path: str, causes: list[dict]) -> None:
    for name in schema.get("required") or []:
        if name not in value:
            causes.append(cause(_REQUIRED, f"{path}.{name}", "Required value"))
    for key, item in value.items():
        sub = _field_schema(schema, key)
        if sub is not None:
            _check(item, sub, f"{path}.{key}", causes)
    _check_count(value, schema, path, causes, "Properties", "properties")


def _check_combinators(value: Any, schema: dict, path: str, causes: list[dict]) -> None:
    for sub in schema.get("allOf") or []:
        _check(value, sub, path, causes)
    if schema.get("anyOf") and not any(_passes(value, sub, path) for sub in schema["anyOf"]):
        causes.append(cause(_INVALID, path, invalid_body(value, f"{path} must validate at least one schema (anyOf)")))
    if schema.get("oneOf") and sum(_passes(value, sub, path) for sub in schema["oneOf"]) != 1:
        causes.append(cause(_INVALID, path, invalid_body(value, f"{path} must validate one and only one schema (oneOf)")))
    if isinstance(schema.get("not"), dict) and _passes(value, schema["not"], path):
        causes.append(cause(_INVALID, path, invalid_body(value, f"{path} must not validate the schema (not)")))


def _passes(value: Any, schema: dict, path: str) -> bool:
    trial: list[dict] = []
    _check(value, schema, path, trial)
    return not trial


# --- formats and patterns ------------------------------------------------------------------------

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
_HOSTNAME = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _cidr(text: str) -> bool:
    try:
        parse_interface(text)  # address/prefix with host bits allowed, like Go's net.ParseCIDR
    except CidrError:
        return False
    return True


def _ip(version: int):
    def check(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False

    return check


# The subset of the apiserver's supported string formats that Calico and our CRDs use; unknown
# formats are ignored, as on the apiserver.
_FORMATS = {
    "cidr": _cidr,
    "ipv4": _ip(4),
    "ipv6": _ip(6),
    "date-time": lambda text: bool(_DATE_TIME.match(text)),
    "datetime": lambda text: bool(_DATE_TIME.match(text)),
    "date": lambda text: bool(_DATE.match(text)),
    "uuid": lambda text: bool(_UUID.match(text)),
    "mac": lambda text: bool(_MAC.match(text)),
    "hostname": lambda text: bool(_HOSTNAME.match(text)),
    "byte": lambda text: len(text) % 4 == 0 and bool(_BASE64.match(text)),
}

_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]+)\)")


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern | None:
    """Compile a Go (RE2) pattern with Python's `re`; None if it cannot be expressed.

    RE2 lets `(?i)` appear mid-pattern, applying to the rest of the enclosing group; Python only
    accepts global flags at the very start, so such flags become a scoped group `(?i:...)`.
    """
    try:
        return re.compile(_scope_inline_flags(pattern.replace(r"\z", r"\Z")))
    except re.error:
        return None


def _scope_inline_flags(pattern: str) -> str:
    out: list[str] = []
    # Per open group, the flag sets opened inside it; they close with the group and are reopened
    # after each `|`, since RE2 flags reach to the end of the group across alternatives.
    scopes: list[list[str]] = [[]]
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            flags = _INLINE_FLAGS.match(pattern, i)
            if flags:
                out.append(f"(?{flags.group(1)}:")
                scopes[-1].append(flags.group(1))
                i = flags.end()
                continue
            scopes.append([])
        elif ch == ")" and len(scopes) > 1:
            out.append(")" * len(scopes.pop()))
        elif ch == "|" and scopes[-1]:
            out.append(")" * len(scopes[-1]) + "|" + "".join(f"(?{f}:" for f in scopes[-1]))
            i += 1
            continue
        out.append(ch)
        i += 1
    out.append(")" * sum(len(s) for s in scopes))
    return "".join(out)
