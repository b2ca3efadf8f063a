"""Utilization bars and counts that stay readable without colour (the number is always printed)."""

from __future__ import annotations

from rich.text import Text

EIGHTHS = " ▏▎▍▌▋▊▉█"


def percent(used: int, total: int) -> float:
    return 100.0 * used / total if total else 0.0


def bar(used: int, total: int, width: int = 10) -> str:
    """A bar of `width` cells at 1/8-cell resolution; a non-zero usage never rounds to an empty bar."""
    if total <= 0:
        return " " * width
    eighths = round(width * 8 * min(used, total) / total)
    if used and not eighths:
        eighths = 1
    full, rest = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[rest] if rest else "")).ljust(width)


def usage_cell(used: int, total: int, width: int = 10) -> Text:
    """`▍         3/64 5%` style cell; style tracks the level (colour only repeats what the figure says)."""
    share = percent(used, total)
    style = "red" if share >= 90 else "yellow" if share >= 75 else "green"
    text = Text()
    text.append(bar(used, total, width), style=style)
    text.append(f" {used}/{total} {share:.0f}%")
    return text
