"""Cluster-wide migration lock: a `coordination.k8s.io/v1` Lease in kube-system named for the tool.

Two runs must never migrate one cluster at once, even from two machines, so the lock lives in the
cluster. The holder identity names host, pid and migration id. A run that was killed (-9) leaves its
Lease behind; a `--resume` on the same host may take it over at once when that pid is gone,
anyone else waits for the Lease to expire (it is renewed while the runner works).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tui.migrate.rest import LEASES, ApiStatusError, Rest

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "calico-tui-migration"
LEASE_SECONDS = 60
PREFIX = "calico-tui"


class LockError(Exception):
    pass


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    migration_id: str

    @property
    def identity(self) -> str:
        return f"{PREFIX}/{self.host}/{self.pid}/{self.migration_id}"

    @classmethod
    def parse(cls, identity: str | None) -> "Holder | None":
        parts = (identity or "").split("/")
        if len(parts) != 4 or parts[0] != PREFIX or not parts[2].isdigit():
            return None
        return cls(parts[1], int(parts[2]), parts[3])

    @classmethod
    def me(cls, migration_id: str) -> "Holder":
        return cls(socket.gethostname(), os.getpid(), migration_id)


def micro_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def decide(lease: dict | None, me: Holder, now: datetime, alive=pid_alive) -> tuple[str, str]:
    """What to do with the current Lease: `create`, `take`, `renew` or `refuse`, and why."""
    if lease is None:
        return "create", "no migration lock exists"
    spec = lease.get("spec") or {}
    identity = spec.get("holderIdentity")
    if not identity:
        return "take", "the lock was released"
    if identity == me.identity:
        return "renew", "we hold the lock"
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = int(spec.get("leaseDurationSeconds") or LEASE_SECONDS)
    if renewed is None or renewed + timedelta(seconds=duration) < now:
        ago = "" if renewed is None else \
            f" {int((now - renewed).total_seconds()) - duration}s ago (not renewed for {duration}s)"
        return "take", f"the lock held by {identity} expired{ago}"
    other = Holder.parse(identity)
    if other and other.host == me.host and other.migration_id == me.migration_id and not alive(other.pid):
        return "take", f"the run that held the lock (pid {other.pid}) is gone"
    left = int((renewed + timedelta(seconds=duration) - now).total_seconds())
    acquired = parse_time(spec.get("acquireTime")) or renewed
    return "refuse", (f"another migration holds the cluster lock {LEASE_NAMESPACE}/{LEASE_NAME}: "
                      f"{identity}, held for {int((now - acquired).total_seconds())}s, renewed "
                      f"{int((now - renewed).total_seconds())}s ago, expires in {left}s")


def lease_object(me: Holder, now: datetime, previous: dict | None) -> dict:
    spec = (previous or {}).get("spec") or {}
    transitions = int(spec.get("leaseTransitions") or 0)
    if previous is not None and spec.get("holderIdentity") != me.identity:
        transitions += 1
    meta = {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "calico-tui"}}
    if previous is not None:
        meta["resourceVersion"] = previous["metadata"]["resourceVersion"]
    acquire = spec.get("acquireTime") if spec.get("holderIdentity") == me.identity else None
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": me.identity, "leaseDurationSeconds": LEASE_SECONDS,
                     "acquireTime": acquire or micro_time(now), "renewTime": micro_time(now),
                     "leaseTransitions": transitions}}


class ClusterLock:
    """Acquire, renew and release the Lease through the API (every write RV-guarded)."""

    def __init__(self, rest: Rest, holder: Holder):
        self.rest = rest
        self.holder = holder

    def _read(self) -> dict | None:
        try:
            return self.rest.get(LEASES, LEASE_NAMESPACE, LEASE_NAME)
        except ApiStatusError as exc:
            if exc.code == 404:
                return None
            raise

    def acquire(self) -> str:
        """Take the lock or raise LockError; returns the reason it could be taken."""
        lease = self._read()
        verdict, reason = decide(lease, self.holder, datetime.now(timezone.utc))
        if verdict == "refuse":
            raise LockError(reason)
        body = lease_object(self.holder, datetime.now(timezone.utc), lease)
        try:
            if lease is None:
                self.rest.create(LEASES, LEASE_NAMESPACE, body)
            else:
                self.rest.replace(LEASES, LEASE_NAMESPACE, LEASE_NAME, body)
        except ApiStatusError as exc:
            if exc.code == 409:
                raise LockError("another run took the cluster lock at the same moment") from exc
            raise
        return reason

    def renew(self) -> None:
        lease = self._read()
        verdict, reason = decide(lease, self.holder, datetime.now(timezone.utc))
        if verdict != "renew":
            raise LockError(f"lost the cluster lock: {reason}")
        self.rest.replace(LEASES, LEASE_NAMESPACE, LEASE_NAME,
                          lease_object(self.holder, datetime.now(timezone.utc), lease))

    def _held(self) -> dict | None:
        lease = self._read()
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.holder.identity:
            return None
        return lease

    def release(self, attempts: int = 3) -> None:
        """Delete the Lease if it is still ours; a delete whose answer was lost is found done by
        reading again."""
        for attempt in range(1, attempts + 1):
            try:
                lease = self._held()
                if lease is None:
                    return
                self.rest.delete(LEASES, LEASE_NAMESPACE, LEASE_NAME,
                                 preconditions={"resourceVersion": lease["metadata"]["resourceVersion"]})
                return
            except ApiStatusError as exc:
                if not (exc.transient or exc.code in (404, 409)) or attempt == attempts:
                    raise
