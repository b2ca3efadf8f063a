"""How current a pane's data is, in words: a pane must never present stale data as current."""

from __future__ import annotations

from dataclasses import dataclass

LIVE = "live"
LOADING = "loading"
RECONNECTING = "reconnecting"
FAILED = "failed"


@dataclass(frozen=True)
class PaneHealth:
    """The worst state among the watches a pane depends on; `since` = when that state began."""

    state: str = LOADING
    since: float | None = None
    detail: str = ""

    @property
    def stale(self) -> bool:
        return self.state in (RECONNECTING, FAILED)


def duration(seconds: float) -> str:
    """`12 s`, `3 min`, `1 h 5 min`: short enough for a pane title."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def describe(health: PaneHealth, now: float) -> str:
    """Glyph and words, e.g. `● live` or `⚠ stale: reconnecting, 12 s` (the cause is shown apart)."""
    since = f", {duration(now - health.since)}" if health.since is not None else ""
    if health.state == LIVE:
        return "● live"
    if health.state == LOADING:
        return f"◌ loading{since}"
    if health.state == RECONNECTING:
        return f"⚠ stale: reconnecting{since}"
    return f"✖ stale: watch failed{since}"


def worst(healths: list[PaneHealth]) -> PaneHealth:
    """The health a pane shows when it depends on several watches: the worst, oldest outage first."""
    order = {LIVE: 0, LOADING: 1, RECONNECTING: 2, FAILED: 3}
    if not healths:
        return PaneHealth()
    return max(healths, key=lambda h: (order[h.state], -(h.since or 0.0)))
