"""Start-up against a cluster that cannot be used: a clear screen with the cause and a retry key."""

from __future__ import annotations

import socket

import yaml

from screens.connect_error import ConnectErrorScreen
from tui.app import CalicoApp
from tui.session import Session


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_kubeconfig(path, server: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "nowhere",
        "clusters": [{"name": "nowhere", "cluster": {"server": server}}],
        "users": [{"name": "me", "user": {"token": "secret-token-never-shown"}}],
        "contexts": [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "me"}}],
    }))
    return str(path)


async def wait_for_screen(app, pilot, kind, timeout: float = 10.0):
    for _ in range(int(timeout / 0.05)):
        if isinstance(app.screen, kind):
            return app.screen
        await pilot.pause(0.05)
    raise AssertionError(f"{kind.__name__} never showed; screen is {app.screen!r}")


async def test_unreachable_cluster_shows_cause_and_retries(tmp_path):
    port = closed_port()
    kubeconfig = write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{port}")
    app = CalicoApp(Session(kubeconfig, None))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_for_screen(app, pilot, ConnectErrorScreen)
        text = " ".join(str(w.content) for w in screen.query("Static"))
        assert f"127.0.0.1:{port}" in text and "refused" in text
        assert "secret-token" not in text and "Traceback" not in text
        connects = len([w for w in app.workers if w.group == "connect"])
        await pilot.press("r")
        await wait_for_screen(app, pilot, ConnectErrorScreen)
        assert len([w for w in app.workers if w.group == "connect"]) >= connects
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_missing_kubeconfig_is_explained(tmp_path):
    app = CalicoApp(Session(str(tmp_path / "absent"), None))
    async with app.run_test() as pilot:
        screen = await wait_for_screen(app, pilot, ConnectErrorScreen)
        assert "absent" in " ".join(str(w.content) for w in screen.query("Static"))
