"""Terminal facts the app needs before and while it runs: colour system, NO_COLOR, a vanished tty.

Textual reads TEXTUAL_COLOR_SYSTEM once, when it is first imported, so `apply_color_system` must run
before anything imports textual. Over SSH and tmux auto-detection usually lands on 256 colours,
which is why the choice is the user's (`--color-system`).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

COLOR_SYSTEMS = {"auto": "auto", "truecolor": "truecolor", "256": "256", "16": "standard"}


def apply_color_system(choice: str, environ: MutableMapping[str, str] = os.environ) -> None:
    """Set Textual's colour system from a `--color-system` choice (`auto` keeps what the user set)."""
    if choice not in COLOR_SYSTEMS:
        raise ValueError(f"unknown colour system {choice!r}; choose one of {', '.join(COLOR_SYSTEMS)}")
    if choice != "auto":
        environ["TEXTUAL_COLOR_SYSTEM"] = COLOR_SYSTEMS[choice]


def no_color(environ: MutableMapping[str, str] = os.environ) -> bool:
    """NO_COLOR (any value, even empty) asks for no colour at all: https://no-color.org."""
    return "NO_COLOR" in environ


def terminal_alive(fd: int) -> bool:
    """Whether our controlling terminal still exists.

    After an SSH drop the pty is hung up: reads return EOF at once, which would make the input
    thread spin. Opening /dev/tty fails (ENXIO/EIO) once the session lost its terminal.
    """
    try:
        if not os.isatty(fd):
            return False
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True
