"""Typed messages from the app's thread workers to the UI; only message handlers touch widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.session import LiveView, Opened


@dataclass
class Connected(Message):
    """The cluster answered: identity, detection and capabilities are known, watches are starting."""

    opened: Opened


@dataclass
class ClusterUpdated(Message):
    """A coalesced change set, already built into the model off the UI thread."""

    view: LiveView

    def can_replace(self, message: Message) -> bool:
        # Each view is complete: a newer one queued behind an older one makes the older worthless.
        return isinstance(message, ClusterUpdated)


@dataclass
class NodeStatusesChanged(Message):
    """CalicoNodeStatus objects this app created (to remove on exit) changed."""

    nodes: tuple[str, ...]
