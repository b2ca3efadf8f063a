"""`calico-tui snapshot`: a scenario file that reloads into the same cluster, without secrets."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import stop_simulator
from tui.cli import main
from tui.commands.snapshot import REDACTED, scrub
from tui.kube.connection import connect
from tui.sim.scenario import FORMAT_VERSION, load_scenario
from tui.sim.simulator import Simulator


def serve(tmp_path, **source) -> Simulator:
    simulator = Simulator.from_scenario(**source)
    simulator.start_in_thread()
    simulator.kubeconfig_path = simulator.write_kubeconfig(tmp_path / f"kubeconfig-{id(simulator)}")
    return simulator


def status_json(capsys, sim) -> dict:
    """The status document without what names the connection, once the simulated controllers
    have settled (two reads half a second apart agree)."""
    def read() -> dict:
        assert main(["status", "--format", "json", "--kubeconfig", str(sim.kubeconfig_path)]) == 0
        doc = json.loads(capsys.readouterr().out)
        for key in ("server", "context"):
            doc["cluster"].pop(key)
        return doc

    previous = read()
    for _ in range(40):
        time.sleep(0.5)
        current = read()
        if current == previous:
            return current
        previous = current
    raise AssertionError("the simulated cluster never settled")


@pytest.fixture
def seed(tmp_path):
    simulator = serve(tmp_path, name="seed")
    yield simulator
    stop_simulator(simulator)


def round_trip(capsys, sim, tmp_path) -> tuple[dict, Path, str, Simulator]:
    """(the status of `sim`, its snapshot file, the command's summary line, a simulator started
    from the file)."""
    before = status_json(capsys, sim)
    output = tmp_path / f"copy-{id(sim)}.yaml"
    assert main(["snapshot", "-o", str(output), "--kubeconfig", str(sim.kubeconfig_path)]) == 0
    summary = capsys.readouterr().out
    return before, output, summary, serve(tmp_path, path=output)


def test_snapshot_of_a_small_cluster_reloads_to_the_same_status(sim, tmp_path, capsys):
    before, _, _, copy = round_trip(capsys, sim, tmp_path)
    try:
        assert status_json(capsys, copy) == before
    finally:
        stop_simulator(copy)


def test_snapshot_of_seed_reloads_to_the_same_status(seed, tmp_path, capsys):
    conn = connect(str(seed.kubeconfig_path), None)
    try:  # something the scenario file did not have: the snapshot must carry it
        conn.request("POST", "/apis/projectcalico.org/v3/ippools", body={
            "apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "new-pool"},
            "spec": {"cidr": "172.21.0.0/16", "ipipMode": "CrossSubnet", "natOutgoing": True}})
    finally:
        conn.close()
    before, output, summary, copy = round_trip(capsys, seed, tmp_path)
    try:
        assert summary.startswith(f"wrote {output}: ") and "10 nodes" in summary
        assert stat.S_IMODE(output.stat().st_mode) == 0o600

        text = output.read_text()
        document = yaml.safe_load(text)
        assert (document["apiVersion"], document["kind"]) == (FORMAT_VERSION, "Scenario")
        for token in seed.tokens.values():
            assert token not in text
        assert "managedFields" not in text and "last-applied-configuration" not in text
        kinds = {obj["kind"] for obj in document["objects"]}
        assert {"Node", "IPPool", "BGPConfiguration", "BGPPeer", "ConfigMap", "DaemonSet", "Deployment",
                "Namespace"} <= kinds
        assert "Secret" not in kinds
        assert len(load_scenario(path=output).of_kind("Node")) == 10
        assert status_json(capsys, copy) == before
    finally:
        stop_simulator(copy)


def test_scrub_removes_bookkeeping_and_secret_looking_values():
    pod = {"kind": "Pod", "metadata": {
        "name": "p", "resourceVersion": "9", "managedFields": [{"manager": "kubectl"}],
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me"}},
        "spec": {"containers": [{"name": "c", "env": [
            {"name": "API_TOKEN", "value": "abc"}, {"name": "db_password", "value": "hunter2"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}]}}
    clean = scrub(pod)
    assert clean["metadata"] == {"name": "p", "annotations": {"keep": "me"}}
    env = {e["name"]: e.get("value") for e in clean["spec"]["containers"][0]["env"]}
    assert env == {"API_TOKEN": REDACTED, "db_password": REDACTED, "LOG_LEVEL": "info", "FROM_SECRET": None}
    assert pod["metadata"]["resourceVersion"] == "9"  # the original is untouched
    assert pod["spec"]["containers"][0]["env"][0]["value"] == "abc"


def test_status_and_snapshot_run_against_the_demo(tmp_path, capsys):
    assert main(["status", "--demo", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bgp"]["asNumber"] == 63400 and len(doc["nodes"]) == 10
    output = tmp_path / "demo.yaml"
    assert main(["snapshot", "--demo", "-o", str(output)]) == 0
    document = yaml.safe_load(output.read_text())
    assert [o["spec"]["asNumber"] for o in document["objects"] if o["kind"] == "BGPConfiguration"] == [63400]
