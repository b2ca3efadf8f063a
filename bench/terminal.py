"""Bytes the real `calico-tui` writes to its terminal, and its CPU, when idle and under churn.

Over SSH every byte the dashboard writes crosses the network, so this runs the installed app
(`python -m tui --kubeconfig ...`, the same code as `calico-tui`) on a pseudo-terminal of a fixed
size against the bench's simulator and counts what arrives on the master side. CPU is the child's
utime + stime from /proc over the same window.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import sys
import termios
import threading
import time

from bench import ROOT
from bench.cluster import Target
from bench.proc import cpu_seconds

COLUMNS, LINES = 160, 50
QUIET = 3.0  # seconds of little output after the complete dashboard was drawn
SETTLED = 2048  # bytes per second below a redraw of any pane


class PtyReader:
    """Reads everything the child writes on the master side, noting when each chunk arrived."""

    def __init__(self, fd: int, marker: bytes = b"") -> None:
        self.fd = fd
        self.marker = marker  # text whose appearance says the complete dashboard was drawn
        self.marked = threading.Event()
        self._tail = b""
        self.chunks: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.chunks.append((time.monotonic(), len(data)))
            if self.marker and not self.marked.is_set():
                seen = self._tail + data
                if self.marker in seen:
                    self.marked.set()
                self._tail = seen[-len(self.marker):]

    def bytes_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(n for t, n in self.chunks if start <= t < end)

    def last_output(self) -> float:
        with self._lock:
            return self.chunks[-1][0] if self.chunks else 0.0


def spawn_app(kubeconfig: str) -> tuple[int, int]:
    """Fork the dashboard on a new pseudo-terminal of COLUMNS x LINES; returns (pid, master fd)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: size the terminal before the app reads it, then become the app
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        env.pop("NO_COLOR", None)
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "tui", "--kubeconfig", kubeconfig], env)
    return pid, fd


def wait_drawn(reader: PtyReader, target: Target, specs, timeout: float) -> bool:
    """Until every watch is open, the complete dashboard was drawn (the nodes pane's title counts
    every node), and then QUIET seconds passed with under SETTLED bytes in each. At 5,000 nodes the
    first complete screen comes seconds after the watches open; without the marker that first draw
    could fall into the idle window."""
    deadline = time.monotonic() + timeout
    while target.watches_open_at(specs) is None or not reader.marked.is_set():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    calm = 0.0
    while calm < QUIET:
        if time.monotonic() > deadline:
            return False
        now = time.monotonic()
        time.sleep(1.0)
        calm = calm + 1.0 if reader.bytes_between(now, now + 1.0) < SETTLED else 0.0
    return True


def window(reader: PtyReader, pid: int, seconds: float) -> dict:
    """Output rate and CPU share (of one core) over the next `seconds`."""
    start, cpu = time.monotonic(), cpu_seconds(pid)
    time.sleep(seconds)
    end = time.monotonic()
    used = cpu_seconds(pid) - cpu
    return {"bytes_per_s": reader.bytes_between(start, end) / (end - start),
            "cpu_percent": 100 * used / (end - start), "seconds": end - start}


def reap(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def measure(target: Target, specs, nodes: int, seconds: float, churn_rate: float, startup_timeout: float) -> dict:
    """Idle and churn windows of the real app on a pseudo-terminal (clear the request log first)."""
    pid, fd = spawn_app(str(target.kubeconfig))
    reader = PtyReader(fd, f"Nodes {nodes}/{nodes}".encode())
    try:
        if not wait_drawn(reader, target, specs, startup_timeout):
            raise RuntimeError(f"the app did not settle within {startup_timeout} s")
        idle = window(reader, pid, seconds)
        target.control("POST", "churn", {"rate": churn_rate, "seconds": seconds})
        busy = window(reader, pid, seconds)
        busy["rate"] = churn_rate
        return {"columns": COLUMNS, "lines": LINES, "idle": idle, "churn": busy}
    finally:
        target.control("POST", "churn", {"rate": 0})
        os.kill(pid, signal.SIGTERM)
        if not reap(pid, 10):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
