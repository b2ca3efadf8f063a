"""The run's live log: bounded, written once per batch of runner events, following the tail unless
the operator scrolled back to read (then it stays put and says so)."""

from __future__ import annotations

from textual.widgets import Log

MAX_LINES = 2000  # an hour of a large cluster's events; older lines are in the journal


def event_line(event) -> str:
    """`12:00:03 INFO  kube-proxy [3/10] message`: short enough for 80 columns."""
    progress = f" [{event.done}/{event.total}]" if event.total is not None else ""
    return f"{event.time:%H:%M:%S} {event.level.upper():<7} {event.step or '-'}{progress} {event.message}"


class RunLog(Log):
    DEFAULT_CSS = """
    RunLog { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=MAX_LINES, auto_scroll=True, **kwargs)

    @property
    def following(self) -> bool:
        return self.is_vertical_scroll_end

    def write_events(self, events) -> None:
        self.write_lines(event_line(e) for e in events)
