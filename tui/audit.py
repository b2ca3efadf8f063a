"""The audit log: every change calico-tui asks of a cluster, with who asked, what, when and the answer.

An operator answering "what did this tool do to production?" must not have to trust the journal,
which records intentions and backups: the audit records each mutating HTTP request as it left
(`Connection.audit` calls `AuditLog.record` after the answer, or the failure, came back). Reads,
dry-runs and access reviews change nothing and are not recorded. Bodies and headers are never
written, so no credential or object data can leak into it.

File: `$XDG_STATE_HOME/calico-tui/audit.jsonl` (default `~/.local/state`), directory 0700, file
0600, one JSON object per line, appended and fsync'd.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from tui.migrate.journal import state_home

AUDIT_FILE = "audit.jsonl"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that only ask a question (the answer is computed, nothing is stored).
REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews", "tokenreviews",
           "subjectaccessreviews", "localsubjectaccessreviews")


def audit_path() -> Path:
    return state_home() / "calico-tui" / AUDIT_FILE


def is_mutation(method: str, path: str, query: Mapping | None) -> bool:
    """Would this request change the cluster (or a simulated host)?"""
    if method.upper() not in MUTATING:
        return False
    if str((query or {}).get("dryRun", "")).lower() == "all":
        return False
    return path.rstrip("/").rsplit("/", 1)[-1] not in REVIEWS


def local_identity() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class AuditLog:
    """Appends one record per mutating request of one connection; `context()` adds what the caller
    is doing at that moment (a migration's id, step and action)."""

    def __init__(self, path: Path, who: dict, context: Callable[[], dict] | None = None):
        self.path = path
        self.who = who
        self.context = context or dict
        self._private = False

    def record(self, method: str, path: str, query: Mapping | None, code: int | None,
               error: str | None = None) -> dict | None:
        if not is_mutation(method, path, query):
            return None
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "who": self.who, "method": method.upper(), "path": path, **self.context(),
                 "result": {"code": code, "ok": code is not None and 200 <= code < 300}}
        if error:
            entry["result"]["error"] = error
        line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode()
        if not self._private:  # the directory may exist already, made by someone less careful
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.path.parent, 0o700)
            self._private = True
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry


def attach(conn, context: Callable[[], dict] | None = None, path: Path | None = None) -> AuditLog:
    """Record every mutation `conn` sends from now on (idempotent: a connection has one log)."""
    if getattr(conn, "audit", None) is not None:
        if context is not None:
            conn.audit.context = context
        return conn.audit
    who = {"local": local_identity(), "pid": os.getpid(), "context": conn.context, "user": conn.user,
           "server": conn.server}
    conn.audit = AuditLog(path or audit_path(), who, context)
    return conn.audit

