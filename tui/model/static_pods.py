"""kubeadm's static pods as the API shows them: command-line flags of a control-plane component and
the manifest behind a mirror pod. The migration engine plans kube-controller-manager's flags with
them; the simulator (tui.sim.static_pods) keeps its host manifests with the same functions."""

from __future__ import annotations


def get_flag(command: list[str], name: str) -> str | None:
    """Value of `--name` in a command line (`--name=value` or `--name value`); last one wins."""
    value = None
    for i, arg in enumerate(command):
        if arg == f"--{name}" and i + 1 < len(command) and not command[i + 1].startswith("--"):
            value = command[i + 1]
        elif arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
    return value


def set_flags(command: list[str], flags: dict[str, str | None]) -> list[str]:
    """A copy of `command` with each flag set to its value (None removes it), in place or appended."""
    out: list[str] = []
    skip_next = False
    done: set[str] = set()
    for i, arg in enumerate(command):
        if skip_next:
            skip_next = False
            continue
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") else None
        if name in flags:
            if "=" not in arg and i + 1 < len(command) and not command[i + 1].startswith("--"):
                skip_next = True
            if flags[name] is not None and name not in done:
                out.append(f"--{name}={flags[name]}")
            done.add(name)
            continue
        out.append(arg)
    out.extend(f"--{n}={v}" for n, v in flags.items() if v is not None and n not in done)
    return out


def manifest_from_mirror(pod: dict) -> dict:
    """Recover the manifest of a mirror pod (used when a snapshot carries no host state)."""
    meta = pod.get("metadata") or {}
    node = (pod.get("spec") or {}).get("nodeName", "")
    name = meta.get("name", "")
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith("kubernetes.io/config.")}
    metadata = {"labels": dict(meta.get("labels") or {}),
                "name": name[: -len(node) - 1] if node and name.endswith(f"-{node}") else name,
                "namespace": meta.get("namespace", "kube-system")}
    if annotations:
        metadata["annotations"] = annotations
    spec = {k: v for k, v in (pod.get("spec") or {}).items() if k not in ("nodeName", "tolerations")}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": {}}
