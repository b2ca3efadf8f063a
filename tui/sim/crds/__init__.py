"""The CustomResourceDefinitions the simulated cluster installs.

The Calico manifests are unmodified copies of the v3.32.1 `crd.projectcalico.org/v1` CRDs, so the
simulator validates and prunes writes exactly against what a real cluster enforces. They ship inside
the package (the demo must not depend on the repository's reference folder).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib import resources

import yaml


@lru_cache(maxsize=1)
def _load() -> tuple[dict, ...]:
    files = sorted(
        (f for f in resources.files(__name__).iterdir() if f.name.endswith(".yaml")),
        key=lambda f: f.name,
    )
    return tuple(yaml.safe_load(f.read_text(encoding="utf-8")) for f in files)


def load_crds() -> list[dict]:
    """Every bundled CRD as a parsed manifest, ordered by file name.

    Parsed once; each call returns fresh copies so callers may mutate them freely.
    """
    return copy.deepcopy(list(_load()))
