"""Security: known secrets (a bearer token, a password, a client key) never reach output, logs,
journals, snapshots, runbooks, audit records or error messages; journal and audit files are 0600 in
0700 directories; TLS is verified by default and an untrusted server is refused with one clear line;
every mutation is in the audit log with who, what, when and the result."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
import yaml

from reliability.support import (MIGRATE, TARGET_CIDR, audit_problems, boot, calico_tui, finish, journal_of,
                                 mutations, read_audit, trial)
from tui.audit import AuditLog
from tui.kube.connection import connect
from tui.migrate.journal import Journal
from tui.session import Session, status_name
from tui.sim.tls import credentials

TOKEN = "sekrit-TOKEN-7c1f9e2a-do-not-leak"
PASSWORD = "sekrit-PASSWORD-4b8d-do-not-leak"
KEY_PEM = ("-----BEGIN PRIVATE KEY-----\nsekrit-KEY-0e5a-do-not-leak\n-----END PRIVATE KEY-----\n")
SECRETS = {"bearer token": TOKEN, "password": PASSWORD, "client key": "sekrit-KEY-0e5a",
           "client key (base64)": base64.b64encode(KEY_PEM.encode()).decode(),
           "bearer token (base64)": base64.b64encode(TOKEN.encode()).decode()}


def kubeconfigs(sim, directory: Path) -> dict[str, Path]:
    """The admin kubeconfig (token TOKEN) with extra contexts for a password and a client key, one
    without the CA (TLS must refuse the server), one pointing at a closed port."""
    base = sim.kubeconfig()
    base["users"] += [{"name": "password", "user": {"username": "admin", "password": PASSWORD}},
                      {"name": "client-key", "user": {
                          "client-certificate-data": base64.b64encode(credentials().cert_pem).decode(),
                          "client-key-data": base64.b64encode(KEY_PEM.encode()).decode()}}]
    base["contexts"] += [{"name": name, "context": {"cluster": base["clusters"][0]["name"], "user": name}}
                         for name in ("password", "client-key")]
    no_ca = yaml.safe_load(yaml.safe_dump(base))
    del no_ca["clusters"][0]["cluster"]["certificate-authority-data"]
    closed = yaml.safe_load(yaml.safe_dump(base))
    closed["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    paths = {}
    for name, doc in (("kubeconfig", base), ("kubeconfig-no-ca", no_ca), ("kubeconfig-closed", closed)):
        paths[name] = directory / name
        paths[name].write_text(yaml.safe_dump(doc))
        paths[name].chmod(0o600)
    return paths


RUNS = {  # name: (kubeconfig, argv, expected exit code)
    "status": ("kubeconfig", ["status"], 0),
    "status --format json": ("kubeconfig", ["status", "--format", "json"], 0),
    "check": ("kubeconfig", ["check", "--target-cidr", TARGET_CIDR], 0),
    "exported runbook (plan, markdown)": ("kubeconfig", ["plan", "--target-cidr", TARGET_CIDR], 0),
    "plan --format yaml": ("kubeconfig", ["plan", "--target-cidr", TARGET_CIDR, "--format", "yaml"], 0),
    "plan --format json": ("kubeconfig", ["plan", "--target-cidr", TARGET_CIDR, "--format", "json"], 0),
    "snapshot": ("kubeconfig", ["snapshot", "--output", "{dir}/snapshot.yaml"], 0),
    "migrate (whole run)": ("kubeconfig", ["migrate", *MIGRATE], 0),
    "error: password rejected": ("kubeconfig", ["status", "--context", "password"], 2),
    "error: client key unusable": ("kubeconfig", ["status", "--context", "client-key"], 2),
    "error: server certificate not trusted": ("kubeconfig-no-ca", ["status"], 2),
    "error: server unreachable": ("kubeconfig-closed", ["status"], 2),
    "error: migrate against an untrusted server": ("kubeconfig-no-ca", ["migrate", *MIGRATE], 2),
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """Every command run once against a cluster whose admin token is TOKEN; what each printed."""
    directory = tmp_path_factory.mktemp("secured")
    sim = boot(directory, tokens={"admin": TOKEN, "viewer": "viewer-token-not-secret-here"})
    paths = kubeconfigs(sim, directory)
    state = directory / "state"
    results = {}
    try:
        for name, (config, argv, _) in RUNS.items():
            log = directory / f"{name.replace(' ', '_').replace('/', '_')}.log"
            argv = [a.replace("{dir}", str(directory)) for a in argv]
            home = state if RUNS[name][2] == 0 else directory / "refused"  # a refused run must leave nothing
            code = calico_tui([argv[0], "--kubeconfig", str(paths[config]), *argv[1:]],
                              {"XDG_STATE_HOME": str(home)}, log)
            results[name] = (code, log.read_text())
        yield sim, directory, state, results, mutations(sim)
    finally:
        finish(sim)


def leaks(text: str) -> list[str]:
    return [what for what, secret in SECRETS.items() if secret in text]


@pytest.mark.parametrize("run", RUNS)
def test_no_secret_in_command_output(secured, run):
    _, _, _, results, _ = secured
    code, output = results[run]
    with trial("Security", f"no secret in the output of {run}" if not run.startswith("error")
               else f"no secret in {run} (one clear line)") as t:
        assert code == RUNS[run][2], output[-2000:]
        assert leaks(output) == []
        if run.startswith("error"):
            lines = output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("calico-tui") and "Traceback" not in output, output
            t.note(lines[0][:200])


def test_no_secret_in_any_file_written(secured):
    _, directory, state, _, _ = secured
    written = [p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("kubeconfig")]
    kinds = {"journal (with backups)": [p for p in written if p.name == "journal.jsonl"],
             "audit log": [p for p in written if p.name == "audit.jsonl"],
             "snapshot": [p for p in written if p.name == "snapshot.yaml"],
             "every other file written": [p for p in written if p.name not in
                                          ("journal.jsonl", "audit.jsonl", "snapshot.yaml")]}
    for kind, files in kinds.items():
        with trial("Security", f"no secret in the {kind}"):
            assert files
            assert {str(p.relative_to(directory)): leaks(p.read_text(errors="replace")) for p in files} == \
                {str(p.relative_to(directory)): [] for p in files}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_journal_audit_and_snapshot_are_private(secured):
    _, directory, state, _, _ = secured
    journal = journal_of(state)
    with trial("Security", "journal and backups 0600 in 0700 directories"):
        assert mode(journal) == 0o600
        assert [mode(d) for d in (journal.parent, journal.parent.parent, journal.parent.parent.parent)] == [0o700] * 3
    with trial("Security", "audit log 0600 in a 0700 directory"):
        audit = state / "calico-tui" / "audit.jsonl"
        assert (mode(audit), mode(audit.parent)) == (0o600, 0o700)
    with trial("Security", "snapshot file 0600"):
        assert mode(directory / "snapshot.yaml") == 0o600


def test_private_whatever_the_umask(tmp_path):
    """A umask of 000 must not loosen the journal or the audit log."""
    previous = os.umask(0)
    try:
        with trial("Security", "private files with umask 000"):
            journal = Journal.create("cluster", "m1", tmp_path / "calico-tui" / "journal")
            journal.append("migration-start", plan={})
            audit = AuditLog(tmp_path / "calico-tui" / "audit.jsonl", {"user": "u"})
            audit.record("DELETE", "/api/v1/nodes/n1", None, 200)
            assert (mode(journal.path), mode(journal.directory), mode(journal.directory.parent)) == (0o600, 0o700, 0o700)
            assert (mode(audit.path), mode(audit.path.parent)) == (0o600, 0o700)
    finally:
        os.umask(previous)


def test_tls_is_verified_by_default(secured):
    sim, directory, state, results, _ = secured
    with trial("Security", "TLS verification on by default"):
        conn = connect(str(directory / "kubeconfig"), None)
        try:
            assert conn.api_client.configuration.verify_ssl is True
        finally:
            conn.close()
    with trial("Security", "untrusted server refused, nothing sent or written") as t:
        for run in ("error: server certificate not trusted", "error: migrate against an untrusted server"):
            code, output = results[run]
            assert code == 2 and "TLS handshake failed" in output and "certificate verify failed" in output
        assert not (directory / "refused").exists()  # no journal, no audit record: nothing was sent
        t.note(results["error: server certificate not trusted"][1].strip()[:200])


def test_every_mutation_is_audited(secured):
    sim, directory, state, results, writes = secured
    entries = read_audit(state / "calico-tui" / "audit.jsonl")
    with trial("Security", "every mutation of a migration audited (who, what, when, result)") as t:
        assert writes and audit_problems(entries, writes) == []
        sample = next(e for e in entries if e["method"] == "PUT")
        assert sample["who"]["user"] == "calico-demo-admin" and sample["who"]["local"] and sample["who"]["pid"]
        assert sample["migration"] and sample["time"] and sample["result"]["code"] == 200
        t.metric("audited writes", len(entries))


def test_dashboard_changes_are_audited(sim, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    session = Session(str(sim.kubeconfig_path), None)
    session.open()
    node = sim.api.list(sim.api.type("nodes"))[0][0]["metadata"]["name"]
    with trial("Security", "dashboard changes audited (node status requests)"):
        session.request_node_status([node])
        session.close()
        entries = read_audit(tmp_path / "calico-tui" / "audit.jsonl")
        name = status_name(node)
        assert [(e["method"], e["path"].rsplit("/", 1)[-1], e["result"]["ok"]) for e in entries] == \
            [("POST", "caliconodestatuses", True), ("DELETE", name, True)]
        assert all(e["who"]["context"] == "calico-demo-admin" for e in entries)
