"""Just enough OpenAPI v3 for kubectl to trust server-side field validation.

With its default ``--validate=strict``, ``kubectl create/apply/replace/edit/patch`` downloads
``/openapi/v3`` and, for the object's group-version, looks for a PATCH operation tagged with the
object's ``x-kubernetes-group-version-kind`` that declares a ``fieldValidation`` query parameter. If
it finds one it sends ``fieldValidation=Strict`` and leaves validation to the server; without it the
command fails. For kinds that are CRDs it checks the core ``v1`` Namespace entry instead, so that one
must always be served. No schemas are published: ``kubectl explain`` is out of reach, and client-side
apply computes its patches from kubectl's built-in types (or a JSON merge patch for other kinds).
"""

from __future__ import annotations

import hashlib

__all__ = ["group_version_path", "openapi_group_version", "openapi_root"]

_QUERY_PARAMETERS = [
    ("dryRun", "When present, modifications are not persisted. Valid value: All."),
    ("fieldManager", "Name of the actor making the change."),
    ("fieldValidation", "How to treat unknown or duplicate fields: Ignore, Warn or Strict."),
    ("force", "Apply only: take over fields owned by other managers."),
]


def group_version_path(group: str, version: str) -> str:
    """The key of a group-version in ``/openapi/v3``: ``api/v1`` or ``apis/<group>/<version>``."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _hash(group: str, version: str) -> str:
    # The real server marks a hashed document immutable (Cache-Control) and kubectl then keeps it.
    # The simulator sends no caching headers, so kubectl fetches the document again on every run
    # and the hash, which the client requires, only has to be well-formed, not track the kinds
    # (CRDs created at run time add kinds to a group-version).
    return hashlib.sha256(f"calico-tui/{group}/{version}".encode()).hexdigest().upper()


def openapi_root(group_versions: list[tuple[str, str]]) -> dict:
    """The ``/openapi/v3`` index: one ``serverRelativeURL`` per (group, version)."""
    paths = {}
    for group, version in group_versions:
        key = group_version_path(group, version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_hash(group, version)}"}
    return {"paths": paths}


def _patch_operation(group: str, version: str, kind: str) -> dict:
    return {
        "operationId": f"patch{kind}",
        "description": f"partially update the specified {kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
        "parameters": [
            {"name": name, "in": "query", "description": text, "schema": {"type": "string"}}
            for name, text in _QUERY_PARAMETERS
        ],
        "responses": {"200": {"description": "OK"}},
    }


def openapi_group_version(group: str, version: str, kinds: list[str]) -> dict:
    """The ``/openapi/v3/<gv>`` document: a PATCH operation per kind, no schemas.

    Path keys only need to be unique (kubectl scans every path for the kind), so each is the
    group-version path plus the lower-cased kind rather than the real resource URL.
    """
    prefix = "/" + group_version_path(group, version)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": {f"{prefix}/{kind.lower()}/{{name}}": {"patch": _patch_operation(group, version, kind)}
                  for kind in sorted(set(kinds))},
        "components": {"schemas": {}},
    }

