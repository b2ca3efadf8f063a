"""Connection from kubeconfig (kubectl's merge rules, independent clients) and the one-line errors."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
import yaml
from kubernetes import client

from tui.kube.connection import ClusterAccessError, access_error, connect, kubeconfig_paths

TOKEN = "s3cret-token-never-printed"


def write_kubeconfig(path, current, contexts, clusters, users=(("u", {"token": TOKEN}),)):
    doc = {"apiVersion": "v1", "kind": "Config",
           "contexts": [{"name": n, "context": {"cluster": c, "user": u}} for n, c, u in contexts],
           "clusters": [{"name": n, "cluster": c} for n, c in clusters],
           "users": [{"name": n, "user": u} for n, u in users]}
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_several_kubeconfig_files_merge_like_kubectl(tmp_path):
    (tmp_path / "ca.crt").write_text("not really a certificate")
    first = write_kubeconfig(tmp_path / "one", "prod",
                             [("prod", "c1", "u"), ("shared", "c1", "u")],
                             [("c1", {"server": "https://one.example:6443", "certificate-authority": "ca.crt"})])
    sub = tmp_path / "sub"
    sub.mkdir()
    second = write_kubeconfig(sub / "two", "dev",
                              [("dev", "c2", "u"), ("shared", "c2", "u")],
                              [("c2", {"server": "https://two.example:6443"}),
                               ("c1", {"server": "https://shadowed.example"})])
    environ = {"KUBECONFIG": f"{first}:{tmp_path / 'missing'}:{second}"}

    conn = connect(None, None, environ=environ)
    # kubectl: the first file that sets current-context wins; the first definition of a name wins.
    assert (conn.context, conn.server, conn.user) == ("prod", "https://one.example:6443", "u")
    # Relative certificate paths resolve against the file that declared them.
    assert conn.api_client.configuration.ssl_ca_cert == str(tmp_path / "ca.crt")
    assert connect(None, "shared", environ=environ).server == "https://one.example:6443"
    assert connect(None, "dev", environ=environ).server == "https://two.example:6443"


def test_each_connection_has_its_own_configuration(tmp_path):
    path = write_kubeconfig(tmp_path / "kc", "a", [("a", "ca", "u"), ("b", "cb", "u")],
                            [("ca", {"server": "http://127.0.0.1:1"}),
                             ("cb", {"server": "https://10.0.0.1", "insecure-skip-tls-verify": True})])
    default_before = client.Configuration.get_default_copy().host
    a, b = connect(path, "a"), connect(path, "b")
    assert a.api_client.configuration is not b.api_client.configuration
    assert a.api_client.configuration.verify_ssl is True
    assert b.api_client.configuration.verify_ssl is False
    assert client.Configuration.get_default_copy().host == default_before  # global untouched
    a.close()
    b.close()


def test_kubeconfig_problems_are_one_line(tmp_path):
    with pytest.raises(ClusterAccessError, match="file not found") as missing:
        connect(str(tmp_path / "nope"), None)
    assert missing.value.cause == "kubeconfig"
    path = write_kubeconfig(tmp_path / "kc", None, [("a", "c", "u")], [("c", {"server": "http://x"})])
    with pytest.raises(ClusterAccessError, match=r"no current-context.*\(a\)"):
        connect(path, None)
    with pytest.raises(ClusterAccessError, match=r"context 'zzz' not found \(available: a\)"):
        connect(path, "zzz")


def test_default_paths_and_in_cluster_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kubeconfig_paths(None, {}) == []
    # In a pod without kubeconfig the service account is used; here its files are missing.
    with pytest.raises(ClusterAccessError, match="in-cluster config") as failure:
        connect(None, None, environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"})
    assert failure.value.cause == "kubeconfig"
    with pytest.raises(ClusterAccessError, match="none found"):
        connect(None, None, environ={})
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    assert kubeconfig_paths(None, {}) == [str(tmp_path / ".kube" / "config")]


def one_context(tmp_path, server, **cluster):
    return connect(write_kubeconfig(tmp_path / "kc", "x", [("x", "c", "u")],
                                    [("c", {"server": server, **cluster})]))


def failure_line(conn, timeout=(2.0, 2.0)):
    with pytest.raises(Exception) as caught:
        conn.get("/version", timeout=timeout)
    failure = access_error(caught.value, conn.server, conn.user)
    assert failure is not None, caught.value
    assert "\n" not in failure.summary and TOKEN not in failure.summary
    assert conn.server in failure.summary
    return failure


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_port(tmp_path):
    failure = failure_line(one_context(tmp_path, f"http://127.0.0.1:{free_port()}"))
    assert failure.cause == "refused"
    assert failure.summary.endswith("connection refused")


def test_unknown_host(tmp_path):
    failure = failure_line(one_context(tmp_path, "https://no-such-host.invalid:6443"))
    assert failure.cause == "dns"
    assert "DNS lookup failed for no-such-host.invalid" in failure.summary


def test_server_that_never_answers_times_out(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        failure = failure_line(one_context(tmp_path, f"http://127.0.0.1:{port}"), timeout=(1.0, 0.3))
    assert failure.cause == "timeout"


@pytest.fixture
def https_server(tmp_path):
    """A local HTTPS server with a self-signed certificate nobody trusts."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    thread.join()
    server.server_close()


def test_untrusted_certificate_is_a_tls_failure(tmp_path, https_server):
    url, cert = https_server
    failure = failure_line(one_context(tmp_path, url))
    assert failure.cause == "tls"
    assert "certificate verify failed" in failure.summary
    # Trusting the CA in the kubeconfig makes the handshake succeed (the server then answers 501).
    trusted = one_context(tmp_path, url, **{"certificate-authority": str(cert)})
    with pytest.raises(Exception) as caught:
        trusted.get("/version")
    assert access_error(caught.value, url).cause == "http"


def test_programming_errors_are_not_access_errors():
    assert access_error(KeyError("x"), "https://a") is None
