"""Bad input, end to end: the operator's CIDR and selector inputs, malformed objects served by the API
server (injected past all validation, as a corrupted etcd or a buggy writer would leave them), and
broken kubeconfigs. Each yields a clear message or an "invalid" entry, never a traceback.

(The model's own parsers are fuzzed object by object in tests/test_model_*.py; here the damage
travels the whole way: HTTP, the data layer, the model, `status`, `check` and the dashboard's view.)
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability.support import SMALL, TARGET_CIDR, trial
from test_model_cluster import damage, paths
from tui.cli import main
from tui.kube.connection import ClusterAccessError, access_error, connect
from tui.kube.detect import detect
from tui.kube.listing import read_cluster
from tui.migrate.params import MigrationRequest, resolve_params
from tui.model.cluster import build_cluster
from tui.model.findings import cluster_findings
from tui.model.status import status_document, status_text
from tui.session import LiveView
from tui.sim.simulator import Simulator



def examples(count: int):
    return settings(max_examples=count, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


EXTRA = [  # BGP objects the small scenario has none of, so that their readers are fed damage too
    {"apiVersion": "crd.projectcalico.org/v1", "kind": "BGPConfiguration", "metadata": {"name": "default"},
     "spec": {"asNumber": 64512, "nodeToNodeMeshEnabled": True, "logSeverityScreen": "Info"}},
    {"apiVersion": "crd.projectcalico.org/v1", "kind": "BGPPeer", "metadata": {"name": "rack1-tor"},
     "spec": {"peerIP": "10.10.1.1", "asNumber": 64513, "nodeSelector": "rack == 'r1'"}},
    {"apiVersion": "crd.projectcalico.org/v1", "kind": "CalicoNodeStatus", "metadata": {"name": "w1"},
     "spec": {"node": "w1", "classes": ["Agent", "BGP"], "updatePeriodSeconds": 10}},
]


@pytest.fixture(scope="module")
def static(tmp_path_factory):
    """The small cluster as its controllers left it, served without controllers (nothing reacts
    to the damage but the readers under test)."""
    booted = Simulator.from_scenario(path=SMALL)
    sim = Simulator([entry["object"] for entry in booted.store.snapshot()["objects"]] + EXTRA)
    sim.start_in_thread()
    sim.kubeconfig_path = sim.write_kubeconfig(tmp_path_factory.mktemp("static") / "kubeconfig")
    conn = connect(str(sim.kubeconfig_path), None)
    info = detect(conn)
    yield sim, conn, info
    conn.close()
    sim.stop()  # a server failing on corrupted storage (500) is the realistic answer; see the trials


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def one_clear_line(text: str) -> bool:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("calico-tui") and "Traceback" not in text


# --- the operator's inputs ---------------------------------------------------------------------------

NEAR_CIDRS = st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b, c, d, p: f"{a}.{b}.{c}.{d}/{p}", *[st.integers(-5, 300)] * 4, st.integers(-3, 40)),
    st.builds(lambda h, p: f"{h}/{p}", st.sampled_from(["::", "fd00::", "172.21.0.1", "0.0.0.0", "1e3.0.0.0"]),
              st.one_of(st.integers(-1, 200), st.text(max_size=3))),
    st.sampled_from(["172.21.0.0/16 ", " 172.21.0.0/16", "172.21.0.0/16\n", "172.021.0.0/16", "١٧٢.21.0.0/16",
                     "9" * 5000, "172.21.0.0/16/16", "/", ""]))


@pytest.fixture(scope="module")
def cluster(static):
    sim, conn, info = static
    return build_cluster(read_cluster(conn, info.served))


@examples(300)
@given(text=NEAR_CIDRS)
def test_target_cidr_input(cluster, text):
    with trial("Bad input", "target CIDR text (--target-cidr)") as t:
        params, findings = resolve_params(MigrationRequest(target_cidr=text), cluster)
        if params is None:
            blocking = [f for f in findings if f.severity == "blocking"]
            assert blocking and blocking[0].id.startswith("cidr-") and blocking[0].message, findings
            t.note("refused with a finding")


@examples(300)
@given(text=st.one_of(st.text(max_size=60), st.text(alphabet="()!&|=' \"abcin,has", max_size=60)))
def test_node_selector_input(cluster, text):
    with trial("Bad input", "pool node selector text (--node-selector)"):
        params, findings = resolve_params(MigrationRequest(target_cidr=TARGET_CIDR, node_selector=text), cluster)
        refused = [f for f in findings if f.id == "params-node-selector"]
        assert params is not None or refused or any(f.severity == "blocking" for f in findings)
        assert all(f.message for f in refused)


# --- malformed objects served by the API ----------------------------------------------------------------

RAW_KINDS = {("crd.projectcalico.org/v1", k) for k in ("IPPool", "IPAMBlock", "BlockAffinity", "BGPConfiguration",
                                                      "BGPPeer", "CalicoNodeStatus", "ClusterInformation")} | \
    {("v1", "Node"), ("v1", "ConfigMap"), ("apps/v1", "DaemonSet"), ("v1", "Pod")}
IDENTITY = {("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("metadata", "namespace")}
HUGE = st.sampled_from([10 ** 30, -(10 ** 30), 1e308, "x" * 200_000, ["10.0.0.0/8"] * 20_000,
                        json.loads("[" * 200 + "]" * 200), {f"k{i}": i for i in range(20_000)}])
WRONG = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                  st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@pytest.fixture(scope="module")
def targets(static):
    sim, _, _ = static
    objects = [entry["object"] for entry in sim.store.snapshot()["objects"]]
    return sorted((o for o in objects if (o.get("apiVersion"), o.get("kind")) in RAW_KINDS),
                  key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]))


@examples(40)
@given(data=st.data())
def test_malformed_objects_from_the_api(static, targets, data):
    sim, conn, info = static
    original = data.draw(st.sampled_from(targets))
    path = data.draw(st.sampled_from([p for p in paths(original) if p not in IDENTITY]))
    how = data.draw(st.sampled_from(["removed", "wrong type", "huge value"]))
    bad = damage(copy.deepcopy(original), path, "delete" if how == "removed" else "replace",
                 data.draw(HUGE if how == "huge value" else WRONG))
    name = original["metadata"]["name"]
    with trial("Bad input", f"malformed {original['kind']} served by the API ({how})") as t:
        sim.control("POST", "inject", {"objects": [bad]})
        try:
            raw = read_cluster(conn, info.served)
            model = build_cluster(raw)
            json.dumps(status_document(model, info.to_dict()))
            status_text(model, info.to_dict())
            LiveView.build(raw, {}, 0.0)
            if any(i.name == name for i in model.invalid):
                assert any(f.id == "object.invalid" for f in cluster_findings(model))
                t.note("reported invalid")
            code, out, err = cli("status", "--kubeconfig", str(sim.kubeconfig_path), "--format", "json")
            assert code == 0 and json.loads(out)["schemaVersion"] == 1, err
            code, out, err = cli("check", "--kubeconfig", str(sim.kubeconfig_path), "--target-cidr", TARGET_CIDR)
            assert code in (0, 1) or (code == 2 and one_clear_line(err)), err
            if sim.server.unexpected_errors:
                t.note("the API server itself answered 500 for it")
        finally:
            sim.server.unexpected_errors.clear()
            sim.control("POST", "inject", {"objects": [original]})


# --- broken kubeconfigs ---------------------------------------------------------------------------------

def kubeconfig_damages(good: dict):
    """(description, file bytes) of broken kubeconfigs, derived from a working one."""
    def edit(fn):
        doc = copy.deepcopy(good)
        fn(doc)
        return yaml.safe_dump(doc).encode()

    cluster = lambda d: d["clusters"][0]["cluster"]  # noqa: E731
    user = lambda d: d["users"][0]["user"]  # noqa: E731
    return st.one_of(
        st.binary(max_size=200).map(lambda b: ("random bytes", b)),
        st.text(max_size=200).map(lambda s: ("random text", s.encode())),
        st.sampled_from([
            ("empty file", b""),
            ("not a mapping", b"- just\n- a list\n"),
            ("tabs in YAML", b"apiVersion: v1\nclusters:\n\t- name: x\n"),
            ("no current-context", edit(lambda d: d.pop("current-context"))),
            ("unknown current-context", edit(lambda d: d.update({"current-context": "nope"}))),
            ("context names a missing cluster", edit(lambda d: d.update({"clusters": []}))),
            ("context names a missing user", edit(lambda d: d.update({"users": []}))),
            ("server is not a URL", edit(lambda d: cluster(d).update({"server": "not a url"}))),
            ("server with a bad port", edit(lambda d: cluster(d).update({"server": "https://127.0.0.1:99999"}))),
            ("server with no host", edit(lambda d: cluster(d).update({"server": "https://"}))),
            ("CA data not base64", edit(lambda d: cluster(d).update({"certificate-authority-data": "%%%"}))),
            ("CA data not a certificate", edit(lambda d: cluster(d).update(
                {"certificate-authority-data": base64.b64encode(b"hello").decode()}))),
            ("CA file missing", edit(lambda d: (cluster(d).pop("certificate-authority-data"),
                                                cluster(d).update({"certificate-authority": "/nonexistent/ca"})))),
            ("token of the wrong type", edit(lambda d: user(d).update({"token": 12345}))),
            ("token wrong", edit(lambda d: user(d).update({"token": "wrong"}))),
            ("client certificate file missing", edit(lambda d: user(d).update(
                {"client-certificate": "/nonexistent/crt", "client-key": "/nonexistent/key"}))),
            ("exec plugin that does not exist", edit(lambda d: d["users"][0].update(
                {"user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/nonexistent"}}}))),
            ("clusters is a string", edit(lambda d: d.update({"clusters": "oops"}))),
            ("users entry without a name", edit(lambda d: d["users"][0].pop("name"))),
        ]))


@pytest.fixture(scope="module")
def good_kubeconfig(static):
    sim, _, _ = static
    return sim.kubeconfig()


@examples(40)
@given(data=st.data())
def test_broken_kubeconfigs(good_kubeconfig, tmp_path_factory, data):
    what, content = data.draw(kubeconfig_damages(good_kubeconfig))
    path = tmp_path_factory.mktemp("kubeconfig") / "config"
    path.write_bytes(content)
    with trial("Bad input", f"broken kubeconfig: {what}" if not what.startswith("random") else f"kubeconfig: {what}"):
        try:
            conn = connect(str(path), None)
        except ClusterAccessError as exc:
            assert exc.summary and "\n" not in exc.summary
        else:
            try:
                conn.get("/version")
            except Exception as exc:  # noqa: BLE001 - every failure must have an operator line
                assert access_error(exc, conn.server, conn.user) is not None, repr(exc)
            finally:
                conn.close()
        code, out, err = cli("status", "--kubeconfig", str(path))
        assert code == 0 or (code == 2 and one_clear_line(err)), err

