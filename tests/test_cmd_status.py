"""`calico-tui status` through the CLI against the simulator over HTTPS, and its one-line failures."""

from __future__ import annotations

import json
import socket

import pytest
import yaml

from tests.conftest import stop_simulator
from tests.test_cmd_snapshot import serve
from tui.cli import main
from tui.kube.connection import connect
from tui.sim.simulator import VIEWER_CONTEXT

NEW_POOL = {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "new-pool"},
            "spec": {"cidr": "172.21.0.0/16", "ipipMode": "CrossSubnet", "natOutgoing": True}}


def status(capsys, *argv) -> tuple[int, str, str]:
    code = main(["status", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def seed(tmp_path):
    simulator = serve(tmp_path, name="seed")
    yield simulator
    stop_simulator(simulator)


def test_operator_notes_objects_applied_through_the_api_show_in_json(sim, capsys):
    """The objects of the operator's notes, applied to a plain cluster through the API."""
    conn = connect(str(sim.kubeconfig_path), None)
    try:
        conn.request("PATCH", "/apis/crd.projectcalico.org/v1/bgpconfigurations/default",
                     body={"spec": {"asNumber": 63400, "nodeToNodeMeshEnabled": False,
                                    "logSeverityScreen": "Info"}},
                     content_type="application/merge-patch+json")
        conn.request("PATCH", "/api/v1/nodes/cp-1", content_type="application/merge-patch+json", body={
            "metadata": {"labels": {"route-reflector": "true"},
                         "annotations": {"projectcalico.org/RouteReflectorClusterID": "224.0.0.1"}}})
        conn.request("POST", "/apis/projectcalico.org/v3/ippools", body=NEW_POOL)
    finally:
        conn.close()

    code, out, err = status(capsys, "--kubeconfig", str(sim.kubeconfig_path), "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["schemaVersion"] == 1
    assert doc["cluster"]["server"] == sim.url and doc["cluster"]["calicoApi"] == "apiserver"
    assert doc["cluster"]["writeGroup"] == "projectcalico.org/v3"
    assert doc["bgp"]["asNumber"] == 63400 and doc["bgp"]["nodeToNodeMeshEnabled"] is False
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["cp-1"]["routeReflector"] is True
    assert nodes["cp-1"]["routeReflectorClusterID"] == "224.0.0.1"
    assert nodes["cp-1"]["asNumber"] == 63400
    assert nodes["worker-1"]["routeReflector"] is False
    pools = {p["name"]: p for p in doc["pools"]}
    assert pools["new-pool"] == {**pools["new-pool"], "cidr": "172.21.0.0/16", "blockSize": 26,
                                 "disabled": False, "ipipMode": "CrossSubnet", "vxlanMode": "Never",
                                 "natOutgoing": True, "nodeSelector": "all()", "blocks": 0,
                                 "ipsInUse": 0, "ipsTotal": 65536}
    # Mesh off and no BGPPeer: nobody has a BGP path, and the status says so.
    assert any(f["id"] == "bgp.no-peers" for f in doc["findings"])


def test_seed_status_text_and_json(seed, capsys):
    code, out, err = status(capsys, "--kubeconfig", str(seed.kubeconfig_path))
    assert (code, err) == (0, "")
    assert "GROUPING" in out and "IPS IN USE" in out
    assert "Datastore:  kubernetes" in out and "Data:" in out
    assert "BGP: AS 63400, node-to-node mesh off" in out

    code, out, _ = status(capsys, "--format", "json", "--kubeconfig", str(seed.kubeconfig_path))
    doc = json.loads(out)
    cluster = doc["cluster"]
    assert (cluster["datastore"], cluster["flavor"], cluster["ipam"], cluster["calicoNamespace"]) == (
        "kubernetes", "manifest", "calico-ipam", "kube-system")
    assert cluster["kubernetesVersion"].startswith("v1.")
    assert "crd.projectcalico.org/v1" in cluster["dataLocation"]
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert len(nodes) == 10
    assert [n for n in nodes if nodes[n]["routeReflector"]] == ["node01", "node02"]
    assert nodes["node01"]["routeReflectorClusterID"] == "224.0.0.1"
    assert nodes["node01"]["roles"] == ["control-plane"]
    peers = doc["bgp"]["peers"]
    assert [(p["name"], p["nodeSelector"]) for p in peers] == [("peer-with-route-reflectors", "all()")]


def test_read_only_identity_gets_the_same_status(sim, capsys):
    _, admin, _ = status(capsys, "--kubeconfig", str(sim.kubeconfig_path), "--format", "json")
    code, viewer, err = status(capsys, "--kubeconfig", str(sim.kubeconfig_path),
                               "--context", VIEWER_CONTEXT, "--format", "json")
    assert (code, err) == (0, "")
    admin_doc, viewer_doc = json.loads(admin), json.loads(viewer)
    assert viewer_doc["cluster"].pop("context") == VIEWER_CONTEXT
    admin_doc["cluster"].pop("context")
    assert viewer_doc == admin_doc
    requests = sim.control("GET", "requests")
    assert {r["identity"] for r in requests} - {None} == {"admin", "viewer"}  # /version is public
    assert {r["method"] for r in requests} == {"GET"}  # a status never writes


def edited_kubeconfig(sim, tmp_path, edit) -> str:
    doc = yaml.safe_load(sim.kubeconfig_path.read_text())
    edit(doc)
    path = tmp_path / "edited-kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def one_error_line(capsys, kubeconfig: str) -> str:
    code, out, err = status(capsys, "--kubeconfig", kubeconfig)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("calico-tui: ")
    return lines[0]


def test_wrong_token_is_401(sim, tmp_path, capsys):
    def wrong_token(doc):
        for user in doc["users"]:
            user["user"]["token"] = "not-the-token"
    line = one_error_line(capsys, edited_kubeconfig(sim, tmp_path, wrong_token))
    assert line == (f"calico-tui: {sim.url} rejected the credentials of user 'calico-demo-admin': "
                    "401 Unauthorized")
    assert "not-the-token" not in line


def test_forbidden_is_403(sim, capsys):
    sim.control("POST", "faults/fail", {"count": 5, "code": 403, "pathPrefix": "/version",
                                        "message": "version is forbidden for this test"})
    line = one_error_line(capsys, str(sim.kubeconfig_path))
    assert line == f"calico-tui: {sim.url} refused access: 403 Forbidden: version is forbidden for this test"


def test_untrusted_server_certificate(sim, tmp_path, capsys):
    def forget_ca(doc):
        for cluster in doc["clusters"]:
            cluster["cluster"].pop("certificate-authority-data", None)
    line = one_error_line(capsys, edited_kubeconfig(sim, tmp_path, forget_ca))
    assert line.startswith(f"calico-tui: TLS handshake failed with {sim.url}: certificate verify failed")


def test_refused_and_unknown_host(sim, tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]

    def server(url):
        def edit(doc):
            doc["clusters"][0]["cluster"]["server"] = url
        return edit
    line = one_error_line(capsys, edited_kubeconfig(sim, tmp_path, server(f"https://127.0.0.1:{free}")))
    assert line == f"calico-tui: cannot reach https://127.0.0.1:{free}: connection refused"
    line = one_error_line(capsys, edited_kubeconfig(sim, tmp_path, server("https://calico-tui-test.invalid:6443")))
    assert "DNS lookup failed for calico-tui-test.invalid" in line
    code, _, err = status(capsys, "--kubeconfig", str(sim.kubeconfig_path), "--context", "nope")
    assert code == 2 and err.startswith("calico-tui: kubeconfig: context 'nope' not found")
