"""`calico-tui --demo` in a real terminal: tmux at 100×30, keys typed, screen text read back.

The console script is the venv's own (next to sys.executable), so this runs what users install.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

SCRIPT = Path(sys.executable).with_name("calico-tui")
ALL_LIVE = re.compile(r"watches ● live (\d+)/\1\b")


class Tmux:
    """One detached tmux server/session of its own (socket `-L`), so parallel runs never meet."""

    def __init__(self, tmp_path: Path, width: int, height: int) -> None:
        self.socket = f"calico-tui-e2e-{uuid.uuid4().hex[:8]}"
        self.session = "e2e"
        self.width, self.height = width, height
        self.exit_file = tmp_path / "exit-code"

    def tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        return result.stdout

    def start(self, argv: list[str], env: dict[str, str], prefix: str = "") -> None:
        """Run `argv` in the pane and record its exit code; the pane then stays for capture-pane
        (a crash's last screen is what a failing test shows) until kill()."""
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        command = f"{prefix}env {exports} {shlex.join(argv)}; echo $? > {shlex.quote(str(self.exit_file))}"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", self.session, "-x", str(self.width),
                  "-y", str(self.height), "sh", "-c", command, ";", "set-option", "remain-on-exit", "on")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        """Type keys one by one, like a person (a burst can split escape sequences over SSH too)."""
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", text)

    def wait_for(self, predicate, what: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; screen was:\n{screen}")

    def exit_code(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exit_file.exists() and self.exit_file.read_text().strip():
                return int(self.exit_file.read_text())
            time.sleep(0.2)
        raise AssertionError(f"the app did not exit; screen was:\n{self.screen()}")

    def kill(self) -> None:
        self.tmux("kill-server")
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (socket_dir / self.socket).unlink(missing_ok=True)


@pytest.fixture
def tmux(tmp_path):
    session = Tmux(tmp_path, 100, 30)
    yield session
    session.kill()


def app_env() -> dict[str, str]:
    env = {"TERM": "tmux-256color", "HOME": os.environ.get("HOME", "/tmp"), "PATH": os.environ.get("PATH", "")}
    return env


def test_demo_in_tmux_shows_data_filters_opens_a_node_and_quits_cleanly(tmux):
    assert SCRIPT.exists(), f"{SCRIPT} is missing: install the package (pip install -e .)"
    tmux.start([str(SCRIPT), "--demo"], app_env())
    # At 100×30 one pane shows at a time; the nodes pane comes first.
    tmux.wait_for(lambda s: "◆ RR 224.0.0.1" in s and ALL_LIVE.search(s), "nodes with a route reflector, all live")
    tmux.keys("Tab")  # nodes -> BGP
    tmux.wait_for(lambda s: "AS 63400" in s, "the BGP pane")
    tmux.keys("BTab", "BTab")  # back to pools
    tmux.wait_for(lambda s: "192.168.0.0/16" in s, "the pools pane")

    tmux.keys("/")
    tmux.wait_for(lambda s: "node name, or label selector" in s, "the filter field")
    tmux.type("route-reflector=true")
    tmux.wait_for(lambda s: "Nodes 2/10" in s, "the filtered node list")
    tmux.keys("Enter")  # leave the filter field for the table
    tmux.keys("Enter")  # open the node under the cursor
    tmux.wait_for(lambda s: "IPAM blocks" in s and "node01 · control-plane" in s, "the node detail screen")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "Nodes 2/10" in s, "back on the dashboard")
    tmux.keys("q")
    assert tmux.exit_code() == 0


def test_terminal_going_away_ends_the_app_cleanly(tmux):
    """An SSH drop hangs up the terminal: the app must exit (running its cleanup), not spin.

    The wrapper shell ignores SIGHUP so it survives to record the app's exit code.
    """
    assert SCRIPT.exists(), f"{SCRIPT} is missing: install the package (pip install -e .)"
    tmux.start([str(SCRIPT), "--demo"], app_env(), prefix="trap '' HUP; ")
    tmux.wait_for(ALL_LIVE.search, "the dashboard")
    tmux.tmux("kill-server")
    assert tmux.exit_code() == 129
