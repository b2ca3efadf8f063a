"""Static text replaced only when it differs: every update lays the screen out again, which over a
long run (events ten times a second, cluster views four times) is most of the UI's work."""

from __future__ import annotations

from textual.widgets import Static


def set_content(static: Static, content) -> bool:
    """Show `content` (str or rich Text); True when it changed."""
    if static.content == content:
        return False
    static.update(content)
    return True
