"""The four PATCH flavours the apiserver accepts, as pure functions over JSON dicts.

JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch (built-in types: lists
with a patch merge key merge item by item) and server-side apply. Every function returns a new
object and leaves its inputs untouched, so the store never shares structure with a request body.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable

__all__ = [
    "ApplyConflict",
    "PatchError",
    "apply_merge",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
]


class PatchError(ValueError):
    """A patch the server refuses: ``code`` 400 for a malformed patch, 422 when applying it fails."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


class ApplyConflict(PatchError):
    """Server-side apply touched fields another manager owns with a different value (409).

    ``causes`` are ready for ``Status.details.causes`` (reason ``FieldManagerConflict``).
    """

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        plural = "s" if len(conflicts) > 1 else ""
        detail = "; ".join(f'conflict with "{manager}": {field}' for manager, field in conflicts)
        super().__init__(f"Apply failed with {len(conflicts)} conflict{plural}: {detail}", 409)
        self.causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{manager}"',
                        "field": field} for manager, field in conflicts]


def _json_equal(a: object, b: object) -> bool:
    """Equality as JSON sees it: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    return a == b


# --- RFC 7386 JSON merge patch ---------------------------------------------------------------------

def _merge_into(target: dict, patch: dict) -> dict:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            target[key] = _merge_into(current if isinstance(current, dict) else {}, value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def merge_patch(obj: dict, patch: dict) -> dict:
    """``application/merge-patch+json``: maps merge, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        raise PatchError("a merge patch for an object must be a JSON object", 400)
    return _merge_into(copy.deepcopy(obj), patch)


# --- RFC 6902 JSON patch ---------------------------------------------------------------------------

def _pointer(path: object) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer: {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]] if path else []


def _index(token: str, length: int, for_insert: bool) -> int:
    if for_insert and token == "-":
        return length
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError(f"invalid array index: {token!r}")
    index = int(token)
    if index > length or (index == length and not for_insert):
        raise PatchError(f"array index {index} out of bounds (length {length})")
    return index


def _resolve(doc: object, tokens: list[str]) -> object:
    for token in tokens:
        if isinstance(doc, dict):
            if token not in doc:
                raise PatchError(f"missing key {token!r}")
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_index(token, len(doc), for_insert=False)]
        else:
            raise PatchError(f"cannot index into a scalar with {token!r}")
    return doc


def _add(doc: object, tokens: list[str], value: object) -> object:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), for_insert=True), value)
    else:
        raise PatchError(f"cannot add {last!r} to a scalar")
    return doc


def _remove(doc: object, tokens: list[str]) -> object:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"missing key {last!r}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(last, len(parent), for_insert=False))
    raise PatchError(f"cannot remove {last!r} from a scalar")


def _operand(op: dict) -> object:
    if "value" not in op:
        raise PatchError(f"{op.get('op')} operation does not have a value")
    return copy.deepcopy(op["value"])


def _apply_op(doc: object, op: dict) -> object:
    name = op.get("op")
    tokens = _pointer(op.get("path"))
    if name == "add":
        return _add(doc, tokens, _operand(op))
    if name == "remove":
        _remove(doc, tokens)
        return doc
    if name == "replace":
        value = _operand(op)
        if not tokens:
            return value
        parent = _resolve(doc, tokens[:-1])
        last = tokens[-1]
        if isinstance(parent, list):
            parent[_index(last, len(parent), for_insert=False)] = value
        elif isinstance(parent, dict) and last in parent:
            parent[last] = value
        else:
            raise PatchError(f"replace operation does not apply: missing key {last!r}")
        return doc
    if name == "test":
        if not _json_equal(_resolve(doc, tokens), op.get("value")):
            raise PatchError(f"testing value {op.get('path')} failed")
        return doc
    if name in ("move", "copy"):
        source = _pointer(op.get("from"))
        if name == "move":
            if tokens[:len(source)] == source and len(tokens) > len(source):
                raise PatchError("cannot move a value into one of its own children")
            if tokens == source:
                return doc
            value = _remove(doc, source)
        else:
            value = copy.deepcopy(_resolve(doc, source))
        return _add(doc, tokens, value)
    raise PatchError(f"Unexpected kind: {name}")


def json_patch(obj: dict, ops: list) -> dict:
    """``application/json-patch+json``: apply the operations in order, all or nothing."""
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise PatchError("a JSON patch must be a JSON array of operation objects", 400)
    doc: object = copy.deepcopy(obj)
    for op in ops:
        doc = _apply_op(doc, op)
    if not isinstance(doc, dict):
        raise PatchError("the patched document is not a JSON object")
    return doc


# --- strategic merge patch -------------------------------------------------------------------------
# Patch metadata of the built-in types (the patchStrategy/patchMergeKey struct tags of k8s.io/api),
# looked up by the path of field names from the object root; list items add no path element.

_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "imagePullSecrets": "name", "env": "name", "schedulingGates": "name",
    "resourceClaims": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip", "podIPs": "ip",
    "hostIPs": "ip", "topologySpreadConstraints": "topologyKey",
}
_CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
_PRIMITIVE_SETS = frozenset({("metadata", "finalizers"), ("spec", "podCIDRs")})


def _merge_key(path: tuple[str, ...]) -> str | None:
    """The patch merge key of the list at ``path``; None for lists that are replaced whole.

    Node taints and pod tolerations carry no patch strategy in k8s.io/api, so they are replaced.
    """
    field = path[-1] if path else ""
    if field == "ports":
        if len(path) >= 2 and path[-2] in _CONTAINER_LISTS:
            return "containerPort"
        return "port" if path == ("spec", "ports") else None
    if field == "addresses":
        return "type" if path == ("status", "addresses") else None
    if field == "secrets":
        return "name" if path == ("secrets",) else None
    return _MERGE_KEYS.get(field)


_DELETE = object()  # a map patch that carried `$patch: delete`


def _directive_lists(patch: dict, prefix: str, target: dict):
    """(field, list) for each ``<prefix><field>`` directive whose field is a list in ``target``."""
    for key, values in patch.items():
        if key.startswith(prefix):
            if not isinstance(values, list):
                raise PatchError(f"{key} must be a list", 400)
            field = key[len(prefix):]
            if isinstance(target.get(field), list):
                yield field, values


def _smp_map(target: dict, patch: dict, path: tuple[str, ...]) -> object:
    """Merge ``patch`` into ``target`` (owned, mutated); new content is stripped of directives."""
    directive = patch.get("$patch", "merge")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _smp_map({}, {k: v for k, v in patch.items() if k != "$patch"}, path)
    if directive != "merge":
        raise PatchError(f"Unknown patch type: {directive!r}", 400)
    for field, values in _directive_lists(patch, "$deleteFromPrimitiveList/", target):
        target[field] = [v for v in target[field] if not any(_json_equal(v, d) for d in values)]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        sub = path + (key,)
        current = target.get(key)
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(current if isinstance(current, dict) else {}, value, sub)
            if merged is _DELETE:
                target.pop(key, None)
            else:
                target[key] = merged
        elif isinstance(value, list):
            target[key] = _smp_list(current if isinstance(current, list) else [], value, sub)
        else:
            target[key] = value
    for field, order in _directive_lists(patch, "$setElementOrder/", target):
        target[field] = _set_order(target[field], order, _merge_key(path + (field,)))
    if "$retainKeys" in patch:
        retain = patch["$retainKeys"]
        if not isinstance(retain, list):
            raise PatchError("$retainKeys must be a list of field names", 400)
        if any(k not in retain for k, v in patch.items() if not k.startswith("$") and v is not None):
            raise PatchError("the patch has fields that are not listed in $retainKeys")
        for key in [k for k in target if k not in retain]:
            del target[key]
    return target


def _identity(item: object, merge_key: str | None) -> object:
    return item.get(merge_key) if merge_key and isinstance(item, dict) else item


def _set_order(items: list, order: list, merge_key: str | None) -> list:
    """Put the listed items in ``order``; items the patch did not list keep their relative spots."""
    wanted = [_identity(o, merge_key) for o in order]
    position = {json.dumps(w, sort_keys=True): i for i, w in enumerate(wanted)}
    original = {json.dumps(_identity(x, merge_key), sort_keys=True): i for i, x in enumerate(items)}

    def key(item: object) -> str:
        return json.dumps(_identity(item, merge_key), sort_keys=True)

    listed = sorted((x for x in items if key(x) in position), key=lambda x: position[key(x)])
    others = [x for x in items if key(x) not in position]
    merged: list = []
    while listed and others:
        # An item listed in the patch goes first only when both sat in the original list and it
        # came earlier there; otherwise the server-only item keeps its place.
        first, other = listed[0], others[0]
        if key(first) in original and original[key(first)] < original[key(other)]:
            merged.append(listed.pop(0))
        else:
            merged.append(others.pop(0))
    return merged + listed + others


def _smp_list(target: list, patch: list, path: tuple[str, ...]) -> list:
    if path in _PRIMITIVE_SETS:
        merged = list(target)
        merged += [v for v in patch if not any(_json_equal(v, have) for have in merged)]
        return merged
    merge_key = _merge_key(path)
    replace = [e for e in patch if isinstance(e, dict) and e.get("$patch") == "replace"]
    if merge_key is None or replace:
        kept = [e for e in patch if not (isinstance(e, dict) and e.get("$patch") == "replace")]
        return [_strip(e, path) for e in kept]
    merged = list(target)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"the list {'.'.join(path)} merges by {merge_key}; "
                             f"every patch item must be an object", 400)
        if merge_key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        at = next((i for i, have in enumerate(merged)
                   if isinstance(have, dict) and _json_equal(have.get(merge_key), item[merge_key])),
                  None)
        if item.get("$patch") == "delete":
            if at is not None:
                del merged[at]
            continue
        result = _smp_map(merged[at] if at is not None else {}, item, path)
        if result is _DELETE:
            continue
        if at is None:
            merged.append(result)
        else:
            merged[at] = result
    return merged


def _strip(value: object, path: tuple[str, ...]) -> object:
    """Patch content with nothing to merge into: directives and nulls dropped, copied."""
    if isinstance(value, dict):
        result = _smp_map({}, value, path)
        return {} if result is _DELETE else result
    if isinstance(value, list):
        return [_strip(v, path) for v in value]
    return value


def strategic_merge_patch(obj: dict, patch: dict) -> dict:
    """``application/strategic-merge-patch+json`` for built-in types.

    Differences from the apiserver: merge keys are looked up by field name and path, not by Go type;
    ports merge by ``containerPort`` alone (the server also keys container ports by protocol).
    """
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object", 400)
    result = _smp_map(copy.deepcopy(obj), patch, ())
    return {} if result is _DELETE else result


# --- server-side apply -----------------------------------------------------------------------------
# Ownership is tracked in metadata.managedFields (FieldsV1) so that a field an applier stops sending
# is removed, and a field another manager set to a different value is a conflict unless forced.

_SERVER_SET_METADATA = frozenset({
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
})

Path = tuple[str, ...]


def _item_key(item: dict, merge_key: str) -> str:
    return "k:" + json.dumps({merge_key: item[merge_key]}, separators=(",", ":"))


def _owned_paths(value: dict, names: tuple[str, ...] = (), prefix: Path = ()) -> set[Path]:
    """The FieldsV1 leaf paths a configuration sets (identity fields excluded, like the server)."""
    owned: set[Path] = set()
    for key, child in value.items():
        if child is None or (not names and key in ("apiVersion", "kind")):
            continue
        if names == ("metadata",) and key in _SERVER_SET_METADATA:
            continue
        sub, elem = names + (key,), prefix + ("f:" + key,)
        merge_key = _merge_key(sub)
        if isinstance(child, dict) and child:
            owned |= _owned_paths(child, sub, elem)
        elif isinstance(child, list) and sub in _PRIMITIVE_SETS:
            owned |= {elem + ("v:" + json.dumps(v, separators=(",", ":")),) for v in child}
        elif (isinstance(child, list) and merge_key
              and all(isinstance(i, dict) and merge_key in i for i in child)):
            for item in child:
                item_elem = elem + (_item_key(item, merge_key),)
                owned.add(item_elem + (".",))
                owned |= _owned_paths(item, sub, item_elem)
        else:
            owned.add(elem)
    return owned


def _encode_fields(paths: Iterable[Path]) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for elem in path:
            node = node.setdefault(elem, {})
    return tree


def _decode_fields(tree: dict, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for elem, child in tree.items():
        if isinstance(child, dict) and child:
            paths |= _decode_fields(child, prefix + (elem,))
        else:
            paths.add(prefix + (elem,))
    return paths


_MISSING = object()


def _step(value: object, elem: str) -> object:
    kind, _, rest = elem.partition(":")
    if kind == "f" and isinstance(value, dict):
        return value.get(rest, _MISSING)
    if kind == "k" and isinstance(value, list):
        want = json.loads(rest)
        return next((i for i in value if isinstance(i, dict)
                     and all(_json_equal(i.get(k), v) for k, v in want.items())), _MISSING)
    if kind == "v" and isinstance(value, list):
        want = json.loads(rest)
        return want if any(_json_equal(i, want) for i in value) else _MISSING
    return _MISSING


def _lookup(obj: object, path: Path) -> object:
    for elem in path:
        if elem == ".":
            break
        obj = _step(obj, elem)
        if obj is _MISSING:
            break
    return obj


def _drop(obj: dict, path: Path) -> None:
    """Remove the field (or, for a trailing ".", the list item) at ``path`` if it is there."""
    if path[-1] == ".":
        path = path[:-1]
    container = _lookup(obj, path[:-1])
    target = _step(container, path[-1])
    if target is _MISSING:
        return
    if isinstance(container, dict):
        del container[path[-1][2:]]
    else:
        container.remove(target)


def _readable(path: Path) -> str:
    out = ""
    for elem in path:
        kind, _, rest = elem.partition(":")
        if kind == "f":
            out += "." + rest
        elif kind == "k":
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(rest).items()) + "]"
        elif kind == "v":
            out += f"[={rest}]"
    return out


def _apply_values(target: dict, applied: dict, names: tuple[str, ...]) -> dict:
    for key, value in applied.items():
        if value is None:
            continue
        sub = names + (key,)
        current = target.get(key)
        merge_key = _merge_key(sub)
        if isinstance(value, dict) and isinstance(current, dict):
            target[key] = _apply_values(current, value, sub)
        elif isinstance(value, list) and isinstance(current, list) and sub in _PRIMITIVE_SETS:
            target[key] = current + [v for v in value if not any(_json_equal(v, c) for c in current)]
        elif (isinstance(value, list) and isinstance(current, list) and merge_key
              and all(isinstance(i, dict) and merge_key in i for i in value)):
            merged = list(current)
            for item in value:
                at = next((i for i, have in enumerate(merged) if isinstance(have, dict)
                           and _json_equal(have.get(merge_key), item[merge_key])), None)
                if at is None:
                    merged.append(_apply_values({}, item, sub))
                else:
                    merged[at] = _apply_values(merged[at], item, sub)
            target[key] = merged
        else:
            target[key] = _apply_values({}, value, sub) if isinstance(value, dict) else value
    return target


def _removal_order(path: Path) -> tuple[bool, int]:
    """Whole list items first, outermost first (their fields, merge key included, go with them);
    then single fields, deepest first."""
    is_item = path[-1] == "."
    return (not is_item, len(path) if is_item else -len(path))


def apply_merge(live: dict | None, applied: dict, manager: str, force: bool) -> dict:
    """Server-side apply of configuration ``applied`` by ``manager``; returns the new object.

    ``live`` None creates. Ownership comes from ``metadata.managedFields``: fields this manager
    applied before and omits now are removed unless another manager also owns them; a field owned by
    another manager with a different live value raises :class:`ApplyConflict` unless ``force``, which
    takes the field over. Simplified: lists merge by the strategic-merge keys (the server uses the
    OpenAPI list-map keys), and non-apply writes record no ownership here.
    """
    if not isinstance(applied, dict):
        raise PatchError("an apply configuration must be a JSON object", 400)
    config = copy.deepcopy(applied)
    config.get("metadata", {}).pop("managedFields", None)
    mine = _owned_paths(config)
    result = copy.deepcopy(live) if live is not None else {}
    entries = [e for e in (result.get("metadata") or {}).get("managedFields") or []
               if isinstance(e, dict)]
    previous: set[Path] = set()
    others: list[tuple[dict, set[Path]]] = []
    for entry in entries:
        paths = _decode_fields(entry.get("fieldsV1") or {})
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            previous = paths
        else:
            others.append((entry, paths))

    contested: set[Path] = set()
    for path in sorted(mine):
        if path[-1] == "." or path[-1].startswith("v:"):
            continue
        live_value = _lookup(result, path)
        if live_value is not _MISSING and not _json_equal(live_value, _lookup(config, path)):
            contested.add(path)
    conflicts = [(e.get("manager", ""), _readable(path))
                 for path in sorted(contested) for e, paths in others if path in paths]
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    others = [(e, paths - contested) for e, paths in others]

    still_owned = set().union(*(paths for _, paths in others))
    for path in sorted(previous - mine, key=_removal_order):
        scope = path[:-1] if path[-1] == "." else path
        if not any(p[:len(scope)] == scope for p in still_owned):
            _drop(result, path)

    result = _apply_values(result, config, ())
    managed = [{**e, "fieldsV1": _encode_fields(paths)} for e, paths in others
               if paths or not e.get("fieldsV1")]
    managed.append({"manager": manager, "operation": "Apply",
                    "apiVersion": config.get("apiVersion", ""), "fieldsType": "FieldsV1",
                    "fieldsV1": _encode_fields(mine)})
    result.setdefault("metadata", {})["managedFields"] = managed
    return result
