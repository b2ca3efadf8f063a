"""PodDisruptionBudget arithmetic as the disruption controller does it: the simulator's eviction
subresource and the migration's drain planning share it."""

from __future__ import annotations

import math
from typing import Callable


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions); None selects nothing, {} everything."""
    if selector is None:
        return False
    labels = labels or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (op == "In" and (not present or labels[key] not in values)) \
                or (op == "NotIn" and present and labels[key] in values) \
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def pod_healthy(pod: dict) -> bool:
    """Counted as healthy by the disruption controller: running, Ready, not being deleted."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def scaled(value: int | str, total: int, round_up: bool) -> int:
    """An IntOrString such as 2 or "50%" applied to `total`."""
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    share = int(text[:-1]) * total / 100
    return math.ceil(share) if round_up else math.floor(share)


def controller_of(pod: dict) -> dict | None:
    return next((r for r in (pod.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")), None)


def expected_pods(pods: list[dict], owner: Callable[[dict, str], dict | None]) -> int:
    """How many pods their controllers want, as the disruption controller counts them: each
    controller's scale (a DaemonSet's desired count), and one per pod without a controller.
    `owner(reference, namespace)` returns the controlling object, or None when it is gone."""
    owned: dict[tuple[str, str, str], tuple[dict, int]] = {}
    total = 0
    for pod in pods:
        ref = controller_of(pod)
        if ref is None:
            total += 1
            continue
        key = (ref.get("apiVersion", ""), ref.get("kind", ""), ref.get("name", ""))
        owned[key] = (ref, owned.get(key, (ref, 0))[1] + 1)
    namespace = (pods[0].get("metadata") or {}).get("namespace", "") if pods else ""
    for ref, count in owned.values():
        found = owner(ref, namespace)
        if found is None:
            total += count
        elif ref.get("kind") == "DaemonSet":
            total += (found.get("status") or {}).get("desiredNumberScheduled", count)
        else:
            total += (found.get("spec") or {}).get("replicas", 1)
    return total


def budget(pdb: dict, pods: list[dict], expected: int) -> dict:
    """The status the disruption controller would publish for `pdb` given the pods it selects and
    the number of pods their controllers want (`expected`)."""
    spec = pdb.get("spec") or {}
    healthy = sum(1 for p in pods if pod_healthy(p))
    if "maxUnavailable" in spec:
        desired = max(0, expected - scaled(spec["maxUnavailable"], expected, round_up=True))
    else:
        desired = scaled(spec.get("minAvailable", 1), expected, round_up=True)
    return {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
            "disruptionsAllowed": max(0, healthy - desired)}
