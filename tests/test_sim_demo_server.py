"""`calico-tui demo-server` as a user runs it: one URL line, a kubeconfig, serving until interrupted."""

from __future__ import annotations

import os
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

import yaml
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tui.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


def test_demo_server_serves_until_interrupted(tmp_path):
    kubeconfig = tmp_path / "kc"
    process = run_cli("demo-server", "--kubeconfig-out", str(kubeconfig))
    try:
        assert select.select([process.stdout], [], [], 120)[0], "demo-server printed nothing in two minutes"
        url = process.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:")
        document = yaml.safe_load(kubeconfig.read_text())
        assert document["current-context"] == "calico-demo-admin"
        assert {c["name"] for c in document["contexts"]} == {"calico-demo-admin", "calico-demo-viewer"}
        assert document["clusters"][0]["cluster"]["server"] == url
        assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
        for context in ("calico-demo-admin", "calico-demo-viewer"):
            api = config.new_client_from_config(config_file=str(kubeconfig), context=context, persist_config=False)
            assert client.CoreV1Api(api).list_node().items
            api.close()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, err
    assert out == ""  # exactly one line: the URL, already read


def test_demo_server_rejects_an_unknown_scenario(tmp_path):
    process = run_cli("demo-server", "--scenario", "no-such-cluster", "--kubeconfig-out", str(tmp_path / "kc"))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "no-such-cluster" in err and out == ""
    assert not (tmp_path / "kc").exists()
