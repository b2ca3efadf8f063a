"""Discovery documents (plain JSON, not aggregated: client-go accepts either, keyed on Content-Type)."""

from __future__ import annotations

from tui.sim.resources import Registry, ResourceType

VERSION_INFO = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
    "gitTreeState": "clean", "buildDate": "2024-12-11T17:59:15Z", "goVersion": "go1.23.3", "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(registry: Registry, group: str, versions: list[str]) -> dict:
    preferred = versions[0]
    for res in registry.in_group_version(group, versions[0]):
        storage = registry.storage_type(res.storage_key)
        if storage is not None and storage.group == group:
            preferred = storage.version
            break
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": {"groupVersion": f"{group}/{preferred}",
                                                                  "version": preferred}}


def api_group_list(registry: Registry) -> dict:
    groups = [_group(registry, g, versions) for g, versions in registry.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict | None:
    versions = registry.group_versions().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(registry, group, versions)}


def _entries(res: ResourceType) -> list[dict]:
    entry = {"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced, "kind": res.kind,
             "verbs": sorted(res.verbs)}
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    out = [entry]
    for sub in res.subresources:
        item = {"name": f"{res.plural}/{sub.name}", "singularName": "", "namespaced": res.namespaced,
                "kind": sub.kind or res.kind, "verbs": list(sub.verbs)}
        if sub.group is not None:
            item["group"], item["version"] = sub.group, sub.version
        out.append(item)
    return out


def resource_list(registry: Registry, group: str, version: str) -> dict | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": [e for res in types for e in _entries(res)]}
