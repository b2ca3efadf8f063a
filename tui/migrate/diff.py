"""Before/after rendering and change sets for the objects a migration touches.

ConfigMaps such as `kube-proxy` and `kubeadm-config` carry a YAML (or JSON) document inside one
string value. A diff of that string shows a single changed line and hides which field changed, so
embedded documents are parsed and diffed as documents, both for the reviewer (`object_diff`) and for
the runner's "is this still the previewed change?" test (`change_set`).
"""

from __future__ import annotations

import copy
import difflib
import json
from typing import Any

import yaml

# Server-maintained metadata that changes on every write and says nothing about intent.
NOISE_METADATA = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp",
                  "selfLink")

ABSENT = object()


def clean(obj: dict | None) -> dict | None:
    """The object without server bookkeeping and `status`, which no migration step writes."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in NOISE_METADATA:
            meta.pop(key, None)
    return out


def embedded_document(value: Any) -> tuple[str, Any] | None:
    """`("json"|"yaml", parsed)` when a string holds a structured document, else None."""
    if not isinstance(value, str):
        return None
    stripped = value.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return ("json", parsed) if isinstance(parsed, (dict, list)) else None
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return None
    return ("yaml", parsed) if isinstance(parsed, dict) else None


def dump_document(fmt: str, doc: Any) -> str:
    """Render an embedded document the way it is conventionally written in its ConfigMap."""
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def to_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def describe(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name", "?")
    ns = meta.get("namespace")
    return f"{obj.get('kind', 'Object')} {ns + '/' if ns else ''}{name}"


def _unified(before: str, after: str, label: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"{label} (before)", tofile=f"{label} (after)")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _split_embedded(obj: dict | None) -> tuple[dict | None, dict[str, tuple[str, Any]]]:
    """Separate a ConfigMap's embedded documents from the rest of the object."""
    if obj is None or not isinstance(obj.get("data"), dict):
        return obj, {}
    outer = copy.deepcopy(obj)
    docs = {}
    for key, value in obj["data"].items():
        doc = embedded_document(value)
        if doc is not None:
            docs[key] = doc
            outer["data"][key] = f"<{doc[0]} document, diffed as data[{key!r}] below>"
    return outer, docs


def object_diff(before: dict | None, after: dict | None) -> str:
    """A unified diff a change board can read: whole object for create/delete, inner documents of
    ConfigMap values diffed as documents."""
    before, after = clean(before), clean(after)
    label = describe(after or before or {})
    outer_b, docs_b = _split_embedded(before)
    outer_a, docs_a = _split_embedded(after)
    parts = [_unified(to_yaml(outer_b) if outer_b is not None else "",
                      to_yaml(outer_a) if outer_a is not None else "", label)]
    for key in sorted(set(docs_b) | set(docs_a)):
        fmt_b, doc_b = docs_b.get(key, ("yaml", None))
        fmt_a, doc_a = docs_a.get(key, ("yaml", None))
        text_b = dump_document(fmt_b, doc_b) if key in docs_b else ""
        text_a = dump_document(fmt_a, doc_a) if key in docs_a else ""
        parts.append(_unified(text_b, text_a, f'{label} data["{key}"]'))
    return "".join(parts)


def _named(value: Any) -> bool:
    """A list of objects keyed by `name` (containers, env, volumes): compared item by item, so an
    edit to one env var is not a conflict with an edit to another."""
    if not isinstance(value, list) or not value or not all(isinstance(i, dict) for i in value):
        return False
    names = [i.get("name") for i in value]
    return all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


def _flatten(value: Any, prefix: tuple, out: dict) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, prefix + (key,), out)
        return
    if _named(value):
        for item in value:
            _flatten(item, prefix + (f"[{item['name']}]",), out)
        return
    doc = embedded_document(value) if prefix[:1] == ("data",) and len(prefix) == 2 else None
    if doc is not None:
        _flatten(doc[1], prefix + ("<document>",), out)
        return
    out[prefix] = value


def flatten(obj: dict | None) -> dict[tuple, Any]:
    """Leaf paths of a cleaned object; lists are leaves unless keyed by name, embedded ConfigMap
    documents are expanded."""
    out: dict[tuple, Any] = {}
    if obj is not None:
        _flatten(clean(obj), (), out)
    return out


def change_set(before: dict | None, after: dict | None) -> dict[tuple, tuple[Any, Any]]:
    """`{path: (old, new)}` for every leaf that differs; `ABSENT` marks a missing side."""
    flat_b, flat_a = flatten(before), flatten(after)
    changes = {}
    for path in set(flat_b) | set(flat_a):
        old, new = flat_b.get(path, ABSENT), flat_a.get(path, ABSENT)
        if old != new:
            changes[path] = (old, new)
    return changes

