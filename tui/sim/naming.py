"""Seeded names and identifiers that look like the ones real components generate.

Everything random in the simulated cluster (pod name suffixes, container IDs, boot IDs) comes from one
`Namer` seeded by the scenario, so a scenario always produces the same cluster and tests are
deterministic. Derived names (pod-template-hash, static pod hashes) are hashes, not random.
"""

from __future__ import annotations

import hashlib
import json
import random

# apimachinery rand.String / SafeEncodeString alphabet: no vowels, no confusable digits.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class Namer:
    def __init__(self, seed: int | str = 0) -> None:
        self._rng = random.Random(str(seed))

    def suffix(self, length: int = 5) -> str:
        """What the apiserver appends to a generateName."""
        return safe_encode(self._rng.getrandbits(5 * length), length)

    def hex(self, length: int) -> str:
        return f"{self._rng.getrandbits(4 * length):0{length}x}"

    def container_id(self) -> str:
        """A containerd container/sandbox ID (64 hex characters)."""
        return self.hex(64)

    def uuid(self) -> str:
        """A version-4 UUID."""
        h = self.hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def choice(self, items):
        return self._rng.choice(items)

    def randint(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)


_PAIRS = [a + b for b in SAFE_ALPHABET for a in SAFE_ALPHABET]  # two digits at a time: names are hot


def safe_encode(number: int, length: int = 10) -> str:
    """Render a hash in the safe alphabet, like `rand.SafeEncodeString(fmt.Sprint(hash))`."""
    out = []
    for _ in range(length // 2):
        number, pair = divmod(number, len(_PAIRS))
        out.append(_PAIRS[pair])
    if length % 2:
        out.append(SAFE_ALPHABET[number % len(SAFE_ALPHABET)])
    return "".join(out)


def stable_hash(obj) -> int:
    return int.from_bytes(hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).digest()[:8], "big")


def template_hash(template: dict, collision_count: int = 0) -> str:
    """The `pod-template-hash` label a Deployment gives the ReplicaSet of a template."""
    return safe_encode(stable_hash([template, collision_count]))


def revision_hash(template: dict) -> str:
    """The `controller-revision-hash` of StatefulSet and DaemonSet pods."""
    return safe_encode(stable_hash(["revision", template]))
