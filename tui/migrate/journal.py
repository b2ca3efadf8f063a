"""The migration journal: what was done, durably, so a killed run can resume without repeating it.

Layout: `$XDG_STATE_HOME/calico-tui/journal/<cluster-uid>/<migration-id>/journal.jsonl` (default
`~/.local/state`), directories 0700, file 0600. One JSON record per line, appended and fsync'd before
the runner moves on. A crash can leave a torn last line; reading drops it and says so, and the next
append truncates it away so the file stays valid JSONL.

Every record has `seq`, `time`, `type` and, where it applies, `step` and `action`. Its *point id*
(`type:step:action`) names the place it was written; `CALICO_TUI_CRASH_AT=<point-id>[:<n>]` makes
the process SIGKILL itself right after the n-th (default first) durable write of that point, which
is how the crash tests stop a run at every boundary.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import signal
from datetime import datetime, timezone
from pathlib import Path

CRASH_ENV = "CALICO_TUI_CRASH_AT"
JOURNAL_FILE = "journal.jsonl"


class JournalError(Exception):
    pass


def state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME")
    return Path(base) if base else Path.home() / ".local" / "state"


def journal_root() -> Path:
    return state_home() / "calico-tui" / "journal"


def new_migration_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def point_id(record: dict) -> str:
    return ":".join(str(record[k]) for k in ("type", "step", "action") if record.get(k) is not None)


def _safe_component(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", text) or text in (".", ".."):
        raise JournalError(f"not usable as a journal directory name: {text!r}")
    return text


def _mkdir_private(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


class CrashHook:
    """Parses CALICO_TUI_CRASH_AT once; `after_write` kills the process at the chosen point. The
    point may hold shell wildcards (`evict:shop/frontend-*-x2k9q@*`), for keys that name generated
    objects."""

    def __init__(self, spec: str | None):
        self.point, self.count, self.seen = None, 1, 0
        if spec:
            head, _, tail = spec.rpartition(":")
            if head and tail.isdigit():
                self.point, self.count = head, int(tail)
            else:
                self.point = spec

    def after_write(self, record: dict) -> None:
        if self.point is None or not fnmatch.fnmatchcase(point_id(record), self.point):
            return
        self.seen += 1
        if self.seen == self.count:
            os.kill(os.getpid(), signal.SIGKILL)


def read_records(path: Path) -> tuple[list[dict], int, str | None]:
    """Records, byte length of the valid prefix, and a note when a torn tail was dropped."""
    data = path.read_bytes() if path.exists() else b""
    records, offset = [], 0
    for line in data.splitlines(keepends=True):
        complete = line.endswith(b"\n")
        try:
            record = json.loads(line) if complete else None
        except ValueError:
            record = None
        if record is None or not isinstance(record, dict):
            rest = data[offset:]
            if offset + len(line) < len(data):
                raise JournalError(f"{path}: corrupt record at byte {offset} (not the last line)")
            return records, offset, (f"{path.name}: ignored a torn last record "
                                      f"({len(rest)} bytes at offset {offset}) left by a crash")
        records.append(record)
        offset += len(line)
    return records, offset, None


class Journal:
    """One migration's append-only record, loaded in memory for the runner's questions."""

    def __init__(self, directory: Path, records: list[dict], torn: str | None = None):
        self.directory = directory
        self.path = directory / JOURNAL_FILE
        self.records = records
        self.torn = torn
        self._crash = CrashHook(os.environ.get(CRASH_ENV))

    @property
    def migration_id(self) -> str:
        return self.directory.name

    @property
    def cluster_uid(self) -> str:
        return self.directory.parent.name

    @classmethod
    def create(cls, cluster_uid: str, migration_id: str, root: Path | None = None) -> "Journal":
        directory = (root or journal_root()) / _safe_component(cluster_uid) / _safe_component(migration_id)
        for path in (directory.parent.parent, directory.parent, directory):
            _mkdir_private(path)
        if (directory / JOURNAL_FILE).exists():
            raise JournalError(f"journal already exists: {directory / JOURNAL_FILE}")
        fd = os.open(directory / JOURNAL_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return cls(directory, [])

    @classmethod
    def open(cls, cluster_uid: str, migration_id: str, root: Path | None = None) -> "Journal":
        directory = (root or journal_root()) / _safe_component(cluster_uid) / _safe_component(migration_id)
        path = directory / JOURNAL_FILE
        if not path.exists():
            raise JournalError(f"no journal for migration {migration_id} of cluster {cluster_uid}")
        records, valid, torn = read_records(path)
        if torn:
            with open(path, "r+b") as fh:
                fh.truncate(valid)
                os.fsync(fh.fileno())
        return cls(directory, records, torn)

    def append(self, type_: str, step: str | None = None, action: str | None = None, **fields) -> dict:
        record = {"seq": len(self.records) + 1,
                  "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                  "type": type_}
        if step is not None:
            record["step"] = step
        if action is not None:
            record["action"] = action
        record.update(fields)
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records.append(record)
        self._crash.after_write(record)
        return record

    # Questions the runner asks on resume.

    def of_type(self, type_: str) -> list[dict]:
        return [r for r in self.records if r["type"] == type_]

    def first(self, type_: str) -> dict | None:
        return next((r for r in self.records if r["type"] == type_), None)

    def done_actions(self) -> set[tuple[str, str]]:
        return {(r["step"], r["action"]) for r in self.of_type("action-done")}

    def action_result(self, step: str, action: str) -> dict | None:
        for record in reversed(self.records):
            if record["type"] == "action-done" and record.get("step") == step \
                    and record.get("action") == action:
                return record
        return None

    def in_progress(self) -> dict:
        """`step` and `action` of the action started and not yet done, else {} (the audit log
        attributes each request to it; the runner runs one action at a time)."""
        for record in reversed(self.records):
            if record["type"] == "action-start":
                return {"step": record["step"], "action": record["action"]}
            if record["type"] in ("action-done", "step-done", "step-failed", "run-end"):
                return {}
        return {}

    def step_status(self) -> dict[str, str]:
        """Latest status per step: started, done, failed, rolled-back."""
        status = {}
        names = {"step-start": "started", "step-done": "done", "step-failed": "failed",
                 "step-rolled-back": "rolled-back"}
        for record in self.records:
            if record["type"] in names:
                status[record["step"]] = names[record["type"]]
        return status

    def backups(self, step: str | None = None) -> list[dict]:
        return [r for r in self.of_type("backup") if step is None or r.get("step") == step]

    @property
    def finished(self) -> bool:
        return any(r["type"] == "migration-done" for r in self.records)


def list_migrations(cluster_uid: str, root: Path | None = None) -> list[str]:
    """Migration ids of one cluster, oldest first (ids start with their UTC start time)."""
    directory = (root or journal_root()) / _safe_component(cluster_uid)
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if (p / JOURNAL_FILE).exists())


def latest_unfinished(cluster_uid: str, root: Path | None = None) -> str | None:
    """The newest migration that started (its plan is journaled) and did not finish. A journal
    without a plan is from a run killed before it changed anything: there is nothing to resume."""
    for migration_id in reversed(list_migrations(cluster_uid, root)):
        records, _, _ = read_records((root or journal_root()) / cluster_uid / migration_id / JOURNAL_FILE)
        types = {r.get("type") for r in records}
        if "migration-start" in types and "migration-done" not in types:
            return migration_id
    return None
