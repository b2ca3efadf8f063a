"""What /proc says about a process: peak memory and CPU time (Linux)."""

from __future__ import annotations

import os


def status_mb(field: str, pid: str | int = "self") -> float | None:
    """A memory figure of /proc/<pid>/status in MiB: VmHWM (peak resident set), VmRSS (now)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (/proc/<pid>/stat utime + stime)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
