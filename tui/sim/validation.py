"""Validation shared by every write: object shape, metadata, names, labels.

Built-in objects are checked against the typed models of the official Python client (generated
from the real API's OpenAPI), so anything the simulator stores deserialises cleanly in clients.
Type errors become 400 (the real server fails to decode them), missing required fields and bad
names become 422 Invalid, and unknown fields are dropped as the real server drops them.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from pydantic import ValidationError

from tui.sim import errors
from tui.sim.errors import field_error
from tui.sim.resources import ResourceType
from tui.sim.schema import json_type

SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                 "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                 "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
QUALIFIED_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                      "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                      "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                   "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                   "'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
MAX_ANNOTATIONS_BYTES = 256 * 1024

# Maps whose values are resource quantities: the real API accepts JSON numbers there and serves strings.
QUANTITY_MAPS = frozenset({"limits", "requests", "capacity", "allocatable", "hard", "used", "overhead"})

MODEL_NAMES = {"Event": "CoreV1Event", "EndpointPort": "CoreV1EndpointPort"}


# --- names ------------------------------------------------------------------------------------
def name_causes(text: str, field: str, rule: str = "subdomain") -> list[dict]:
    """Causes for an invalid object name; `rule` is subdomain, label or dns1035."""
    regex, message, limit = {"subdomain": (SUBDOMAIN_RE, SUBDOMAIN_MSG, 253), "label": (LABEL_RE, LABEL_MSG, 63),
                             "dns1035": (DNS1035_RE, DNS1035_MSG, 63)}[rule]
    causes = []
    if len(text) > limit:
        causes.append(field_error("Invalid", field, f"must be no more than {limit} characters", text))
    if not regex.fullmatch(text):
        causes.append(field_error("Invalid", field, message, text))
    return causes


def qualified_name_causes(key: str, field: str) -> list[dict]:
    prefix, _, name = key.rpartition("/")
    causes = []
    if "/" in key and (not prefix or len(prefix) > 253 or not SUBDOMAIN_RE.fullmatch(prefix)):
        causes.append(field_error("Invalid", field, "prefix part " + SUBDOMAIN_MSG, key))
    if not name or len(name) > 63 or not QUALIFIED_NAME_RE.fullmatch(name):
        detail = QUALIFIED_NAME_MSG if name and len(name) <= 63 else "name part must be non-empty" \
            if not name else "name part must be no more than 63 characters"
        causes.append(field_error("Invalid", field, detail, key))
    return causes


def metadata_causes(obj: dict, name_rule: str = "subdomain") -> list[dict]:
    """Semantic checks on metadata that has already passed the type check."""
    m = obj.get("metadata") or {}
    causes = []
    name = m.get("name") or ""
    if not name:
        causes.append(field_error("Required", "metadata.name", "name or generateName is required"))
    else:
        causes += name_causes(name, "metadata.name", name_rule)
    for key, value in (m.get("labels") or {}).items():
        causes += qualified_name_causes(key, "metadata.labels")
        if len(value) > 63:
            causes.append(field_error("Invalid", "metadata.labels", "must be no more than 63 characters", value))
        elif not LABEL_VALUE_RE.fullmatch(value):
            causes.append(field_error("Invalid", "metadata.labels", LABEL_VALUE_MSG, value))
    annotations = m.get("annotations") or {}
    for key in annotations:
        causes += qualified_name_causes(key.lower(), "metadata.annotations")
    if sum(len(k) + len(v) for k, v in annotations.items()) > MAX_ANNOTATIONS_BYTES:
        causes.append(field_error("Invalid", "metadata.annotations",
                                  f"must have at most {MAX_ANNOTATIONS_BYTES} bytes", ""))
    for i, finalizer in enumerate(m.get("finalizers") or []):
        if "/" not in finalizer and finalizer not in STANDARD_FINALIZERS:
            causes.append(field_error("Invalid", f"metadata.finalizers[{i}]",
                                      "name is neither a standard finalizer name nor is it fully qualified",
                                      finalizer))
        else:
            causes += qualified_name_causes(finalizer, f"metadata.finalizers[{i}]")
    for i, ref in enumerate(m.get("ownerReferences") or []):
        causes += [field_error("Required", f"metadata.ownerReferences[{i}].{field}", "")
                   for field in ("apiVersion", "kind", "name", "uid") if not ref.get(field)]
    return causes


# --- types ------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _model(kind: str):
    import kubernetes.client as k8s

    return getattr(k8s, MODEL_NAMES.get(kind, f"V1{kind}"), None)


def _walk(obj, loc) -> tuple[list, object, bool]:
    """Follow a pydantic error location through the input: (path that exists, value there, complete)."""
    path, value = [], obj
    for part in loc:
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return path + ([part] if isinstance(value, dict) and isinstance(part, str) else []), value, False
        path.append(part)
    return path, value, True


def field_path(parts: list) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _json_type(value) -> str:
    """How Go's decoder names a JSON value's type in `cannot unmarshal X` errors."""
    kind = json_type(value)
    return {"boolean": "bool", "integer": "number"}.get(kind, kind.strip('"'))


GO_TYPES = {"string_type": "string", "int_type": "int32", "int_parsing": "int32", "bool_type": "bool",
            "bool_parsing": "bool", "float_type": "float64", "dict_type": "map[string]string",
            "list_type": "array", "model_type": "struct", "model_attributes_type": "struct",
            "datetime_from_date_parsing": "Time", "datetime_parsing": "Time", "datetime_type": "Time"}


def _delete_path(obj, path: list) -> None:
    for part in path[:-1]:
        obj = obj[part]
    obj.pop(path[-1], None)


def _set_path(obj, path: list, value) -> None:
    for part in path[:-1]:
        obj = obj[part]
    obj[path[-1]] = value


def check_types(res: ResourceType, obj: dict, strict: bool = False) -> dict:
    """Type-check a built-in object in place: drops unknown fields, serves quantities as strings.

    Raises 400 for wrong types (and for unknown fields when `strict`), 422 for missing required fields.
    """
    model = _model(res.kind) if res.builtin else None
    if model is None:
        return check_metadata_types(obj)
    for _ in range(64):  # each round fixes at least one coercible error or raises
        try:
            model.model_validate(obj)
            return obj
        except ValidationError as exc:
            problems = exc.errors(include_url=False)
        fixed = False
        missing = []
        for problem in problems:
            path, value, complete = _walk(obj, problem["loc"])
            if problem["type"] == "extra_forbidden" and complete:
                if strict:
                    raise errors.bad_request(f'strict decoding error: unknown field "{field_path(path)}"')
                _delete_path(obj, path)
                fixed = True
            elif problem["type"] == "missing":
                missing.append(field_error("Required", field_path(path), ""))
            elif (problem["type"] == "string_type" and complete and isinstance(value, (int, float))
                  and not isinstance(value, bool) and len(path) >= 2 and path[-2] in QUANTITY_MAPS):
                _set_path(obj, path, json.dumps(value))
                fixed = True
            elif problem["type"] != "extra_forbidden":
                raise _decode_error(res.kind, path, value, problem["type"])
        if missing and not fixed:
            raise errors.invalid(res, (obj.get("metadata") or {}).get("name") or "", missing)
    raise errors.bad_request("object could not be decoded")


def _decode_error(kind: str, path: list, value, problem_type: str) -> errors.ApiError:
    want = GO_TYPES.get(problem_type, "value")
    where = field_path(path) or "body"
    return errors.bad_request(f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                              f"{kind}.{where} of type {want}")


def check_metadata_types(obj: dict) -> dict:
    """Type-check only `metadata` (custom resources: their schema covers the rest)."""
    from kubernetes.client import V1ObjectMeta

    m = obj.get("metadata")
    if m is None:
        return obj
    if not isinstance(m, dict):
        raise _decode_error("ObjectMeta", ["metadata"], m, "model_type")
    for _ in range(64):
        try:
            V1ObjectMeta.model_validate(m)
            return obj
        except ValidationError as exc:
            problems = exc.errors(include_url=False)
        for problem in problems:
            path, value, complete = _walk(m, problem["loc"])
            if problem["type"] == "extra_forbidden" and complete:
                _delete_path(m, path)
            else:
                raise _decode_error("ObjectMeta", ["metadata", *path], value, problem["type"])
    raise errors.bad_request("object could not be decoded")
