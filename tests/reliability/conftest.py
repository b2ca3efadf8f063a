"""The reliability suite: every test here is marked `reliability` (`pytest -m reliability` runs it
alone; the main suite runs it too) and reports each trial it makes (`support.trial`).

With `CALICO_TUI_RELIABILITY_RESULTS=<file>` the trials of the run are written there as JSON, which
`tests/reliability/report.py` turns into the matrix of docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from reliability.support import TRIALS, boot, digest, finish, journal_of, migrate
from tui.migrate.journal import point_id, read_records

HERE = Path(__file__).resolve().parent
RESULTS_ENV = "CALICO_TUI_RELIABILITY_RESULTS"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.reliability)


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get(RESULTS_ENV)
    if target and TRIALS:
        Path(target).write_text(json.dumps(TRIALS, indent=1))


@dataclass(frozen=True)
class Reference:
    digest: dict
    points: list[str]  # distinct `type:step:action` of its journal, in order, as crash patterns


def crash_pattern(point: str) -> str:
    """A write point that also matches in another run: a Deployment's pod is named after its
    ReplicaSet's template hash, which the rollout's restart stamp changes from run to run."""
    return re.sub(r"-[a-z0-9]{6,10}-([a-z0-9]{5})@", r"-*-\1@", point)


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Reference:
    """An uninterrupted `calico-tui migrate` of the small cluster: the state every interrupted or
    disturbed run must end in, and the journal write points it crossed."""
    directory = tmp_path_factory.mktemp("reference")
    sim = boot(directory)
    try:
        code = migrate(sim, directory / "state", directory / "migrate.log", resume=False)
        assert code == 0, (directory / "migrate.log").read_text()[-3000:]
        records, _, torn = read_records(journal_of(directory / "state"))
        assert torn is None and records[-1]["type"] == "run-end"
        return Reference(digest(sim), list(dict.fromkeys(crash_pattern(point_id(r)) for r in records)))
    finally:
        finish(sim)
